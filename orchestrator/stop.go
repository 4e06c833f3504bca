package orchestrator

// `teamctl stop`: the kill switch.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/teamctl/teamctl/agentproc"
)

// Stop stops a team: its supervisor, if one runs, is asked to stop (it stops its agents
// gracefully and records the team stopped); agents left by a dead supervisor are stopped
// directly. The team can be resumed.
func (w *Workspace) Stop(ctx context.Context, name string) error {
	if err := w.PersonOnly(ctx, "teamctl stop"); err != nil {
		return err
	}
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return err
	}
	if supervised(w.repo.CommonDir, t.Name) && t.SupervisorPID > 0 {
		if err := syscall.Kill(t.SupervisorPID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop supervisor %d: %w", t.SupervisorPID, err)
		}
		deadline := time.Now().Add(stopGrace + 10*time.Second)
		for supervised(w.repo.CommonDir, t.Name) {
			if time.Now().After(deadline) {
				return fmt.Errorf("supervisor %d of team %s did not stop within %s", t.SupervisorPID, t.Name, stopGrace+10*time.Second)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// Agents a dead supervisor left running: stop them directly.
	agents, err := w.store.Agents(ctx, t.Name)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var stopped []string
	for _, a := range agents {
		files := agentproc.FilesIn(RunDir(w.repo.CommonDir, t.Name), a.Name)
		pid, start, err := agentproc.ReadPid(files)
		if err != nil || !agentproc.Alive(pid, start) {
			continue
		}
		// Recorded first: resume must relaunch this agent, not take its end for its word.
		if err := w.setAgentState(ctx, t.Name, a.Name, AgentStopped, keepProcess); err != nil {
			return err
		}
		stopped = append(stopped, a.Name)
		wg.Add(1)
		go func() { // all at once: each gets its grace period, not the sum of them
			defer wg.Done()
			agentproc.StopGroup(ctx, pid, start, stopGrace)
		}()
	}
	wg.Wait()
	for _, name := range stopped {
		if err := w.setAgentState(ctx, t.Name, name, AgentStopped, noProcess); err != nil {
			return err
		}
	}
	if TeamState(t.State) == TeamFinished {
		return nil
	}
	return w.setTeamState(ctx, t.Name, TeamStopped)
}
