package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// schedule launches every task that can start: an agent works on its tasks one after
// another; a task starts once the tasks it comes after are merged or done.
func (s *supervisor) schedule(ctx context.Context) error {
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	state := map[string]TaskState{}
	for _, t := range tasks {
		state[t.ID] = stateOf(t)
	}
	agents := s.p.Agents
	if s.p.Leader.IsAgent() {
		agents = append([]plan.Agent{s.p.Leader}, agents...)
	}
	for _, a := range agents {
		if _, busy := s.procs[a.Name]; busy {
			continue
		}
		if s.isLeader(a.Name) && s.merging {
			continue // the merge queue has the leader worktree
		}
		if s.p.MaxParallel > 0 && len(s.procs) >= s.p.MaxParallel {
			return nil
		}
		t, ok := currentTask(tasks, a.Name)
		if !ok || stateOf(t) != Pending || s.spawnFull(a.Name) {
			continue
		}
		ready := true
		for _, dep := range t.After {
			if !state[dep].Finished() {
				ready = false
			}
		}
		if !ready {
			continue
		}
		// Looked at only for a task about to start: not a query per waiting agent per turn.
		if _, held, err := s.held(ctx, a.Name); err != nil || held || time.Since(s.released[s.providerOf(a.Name).Key]) < s.p.Limits.Stagger {
			if err != nil {
				return err
			}
			continue // nothing goes into a known limit; after one, agents come back one by one
		}
		if err := s.launch(ctx, t, agentproc.ReasonTask, "", nil); err != nil {
			return err
		}
	}
	return nil
}

// currentTask is the agent's first task that is not merged or done.
func currentTask(tasks []store.Task, agent string) (store.Task, bool) {
	for _, t := range tasks {
		if t.Agent == agent && !stateOf(t).Finished() {
			return t, true
		}
	}
	return store.Task{}, false
}

// launch starts the task's agent for reason, with extra in its prompt. count, when not nil,
// changes the task's counters (nudges, failures, rounds) in the same transaction that
// records the launch, so a crash never counts a launch that was not recorded or the reverse.
// A program that cannot start fails the task, not the run.
func (s *supervisor) launch(ctx context.Context, t store.Task, reason, extra string, count func(*store.Task)) error {
	a, ok := s.p.Agent(t.Agent)
	if !ok {
		return fmt.Errorf("task %s: agent %s is not in the plan", t.ID, t.Agent)
	}
	sa, err := s.ws.store.Agent(ctx, s.team.Name, a.Name)
	if err != nil {
		return err
	}
	if _, err := s.restoreWorktree(ctx, sa); err != nil {
		return err
	}
	if stateOf(t) != Paused { // a paused task is relaunched by tendPauses, which knows it may
		if pause, held, err := s.held(ctx, a.Name); err != nil || held {
			if err != nil {
				return err
			}
			return s.holdLaunch(ctx, t, pause, reason, extra, count)
		}
	}
	if reason == agentproc.ReasonTask && t.Attempt == 0 {
		s.tree(sa).syncFromLeader(ctx)
	}
	files := s.files(a.Name)
	// Before the launch is recorded: an earlier launch's exit status must never be read as
	// this one's (see resume).
	if err := files.Clear(); err != nil {
		return fmt.Errorf("launch %s: %w", a.Name, err)
	}
	state := Running
	if reason == agentproc.ReasonNudge {
		state = Nudging
	}
	session, resume, chosen := s.sessionFor(a, t)
	if t, err = s.move(ctx, t.ID, state, "", func(t *store.Task) {
		t.Reason = reason
		t.Attempt++
		if chosen {
			t.Session = session
		}
		if count != nil {
			count(t)
		}
	}); err != nil {
		return err
	}
	unread, err := s.ws.store.Unread(ctx, s.team.Name, a.Name)
	if err != nil {
		return err
	}
	if len(unread) > 0 {
		var b strings.Builder
		b.WriteString("\nMessages for you (read them; more may come: teamctl msg inbox; answer one with\nteamctl msg send --reply-to ID \"TEXT\"):\n")
		for _, m := range unread {
			fmt.Fprintf(&b, "- [%d] from %s: %s\n", m.ID, m.From, m.Text)
		}
		extra = strings.TrimSpace(extra + "\n" + b.String())
	}
	l := s.baseLaunch(a, sa)
	l.TaskID, l.Attempt, l.Reason = t.ID, t.Attempt, reason
	l.Command, _ = agentproc.CommandFor(a, session, resume)
	l.Prompt = agentproc.Prompt(agentproc.PromptInput{
		Team: s.team.Name, Agent: a.Name, TaskID: t.ID, Task: t.Prompt, Reason: reason, Extra: extra,
		Branch: sa.Branch, LeaderBranch: s.target(a.Name), Interactive: a.Mode == plan.ModeTmux,
		CanSpawn: Depth(s.p, a.Name) < s.p.Spawn.Limits().MaxDepth,
		Confined: s.confined, AllowWrite: s.p.Sandbox.AllowWrite,
	})
	if s.confined {
		if err := s.confine(ctx, &l, a); err != nil {
			s.log().Error("agent cannot be confined", "agent", a.Name, "task", t.ID, "err", err)
			_, err := s.move(ctx, t.ID, Failed, err.Error(), nil)
			return err
		}
	}
	s.prepareCLI(a)
	var seen int64
	if a.Mode == plan.ModeTmux {
		s.prepareInteractive(a, sa)
		l.Tmux = s.tmux
		if seen, err = s.ws.store.LastEventID(ctx, s.team.Name); err != nil {
			return err
		}
	}
	proc, err := agentproc.Start(s.life, l)
	if errors.Is(err, agentproc.ErrStart) {
		s.log().Error("agent cannot start", "agent", a.Name, "task", t.ID, "err", err)
		_, err := s.move(ctx, t.ID, Failed, err.Error(), nil)
		return err
	}
	if err != nil {
		return err
	}
	s.log().Info("agent launched", "agent", a.Name, "task", t.ID, "attempt", t.Attempt, "reason", reason, "pid", proc.Pid)
	if len(unread) > 0 {
		ids := make([]int64, len(unread))
		for i, m := range unread {
			ids[i] = m.ID
		}
		if err := s.ws.store.MarkRead(ctx, s.team.Name, a.Name, ids); err != nil {
			return err
		}
	}
	if err := s.ws.setAgentState(ctx, s.team.Name, a.Name, AgentRunning, runs(t.ID, proc)); err != nil {
		proc.Stop(stopGrace) // never an agent the store does not know of
		return err
	}
	s.watch(a.Name, t.ID, proc)
	if a.Mode == plan.ModeTmux {
		s.procs[a.Name].interactive, s.procs[a.Name].seen, s.procs[a.Name].started = true, seen, time.Now()
	}
	return nil
}

// gitIdentity is the identity an agent's commits carry: the plan's env wins.
func gitIdentity(team string, a plan.Agent) []string {
	env := identity(team, a.Name)
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} {
		if v, ok := a.Env[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
