package orchestrator

// Preparing agents' worktrees before their first launch: the plan's copy: files and
// each agent's setup: command.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

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
