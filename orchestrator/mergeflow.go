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

// startMerge hands the oldest queued task to the merger when it is free.
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
	t := queued[0]
	a, _ := s.p.Agent(t.Agent)
	if err := s.setTask(ctx, t.ID, Merging, ""); err != nil {
		return err
	}
	req := merge.Request{Team: s.team.Name, Task: t.ID, Agent: t.Agent, Branch: BranchName(s.team.Name, t.Agent), Owns: a.Owns}
	s.merging = true
	s.log().Info("merging", "agent", t.Agent, "task", t.ID, "test", s.p.Test)
	go func() {
		started := time.Now()
		res, err := s.merger.Merge(ctx, req)
		if err == nil {
			_, err = s.ws.Store.RecordMerge(context.WithoutCancel(ctx), store.Merge{
				Team: req.Team, Task: req.Task, Agent: req.Agent, Branch: req.Branch, BranchHead: res.BranchHead,
				Before: res.Before, Commit: res.Commit, Outcome: res.Outcome, TestRuns: res.TestRuns,
				Output: mergeOutput(res), Started: started, Ended: time.Now(),
			})
		}
		s.merges <- mergeEvent{task: t.ID, req: req, res: res, err: err}
	}()
	return nil
}

func mergeOutput(res merge.Result) string {
	if res.Outcome == merge.Conflict {
		return strings.Join(res.Conflicts, "\n")
	}
	return res.Output
}

// onMerge moves a task on after its merge: merged, or back to its agent to fix, or to a
// human once the agent's fix rounds are spent.
func (s *supervisor) onMerge(ctx context.Context, ev mergeEvent) error {
	if ctx.Err() != nil {
		return s.setTask(context.WithoutCancel(ctx), ev.task, Queued, "")
	}
	if ev.err != nil {
		s.log().Error("merge failed", "task", ev.task, "err", ev.err)
		return s.setTask(ctx, ev.task, Failed, "merge failed: "+ev.err.Error())
	}
	res := ev.res
	switch res.Outcome {
	case merge.Merged:
		s.log().Info("merged", "agent", ev.req.Agent, "task", ev.task, "commit", short(res.Commit))
		if err := s.ws.Store.UpdateTeam(ctx, s.team.Name, func(t *store.Team) error { t.TestedHead = res.Commit; return nil }); err != nil {
			return err
		}
		return s.ws.Store.UpdateTask(ctx, s.team.Name, ev.task, func(t *store.Task) error {
			t.State, t.MergeCommit, t.Detail = Merged, res.Commit, ""
			return nil
		})
	case merge.Refused:
		s.log().Warn("merge refused", "agent", ev.req.Agent, "task", ev.task, "why", res.Output)
		return s.setTask(ctx, ev.task, Failed, "refused: "+res.Output)
	}
	t, err := s.ws.Store.Task(ctx, s.team.Name, ev.task)
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
