package merge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teamctl/teamctl/internal/failpoint"
	"github.com/teamctl/teamctl/worktree"
)

// NotAttempted is the outcome of a request MergeBatch did not get to: beyond Merger.Batch,
// or left when the batch ended on an error (the context ended, git broke). The caller
// queues it again.
const NotAttempted = "not-attempted"

// BatchResult is what one MergeBatch did.
type BatchResult struct {
	Results  []Result      // one per request, in the order of the requests
	Before   string        // the leader branch's tip before the batch
	After    string        // its tip after (== Before when nothing landed)
	TestRuns int           // test command runs the whole batch took
	TestTime time.Duration // the time those runs took, added up (several may run at once)
	Waves    int           // test runs one after another: TestRuns, or fewer when several ran at once
	Flaky    []Flaky       // failures that did not reproduce on a rerun of the same tree
}

// Flaky is a test failure that passed on a rerun of the same tree: reported, blamed on no
// branch.
type Flaky struct {
	Commit string   // the candidate whose test failed, then passed
	Tasks  []string // the tasks merged in that candidate on top of the leader tip it was built on
	Output string   // the failing run's output tail
}

// entry is one branch merged into a candidate.
type entry struct {
	req    int    // index into the requests
	commit string // the candidate with this entry and every one before it merged
}

// MergeBatch merges the branches ready when the queue turns (oldest first) into the leader
// branch, running the test command as few times as it can:
//
//  1. A request whose branch changes a path outside its Owns (or whose branch is gone) is
//     Refused. At most m.Batch requests are taken; the rest are NotAttempted.
//  2. The candidate is built without a worktree: each branch is pre-checked with
//     `git merge-tree --write-tree` against the candidate built so far — a branch can be clean
//     against the tip and still conflict with another branch of the batch — and a conflicting
//     one is a Conflict (with its files) that costs no test run. Each clean one becomes one
//     --no-ff merge commit (`git commit-tree`, message from Message) on top of the previous.
//  3. The candidate is checked out on a detached HEAD in the leader worktree (always the same
//     path, so the Go test cache stays warm) and tested once. It passes: the leader branch
//     moves to it (compare-and-swap) and every branch is Merged.
//  4. It fails: search bisects over prefixes of the batch for the first bad branch, lands the
//     longest passing prefix, marks that branch TestsFailed with its output, and goes on in
//     this same call with the branches after it — rebuilt on the new tip, pre-checked again
//     (a branch that conflicted only with the bad one merges now) — until every request has
//     an outcome. A failure that does not reproduce on a rerun is reported in Flaky and not
//     blamed (see search for how runs are counted).
//
// Guarantees: the leader branch ref only ever moves, by compare-and-swap, to a candidate whose
// test run passed (passing only on a rerun is reported as Flaky). Every position the ref
// takes is such a candidate; merge commits between two positions on its first-parent line
// were tested together with the candidate above them, not each alone. Branches land in request
// order. On return the leader worktree has the leader branch checked out at its tip, clean —
// also when a test failed, git failed or ctx ended. A Merger serves one leader worktree: do not
// run two MergeBatch calls on it at once.
//
// An error means merging itself failed (git broke, or ctx ended). The result still says what
// landed: those requests are Merged and After is the new tip; every other request is then
// NotAttempted.
func (m *Merger) MergeBatch(ctx context.Context, reqs []Request) (br BatchResult, err error) {
	br.Results = make([]Result, len(reqs))
	for i := range br.Results {
		br.Results[i].Outcome = NotAttempted
	}
	if br.Before, err = m.Repo.Resolve(ctx, m.Branch); err != nil {
		return br, fmt.Errorf("merge batch into %s: %w", m.Branch, err)
	}
	br.After = br.Before
	take := len(reqs)
	if m.Batch > 0 && take > m.Batch {
		take = m.Batch
	}
	var pending []int
	for i := range reqs[:take] {
		res := &br.Results[i]
		res.Before = br.Before
		ok, err := m.admit(ctx, reqs[i], res)
		if err != nil {
			return br, err
		}
		if ok {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return br, nil
	}
	if err := m.Restore(ctx); err != nil {
		return br, err
	}
	// Candidates are tested on a detached HEAD: the branch ref stays on the tested tip until
	// a candidate passes, so a crash mid-test never leaves an untested tip behind.
	if err := m.Repo.Detach(ctx, m.Dir); err != nil {
		return br, fmt.Errorf("merge batch into %s: %w", m.Branch, err)
	}
	defer func() {
		if err != nil {
			for i := range br.Results {
				if br.Results[i].Outcome != Merged {
					head := br.Results[i].BranchHead
					br.Results[i] = Result{Outcome: NotAttempted, Before: br.Before, BranchHead: head}
				}
			}
		}
		// Restore even when ctx was cancelled mid-test: the leader worktree must not be left
		// on an untested candidate.
		if rerr := m.Restore(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = rerr
		}
	}()
	var carry *carried
	for len(pending) > 0 {
		if len(m.TestDirs) > 0 {
			pending, carry, err = m.roundParallel(ctx, reqs, &br, pending, carry)
		} else {
			pending, err = m.round(ctx, reqs, &br, pending)
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
				// A git command killed by the ending context fails with its exit status;
				// say why it was killed so callers can tell a stop from a broken git.
				err = fmt.Errorf("%w: %w", cerr, err)
			}
			return br, fmt.Errorf("merge batch into %s: %w", m.Branch, err)
		}
	}
	return br, nil
}

// admit resolves the request's branch and refuses it when the branch is gone or changes a
// path outside its Owns.
func (m *Merger) admit(ctx context.Context, req Request, res *Result) (bool, error) {
	head, err := m.Repo.Resolve(ctx, req.Branch)
	if errors.Is(err, worktree.ErrNoRef) {
		res.Outcome, res.Output = Refused, fmt.Sprintf("branch %s does not exist", req.Branch)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("merge %s: %w", req.Branch, err)
	}
	res.BranchHead = head
	why, err := m.outsideOwns(ctx, res.Before, head, req.Owns)
	if err != nil {
		return false, fmt.Errorf("merge %s: %w", req.Branch, err)
	}
	if why != "" {
		res.Outcome, res.Output = Refused, why
		return false, nil
	}
	return true, nil
}

// round builds one candidate from the pending requests on the current tip, tests it, lands
// what passed, and returns the requests still to try (those after a bad branch).
func (m *Merger) round(ctx context.Context, reqs []Request, br *BatchResult, pending []int) ([]int, error) {
	entries, err := m.build(ctx, reqs, br, pending)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	failed := map[int]string{} // prefix → output tail of its last failing run
	test := func(ctx context.Context, k int) (bool, error) {
		if err := m.Repo.ResetHard(ctx, m.Dir, entries[k-1].commit); err != nil {
			return false, err
		}
		started := time.Now()
		passed, out, err := m.RunTests(ctx)
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(m.Test) != "" { // no test command: nothing ran
			br.TestRuns++
			br.Waves++
			br.TestTime += time.Since(started)
			for _, e := range entries[:k] {
				br.Results[e.req].TestRuns++
			}
		}
		if !passed {
			failed[k] = out
		}
		return passed, nil
	}
	v, err := search(ctx, len(entries), m.TestRetries, test)
	if err != nil {
		return nil, err
	}
	for _, k := range v.flaky {
		f := Flaky{Commit: entries[k-1].commit, Output: failed[k]}
		for _, e := range entries[:k] {
			f.Tasks = append(f.Tasks, reqs[e.req].Task)
		}
		br.Flaky = append(br.Flaky, f)
	}
	if v.good > 0 {
		if err := m.land(ctx, br, entries[:v.good]); err != nil {
			return nil, err
		}
	}
	if v.bad < 0 {
		return nil, nil
	}
	bad := entries[v.bad].req
	br.Results[bad].Outcome, br.Results[bad].Output = TestsFailed, failed[v.bad+1]
	// Everything after the bad branch goes round again on the new tip, conflicts included:
	// one may have conflicted only with the bad branch.
	var rest []int
	for _, i := range pending {
		if i > bad {
			rest = append(rest, i)
		}
	}
	return rest, nil
}

// build pre-checks each pending request against the candidate so far and makes one merge
// commit per clean one. A conflicting request gets Conflict; a branch already in the tip is
// Merged at once.
func (m *Merger) build(ctx context.Context, reqs []Request, br *BatchResult, pending []int) ([]entry, error) {
	c, err := m.chain(ctx, reqs, br, br.After, pending)
	if err != nil {
		return nil, err
	}
	c.apply(br, pending)
	return c.entries, nil
}

// chained is what chain made of requests on a base commit.
type chained struct {
	base      string
	entries   []entry
	conflicts map[int][]string // request → the paths it conflicts in
	already   map[int]bool     // requests whose branch base already holds
}

// chain merges the pending requests one after another on base, as build does, without
// saying anything of them yet (apply does).
func (m *Merger) chain(ctx context.Context, reqs []Request, br *BatchResult, base string, pending []int) (chained, error) {
	c := chained{base: base, conflicts: map[int][]string{}, already: map[int]bool{}}
	cand := base
	candTree, err := m.Repo.TreeOf(ctx, cand)
	if err != nil {
		return c, err
	}
	for _, i := range pending {
		head := br.Results[i].BranchHead
		tree, conflicts, err := m.Repo.MergeTree(ctx, cand, head)
		if err != nil {
			return c, err
		}
		if len(conflicts) > 0 {
			c.conflicts[i] = conflicts
			continue
		}
		commit := cand
		if tree != candTree || !m.contains(ctx, cand, head) {
			if commit, err = m.Repo.CommitTree(ctx, tree, []string{cand, head}, Message(reqs[i]), m.Env); err != nil {
				return c, fmt.Errorf("merge %s: %w", reqs[i].Branch, err)
			}
		} else if cand == base {
			c.already[i] = true // already in the base: nothing to test
			continue
		}
		c.entries = append(c.entries, entry{req: i, commit: commit})
		cand, candTree = commit, tree
	}
	return c, nil
}

// apply gives the pending requests the outcome chain found, base being the leader tip now:
// conflicts are Conflict, a branch the tip holds is Merged, the rest are still to test.
func (c chained) apply(br *BatchResult, pending []int) {
	for _, i := range pending {
		res := &br.Results[i]
		res.Outcome, res.Conflicts, res.Before = NotAttempted, nil, c.base
		switch {
		case c.conflicts[i] != nil:
			res.Outcome, res.Conflicts = Conflict, c.conflicts[i]
		case c.already[i]:
			res.Outcome, res.Commit = Merged, c.base
		}
	}
}

// contains reports whether head is already in cand. `git merge --no-ff` makes no commit
// then, and neither does build. It is asked only when merging head left cand's tree as it
// was (a branch whose changes arrived another way still gets its merge commit, as git would
// make it), and a failed check just means "make the commit".
func (m *Merger) contains(ctx context.Context, cand, head string) bool {
	in, err := m.Repo.IsAncestor(ctx, head, cand)
	return err == nil && in
}

// LeaderMovedError is a landing whose compare-and-swap found the leader branch moved by
// someone else since the batch began — as a killed supervisor's last `git update-ref`, still
// running when its successor started, does. Nothing of the batch landed after the move; the
// caller finds out what the new tip holds and queues the rest again.
type LeaderMovedError struct {
	Branch        string
	Expected, Tip string
}

func (e *LeaderMovedError) Error() string {
	return fmt.Sprintf("the leader branch %s moved to %s while the batch was built on %s", e.Branch, e.Tip, e.Expected)
}

// land moves the leader branch to the last entry's candidate (compare-and-swap from the tip
// the candidate was built on) and marks the entries Merged. A branch already standing on the
// candidate has landed it (*LeaderMovedError when it stands anywhere else).
func (m *Merger) land(ctx context.Context, br *BatchResult, entries []entry) error {
	tip := entries[len(entries)-1].commit
	if m.Land != nil {
		if err := m.Land(ctx, br.After, tip); err != nil {
			return err
		}
	} else if err := m.Repo.UpdateRef(ctx, m.Branch, tip, br.After); err != nil {
		now, rerr := m.Repo.Resolve(ctx, m.Branch)
		switch {
		case rerr != nil:
			return err
		case now != tip && now != br.After:
			return &LeaderMovedError{Branch: m.Branch, Expected: br.After, Tip: now}
		case now != tip:
			return err // still where it was: the swap failed for another reason
		}
	}
	failpoint.Hit(failpoint.LeaderMoved)
	parent := br.After
	for _, e := range entries {
		res := &br.Results[e.req]
		res.Outcome, res.Commit, res.Before = Merged, e.commit, parent
		parent = e.commit
	}
	br.After = tip
	return nil
}
