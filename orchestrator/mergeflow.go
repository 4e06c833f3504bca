package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/failpoint"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// startMerge hands every queued task, oldest first, to the merge queue when it is free: they
// are merged as one batch (DESIGN.md §5).
func (s *supervisor) startMerge(ctx context.Context) error {
	if s.merging {
		return nil // one batch at a time
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var queued []store.Task
	for _, t := range tasks {
		if stateOf(t) != Queued {
			continue
		}
		if s.isLeader(t.Agent) && !s.leaderBusy() {
			return s.startTipTest(ctx, t.ID)
		}
		// The leader agent's worktree is the leader branch's: its merges wait for it. A
		// spawner's branch is merged into elsewhere.
		if s.target(t.Agent) == s.team.LeaderBranch && s.leaderBusy() {
			continue
		}
		// Held until the spawner commits what stopped the last landing on its branch.
		if s.landingHeld(ctx, t.Agent) {
			continue
		}
		// A spawner's branch waits for its workers: merged before they are, it would leave
		// their work behind on it.
		if why := workersAtWork(s.p, tasks, t.Agent); why != "" {
			if t.Detail != "waits: "+why {
				if _, err := s.move(ctx, t.ID, Queued, "waits: "+why, nil); err != nil {
					return err
				}
			}
			continue
		}
		queued = append(queued, t)
	}
	if len(queued) == 0 {
		return nil
	}
	// One branch at a time is merged into: the oldest queued task's (a spawner's branch, or
	// the leader branch), with the tasks that merge into it too.
	sort.SliceStable(queued, func(i, j int) bool { return queued[i].Updated.Before(queued[j].Updated) })
	into := s.target(queued[0].Agent)
	same := queued[:0:0]
	for _, t := range queued {
		if s.target(t.Agent) == into {
			same = append(same, t)
		}
	}
	queued = same
	if into != s.team.LeaderBranch {
		a, _ := s.p.Agent(queued[0].Agent)
		return s.startSpawnMerge(ctx, a.Spawner, queued)
	}
	if wait := s.settle().Wait(time.Now(), queued[0].Updated, newest(queued), s.othersAtWork(into)); wait > 0 {
		s.wake.Reset(wait) // the batch waits for agents about to finish (merge.Settle)
		return nil
	}
	if err := s.restoreLeaderWorktree(ctx); err != nil {
		return err
	}
	// The batch is built on the leader branch as teamctl left it, not as an agent moved it.
	if _, err := s.guard(ctx); err != nil {
		return err
	}
	// The merge queue resets the leader worktree: never over work someone left there.
	if ch, err := s.ws.repo.Status(ctx, s.team.LeaderWorktree); err != nil {
		return err
	} else if len(ch) > 0 {
		if s.lastWait != "dirty leader" {
			s.lastWait = "dirty leader"
			s.log().Warn("the leader worktree has uncommitted changes: merges wait until they are committed or removed",
				"worktree", s.team.LeaderWorktree, "files", len(ch))
		}
		return nil
	}
	sort.SliceStable(queued, func(i, j int) bool { return queued[i].Updated.Before(queued[j].Updated) })
	if s.p.Merge.Batch > 0 && len(queued) > s.p.Merge.Batch {
		queued = queued[:s.p.Merge.Batch]
	}
	reqs, err := s.batch(ctx, queued)
	if err != nil || len(reqs) == 0 {
		return err
	}
	if err := s.testDirs(ctx); err != nil {
		return err
	}
	s.merging = true
	s.batchTampered = s.leaderTampered
	s.log().Info("merging", "tasks", len(reqs), "test", s.p.Test)
	go func() {
		started := time.Now()
		br, err := s.merger.MergeBatch(ctx, reqs)
		// Recorded by the merging goroutine, not the loop: the record of a merge that landed
		// must not wait for (or be lost with) the next turn of the loop.
		if rerr := s.recordBatch(context.WithoutCancel(ctx), reqs, br, started); rerr != nil && err == nil {
			err = rerr
		}
		s.merges <- mergeEvent{reqs: reqs, br: br, err: err}
	}()
	return nil
}

// batch moves the queued tasks whose branches can be merged now to merging and returns
// their requests. A branch changing a path another agent holds a reservation on waits for
// the reservation to end (with that agent's task or process): its task stays queued and
// says why.
func (s *supervisor) batch(ctx context.Context, queued []store.Task) ([]merge.Request, error) {
	reserved, err := s.ws.ActiveReservations(ctx, s.team.Name)
	if err != nil {
		return nil, err
	}
	var reqs []merge.Request
	for _, t := range queued {
		a, _ := s.p.Agent(t.Agent)
		branch := BranchName(s.team.Name, t.Agent)
		if len(reserved) > 0 {
			files, err := s.ws.repo.ChangedFiles(ctx, s.target(t.Agent), branch)
			if err != nil {
				return nil, err
			}
			if why := ReservedConflict(files, t.Agent, reserved); why != "" {
				if t.Detail != "waits: "+why {
					s.log().Warn("merge waits for a reservation", "task", t.ID, "why", why)
					if _, err := s.move(ctx, t.ID, Queued, "waits: "+why, nil); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		if _, err := s.move(ctx, t.ID, Merging, "", nil); err != nil {
			return nil, err
		}
		reqs = append(reqs, merge.Request{Team: s.team.Name, Task: t.ID, Agent: t.Agent, Branch: branch, Owns: a.Owns})
	}
	return reqs, nil
}

// recordBatch records what a batch did with each branch it got to, and the flaky test
// failures it saw.
func (s *supervisor) recordBatch(ctx context.Context, reqs []merge.Request, br merge.BatchResult, started time.Time) error {
	var err error
	record := func(m store.Merge) {
		m.Started, m.Ended = started, time.Now()
		if _, rerr := s.ws.store.RecordMerge(ctx, m); rerr != nil && err == nil {
			err = rerr
		}
	}
	for i, res := range br.Results {
		if res.Outcome == merge.NotAttempted {
			continue
		}
		req := reqs[i]
		record(store.Merge{Team: req.Team, Task: req.Task, Agent: req.Agent, Branch: req.Branch, BranchHead: res.BranchHead,
			Before: res.Before, Commit: res.Commit, Outcome: res.Outcome, TestRuns: res.TestRuns, Output: mergeOutput(res)})
	}
	for _, fl := range br.Flaky {
		record(store.Merge{Team: s.team.Name, Task: strings.Join(fl.Tasks, ","), Before: br.Before, Commit: fl.Commit,
			Outcome: Flaky, Output: fl.Output})
	}
	return err
}

// Flaky is the outcome a merge record has for a test failure that passed on a rerun of the
// same tree: blamed on no branch, shown in review.
const Flaky = "flaky"

func mergeOutput(res merge.Result) string {
	if res.Outcome == merge.Conflict {
		return strings.Join(res.Conflicts, "\n")
	}
	return res.Output
}

// onMerge moves every task of a batch on (decideMerge): merged, or back to its agent to
// fix, or to the leader agent or a person once the agent's fix rounds are spent; the ones
// the batch did not get to are queued again. What landed is recorded first, even when
// stopping.
func (s *supervisor) onMerge(ctx context.Context, ev mergeEvent) error {
	if ev.tipTask != "" {
		return s.onTipTested(ctx, ev)
	}
	uctx := context.WithoutCancel(ctx) // what landed is recorded even when stopping
	if ev.br.TestRuns > 0 {
		s.perRun = ev.br.TestTime / time.Duration(ev.br.TestRuns)
	}
	if ev.into != "" {
		return s.onSpawnMerge(ctx, uctx, ev)
	}
	if ev.br.After != "" && ev.br.After != ev.br.Before {
		if err := s.setTestedHead(uctx, ev.br.After); err != nil {
			return err
		}
		defer s.checkpoint(uctx) // once the landing is recorded
	}
	if ev.err != nil && ctx.Err() == nil {
		// An agent moving the leader branch under the batch breaks it (the ref changes under
		// the leader worktree's HEAD): put back, the batch is queued again, nothing failed.
		if _, err := s.guard(uctx); err != nil {
			return err
		}
		if s.leaderTampered > s.batchTampered {
			s.log().Warn("a batch broke on the leader branch an agent moved: put back, the batch is queued again", "err", ev.err)
			if err := s.merger.Restore(uctx); err != nil {
				return err
			}
			ev.err = nil
		}
	}
	if moved, ok := errors.AsType[*merge.LeaderMovedError](ev.err); ok {
		// Not a broken merge: the merges the new tip holds are recorded, the rest of the
		// batch is queued again and built on it.
		s.log().Warn("the leader branch moved while a batch was built: what it holds is recorded, the rest queued again",
			"expected", shorten.Hash(moved.Expected), "tip", shorten.Hash(moved.Tip))
		if _, err := s.adoptLanded(uctx); err != nil {
			return err
		}
		ev.err = nil
	}
	for _, fl := range ev.br.Flaky {
		s.log().Warn("flaky test: failed, then passed on a rerun of the same tree", "tasks", strings.Join(fl.Tasks, ","))
	}
	return s.afterBatch(ctx, uctx, ev)
}

// onSpawnMerge is onMerge of a batch merged into a spawner's branch: nothing of the leader
// branch's to record; a spawner that committed meanwhile gets the batch again.
func (s *supervisor) onSpawnMerge(ctx, uctx context.Context, ev mergeEvent) error {
	if moved, ok := errors.AsType[*merge.LeaderMovedError](ev.err); ok {
		s.log().Info("the spawner's branch moved while its workers were merged: queued again", "branch", moved.Branch)
		ev.err = nil
	} else if way, ok := errors.AsType[*inTheWay](ev.err); ok {
		var workers []string
		for _, r := range ev.reqs {
			workers = append(workers, r.Agent)
		}
		if err := s.holdLanding(uctx, way, workers); err != nil {
			return err
		}
		ev.err = nil
	} else if ev.err != nil && ctx.Err() == nil {
		s.log().Warn("merging into a spawner's branch failed: queued again", "branch", ev.into, "err", ev.err)
	}
	return s.afterBatch(ctx, uctx, ev)
}

// afterBatch moves on every task of a merged batch, those that landed first.
func (s *supervisor) afterBatch(ctx, uctx context.Context, ev mergeEvent) error {
	// Landed first: a task sent back to be fixed below must find the others already merged.
	for _, landed := range []bool{true, false} {
		for i, req := range ev.reqs {
			if res := ev.br.Results[i]; (res.Outcome == merge.Merged) == landed {
				if err := s.afterMerge(uctx, ctx.Err() != nil, req, res, ev.err); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// afterMerge carries out decideMerge for one task of a batch.
func (s *supervisor) afterMerge(ctx context.Context, stopping bool, req merge.Request, res merge.Result, batchErr error) error {
	t, err := s.ws.store.Task(ctx, s.team.Name, req.Task)
	if err != nil {
		return err
	}
	if stateOf(t) == Merged && res.Outcome != merge.Merged {
		return nil // landed another way: found on the leader branch (adoptLanded)
	}
	a, _ := s.p.Agent(t.Agent)
	f := mergeFacts{Result: res, BatchErr: batchErr, Stopping: stopping, Rounds: t.Rounds, Retries: a.Retries}
	for {
		d := decideMerge(f)
		switch d.Step {
		case stepSync:
			sa, err := s.ws.store.Agent(ctx, s.team.Name, t.Agent)
			if err == nil {
				err = s.pinned(ctx, sa)
			}
			if err != nil {
				return err
			}
			err = s.ws.repo.Sync(ctx, sa.Worktree, s.target(t.Agent), gitIdentity(s.team.Name, a))
			f.Synced = true
			if ce, ok := errors.AsType[*worktree.ConflictError](err); ok {
				f.SyncConflict = ce.Files
				failpoint.Hit(failpoint.SyncConflicted)
			} else {
				f.SyncErr = err
			}
			continue
		case stepRelaunch:
			s.log().Warn("merge "+res.Outcome, "agent", t.Agent, "task", t.ID, "round", t.Rounds+1, "of", a.Retries)
			extra := "The test command `" + s.p.Test + "` failed after merging your branch. Its output ends with:\n\n" + res.Output
			if d.Reason == agentproc.ReasonFixConflict {
				extra = "Conflicting files (merge in progress in your worktree):\n  " + strings.Join(f.SyncConflict, "\n  ")
			}
			return s.launch(ctx, t, d.Reason, extra, d.Count.apply)
		}
		switch {
		case d.To == Merged:
			s.log().Info("merged", "agent", req.Agent, "task", req.Task, "commit", shorten.Hash(res.Commit))
			return s.merged(ctx, req.Task, res.Commit, "")
		case res.Outcome == merge.Refused && !stopping:
			s.log().Warn("merge refused", "agent", req.Agent, "task", req.Task, "why", res.Output)
		case d.To == Failed:
			s.log().Error("merge failed", "task", req.Task, "err", batchErr)
		case d.To.WaitsOnHuman():
			s.log().Warn("merge "+res.Outcome+": the agent's fix rounds are spent", "agent", t.Agent, "task", t.ID, "rounds", t.Rounds)
		}
		_, err := s.move(ctx, t.ID, d.To, d.Why, nil)
		return err
	}
}

// merged records that task landed with commit; why says how, when not by its own merge.
func (s *supervisor) merged(ctx context.Context, task, commit, why string) error {
	_, err := s.move(ctx, task, Merged, why, func(t *store.Task) { t.MergeCommit = commit })
	return err
}

// setTestedHead records a leader tip that passed the tests.
func (s *supervisor) setTestedHead(ctx context.Context, tip string) error {
	if err := s.ws.store.UpdateTeam(ctx, s.team.Name, func(t *store.Team) error { t.TestedHead = tip; return nil }); err != nil {
		return err
	}
	s.team.TestedHead = tip
	return nil
}

// startTipTest runs the test command on the leader branch's tip, which the leader agent
// committed to (task is the leader's task), in the merge goroutine.
func (s *supervisor) startTipTest(ctx context.Context, task string) error {
	if err := s.restoreLeaderWorktree(ctx); err != nil {
		return err
	}
	tip, err := s.ws.repo.Resolve(ctx, s.team.LeaderBranch)
	if err != nil {
		return err
	}
	if _, err := s.move(ctx, task, Merging, "testing the leader branch's tip "+shorten.Hash(tip), nil); err != nil {
		return err
	}
	s.merging = true
	s.log().Info("testing the leader's commits", "task", task, "tip", shorten.Hash(tip))
	go func() {
		ev := mergeEvent{tipTask: task, tip: tip}
		if err := s.merger.Restore(ctx); err != nil {
			ev.err = err
		} else {
			ev.passed, ev.output, ev.err = s.merger.RunTests(ctx)
			if rerr := s.merger.Restore(context.WithoutCancel(ctx)); rerr != nil && ev.err == nil {
				ev.err = rerr
			}
		}
		s.merges <- ev
	}()
	return nil
}

// onTipTested moves a leader task on after its commits were tested (decideTip): passed,
// the tip is the tested head and every dev task whose branch it now holds is merged;
// failed, the leader fixes it (fix-tests) or, its rounds spent, its commits are set aside
// on a branch of their own and the leader branch goes back to its tested head.
func (s *supervisor) onTipTested(ctx context.Context, ev mergeEvent) error {
	uctx := context.WithoutCancel(ctx)
	t, err := s.ws.store.Task(uctx, s.team.Name, ev.tipTask)
	if err != nil {
		return err
	}
	d := decideTip(tipFacts{Stopping: ctx.Err() != nil, Err: ev.err, Passed: ev.passed, Rounds: t.Rounds, Retries: s.p.Leader.Retries})
	switch d.Step {
	case stepRelaunch:
		return s.launch(ctx, t, d.Reason, "The test command `"+s.p.Test+"` failed on your branch's tip. Its output ends with:\n\n"+ev.output, d.Count.apply)
	case stepSetAside:
		aside := BranchName(s.team.Name, s.p.Leader.Name) + "-untested-" + t.ID
		if err := s.ws.repo.CreateBranch(ctx, aside, ev.tip); err != nil {
			return err
		}
		if err := s.ws.repo.UpdateRef(ctx, s.team.LeaderBranch, s.team.TestedHead, ev.tip); err != nil {
			return err
		}
		if err := s.merger.Restore(ctx); err != nil {
			return err
		}
		s.log().Warn("the leader's commits failed the tests: set aside", "task", t.ID, "branch", aside)
		d.Why = fmt.Sprintf("its commits failed the tests; they are kept on %s and the leader branch is back at %s. The output ends with:\n%s",
			aside, shorten.Hash(s.team.TestedHead), ev.output)
	}
	if d.To == Done {
		if err := s.setTestedHead(ctx, ev.tip); err != nil {
			return err
		}
		s.log().Info("the leader's commits passed the tests", "task", ev.tipTask, "tip", shorten.Hash(ev.tip))
		d.Why = "its commits passed the tests at " + shorten.Hash(ev.tip)
	}
	if _, err := s.move(uctx, t.ID, d.To, d.Why, nil); err != nil || d.To != Done {
		return err
	}
	return s.landContained(ctx)
}

// landContained marks merged every dev task waiting on a person (conflict, tests failed)
// whose branch the tested leader tip now holds: the leader landed it.
func (s *supervisor) landContained(ctx context.Context) error {
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if st := stateOf(t); s.isLeader(t.Agent) || (st != Conflict && st != TestsFailed) {
			continue
		}
		head, err := s.ws.repo.Resolve(ctx, BranchName(s.team.Name, t.Agent))
		if err != nil {
			continue
		}
		if ok, err := s.ws.repo.IsAncestor(ctx, head, s.team.TestedHead); err == nil && ok {
			s.log().Info("the leader landed the task", "task", t.ID, "tip", shorten.Hash(s.team.TestedHead))
			if err := s.merged(ctx, t.ID, s.team.TestedHead, "landed by the leader"); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle is the plan's merge.settle: how long a batch waits for branches about to arrive.
func (s *supervisor) settle() merge.Settle {
	switch d := s.p.Merge.Settle; {
	case d == plan.NoSettle || strings.TrimSpace(s.p.Test) == "":
		return merge.Settle{} // no test run to save
	case d > 0:
		return merge.Settle{Window: d, Max: 2 * d}
	default:
		return merge.AutoSettle(s.perRun)
	}
}

// othersAtWork reports whether an agent whose branch merges into into still runs: it may
// bring its branch to the batch soon.
func (s *supervisor) othersAtWork(into string) bool {
	for name := range s.procs {
		if !s.isLeader(name) && s.target(name) == into {
			return true
		}
	}
	return false
}

// newest is when the last of tasks was queued.
func newest(tasks []store.Task) time.Time {
	var t time.Time
	for _, k := range tasks {
		if k.Updated.After(t) {
			t = k.Updated
		}
	}
	return t
}

// testDirs gives the merger the plan's merge.parallel worktrees to test in beside the
// leader's, made the first time (detached; kept, so their build caches stay warm).
func (s *supervisor) testDirs(ctx context.Context) error {
	s.merger.TestDirs = nil
	for k := 2; k <= s.p.Merge.Parallel; k++ {
		dir := testDir(s.team, k)
		if err := s.ws.repo.AddDetachedWorktree(ctx, dir, s.team.LeaderBranch); err != nil {
			return err
		}
		s.merger.TestDirs = append(s.merger.TestDirs, dir)
	}
	return nil
}

// testDir is the k-th worktree (k ≥ 2) candidates are tested in, merge.parallel.
func testDir(t store.Team, k int) string {
	return filepath.Join(filepath.Dir(t.LeaderWorktree), ".merge", fmt.Sprintf(".test-%d", k))
}
