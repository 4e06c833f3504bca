package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/store"
)

// Repairs: what a person (or a crash) took away from a team while it ran or while it was
// stopped — an agent's branch, a worktree — made again so the team goes on without a person,
// and said plainly: each repair is a journal entry (RepairKinds) that review lists, naming
// what was lost, if anything.

// RepairKinds are the journal kinds of repairs.
var RepairKinds = []string{"repair.branch", "repair.worktree"}

// repair journals one repair and logs it. Completing a team whose creation was cut off is
// no repair: it is only logged.
func (s *supervisor) repair(ctx context.Context, kind, agent, text string) error {
	if TeamState(s.team.State) == TeamCreating {
		s.log().Info(text, "agent", agent)
		return nil
	}
	s.log().Warn(text, "agent", agent)
	data, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		return err
	}
	_, err = s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: kind, Agent: agent, Data: string(data)})
	return err
}

// restoreBranch makes an agent's missing branch again (deleted by hand, or its creation cut
// off). Its last commit is in its worktree's HEAD reflog, which outlives the branch, or in the
// last merge record of the agent's: the branch is put back there. With neither it starts
// from the last tested leader tip, which holds everything merged so far — nothing was lost
// unless a commit was known that the repository no longer holds, which the repair names.
func (s *supervisor) restoreBranch(ctx context.Context, sa store.Agent) error {
	repo := s.ws.repo
	var known []string
	if h, err := repo.LastHead(sa.Worktree); err == nil && h != "" {
		known = append(known, h)
	}
	if h, err := s.lastMergedHead(ctx, sa.Name); err == nil && h != "" {
		known = append(known, h)
	}
	from, lost := "", ""
	for _, h := range known {
		if repo.HasCommit(ctx, h) {
			from = h
			break
		}
		if lost == "" {
			lost = h
		}
	}
	text := ""
	switch {
	case from != "":
		text = fmt.Sprintf("branch %s was missing: put back at %s, its last commit (from its worktree's reflog)", sa.Branch, shorten.Hash(from))
	case lost != "":
		from = s.team.TestedHead
		text = fmt.Sprintf("branch %s was missing and its last commit %s is gone from the repository: started again from the leader branch's tested tip %s; the agent's work since is lost unless you have %s elsewhere",
			sa.Branch, lost, shorten.Hash(from), lost)
	default:
		from = s.team.TestedHead
		text = fmt.Sprintf("branch %s was missing (it had no commit of its own): made again from the leader branch's tested tip %s", sa.Branch, shorten.Hash(from))
	}
	if err := repo.CreateBranch(ctx, sa.Branch, from); err != nil {
		return err
	}
	return s.repair(ctx, "repair.branch", sa.Name, text)
}

// lastMergedHead is the newest branch head a merge record of the agent's names.
func (s *supervisor) lastMergedHead(ctx context.Context, agent string) (string, error) {
	merges, err := s.ws.store.Merges(ctx, s.team.Name)
	if err != nil {
		return "", err
	}
	head := ""
	for _, m := range merges { // oldest first
		if m.Agent == agent && m.BranchHead != "" {
			head = m.BranchHead
		}
	}
	return head, nil
}

// restoreWorktree makes an agent's worktree (the leader's too) again from its branch when its
// directory is gone: removed by hand while the team ran, or since. What was uncommitted there
// went with the directory; the repair says so. It reports whether it made one.
func (s *supervisor) restoreWorktree(ctx context.Context, sa store.Agent) (bool, error) {
	if _, err := os.Stat(sa.Worktree); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, s.addWorktree(ctx, sa)
}

// addWorktree adds the agent's worktree at its path again, from its branch, with its commit
// hook; the plan's copy and set-up run again at its next launch.
func (s *supervisor) addWorktree(ctx context.Context, sa store.Agent) error {
	repo := s.ws.repo
	if err := repo.Prune(ctx); err != nil {
		return err
	}
	if ok, err := repo.BranchExists(ctx, sa.Branch); err != nil {
		return err
	} else if !ok {
		if err := s.restoreBranch(ctx, sa); err != nil {
			return err
		}
	}
	if err := repo.AddWorktree(ctx, sa.Worktree, sa.Branch); err != nil {
		return fmt.Errorf("the worktree %s of %s is gone and could not be made again from %s: %w", sa.Worktree, sa.Name, sa.Branch, err)
	}
	if err := s.ws.InstallCommitHook(ctx, s.team.Name, sa.Name, sa.Worktree); err != nil {
		return err
	}
	if err := os.Remove(s.setupMarker(sa)); err != nil && !os.IsNotExist(err) {
		return err
	}
	tip, _ := repo.Resolve(ctx, sa.Branch)
	return s.repair(ctx, "repair.worktree", sa.Name, fmt.Sprintf(
		"worktree %s was missing: made again from branch %s at %s; whatever was uncommitted in it is lost (its commits are all there)",
		sa.Worktree, sa.Branch, shorten.Hash(tip)))
}

// restoreLeaderWorktree is restoreWorktree for the leader worktree, which the merge queue
// works in.
func (s *supervisor) restoreLeaderWorktree(ctx context.Context) error {
	if _, err := os.Stat(s.team.LeaderWorktree); err == nil {
		return nil
	}
	sa, err := s.ws.store.Agent(ctx, s.team.Name, s.p.Leader.Name)
	if err != nil {
		return err
	}
	_, err = s.restoreWorktree(ctx, sa)
	return err
}

// repairs lists the team's repairs, oldest first.
func (w *Workspace) repairs(ctx context.Context, team string) ([]Repair, error) {
	evs, err := w.store.EventsOfKinds(ctx, team, RepairKinds, 0)
	if err != nil {
		return nil, err
	}
	out := []Repair{}
	for _, e := range evs {
		var d struct{ Text string }
		_ = json.Unmarshal([]byte(e.Data), &d)
		out = append(out, Repair{Agent: e.Agent, Text: d.Text, At: e.At})
	}
	return out, nil
}
