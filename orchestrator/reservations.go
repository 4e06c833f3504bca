package orchestrator

// Coordination (DESIGN.md §6): leased reservations of paths.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// ErrReserved is a path reserved by another agent (exit 4): a reservation or a commit that
// would change it is refused. It is the store's sentinel, so its errors match as they are.
var ErrReserved = store.ErrReserved

// repoPath turns a path typed in dir into a repo-relative one: relative to the worktree
// that holds dir (any worktree of the repository has the same layout; dir "" is the top of
// one), a trailing "/" kept (a directory prefix), and one added to a path that names a
// directory there. Absolute paths and paths that leave the
// repository are refused.
func repoPath(dir, p string) (string, error) {
	if p == "" {
		return "", Errorf(ErrUsage, "empty path: name a file, or a directory with a trailing /")
	}
	if filepath.IsAbs(p) {
		return "", Errorf(ErrUsage, "path %q is absolute: give it relative to the repository root (or to the current directory inside a worktree)", p)
	}
	prefix := ""
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if top, ok := worktreeTop(abs); ok {
			if prefix, err = filepath.Rel(top, abs); err != nil {
				return "", fmt.Errorf("resolve %s: %w", p, err)
			}
		}
	}
	slash := filepath.ToSlash(p)
	isDir := strings.HasSuffix(slash, "/") || path.Base(slash) == "." || path.Base(slash) == ".."
	if fi, err := os.Stat(filepath.Join(dir, p)); dir != "" && err == nil && fi.IsDir() {
		isDir = true // `reserve src` for the directory src is src/: an exact path would protect nothing in it
	}
	joined := path.Join(filepath.ToSlash(prefix), slash)
	if isDir {
		joined += "/"
	}
	n, err := plan.NormalisePath(joined)
	if err != nil {
		return "", Errorf(ErrUsage, "%v", err)
	}
	return n, nil
}

// worktreeTop is the top level of the git worktree holding dir: the nearest directory with
// a .git entry (a directory in the main worktree, a file in a linked one).
func worktreeTop(dir string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// repoPaths resolves every path (see repoPath), dropping duplicates.
func repoPaths(dir string, ps []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		n, err := repoPath(dir, p)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Reserve reserves paths for the caller, all or none: a path ending in "/" reserves
// everything under it. A conflict with another agent's live reservation is refused with
// an error matching ErrReserved that names holder and reason. The reservation lasts while
// the caller's process (the agent's recorded process) lives and its task runs, or until
// released; a holder whose process is gone loses it to the next claimant.
func (p *Participant) Reserve(ctx context.Context, paths []string, reason string) ([]store.Reservation, error) {
	if len(paths) == 0 {
		return nil, Errorf(ErrUsage, "name the paths to reserve (a directory with a trailing /)")
	}
	ps, err := repoPaths(p.caller.Dir, paths)
	if err != nil {
		return nil, err
	}
	req := store.ReserveRequest{Team: p.team.Name, Agent: p.me, Paths: ps, Reason: reason, Alive: agentproc.Alive}
	req.PID, req.ProcStart = p.launchPid()
	rs, err := p.w.store.Reserve(ctx, req)
	if re, ok := errors.AsType[*store.ReservedError](err); ok {
		holder := re.Conflicts[0].Held.Agent
		return nil, fmt.Errorf("nothing reserved: %w; ask %s (teamctl msg send --to %s) or work elsewhere", err, holder, holder)
	}
	return rs, err
}

// launchPid is the agent process this command runs under, when it runs in a launch of the
// caller (Launcher: by its process tree, or the relay's caller): the wrapper that leads the
// agent's process group. It matters only in the moment after a launch, before the
// supervisor has recorded the agent's pid; the store prefers the recorded one.
func (p *Participant) launchPid() (int, int64) {
	l, ok := p.w.Launcher()
	if !ok || l.Agent() != p.me {
		return 0, 0
	}
	start, err := agentproc.StartTime(l.Pid)
	if err != nil {
		return 0, 0
	}
	return l.Pid, start
}

// Release ends the caller's reservations of paths (as reserved), or all of its
// reservations when paths is empty. Nothing is released when one path is not held.
func (p *Participant) Release(ctx context.Context, paths []string) ([]store.Reservation, error) {
	ps, err := repoPaths(p.caller.Dir, paths)
	if err != nil {
		return nil, err
	}
	rs, err := p.w.store.Release(ctx, p.team.Name, p.me, ps, "released by "+p.me)
	if errors.Is(err, store.ErrNotHeld) {
		return nil, Errorf(ErrUsage, "nothing released: %v", err)
	}
	return rs, err
}

// Reservations lists the team's live reservations by path.
func (w *Workspace) Reservations(ctx context.Context, c Caller) ([]store.Reservation, error) {
	t, err := w.ResolveTeam(ctx, c.Team)
	if err != nil {
		return nil, err
	}
	return w.ActiveReservations(ctx, t.Name)
}

// ActiveReservations lists a team's live reservations: leases whose holder process is gone
// or whose task has moved on are released on the way. The merge step checks a branch's
// files against these (ReservedConflict).
func (w *Workspace) ActiveReservations(ctx context.Context, team string) ([]store.Reservation, error) {
	return w.store.Reservations(ctx, team, agentproc.Alive)
}

// ReservedConflict is the reason to refuse a branch of agent that changes files (repo-relative)
// when one of them is reserved by another agent in res; "" when none is.
func ReservedConflict(files []string, agent string, res []store.Reservation) string {
	f, r, ok := store.FirstConflict(files, agent, res)
	if !ok {
		return ""
	}
	return fmt.Sprintf("changes %s, which %s has reserved (%s)", f, r.Agent, describe(r))
}

// describe is a reservation as a person reads it: path, reason, token.
func describe(r store.Reservation) string {
	s := r.Path
	if r.Reason != "" {
		s += fmt.Sprintf(": %q", r.Reason)
	}
	return s + fmt.Sprintf(", token %d", r.Token)
}
