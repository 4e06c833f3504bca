package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// onExit applies the commit policy of DESIGN.md §4 to a launch that ended: it gathers the
// facts, asks decideExit, and carries the decision out. It is safe to apply twice to the
// same end (resume may, after a crash half-way through it): the facts are read from the
// worktree and the branch as they are, not from what it did before.
func (s *supervisor) onExit(ctx context.Context, ev exitEvent) error {
	held := false
	if r := s.procs[ev.agent]; r != nil {
		if r.said != "" && ev.result.Stopped {
			// An interactive agent said it was done (teamctl done), and its session was ended
			// for it: that is how it exits 0.
			ev.result = agentproc.Result{}
		}
		held = r.held
	}
	delete(s.procs, ev.agent)
	if ctx.Err() != nil {
		return nil // stopping: the task stays as it is and resume relaunches it
	}
	if err := s.ws.setAgentState(ctx, s.team.Name, ev.agent, AgentIdle, noProcess); err != nil {
		return err
	}
	if _, err := s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "agent.exit", Agent: ev.agent, Task: ev.task,
		Data: fmt.Sprintf(`{"result":%q,"exit_code":%d}`, ev.result.String(), ev.result.ExitCode)}); err != nil {
		return err
	}
	// What the agent moved that was not its own is put back before its work is looked at.
	if _, err := s.guard(ctx); err != nil {
		return err
	}
	t, err := s.ws.store.Task(ctx, s.team.Name, ev.task)
	if err != nil {
		return err
	}
	if st := stateOf(t); st != Running && st != Nudging {
		return nil // already moved on (a second look at the same end)
	}
	sa, err := s.ws.store.Agent(ctx, s.team.Name, ev.agent)
	if err != nil {
		return err
	}
	s.log().Info("agent ended", "agent", ev.agent, "task", ev.task, "result", ev.result.String())
	f, err := s.exitFacts(ctx, t, sa, ev.result)
	if err != nil {
		return err
	}
	f.Held = held
	for {
		d := decideExit(f)
		switch d.Step {
		case stepLook:
			err = s.lookAtWorktree(ctx, &f, sa)
		case stepAutoCommit:
			if err = s.autoCommit(ctx, ev.agent, t.ID, sa.Worktree, f.Changes); err == nil {
				f.Committed = true
				err = s.lookAtWorktree(ctx, &f, sa)
			}
		case stepBackOnBranch:
			if err = s.tree(sa).backOnBranch(ctx, f.head); err == nil {
				f.Moved = true
				err = s.lookAtWorktree(ctx, &f, sa)
			}
		case stepDeliver:
			if _, err := s.move(ctx, t.ID, Blocked, "", nil); err != nil {
				return err
			}
			return s.deliver(ctx, *f.Blocker)
		case stepAskPerson:
			return s.askPerson(ctx, t, d.Why)
		case stepPause:
			return s.pauseOn(ctx, t, f.Fault)
		case stepRelaunch:
			reason, extra := t.Reason, fmt.Sprintf("Your previous launch %s. Check your worktree and continue the task.\n%s",
				ev.result, s.tree(sa).summary(ctx))
			if d.Reason == agentproc.ReasonNudge {
				reason, extra = d.Reason, "Uncommitted in your worktree:\n"+changeList(f.Changes)
			}
			return s.launch(ctx, t, reason, extra, d.Count.apply)
		default:
			_, err := s.move(ctx, t.ID, d.To, d.Why, d.Count.apply)
			return err
		}
		if err != nil {
			return err
		}
	}
}

// exitFacts gathers what decideExit needs to know first: the agent's blocker, its budget
// and its counters. The worktree is looked at only when the decision needs it (stepLook).
func (s *supervisor) exitFacts(ctx context.Context, t store.Task, sa store.Agent, res agentproc.Result) (exitFacts, error) {
	a, _ := s.p.Agent(sa.Name)
	f := exitFacts{Agent: sa.Name, Worktree: sa.Worktree, Result: res, Cancel: t.Cancel,
		Failures: t.Failures, Retries: a.Retries, Nudges: t.Nudges, NudgeMax: a.Nudge.Max, AutoCommit: a.Nudge.AutoCommit,
		Leader: s.isLeader(sa.Name)}
	b, ok, err := s.openBlocker(ctx, sa.Name, t.ID)
	if err != nil {
		return f, err
	}
	if ok {
		f.Blocker, f.WaitsOn = &b, "the leader"
		if b.Human || !s.p.Leader.IsAgent() {
			f.WaitsOn = "a person"
		}
	}
	if err := s.overBudget(a); err != nil {
		f.OverBudget = err.Error()
	}
	// Whatever the exit code: pi exits 0 when its model API refused it.
	f.Fault = s.launchFault(a, t.ID)
	return f, nil
}

// lookAtWorktree reads what decideExit needs to know of the agent's worktree and branch.
func (s *supervisor) lookAtWorktree(ctx context.Context, f *exitFacts, sa store.Agent) error {
	f.Looked = true
	// Its worktree removed while it ran: made again, so the decision sees its commits.
	if _, err := s.restoreWorktree(ctx, sa); err != nil {
		return err
	}
	var err error
	if f.Changes, err = s.ws.repo.Status(ctx, sa.Worktree); err != nil {
		return err
	}
	if f.InMerge, err = s.ws.repo.MergeInProgress(ctx, sa.Worktree); err != nil {
		return err
	}
	if f.head, err = s.tree(sa).whereIsHead(ctx); err != nil {
		return err
	}
	f.OffBranch, f.OffWhy = f.head.where, f.head.why
	if f.Leader {
		tip, err := s.ws.repo.Resolve(ctx, s.team.LeaderBranch)
		if err != nil {
			return err
		}
		f.TipTested = tip == s.team.TestedHead
		return nil
	}
	f.Ahead, _, err = s.ws.repo.AheadBehind(ctx, s.team.LeaderBranch, sa.Branch)
	return err
}

// autoCommit commits everything an agent left (untracked too, ignored not) under its name,
// with the message resume and review recognise. A merge the agent left concluded (every
// conflict resolved) is committed as the merge it is.
func (s *supervisor) autoCommit(ctx context.Context, agent, task, dir string, changes []worktree.Change) error {
	a, ok := s.p.Agent(agent)
	if !ok {
		a.Name = agent // apply removed it from the plan; its work is still its own
	}
	if sa, err := s.ws.store.Agent(ctx, s.team.Name, agent); err == nil && sa.Worktree == dir {
		if err := s.pinned(ctx, sa); err != nil {
			return fmt.Errorf("auto-commit for %s: %w", agent, err)
		}
	}
	hash, err := s.ws.repo.CommitAll(ctx, dir, AutoCommitMessage(agent, task, changes), gitIdentity(s.team.Name, a))
	if errors.Is(err, worktree.ErrNothingToCommit) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auto-commit for %s: %w", agent, err)
	}
	s.log().Warn("auto-committed work left uncommitted", "agent", agent, "task", task, "files", len(changes), "commit", shorten.Hash(hash))
	_, err = s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "commit.auto", Agent: agent, Task: task,
		Data: fmt.Sprintf(`{"commit":%q,"files":%d}`, hash, len(changes))})
	return err
}

// AutoCommitMessage is the subject resume and review recognise an auto-commit by.
func AutoCommitMessage(agent, task string, changes []worktree.Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, autoCommitPrefix+" work left uncommitted by %s (task %s)\n\n", agent, task)
	b.WriteString(changeList(changes))
	return b.String()
}

func changeList(changes []worktree.Change) string {
	var b strings.Builder
	for i, c := range changes {
		if i == 50 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(changes)-50)
			break
		}
		fmt.Fprintf(&b, "  %s %s\n", c.Code, c.Path)
	}
	return b.String()
}

func unmergedPaths(changes []worktree.Change) []string {
	var out []string
	for _, c := range changes {
		if c.Code == "U" {
			out = append(out, c.Path)
		}
	}
	return out
}
