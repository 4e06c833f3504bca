package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// onExit applies the commit policy of DESIGN.md §4 to a launch that ended. It is safe to
// apply twice to the same end (resume may, after a crash half-way through it): every step
// looks at the worktree and the branch as they are, not at what it did before.
func (s *supervisor) onExit(ctx context.Context, ev exitEvent) error {
	if r := s.procs[ev.agent]; r != nil && r.said != "" && ev.result.Stopped {
		// An interactive agent said it was done (teamctl done), and its session was ended
		// for it: that is how it exits 0.
		ev.result = agentproc.Result{}
	}
	delete(s.procs, ev.agent)
	if ctx.Err() != nil {
		return nil // stopping: the task stays as it is and resume relaunches it
	}
	if err := s.ws.Store.UpdateAgent(ctx, s.team.Name, ev.agent, func(a *store.Agent) error {
		a.State, a.PID, a.ProcStart = AgentIdle, 0, 0
		return nil
	}); err != nil {
		return err
	}
	if _, err := s.ws.Store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "agent.exit", Agent: ev.agent, Task: ev.task,
		Data: fmt.Sprintf(`{"result":%q,"exit_code":%d}`, ev.result.String(), ev.result.ExitCode)}); err != nil {
		return err
	}
	t, err := s.ws.Store.Task(ctx, s.team.Name, ev.task)
	if err != nil {
		return err
	}
	if t.State != Running && t.State != Nudging {
		return nil // already moved on (a second look at the same end)
	}
	a, _ := s.p.Agent(ev.agent)
	sa, err := s.ws.Store.Agent(ctx, s.team.Name, ev.agent)
	if err != nil {
		return err
	}
	s.log().Info("agent ended", "agent", ev.agent, "task", ev.task, "result", ev.result.String())

	// An agent that raised a blocker waits for its answer: no nudge, no merge, whatever its
	// exit status. Answered already (while it was still running): relaunched with it now.
	if b, ok, err := s.openBlocker(ctx, ev.agent, t.ID); err != nil {
		return err
	} else if ok {
		if b.State == store.BlockerAnswered {
			if err := s.setTask(ctx, t.ID, Blocked, ""); err != nil {
				return err
			}
			return s.deliver(ctx, b)
		}
		who := "the leader"
		if b.Human || !s.p.Leader.IsAgent() {
			who = "a person"
		}
		return s.setTask(ctx, t.ID, Blocked, fmt.Sprintf("blocker %d waits on %s: %s", b.ID, who, b.Text))
	}

	// Past its budget (stopped for it, or ended over it): a person decides.
	if err := s.overBudget(a); err != nil {
		return s.blockOverBudget(ctx, t, err)
	}

	if !ev.result.OK() {
		if t.Failures < a.Retries {
			extra := fmt.Sprintf("Your previous launch %s. Check your worktree and continue the task.\n%s",
				ev.result, s.worktreeSummary(ctx, sa))
			return s.launch(ctx, t, t.Reason, extra, func(t *store.Task) { t.Failures++ })
		}
		detail := fmt.Sprintf("agent %s on its last launch (%d launches failed); its log: teamctl logs %s", ev.result, t.Failures+1, ev.agent)
		if err := s.ws.Store.UpdateTask(ctx, s.team.Name, t.ID, func(t *store.Task) error {
			t.Failures++
			return nil
		}); err != nil {
			return err
		}
		return s.stuck(ctx, t, Failed, detail)
	}

	changes, err := s.ws.Repo.Status(ctx, sa.Worktree)
	if err != nil {
		return err
	}
	inMerge, err := s.ws.Repo.MergeInProgress(ctx, sa.Worktree)
	if err != nil {
		return err
	}
	if len(changes) > 0 || inMerge {
		if t.Nudges < a.Nudge.Max {
			return s.launch(ctx, t, agentproc.ReasonNudge, "Uncommitted in your worktree:\n"+changeList(changes),
				func(t *store.Task) { t.Nudges++ })
		}
		if unmerged := unmergedPaths(changes); len(unmerged) > 0 {
			return s.stuck(ctx, t, Conflict, "the agent left unresolved conflicts in "+strings.Join(unmerged, ", "))
		}
		if !a.Nudge.AutoCommit {
			return s.stuck(ctx, t, Blocked, fmt.Sprintf("the agent left %d uncommitted file(s) and auto_commit is off: commit or discard them in %s", len(changes), sa.Worktree))
		}
		if err := s.autoCommit(ctx, ev.agent, t.ID, sa.Worktree, changes); err != nil {
			return err
		}
	}
	if why, err := s.backOnBranch(ctx, ev.agent, sa); err != nil {
		return err
	} else if why != "" {
		return s.stuck(ctx, t, Blocked, why)
	}
	if s.isLeader(ev.agent) {
		// The leader commits on the leader branch itself: its tip is tested (queued) before
		// it counts as tested, like a merge.
		tip, err := s.ws.Repo.Resolve(ctx, s.team.LeaderBranch)
		if err != nil {
			return err
		}
		if tip == s.team.TestedHead {
			return s.setTask(ctx, t.ID, Done, "")
		}
		return s.setTask(ctx, t.ID, Queued, "its commits on the leader branch wait for the tests")
	}
	ahead, _, err := s.ws.Repo.AheadBehind(ctx, s.team.LeaderBranch, sa.Branch)
	if err != nil {
		return err
	}
	if ahead == 0 {
		return s.setTask(ctx, t.ID, Done, "no commits to merge")
	}
	return s.setTask(ctx, t.ID, Queued, "")
}

// autoCommit commits everything an agent left (untracked too, ignored not) under its name,
// with the message resume and review recognise. A merge the agent left concluded (every
// conflict resolved) is committed as the merge it is.
func (s *supervisor) autoCommit(ctx context.Context, agent, task, dir string, changes []worktree.Change) error {
	a, _ := s.p.Agent(agent)
	hash, err := s.ws.Repo.CommitAll(ctx, dir, AutoCommitMessage(agent, task, changes), gitIdentity(s.team.Name, a))
	if errors.Is(err, worktree.ErrNothingToCommit) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auto-commit for %s: %w", agent, err)
	}
	s.log().Warn("auto-committed work left uncommitted", "agent", agent, "task", task, "files", len(changes), "commit", short(hash))
	_, err = s.ws.Store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "commit.auto", Agent: agent, Task: task,
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

// backOnBranch makes sure what an agent committed is on its branch, which is what gets
// merged. An agent that detached HEAD or switched branches and committed there has its
// branch fast-forwarded to those commits and checked out again; one that went back to an
// older commit just gets its branch back. When the commits have diverged from its branch,
// nothing is moved: why says what a person has to sort out.
func (s *supervisor) backOnBranch(ctx context.Context, agent string, sa store.Agent) (why string, err error) {
	wt, ok, err := s.ws.Repo.WorktreeAt(ctx, sa.Worktree)
	if err != nil || !ok || wt.Branch == sa.Branch {
		return "", err
	}
	on := "a detached HEAD at " + short(wt.Head)
	if wt.Branch != "" {
		on = "branch " + wt.Branch
	}
	tip, err := s.ws.Repo.Resolve(ctx, sa.Branch)
	if err != nil {
		return "", err
	}
	if wt.Head != tip {
		ahead, err := s.ws.Repo.IsAncestor(ctx, tip, wt.Head)
		if err != nil {
			return "", err
		}
		behind, err := s.ws.Repo.IsAncestor(ctx, wt.Head, tip)
		if err != nil {
			return "", err
		}
		if !ahead && !behind {
			return fmt.Sprintf("the agent left its worktree on %s, whose commits are not on its branch %s: bring them there (git checkout %s && git merge %s)",
				on, sa.Branch, sa.Branch, short(wt.Head)), nil
		}
		if ahead {
			if err := s.ws.Repo.UpdateRef(ctx, sa.Branch, wt.Head, tip); err != nil {
				return "", err
			}
			s.log().Warn("the agent committed off its branch: its branch now holds those commits", "agent", agent, "on", on, "branch", sa.Branch, "head", short(wt.Head))
		}
	}
	if err := s.ws.Repo.Checkout(ctx, sa.Worktree, sa.Branch); err != nil {
		return "", err
	}
	return "", nil
}
