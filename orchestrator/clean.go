package orchestrator

// `teamctl clean`: remove a team and what it made, never work that did not reach base.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/sandbox"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// CleanOptions are the options of `teamctl clean`.
type CleanOptions struct {
	Force bool // remove worktrees with uncommitted work, and branches with commits not on base
}

// Cleaned says what Clean removed; the branch tips let a person restore a branch, the saved
// commits the uncommitted work --force removed.
type Cleaned struct {
	Worktrees []string          `json:"worktrees"`
	Branches  map[string]string `json:"branches"` // name → tip it had
	Saved     map[string]string `json:"saved"`    // worktree → commit of its uncommitted work (worktree.Snapshot)
}

// Clean removes a stopped or finished team's worktrees, branches, logs and store rows.
// Merged work that was accepted onto base stays. It refuses while a supervisor runs, and
// (unless Force) while a worktree holds uncommitted work or a branch commits not on base.
func (w *Workspace) Clean(ctx context.Context, name string, opts CleanOptions) (Cleaned, error) {
	if err := w.PersonOnly(ctx, "teamctl clean"); err != nil {
		return Cleaned{}, err
	}
	out := Cleaned{Branches: map[string]string{}, Saved: map[string]string{}}
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return out, err
	}
	if supervised(w.repo.CommonDir, t.Name) {
		return out, Errorf(ErrUsage, "team %s is running: teamctl stop %s first", t.Name, t.Name)
	}
	agents, err := w.store.Agents(ctx, t.Name)
	if err != nil {
		return out, err
	}
	var dirty []string
	var dirtyAgents []store.Agent
	for _, a := range agents {
		files := agentproc.FilesIn(RunDir(w.repo.CommonDir, t.Name), a.Name)
		if pid, start, err := agentproc.ReadPid(files); err == nil && agentproc.Alive(pid, start) {
			return out, Errorf(ErrUsage, "agent %s (pid %d) of team %s still runs: teamctl stop %s first", a.Name, pid, t.Name, t.Name)
		}
		if _, err := os.Stat(a.Worktree); err != nil {
			continue
		}
		if ch, err := w.repo.Status(ctx, a.Worktree); err == nil && len(ch) > 0 {
			dirty = append(dirty, fmt.Sprintf("%s (%d files)", a.Worktree, len(ch)))
			dirtyAgents = append(dirtyAgents, a)
		}
	}
	if len(dirty) > 0 && !opts.Force {
		return out, Errorf(ErrUsage, "uncommitted work would be lost in %s: commit it, or clean --force", strings.Join(dirty, ", "))
	}
	// Commits that never reached base go with their branches: only on --force.
	var unmerged []string
	// The refs its agents made beside their branches, and those the supervisor set aside,
	// go with the team as its branches do.
	var strays []worktree.Ref
	for _, prefix := range []string{teamRefs(t.Name), strayRefs + strings.TrimPrefix(teamRefs(t.Name), "refs/heads/")} {
		refs, err := w.repo.RefsUnder(ctx, prefix)
		if err != nil {
			return out, err
		}
		for _, r := range refs {
			if !slices.ContainsFunc(agents, func(a store.Agent) bool { return "refs/heads/"+a.Branch == r.Name }) {
				strays = append(strays, r)
			}
		}
	}
	branches := make([]string, 0, len(agents)+len(strays))
	for _, a := range agents {
		branches = append(branches, a.Branch)
	}
	for _, r := range strays {
		branches = append(branches, r.Name)
	}
	for _, b := range branches {
		commits, err := w.repo.Commits(ctx, t.Base, b)
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
			unmerged = append(unmerged, fmt.Sprintf("%s (%d commit(s))", b, n))
		}
	}
	if len(unmerged) > 0 && !opts.Force {
		return out, Errorf(ErrUsage, "commits not on %s would be lost with their branches: %s: accept the team (teamctl accept %s) or merge what you want to keep, or clean --force (it prints each branch's tip, to restore it)",
			t.Base, strings.Join(unmerged, ", "), t.Name)
	}
	// --force removes uncommitted work from sight, not from the repository: each worktree's
	// is saved as a commit first, and printed, as the deleted branches' tips are.
	for _, a := range dirtyAgents {
		hash, err := w.repo.Snapshot(ctx, a.Worktree, fmt.Sprintf("teamctl clean --force: uncommitted work of %s (team %s)", a.Name, t.Name), identity(t.Name, a.Name))
		if err != nil {
			return out, err
		}
		out.Saved[a.Worktree] = hash
	}
	for _, r := range strays {
		if err := w.repo.DeleteRef(ctx, r.Name, r.Hash); err != nil {
			return out, err
		}
		out.Branches[strings.TrimPrefix(r.Name, "refs/heads/")] = r.Hash
	}
	for _, a := range agents {
		// Where its workers were merged into its branch, if it spawned any.
		if err := w.repo.RemoveWorktree(ctx, mergeDir(t, a.Name)); err != nil {
			return out, err
		}
		if err := w.repo.RemoveAgentHooks(ctx, a.Worktree); err != nil {
			return out, err
		}
		if err := w.repo.RemoveWorktree(ctx, a.Worktree); err != nil {
			return out, err
		}
		out.Worktrees = append(out.Worktrees, a.Worktree)
		if tip, err := w.repo.Resolve(ctx, a.Branch); err == nil {
			if err := w.repo.DeleteBranch(ctx, a.Branch); err != nil {
				return out, err
			}
			out.Branches[a.Branch] = tip
		}
		w.repo.ForgetRefDirs(a.Branch)
		_ = os.RemoveAll(sandbox.TempDir(w.repo.CommonDir, t.Name, a.Name))
	}
	for k := 2; k <= plan.MaxParallelTests; k++ { // merge.parallel's, whatever the plan said then
		if err := w.repo.RemoveWorktree(ctx, testDir(t, k)); err != nil {
			return out, err
		}
	}
	if err := w.repo.Prune(ctx); err != nil {
		return out, err
	}
	_ = os.Remove(filepath.Join(filepath.Dir(t.LeaderWorktree), ".merge"))
	_ = os.Remove(filepath.Dir(t.LeaderWorktree)) // the team's folder, if empty now
	// The worktrees' root (<repo>.teamctl by default) too, once no team has a folder there;
	// os.Remove leaves a folder that still holds anything, another team's or the user's.
	_ = os.Remove(filepath.Dir(filepath.Dir(t.LeaderWorktree)))
	_ = os.RemoveAll(filepath.Dir(LogPath(w.repo.CommonDir, t.Name, "x")))
	_ = os.RemoveAll(RunDir(w.repo.CommonDir, t.Name))
	_ = os.Remove(sandbox.SocketPath(w.repo.CommonDir, t.Name)) // a crashed supervisor's
	_ = os.Remove(lockPath(w.repo.CommonDir, t.Name))
	return out, w.store.DeleteTeam(ctx, t.Name)
}
