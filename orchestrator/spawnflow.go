package orchestrator

// The supervisor's side of teamctl spawn: workers start from and merge into their
// spawner's branch, a few of a call at once, and each one's end is told to its spawner.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// target is the branch agent's work merges into: its spawner's for a worker (the leader
// branch when the leader spawned it), else the leader branch.
func (s *supervisor) target(agent string) string {
	if a, ok := s.p.Agent(agent); ok && a.Spawner != "" {
		return BranchName(s.team.Name, a.Spawner)
	}
	return s.team.LeaderBranch
}

// workersAtWork says which of agent's workers have not ended yet ("" when none): its
// branch is merged on only once they have (merged into it, or stopped for someone to say
// what they should do).
func workersAtWork(p *plan.Plan, tasks []store.Task, agent string) string {
	var busy []string
	for _, t := range tasks {
		a, ok := p.Agent(t.Agent)
		if !ok || a.Spawner != agent {
			continue
		}
		if st := stateOf(t); !st.Finished() && !st.WaitsOnHuman() {
			busy = append(busy, t.Agent+" "+string(st))
		}
	}
	if len(busy) == 0 {
		return ""
	}
	return "its workers have not ended: " + strings.Join(busy, ", ")
}

// spawnFull reports whether agent is a worker whose call already runs as many workers as
// it may at once.
func (s *supervisor) spawnFull(agent string) bool {
	a, ok := s.p.Agent(agent)
	if !ok || a.Spawner == "" || a.Concurrency <= 0 {
		return false
	}
	n := 0
	for name := range s.procs {
		if o, ok := s.p.Agent(name); ok && o.Spawner == a.Spawner && o.SpawnCall == a.SpawnCall {
			n++
		}
	}
	return n >= a.Concurrency
}

// mergeDir is where workers are merged into spawner's branch in team t: a worktree of its
// own (the spawner's holds its work in progress), under the team's worktrees.
func mergeDir(t store.Team, spawner string) string {
	return filepath.Join(filepath.Dir(t.LeaderWorktree), ".merge", spawner)
}

// startSpawnMerge merges the queued tasks of spawner's workers into its branch, as the
// merge queue does the leader branch's: in their own worktree, tested with the plan's test,
// landed by a fast-forward of the spawner's worktree (its uncommitted work to other files
// stays; a commit of its own meanwhile queues the batch again).
func (s *supervisor) startSpawnMerge(ctx context.Context, spawner string, queued []store.Task) error {
	if _, err := s.guard(ctx); err != nil {
		return err
	}
	sa, err := s.ws.store.Agent(ctx, s.team.Name, spawner)
	if err != nil {
		return err
	}
	into := BranchName(s.team.Name, spawner)
	dir := mergeDir(s.team, spawner)
	if err := s.ws.repo.AddDetachedWorktree(ctx, dir, into); err != nil {
		return err
	}
	reqs, err := s.batch(ctx, queued)
	if err != nil || len(reqs) == 0 {
		return err
	}
	m := &merge.Merger{
		Repo: s.ws.repo, Run: s.ws.env.Runner, Dir: dir, Branch: into, Detached: true,
		Test: s.p.Test, TestTimeout: s.p.TestTimeout, Env: identity(s.team.Name, spawner),
		Batch: s.p.Merge.Batch, TestRetries: s.p.Merge.TestRetries,
		Land: func(ctx context.Context, before, tip string) error {
			// The spawner's worktree as it was before the try: a change of it since (a git
			// add, a commit, even while the try failed) is what lets the landing go again.
			stamp := s.worktreeStamp(ctx, spawner)
			err := s.ws.repo.FastForwardFrom(ctx, sa.Worktree, before, tip)
			if errors.Is(err, worktree.ErrMoved) {
				now, rerr := s.ws.repo.Resolve(ctx, into)
				if rerr != nil {
					return err
				}
				return &merge.LeaderMovedError{Branch: into, Expected: before, Tip: now}
			}
			if err != nil && ctx.Err() == nil {
				return &inTheWay{spawner: spawner, err: err, stamp: stamp}
			}
			return err
		},
	}
	s.merging = true
	s.log().Info("merging into a spawner's branch", "spawner", spawner, "tasks", len(reqs), "test", s.p.Test)
	go func() {
		started := time.Now()
		br, err := m.MergeBatch(ctx, reqs)
		if rerr := s.recordBatch(context.WithoutCancel(ctx), reqs, br, started); rerr != nil && err == nil {
			err = rerr
		}
		s.merges <- mergeEvent{reqs: reqs, br: br, err: err, into: into}
	}()
	return nil
}

// inTheWay is a landing the spawner's own uncommitted work stops: git would overwrite it.
type inTheWay struct {
	spawner string
	err     error
	stamp   [2]FileStamp // the spawner's worktree just before the try
}

func (e *inTheWay) Error() string { return e.err.Error() }

// worktreeStamp changes when agent's worktree's index or branch does: a commit, an add, a
// checkout.
func (s *supervisor) worktreeStamp(ctx context.Context, agent string) [2]FileStamp {
	sa, err := s.ws.store.Agent(ctx, s.team.Name, agent)
	if err != nil {
		return [2]FileStamp{}
	}
	dir, _ := worktree.GitDirOf(sa.Worktree)
	return [2]FileStamp{StampOf(filepath.Join(dir, "index")), StampOf(filepath.Join(s.ws.repo.CommonDir, "refs", "heads", filepath.FromSlash(sa.Branch)))}
}

// landingHeld reports whether merges into agent's spawner's branch wait for the spawner to
// commit (or remove) the uncommitted work that stopped the last landing.
func (s *supervisor) landingHeld(ctx context.Context, agent string) bool {
	a, ok := s.p.Agent(agent)
	if !ok || a.Spawner == "" {
		return false
	}
	held, ok := s.inTheWay[a.Spawner]
	if !ok {
		return false
	}
	if held == s.worktreeStamp(ctx, a.Spawner) {
		return true
	}
	delete(s.inTheWay, a.Spawner)
	return false
}

// holdLanding holds merges into spawner's branch until its worktree changes, and tells it why.
func (s *supervisor) holdLanding(ctx context.Context, e *inTheWay, workers []string) error {
	if s.inTheWay == nil {
		s.inTheWay = map[string][2]FileStamp{}
	}
	s.inTheWay[e.spawner] = e.stamp
	s.log().Warn("a spawner's uncommitted work is in the way of its workers' merge: it waits for a commit", "spawner", e.spawner, "err", e.err)
	text := fmt.Sprintf("The work of %s passed the tests and waits to land on your branch, but your uncommitted changes are in the way (%s). Commit them (or remove them): it lands then.",
		strings.Join(workers, ", "), shorten.Line(strings.Join(strings.Fields(e.err.Error()), " "), 400))
	_, err := s.ws.store.SendMessage(ctx, s.team.Name, store.Outgoing{From: System, To: []string{e.spawner}, Text: text})
	return err
}

// reportSpawns tells each spawner how its workers ended, once each: merged into its branch
// (with the worker's report), or stopped and waiting on someone to say what it should do.
// What was told is journalled ("spawn.reported"), so a resumed supervisor does not tell it
// again.
func (s *supervisor) reportSpawns(ctx context.Context) error {
	if s.reported == nil {
		s.reported = map[string]bool{}
		evs, err := s.ws.store.EventsOfKinds(ctx, s.team.Name, []string{"spawn.reported"}, 0)
		if err != nil {
			return err
		}
		for _, e := range evs {
			s.reported[e.Task] = true
		}
	}
	// Every turn: a query only while some worker's end is still to be told.
	untold := false
	for _, a := range s.p.Agents {
		for _, t := range a.Tasks {
			untold = untold || a.Spawner != "" && !s.reported[t.ID]
		}
	}
	if !untold {
		return nil
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		a, ok := s.p.Agent(t.Agent)
		st := stateOf(t)
		if !ok || a.Spawner == "" || s.reported[t.ID] || !(st.Finished() || st.WaitsOnHuman()) {
			continue
		}
		var text string
		switch st {
		case Merged, Done:
			text = fmt.Sprintf("Your worker %s (task %s) is %s into your branch. Its report:\n%s", t.Agent, t.ID, st,
				strings.TrimSpace(orSay(t.Summary, "(it gave none)")))
		case Cancelled:
			text = fmt.Sprintf("Your worker %s (task %s) was cancelled: %s", t.Agent, t.ID, t.Detail)
		default:
			text = fmt.Sprintf("Your worker %s (task %s) stopped: %s: %s. Its work is on branch %s; a blocker asks what it should do (teamctl blockers).",
				t.Agent, t.ID, st, shorten.FirstLine(strings.TrimSpace(t.Detail)), BranchName(s.team.Name, t.Agent))
		}
		if _, err := s.ws.store.SendMessage(ctx, s.team.Name, store.Outgoing{From: System, To: []string{a.Spawner}, Text: text}); err != nil {
			return err
		}
		if _, err := s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "spawn.reported", Agent: a.Spawner, Task: t.ID,
			Data: fmt.Sprintf(`{"state":%q}`, st)}); err != nil {
			return err
		}
		s.reported[t.ID] = true
	}
	return nil
}

func orSay(s, none string) string {
	if strings.TrimSpace(s) == "" {
		return none
	}
	return s
}
