package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// startMerge hands every queued task, oldest first, to the merge queue when it is free: they
// are merged as one batch (DESIGN.md §5).
func (s *supervisor) startMerge(ctx context.Context) error {
	if s.merging || s.leaderBusy() {
		return nil // one user of the leader worktree at a time
	}
	tasks, err := s.ws.Store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var queued []store.Task
	for _, t := range tasks {
		if t.State != Queued {
			continue
		}
		if s.isLeader(t.Agent) {
			return s.startTipTest(ctx, t.ID)
		}
		queued = append(queued, t)
	}
	if len(queued) == 0 {
		return nil
	}
	// The merge queue resets the leader worktree: never over work someone left there.
	if ch, err := s.ws.Repo.Status(ctx, s.team.LeaderWorktree); err != nil {
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
	reserved, err := s.ws.ActiveReservations(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var reqs []merge.Request
	for _, t := range queued {
		a, _ := s.p.Agent(t.Agent)
		branch := BranchName(s.team.Name, t.Agent)
		// A path another agent holds a reservation on waits for the reservation to end
		// (with that agent's task or process): the task stays queued and says why.
		if len(reserved) > 0 {
			files, err := s.ws.Repo.ChangedFiles(ctx, s.team.LeaderBranch, branch)
			if err != nil {
				return err
			}
			if why := ReservedConflict(files, t.Agent, reserved); why != "" {
				if t.Detail != "waits: "+why {
					s.log().Warn("merge waits for a reservation", "task", t.ID, "why", why)
					if err := s.setTask(ctx, t.ID, Queued, "waits: "+why); err != nil {
						return err
					}
				}
				continue
			}
		}
		if err := s.setTask(ctx, t.ID, Merging, ""); err != nil {
			return err
		}
		reqs = append(reqs, merge.Request{Team: s.team.Name, Task: t.ID, Agent: t.Agent, Branch: branch, Owns: a.Owns})
	}
	if len(reqs) == 0 {
		return nil
	}
	s.merging = true
	s.log().Info("merging", "tasks", len(reqs), "test", s.p.Test)
	go func() {
		started := time.Now()
		br, err := s.merger.MergeBatch(ctx, reqs)
		// Recorded by the merging goroutine, not the loop: the record of a merge that landed
		// must not wait for (or be lost with) the next turn of the loop.
		rctx := context.WithoutCancel(ctx)
		for i, res := range br.Results {
			if res.Outcome == merge.NotAttempted {
				continue
			}
			req := reqs[i]
			if _, rerr := s.ws.Store.RecordMerge(rctx, store.Merge{
				Team: req.Team, Task: req.Task, Agent: req.Agent, Branch: req.Branch, BranchHead: res.BranchHead,
				Before: res.Before, Commit: res.Commit, Outcome: res.Outcome, TestRuns: res.TestRuns,
				Output: mergeOutput(res), Started: started, Ended: time.Now(),
			}); rerr != nil && err == nil {
				err = rerr
			}
		}
		for _, fl := range br.Flaky {
			if _, rerr := s.ws.Store.RecordMerge(rctx, store.Merge{
				Team: s.team.Name, Task: strings.Join(fl.Tasks, ","), Before: br.Before, Commit: fl.Commit,
				Outcome: Flaky, Output: fl.Output, Started: started, Ended: time.Now(),
			}); rerr != nil && err == nil {
				err = rerr
			}
		}
		s.merges <- mergeEvent{reqs: reqs, br: br, err: err}
	}()
	return nil
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

// onMerge moves every task of a batch on: merged, or back to its agent to fix, or to a human
// once the agent's fix rounds are spent; the ones the batch did not get to are queued again.
func (s *supervisor) onMerge(ctx context.Context, ev mergeEvent) error {
	if ev.tipTask != "" {
		return s.onTipTested(ctx, ev)
	}
	uctx := context.WithoutCancel(ctx) // what landed is recorded even when stopping
	if ev.br.After != "" && ev.br.After != ev.br.Before {
		if err := s.ws.Store.UpdateTeam(uctx, s.team.Name, func(t *store.Team) error { t.TestedHead = ev.br.After; return nil }); err != nil {
			return err
		}
		s.team.TestedHead = ev.br.After
	}
	for i, req := range ev.reqs {
		res := ev.br.Results[i]
		if res.Outcome == merge.Merged {
			s.log().Info("merged", "agent", req.Agent, "task", req.Task, "commit", short(res.Commit))
			if err := s.merged(uctx, req.Task, res.Commit, ""); err != nil {
				return err
			}
		}
	}
	for _, fl := range ev.br.Flaky {
		s.log().Warn("flaky test: failed, then passed on a rerun of the same tree", "tasks", strings.Join(fl.Tasks, ","))
	}
	for i, req := range ev.reqs {
		res := ev.br.Results[i]
		var err error
		switch {
		case res.Outcome == merge.Merged:
		case res.Outcome == merge.NotAttempted && (ev.err == nil || ctx.Err() != nil):
			err = s.setTask(uctx, req.Task, Queued, "")
		case res.Outcome == merge.NotAttempted:
			s.log().Error("merge failed", "task", req.Task, "err", ev.err)
			err = s.setTask(ctx, req.Task, Failed, "merge failed: "+ev.err.Error())
		case ctx.Err() != nil:
			err = s.setTask(uctx, req.Task, Queued, "")
		default:
			err = s.onMergeFailed(ctx, req, res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// onMergeFailed sends a task whose branch was refused, conflicted or failed the tests back
// to its agent to fix, or to a human once the agent's fix rounds are spent.
func (s *supervisor) onMergeFailed(ctx context.Context, req merge.Request, res merge.Result) error {
	t, err := s.ws.Store.Task(ctx, s.team.Name, req.Task)
	if err != nil {
		return err
	}
	if res.Outcome == merge.Refused {
		s.log().Warn("merge refused", "agent", req.Agent, "task", req.Task, "why", res.Output)
		return s.stuck(ctx, t, Failed, "refused: "+res.Output)
	}
	a, _ := s.p.Agent(t.Agent)
	final, detail := TestsFailed, res.Output
	if res.Outcome == merge.Conflict {
		final, detail = Conflict, "conflicts with the leader branch in "+strings.Join(res.Conflicts, ", ")
	}
	s.log().Warn("merge "+res.Outcome, "agent", t.Agent, "task", t.ID, "round", t.Rounds+1, "of", a.Retries)
	if t.Rounds >= a.Retries {
		if err := s.setTask(ctx, t.ID, final, detail); err != nil {
			return err
		}
		if s.p.Leader.IsAgent() {
			// The leader is asked before a person: it lands the branch on its own.
			return s.addLeaderTask(ctx, plan.LeaderFixPrefix+t.ID, fixPrompt(t, req.Branch, final, detail, s.p.Test))
		}
		return s.stuck(ctx, t, final, detail)
	}
	round := func(t *store.Task) { t.Rounds++ }
	if res.Outcome == merge.TestsFailed {
		return s.launch(ctx, t, agentproc.ReasonFixTests, "The test command `"+s.p.Test+"` failed after merging your branch. Its output ends with:\n\n"+res.Output, round)
	}
	// Bring the conflict into the agent's own worktree so the agent resolves it there.
	sa, err := s.ws.Store.Agent(ctx, s.team.Name, t.Agent)
	if err != nil {
		return err
	}
	err = s.ws.Repo.Sync(ctx, sa.Worktree, s.team.LeaderBranch, gitIdentity(s.team.Name, a))
	var ce *worktree.ConflictError
	switch {
	case errors.As(err, &ce):
		return s.launch(ctx, t, agentproc.ReasonFixConflict, "Conflicting files (merge in progress in your worktree):\n  "+strings.Join(ce.Files, "\n  "), round)
	case err != nil:
		return s.setTask(ctx, t.ID, Conflict, detail+"; bringing the leader branch into "+sa.Branch+" failed: "+err.Error())
	default:
		// The leader branch merged cleanly into the agent's: the conflict was with work
		// merged since; queue again.
		return s.setTask(ctx, t.ID, Queued, "")
	}
}

// merged records that task landed with commit; detail says how, when not by its own merge.
func (s *supervisor) merged(ctx context.Context, task, commit, detail string) error {
	var agent string
	if err := s.ws.Store.UpdateTask(ctx, s.team.Name, task, func(t *store.Task) error {
		t.State, t.MergeCommit, t.Detail, agent = Merged, commit, detail, t.Agent
		return nil
	}); err != nil {
		return err
	}
	return s.taskEnded(ctx, agent, task, Merged)
}

// startTipTest runs the test command on the leader branch's tip, which the leader agent
// committed to (task is the leader's task), in the merge goroutine.
func (s *supervisor) startTipTest(ctx context.Context, task string) error {
	tip, err := s.ws.Repo.Resolve(ctx, s.team.LeaderBranch)
	if err != nil {
		return err
	}
	if err := s.setTask(ctx, task, Merging, "testing the leader branch's tip "+short(tip)); err != nil {
		return err
	}
	s.merging = true
	s.log().Info("testing the leader's commits", "task", task, "tip", short(tip))
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

// onTipTested moves a leader task on after its commits were tested: passed, the tip is the
// tested head and every dev task whose branch it now holds is merged; failed, the leader
// fixes it (fix-tests) or, its rounds spent, its commits are set aside on a branch of their
// own and the leader branch goes back to its tested head.
func (s *supervisor) onTipTested(ctx context.Context, ev mergeEvent) error {
	switch {
	case ctx.Err() != nil:
		return s.setTask(context.WithoutCancel(ctx), ev.tipTask, Queued, "")
	case ev.err != nil:
		return s.setTask(ctx, ev.tipTask, Failed, "testing the leader's commits failed: "+ev.err.Error())
	case ev.passed:
		if err := s.ws.Store.UpdateTeam(ctx, s.team.Name, func(t *store.Team) error { t.TestedHead = ev.tip; return nil }); err != nil {
			return err
		}
		s.team.TestedHead = ev.tip
		s.log().Info("the leader's commits passed the tests", "task", ev.tipTask, "tip", short(ev.tip))
		if err := s.setTask(ctx, ev.tipTask, Done, "its commits passed the tests at "+short(ev.tip)); err != nil {
			return err
		}
		return s.landContained(ctx)
	}
	t, err := s.ws.Store.Task(ctx, s.team.Name, ev.tipTask)
	if err != nil {
		return err
	}
	if t.Rounds < s.p.Leader.Retries {
		return s.launch(ctx, t, agentproc.ReasonFixTests, "The test command `"+s.p.Test+"` failed on your branch's tip. Its output ends with:\n\n"+ev.output,
			func(t *store.Task) { t.Rounds++ })
	}
	aside := BranchName(s.team.Name, s.p.Leader.Name) + "-untested-" + t.ID
	if err := s.ws.Repo.CreateBranch(ctx, aside, ev.tip); err != nil {
		return err
	}
	if err := s.ws.Repo.UpdateRef(ctx, s.team.LeaderBranch, s.team.TestedHead, ev.tip); err != nil {
		return err
	}
	if err := s.merger.Restore(ctx); err != nil {
		return err
	}
	s.log().Warn("the leader's commits failed the tests: set aside", "task", t.ID, "branch", aside)
	return s.setTask(ctx, t.ID, TestsFailed, fmt.Sprintf("its commits failed the tests; they are kept on %s and the leader branch is back at %s. The output ends with:\n%s",
		aside, short(s.team.TestedHead), ev.output))
}

// landContained marks merged every dev task waiting on a person (conflict, tests failed)
// whose branch the tested leader tip now holds: the leader landed it.
func (s *supervisor) landContained(ctx context.Context) error {
	tasks, err := s.ws.Store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if s.isLeader(t.Agent) || (t.State != Conflict && t.State != TestsFailed) {
			continue
		}
		head, err := s.ws.Repo.Resolve(ctx, BranchName(s.team.Name, t.Agent))
		if err != nil {
			continue
		}
		if ok, err := s.ws.Repo.IsAncestor(ctx, head, s.team.TestedHead); err == nil && ok {
			s.log().Info("the leader landed the task", "task", t.ID, "tip", short(s.team.TestedHead))
			if err := s.merged(ctx, t.ID, s.team.TestedHead, "landed by the leader"); err != nil {
				return err
			}
		}
	}
	return nil
}
