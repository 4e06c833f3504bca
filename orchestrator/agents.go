package orchestrator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// commandFor is the argv template of a launch of agent a on task t (t.Attempt counts this
// launch). An agent of a known CLI continues its own session on a relaunch (nudge, fix,
// answer, resume) when the CLI can, so it keeps its context; otherwise, and on the first
// launch of a task, it starts a new session (with an id teamctl picks where the CLI takes
// one), and the prompt carries what the earlier launches left.
func (s *supervisor) commandFor(a plan.Agent, t store.Task) []string {
	p, known := agentproc.PresetNamed(a.Preset)
	if len(a.Command) > 0 || !known {
		argv, _ := agentproc.CommandFor(a, "", false)
		return argv
	}
	session, resume := "", false
	if t.Attempt > 1 && p.CanResume() {
		if tr, err := agentproc.ReadLog(a.Preset, s.logPath(a.Name)); err == nil {
			if id := tr.TaskSession(t.ID); id != "" {
				session, resume = id, true
				s.log().Info("continuing the agent's session", "agent", a.Name, "task", t.ID, "session", id)
			}
		}
	}
	if !resume {
		session = agentproc.NewSessionID()
	}
	argv, _ := agentproc.CommandFor(a, session, resume)
	return argv
}

// usage is what an agent's launches cost, from its CLI's own stream (zero for a plain command).
func (s *supervisor) usage(a plan.Agent) agentproc.Usage {
	if a.Preset == "" {
		return agentproc.Usage{}
	}
	tr, err := agentproc.ReadLog(a.Preset, s.logPath(a.Name))
	if err != nil {
		return agentproc.Usage{}
	}
	return tr.Usage
}

// overBudget says whether agent a, or the whole team, has used more than the plan allows.
func (s *supervisor) overBudget(a plan.Agent) error {
	if err := agentproc.OverBudget("agent "+a.Name, a.Budget, s.usage(a)); err != nil {
		return err
	}
	if s.p.Budget == (plan.Budget{}) {
		return nil
	}
	var team agentproc.Usage
	for _, x := range s.p.Members() {
		team = team.Add(s.usage(x))
	}
	return agentproc.OverBudget("team "+s.team.Name, s.p.Budget, team)
}

// budgetCheckEvery is how often running agents' spending is read from their logs.
const budgetCheckEvery = 10 * time.Second

// enforceBudgets stops running agents past their budget (or the team's); their exit then
// raises the blocker for a person (onExit).
func (s *supervisor) enforceBudgets(ctx context.Context) {
	if time.Since(s.lastBudget) < budgetCheckEvery {
		return
	}
	s.lastBudget = time.Now()
	for name, r := range s.procs {
		a, ok := s.p.Agent(name)
		if !ok || a.Preset == "" {
			continue
		}
		if err := s.overBudget(a); err != nil {
			s.log().Warn("agent past its budget: stopping it", "agent", name, "why", err)
			go r.proc.Stop(stopGrace) // its exit comes back through the loop
		}
	}
}

// blockOverBudget raises the blocker for a person that an agent past its budget waits on.
func (s *supervisor) blockOverBudget(ctx context.Context, t store.Task, why string) error {
	b, err := s.ws.store.RaiseBlocker(ctx, store.Blocker{Team: s.team.Name, Agent: t.Agent, Task: t.ID, Text: why, Human: true})
	if err != nil {
		return err
	}
	_, err = s.move(ctx, t.ID, Blocked, fmt.Sprintf("blocker %d waits on a person: %s", b.ID, why), nil)
	return err
}

// prepareWorktrees copies the plan's copy: files into every agent's worktree and runs each
// agent's setup: command there, once per worktree (a marker in the run directory says it
// was done; a worktree made again by resume is prepared again), all agents at once. An
// agent whose set-up fails has its unfinished tasks failed with why, not the run.
func (s *supervisor) prepareWorktrees(ctx context.Context) error {
	agents, err := s.ws.store.Agents(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := map[string]error{}
	for _, sa := range agents {
		a, ok := s.p.Agent(sa.Name)
		if !ok || (len(s.p.Copy) == 0 || !a.IsAgent()) && a.Setup == "" {
			continue
		}
		marker := s.setupMarker(sa)
		if _, err := os.Stat(marker); err == nil {
			continue
		}
		wg.Add(1)
		go func(a plan.Agent, sa store.Agent) {
			defer wg.Done()
			err := s.prepareWorktree(ctx, a, sa)
			if err == nil {
				err = os.MkdirAll(filepath.Dir(marker), 0o755)
			}
			if err == nil {
				err = os.WriteFile(marker, []byte(sa.Worktree+"\n"), 0o644)
			}
			if err != nil {
				mu.Lock()
				failed[a.Name] = err
				mu.Unlock()
			}
		}(a, sa)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for name, why := range failed {
		s.log().Error("agent set-up failed", "agent", name, "err", why)
		tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
		if err != nil {
			return err
		}
		for _, t := range tasks {
			if t.Agent == name && canMove(stateOf(t), Failed) && !stateOf(t).WaitsOnHuman() {
				if _, err := s.move(ctx, t.ID, Failed, why.Error(), nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *supervisor) prepareWorktree(ctx context.Context, a plan.Agent, sa store.Agent) error {
	if len(s.p.Copy) > 0 && a.IsAgent() {
		copied, err := agentproc.CopyFiles(s.ws.repo.Root, sa.Worktree, s.p.Copy)
		if err != nil {
			return fmt.Errorf("copy files into %s: %w", sa.Worktree, err)
		}
		if len(copied) > 0 {
			s.log().Info("copied files into the worktree", "agent", a.Name, "files", len(copied))
		}
	}
	if a.Setup == "" {
		return nil
	}
	s.log().Info("setting up the worktree", "agent", a.Name, "setup", a.Setup)
	return agentproc.RunSetup(ctx, s.ws.env.Runner, s.baseLaunch(a, sa), a.Setup)
}

// setupMarker is the file that says an agent's worktree was prepared.
func (s *supervisor) setupMarker(sa store.Agent) string {
	return filepath.Join(RunDir(s.ws.repo.CommonDir, s.team.Name), sa.Name+".prepared")
}

// baseLaunch is what every launch of agent a shares: where, who, the environment.
func (s *supervisor) baseLaunch(a plan.Agent, sa store.Agent) agentproc.Launch {
	return agentproc.Launch{
		Team: s.team.Name, Agent: a.Name, Role: a.Role,
		Worktree: sa.Worktree, Branch: sa.Branch, LeaderBranch: s.team.LeaderBranch,
		Env: a.Env, Timeout: a.Timeout, LogPath: s.logPath(a.Name), Files: s.files(a.Name), BinDir: s.ws.env.BinDir,
	}
}
