// Package merge is the merge queue: it merges finished branches into the leader branch —
// ownership check, conflict pre-check with `git merge-tree` (no worktree), one --no-ff merge
// commit per branch, the test command run once per batch in the leader worktree, bisection
// to find the branch that broke it, flaky-test detection — and puts the leader worktree back
// exactly where it was whatever happens. The leader branch ref only ever moves to a candidate
// whose tests passed: candidates are built and tested on a detached HEAD. It also warns early
// of branches that will conflict with each other (ConflictPairs).
package merge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teamctl/teamctl/worktree"
)

// Outcomes of a merge attempt.
const (
	Merged      = "merged"
	Conflict    = "conflict"
	TestsFailed = "tests-failed"
	Refused     = "refused"
)

// Merger merges branches into one leader worktree.
type Merger struct {
	Repo        *worktree.Repo
	Run         worktree.Runner
	Dir         string // the leader worktree
	Branch      string // the leader branch checked out there
	Test        string // shell command; "" = no test
	TestTimeout time.Duration
	Env         []string // identity for merge commits (GIT_AUTHOR_*, GIT_COMMITTER_*)
	Batch       int      // most requests one MergeBatch takes (plan merge.batch); 0 = all
	TestRetries int      // reruns before a failure is blamed on a branch (plan merge.test_retries)
	// Detached: Dir is a worktree of its own for merging into a branch checked out
	// elsewhere (a spawning agent's), which stays on a detached HEAD at the branch's tip.
	Detached bool
	// Land moves Branch from before to tip, a tested candidate (nil: a compare-and-swap of
	// the ref). It returns *LeaderMovedError when Branch is no longer at before.
	Land func(ctx context.Context, before, tip string) error
	// TestDirs are more worktrees (detached, each at a fixed path so its build caches stay
	// warm) where candidates are tested beside Dir: with any, a failing batch is searched
	// with len(TestDirs)+1 test runs at once (plan merge.parallel).
	TestDirs []string
}

// Request is one branch to merge.
type Request struct {
	Team, Task, Agent string
	Branch            string
	Owns              []string // repo-relative; "dir/" is a prefix; empty = anything
}

// Result is what one merge attempt did.
type Result struct {
	Outcome    string   // Merged, Conflict, TestsFailed, Refused or NotAttempted
	Before     string   // the leader tip this branch was merged onto: its merge commit's first parent when merged
	Commit     string   // the merge commit, when merged
	BranchHead string   // the branch's commit that was merged, tried or refused
	Conflicts  []string // conflicting paths (conflict)
	Output     string   // the test output's tail (tests-failed), or why it was refused
	TestRuns   int      // test runs whose candidate held this branch
}

// Message is the merge commit's message. Its trailers let resume recognise the merge.
func Message(req Request) string {
	return fmt.Sprintf("Merge %s: task %s by %s\n\nTeamctl-Team: %s\nTeamctl-Task: %s\nTeamctl-Agent: %s\n",
		req.Branch, req.Task, req.Agent, req.Team, req.Task, req.Agent)
}

// Merge merges one branch: MergeBatch with one request. req.Branch lands if its changes
// stay inside req.Owns, it merges cleanly and the tests pass on the result (a failure that
// passes on a rerun is flaky and does not count against it). Otherwise the leader branch and
// its worktree are exactly where they were. An error means merging itself failed (git broke,
// ctx ended); the leader worktree is restored then too.
func (m *Merger) Merge(ctx context.Context, req Request) (Result, error) {
	br, err := m.MergeBatch(ctx, []Request{req})
	return br.Results[0], err
}

// Restore puts the leader worktree back on the leader branch's tip: a merge in progress is
// aborted, files a merge or a test left are removed, HEAD is the branch again. It never
// moves the branch: the reset is done on a detached HEAD, so a tip read just before the
// branch moved (an agent's move put back) cannot be written over it.
func (m *Merger) Restore(ctx context.Context) error {
	if err := m.Repo.AbortMerge(ctx, m.Dir); err != nil {
		return fmt.Errorf("restore leader worktree: %w", err)
	}
	if err := m.Repo.Detach(ctx, m.Dir); err != nil {
		return fmt.Errorf("restore leader worktree: %w", err)
	}
	tip, err := m.Repo.Resolve(ctx, m.Branch)
	if err != nil {
		return fmt.Errorf("restore leader worktree: %w", err)
	}
	if err := m.Repo.ResetHard(ctx, m.Dir, tip); err != nil {
		return fmt.Errorf("restore leader worktree: %w", err)
	}
	if m.Detached {
		return nil
	}
	if err := m.Repo.Checkout(ctx, m.Dir, m.Branch); err != nil {
		return fmt.Errorf("restore leader worktree: %w", err)
	}
	return nil
}

// RunTests runs the test command in the leader worktree, stderr folded into stdout. It
// reports whether it passed and the output's tail. No test command passes at once.
func (m *Merger) RunTests(ctx context.Context) (passed bool, tail string, err error) {
	return m.runTestsIn(ctx, m.Dir)
}

// runTestsIn is RunTests in the worktree at dir.
func (m *Merger) runTestsIn(ctx context.Context, dir string) (passed bool, tail string, err error) {
	if strings.TrimSpace(m.Test) == "" {
		return true, "", nil
	}
	tctx := ctx
	if m.TestTimeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, m.TestTimeout)
		defer cancel()
	}
	out, err := m.Run.Run(tctx, dir, nil, "sh", "-c", "exec 2>&1\n"+m.Test)
	if err == nil {
		return true, Tail(string(out), 40, 4096), nil
	}
	if ctx.Err() != nil {
		return false, "", ctx.Err() // the supervisor is stopping: not the branch's fault
	}
	var ee *worktree.ExitError
	if !errors.As(err, &ee) {
		return false, "", fmt.Errorf("run test %q: %w", m.Test, err)
	}
	text := string(out)
	if tctx.Err() != nil {
		text += fmt.Sprintf("\n[teamctl: test killed after %s]", m.TestTimeout)
	} else {
		text += fmt.Sprintf("\n[teamctl: test exited with code %d]", ee.ExitCode)
	}
	return false, Tail(text, 40, 4096), nil
}

// outsideOwns returns why a branch is refused when it changes paths outside owns.
func (m *Merger) outsideOwns(ctx context.Context, before, head string, owns []string) (string, error) {
	if len(owns) == 0 {
		return "", nil
	}
	files, err := m.Repo.ChangedFiles(ctx, before, head)
	if err != nil {
		return "", err
	}
	var bad []string
	for _, f := range files {
		if !Covers(owns, f) {
			bad = append(bad, f)
		}
	}
	if len(bad) == 0 {
		return "", nil
	}
	more := ""
	if len(bad) > 5 {
		more = fmt.Sprintf(" and %d more", len(bad)-5)
		bad = bad[:5]
	}
	return fmt.Sprintf("changes %s%s outside its owns: %s", strings.Join(bad, ", "), more, strings.Join(owns, ", ")), nil
}

// Covers reports whether path is inside one of paths ("dir/" covers everything below it,
// any other entry only itself).
func Covers(paths []string, path string) bool {
	for _, p := range paths {
		if p == path || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

// Tail keeps the last lines of s, at most maxBytes.
func Tail(s string, lines, maxBytes int) string {
	s = strings.TrimRight(s, "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	s = strings.Join(parts, "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	return s
}
