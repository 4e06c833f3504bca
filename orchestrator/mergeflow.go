package orchestrator

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// startMerge hands every queued task, oldest first, to the merge queue when it is free: they
// are merged as one batch (DESIGN.md §5).
func (s *supervisor) startMerge(ctx context.Context) error {
	if s.merging {
		return nil
	}
	tasks, err := s.ws.Store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var queued []store.Task
	for _, t := range tasks {
		if t.State == Queued {
			queued = append(queued, t)
		}
	}
	if len(queued) == 0 {
		return nil
	}
	sort.SliceStable(queued, func(i, j int) bool { return queued[i].Updated.Before(queued[j].Updated) })
	if s.p.Merge.Batch > 0 && len(queued) > s.p.Merge.Batch {
		queued = queued[:s.p.Merge.Batch]
	}
	reqs := make([]merge.Request, len(queued))
	for i, t := range queued {
		a, _ := s.p.Agent(t.Agent)
		if err := s.setTask(ctx, t.ID, Merging, ""); err != nil {
			return err
		}
		reqs[i] = merge.Request{Team: s.team.Name, Task: t.ID, Agent: t.Agent, Branch: BranchName(s.team.Name, t.Agent), Owns: a.Owns}
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
			if err := s.ws.Store.UpdateTask(uctx, s.team.Name, req.Task, func(t *store.Task) error {
				t.State, t.MergeCommit, t.Detail = Merged, res.Commit, ""
				return nil
			}); err != nil {
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
	if res.Outcome == merge.Refused {
		s.log().Warn("merge refused", "agent", req.Agent, "task", req.Task, "why", res.Output)
		return s.setTask(ctx, req.Task, Failed, "refused: "+res.Output)
	}
	t, err := s.ws.Store.Task(ctx, s.team.Name, req.Task)
	if err != nil {
		return err
	}
	a, _ := s.p.Agent(t.Agent)
	final, detail := TestsFailed, res.Output
	if res.Outcome == merge.Conflict {
		final, detail = Conflict, "conflicts with the leader branch in "+strings.Join(res.Conflicts, ", ")
	}
	s.log().Warn("merge "+res.Outcome, "agent", t.Agent, "task", t.ID, "round", t.Rounds+1, "of", a.Retries)
	if t.Rounds >= a.Retries {
		return s.setTask(ctx, t.ID, final, detail)
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
