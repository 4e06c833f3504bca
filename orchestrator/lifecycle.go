package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/store"
)

// Accept fast-forwards the team's base branch to the leader branch: only when the leader
// tip passed the tests and base has not moved away from where the team can fast-forward it.
// It returns the commit base now points at.
func (w *Workspace) Accept(ctx context.Context, name string) (string, error) {
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return "", err
	}
	tip, err := w.Repo.Resolve(ctx, t.LeaderBranch)
	if err != nil {
		return "", err
	}
	if tip != t.TestedHead {
		return "", fmt.Errorf("%w: %s is at %s, which has not passed the tests (last tested: %s)", ErrRefused, t.LeaderBranch, short(tip), short(t.TestedHead))
	}
	baseTip, err := w.Repo.Resolve(ctx, t.Base)
	if err != nil {
		return "", err
	}
	if baseTip == tip {
		return tip, nil
	}
	if ok, err := w.Repo.IsAncestor(ctx, baseTip, tip); err != nil {
		return "", err
	} else if !ok {
		return "", fmt.Errorf("%w: %s moved to %s since the team started from %s: it is not an ancestor of %s, so it cannot be fast-forwarded; merge %s into %s yourself",
			ErrRefused, t.Base, short(baseTip), short(t.BaseHead), t.LeaderBranch, t.LeaderBranch, t.Base)
	}
	if err := w.Repo.FastForward(ctx, t.Base, tip); err != nil {
		return "", fmt.Errorf("%w: %v", ErrRefused, err)
	}
	_, err = w.Store.AppendEvent(ctx, store.Event{Team: t.Name, Kind: "team.accepted", Data: fmt.Sprintf(`{"base":%q,"from":%q,"to":%q}`, t.Base, baseTip, tip)})
	return tip, err
}

// Stop stops a team: its supervisor, if one runs, is asked to stop (it stops its agents
// gracefully and records the team stopped); agents left by a dead supervisor are stopped
// directly. The team can be resumed.
func (w *Workspace) Stop(ctx context.Context, name string) error {
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return err
	}
	if supervised(w.Repo.CommonDir, t.Name) && t.SupervisorPID > 0 {
		if err := syscall.Kill(t.SupervisorPID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stop supervisor %d: %w", t.SupervisorPID, err)
		}
		deadline := time.Now().Add(stopGrace + 10*time.Second)
		for supervised(w.Repo.CommonDir, t.Name) {
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
	agents, err := w.Store.Agents(ctx, t.Name)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var stopped []string
	for _, a := range agents {
		files := agentproc.FilesIn(RunDir(w.Repo.CommonDir, t.Name), a.Name)
		pid, start, err := agentproc.ReadPid(files)
		if err != nil || !agentproc.Alive(pid, start) {
			continue
		}
		// Recorded first: resume must relaunch this agent, not take its end for its word.
		if err := w.Store.UpdateAgent(ctx, t.Name, a.Name, func(a *store.Agent) error { a.State = AgentStopped; return nil }); err != nil {
			return err
		}
		stopped = append(stopped, a.Name)
		wg.Add(1)
		go func() { // all at once: each gets its grace period, not the sum of them
			defer wg.Done()
			agentproc.StopGroup(pid, start, stopGrace)
		}()
	}
	wg.Wait()
	for _, name := range stopped {
		if err := w.Store.UpdateAgent(ctx, t.Name, name, func(a *store.Agent) error {
			a.PID, a.ProcStart = 0, 0
			return nil
		}); err != nil {
			return err
		}
	}
	if t.State == TeamFinished {
		return nil
	}
	return w.Store.UpdateTeam(ctx, t.Name, func(t *store.Team) error { t.State = TeamStopped; return nil })
}

// CleanOptions are the options of `teamctl clean`.
type CleanOptions struct {
	Force bool // remove worktrees with uncommitted work, and branches with commits not on base
}

// Cleaned says what Clean removed; the branch tips let a person restore a branch.
type Cleaned struct {
	Worktrees []string          `json:"worktrees"`
	Branches  map[string]string `json:"branches"` // name → tip it had
}

// Clean removes a stopped or finished team's worktrees, branches, logs and store rows.
// Merged work that was accepted onto base stays. It refuses while a supervisor runs, and
// (unless Force) while a worktree holds uncommitted work or a branch commits not on base.
func (w *Workspace) Clean(ctx context.Context, name string, opts CleanOptions) (Cleaned, error) {
	out := Cleaned{Branches: map[string]string{}}
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return out, err
	}
	if supervised(w.Repo.CommonDir, t.Name) {
		return out, fmt.Errorf("%w: team %s is running: teamctl stop %s first", ErrUsage, t.Name, t.Name)
	}
	agents, err := w.Store.Agents(ctx, t.Name)
	if err != nil {
		return out, err
	}
	var dirty []string
	for _, a := range agents {
		files := agentproc.FilesIn(RunDir(w.Repo.CommonDir, t.Name), a.Name)
		if pid, start, err := agentproc.ReadPid(files); err == nil && agentproc.Alive(pid, start) {
			return out, fmt.Errorf("%w: agent %s (pid %d) of team %s still runs: teamctl stop %s first", ErrUsage, a.Name, pid, t.Name, t.Name)
		}
		if _, err := os.Stat(a.Worktree); err != nil {
			continue
		}
		if ch, err := w.Repo.Status(ctx, a.Worktree); err == nil && len(ch) > 0 {
			dirty = append(dirty, fmt.Sprintf("%s (%d files)", a.Worktree, len(ch)))
		}
	}
	if len(dirty) > 0 && !opts.Force {
		return out, fmt.Errorf("%w: uncommitted work would be lost in %s: commit it, or clean --force", ErrUsage, strings.Join(dirty, ", "))
	}
	// Commits that never reached base go with their branches: only on --force.
	var unmerged []string
	for _, a := range agents {
		commits, err := w.Repo.Commits(ctx, t.Base, a.Branch)
		if err != nil {
			continue // no such branch any more
		}
		n := 0
		for _, c := range commits {
			if len(c.Parents) < 2 { // merges bring in what is elsewhere; they hold no work of their own
				n++
			}
		}
		if n > 0 {
			unmerged = append(unmerged, fmt.Sprintf("%s (%d commit(s))", a.Branch, n))
		}
	}
	if len(unmerged) > 0 && !opts.Force {
		return out, fmt.Errorf("%w: commits not on %s would be lost with their branches: %s: accept the team (teamctl accept %s) or merge what you want to keep, or clean --force (it prints each branch's tip, to restore it)",
			ErrUsage, t.Base, strings.Join(unmerged, ", "), t.Name)
	}
	for _, a := range agents {
		if err := w.Repo.RemoveAgentHooks(ctx, a.Worktree); err != nil {
			return out, err
		}
		if err := w.Repo.RemoveWorktree(ctx, a.Worktree); err != nil {
			return out, err
		}
		out.Worktrees = append(out.Worktrees, a.Worktree)
		if tip, err := w.Repo.Resolve(ctx, a.Branch); err == nil {
			if err := w.Repo.DeleteBranch(ctx, a.Branch); err != nil {
				return out, err
			}
			out.Branches[a.Branch] = tip
		}
	}
	if err := w.Repo.Prune(ctx); err != nil {
		return out, err
	}
	_ = os.Remove(filepath.Dir(t.LeaderWorktree)) // the team's folder, if empty now
	_ = os.RemoveAll(filepath.Dir(LogPath(w.Repo.CommonDir, t.Name, "x")))
	_ = os.RemoveAll(RunDir(w.Repo.CommonDir, t.Name))
	_ = os.Remove(lockPath(w.Repo.CommonDir, t.Name))
	return out, w.Store.DeleteTeam(ctx, t.Name)
}
