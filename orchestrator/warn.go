package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/store"
)

// warnEvery is how often the supervisor checks the live branches against each other. A
// check redoes only what a new commit changed (merge.PairChecker), so it is cheap.
const warnEvery = 2 * time.Second

// System is the sender of what teamctl itself tells agents (conflict warnings).
const System = "teamctl"

// warnConflicts checks the branches of agents still working on a task (running, nudged or
// queued) pairwise with merge-tree, records the conflicts coming in the store (status and
// the dashboard show them), and tells both agents of each new one, naming the files and the
// other agent. A failed check is logged, not fatal: the merge step checks again anyway.
func (s *supervisor) warnConflicts(ctx context.Context) {
	if time.Since(s.lastWarn) < warnEvery {
		return
	}
	s.lastWarn = time.Now()
	if err := s.checkConflicts(ctx); err != nil && ctx.Err() == nil {
		s.log().Warn("conflict check failed", "err", err)
	}
}

func (s *supervisor) checkConflicts(ctx context.Context) error {
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	agents, err := s.ws.store.Agents(ctx, s.team.Name)
	if err != nil {
		return err
	}
	branch := map[string]string{}
	for _, a := range agents {
		branch[a.Name] = a.Branch
	}
	live := map[string]string{} // agent → branch
	for _, t := range tasks {
		if !s.isLeader(t.Agent) && warnable(t) {
			live[t.Agent] = branch[t.Agent]
		}
	}
	if s.pairs == nil {
		s.pairs = merge.NewPairChecker(s.ws.repo)
	}
	found, err := s.pairs.Check(ctx, s.team.LeaderBranch, live)
	if err != nil {
		return err
	}
	ws := make([]store.Warning, 0, len(found))
	for _, w := range found {
		ws = append(ws, store.Warning{A: w.A, B: w.B, Files: w.Files})
	}
	fresh, err := s.ws.store.SetWarnings(ctx, s.team.Name, ws)
	if err != nil {
		return err
	}
	for _, w := range fresh {
		s.log().Warn("conflict coming", "agents", strings.TrimSuffix(w.A+" "+w.B, " "), "files", strings.Join(w.Files, " "))
		for _, pair := range [][2]string{{w.A, w.B}, {w.B, w.A}} {
			to, other := pair[0], pair[1]
			if _, ok := live[to]; !ok || to == "" {
				continue
			}
			if _, err := s.ws.store.SendMessage(ctx, s.team.Name, store.Outgoing{From: System, To: []string{to}, Text: s.warningText(other, w.Files)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// warnable reports whether task t's branch is checked for conflicts coming: its agent is
// at work on it or it waits to merge — but not while the agent is fixing a conflict it
// was told of already (its merge is in progress: a warning would be stale advice).
func warnable(t store.Task) bool {
	switch stateOf(t) {
	case Running, Nudging:
		return t.Reason != agentproc.ReasonFixConflict
	case Queued:
		return true
	}
	return false
}

// warningText tells an agent that its branch and other's (or the leader branch, when
// other is "") would conflict in files, and what to do about it.
func (s *supervisor) warningText(other string, files []string) string {
	list := strings.Join(files, ", ")
	if other == "" {
		return fmt.Sprintf("Conflict coming: your branch and what the team has merged on %s both change %s. "+
			"Merge it into your branch now (git merge %s), resolve, and commit.", s.team.LeaderBranch, list, s.team.LeaderBranch)
	}
	return fmt.Sprintf("Conflict coming: your branch and %s's both change %s in ways that will not merge. "+
		"Agree with %s who changes what (teamctl msg send --to %s ...), or reserve the files (teamctl reserve).", other, list, other, other)
}
