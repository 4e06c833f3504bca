// Package orchestrator owns a team's life: it creates the team's branches and worktrees,
// schedules tasks onto agents, reacts to agent exits and merge results with the task state
// machine of DESIGN.md §4–§5, and answers the person running the team (status, review,
// accept, stop, clean).
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// Errors callers map to exit codes (DESIGN.md §7).
var (
	ErrUsage   = errors.New("bad usage")                      // exit 2
	ErrWaiting = errors.New("tasks wait on a human")          // exit 3
	ErrNoTeam  = errors.New("no such team, agent or blocker") // exit 5
	ErrStopped = errors.New("stopped before it finished")     // exit 6: resume continues it
	ErrBusy    = errors.New("team already has a supervisor")  // exit 1
	ErrRefused = errors.New("refused")                        // exit 1
)

// Env is what the orchestrator needs from its caller.
type Env struct {
	Runner worktree.Runner        // git and every other command run to completion
	Tmux   agentproc.TmuxExecutor // tmux, for agents in mode: tmux (nil: the tmux binary)
	Log    *log.Logger
	Out    io.Writer // progress for the person (stdout)
	BinDir string    // directory of the running teamctl binary, first on agents' PATH
	Bin    string    // the teamctl binary confined agents are started through ("": BinDir's teamctl)
	// Relay runs confined agents' teamctl commands in the supervisor (DESIGN.md §11); nil:
	// this caller cannot, and agents are not confined.
	Relay RelayFunc
	// Peer is the agent launch a relayed command runs for: it is the caller, whatever the
	// command's flags and environment say, and the command may act on its repository only.
	Peer *agentproc.Launcher
}

func (e Env) tmux() agentproc.TmuxExecutor {
	if e.Tmux != nil {
		return e.Tmux
	}
	return agentproc.ExecTmux{}
}

func (e Env) logger() *log.Logger {
	if e.Log != nil {
		return e.Log
	}
	return log.New(io.Discard)
}

func (e Env) out() io.Writer {
	if e.Out != nil {
		return e.Out
	}
	return io.Discard
}

// BranchName is the branch of an agent of a team: teamctl/<team>/<agent>/work. Each agent's
// branch sits alone in a directory of its own (refs/heads/teamctl/<team>/<agent>/, and the
// same under logs/), so a confined agent may be given that directory and no other agent's
// ref (DESIGN.md §11): a ref is written through a lock file beside it, which needs the right
// to make and remove files in its directory.
func BranchName(team, agent string) string { return "teamctl/" + team + "/" + agent + "/work" }

// WorktreeRoot is where a team's worktrees go: the plan's worktrees: root, else
// <repo-parent>/<repo-name>.teamctl.
func WorktreeRoot(p *plan.Plan, repoRoot string) string {
	if p.Worktrees != "" {
		return p.Worktrees
	}
	return filepath.Join(filepath.Dir(repoRoot), filepath.Base(repoRoot)+".teamctl")
}

// LogPath is an agent's log file.
func LogPath(commonDir, team, agent string) string {
	return filepath.Join(commonDir, "teamctl", "logs", team, agent+".log")
}

// Workspace is an opened repository with its store: what every command works on.
type Workspace struct {
	repo  *worktree.Repo
	store *store.Store
	env   Env
	fresh bool // the store was made by this open: there was none
}

// Open opens the repository that holds dir and its store.
func Open(ctx context.Context, env Env, dir string) (*Workspace, error) {
	return open(ctx, env, dir, store.Open)
}

// OpenChecked is Open for a command that starts a supervisor (run, resume): the store is
// checked whole first (store.OpenChecked).
func OpenChecked(ctx context.Context, env Env, dir string) (*Workspace, error) {
	return open(ctx, env, dir, store.OpenChecked)
}

func open(ctx context.Context, env Env, dir string, openStore func(string) (*store.Store, error)) (*Workspace, error) {
	repo, err := worktree.Open(ctx, env.Runner, dir)
	if err != nil {
		if errors.Is(err, worktree.ErrNotRepo) {
			if abs, err := filepath.Abs(dir); err == nil {
				dir = abs
			}
			return nil, Errorf(ErrUsage, "%s is not inside a git repository: run teamctl in your repository, or name it with -C DIR", dir)
		}
		return nil, err
	}
	if env.Peer != nil && !strings.HasPrefix(env.Peer.PidFile, filepath.Join(repo.CommonDir, "teamctl")+string(filepath.Separator)) {
		return nil, Errorf(ErrUsage, "refused: agent %s of team %s may act on its own repository only, not on %s", env.Peer.Agent(), env.Peer.Team(), repo.Root)
	}
	_, statErr := os.Stat(store.Path(repo.CommonDir))
	st, err := openStore(store.Path(repo.CommonDir))
	if err != nil {
		return nil, err
	}
	if d, ok := st.MovedAside(); ok {
		env.logger().Error("teamctl's store was damaged: it is moved aside (kept, not deleted) and a new one made; a team whose branches remain is rebuilt from them with teamctl resume TEAM --rebuild PLAN",
			"why", d.Why, "moved to", d.Path)
	}
	return &Workspace{repo: repo, store: st, env: env, fresh: errors.Is(statErr, os.ErrNotExist)}, nil
}

func (w *Workspace) Close() error { return w.store.Close() }

// closeRefused is Close for a command refused before it recorded anything: a store this
// open made, still without a team, is removed again (its files and the teamctl directory,
// when nothing else is in it), so a refused `teamctl run` leaves nothing behind.
func (w *Workspace) closeRefused(ctx context.Context) error {
	if !w.fresh {
		return w.Close()
	}
	teams, err := w.store.Teams(ctx)
	if cerr := w.Close(); cerr != nil || err != nil || len(teams) > 0 {
		return cerr
	}
	path := store.Path(w.repo.CommonDir)
	for _, f := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	_ = os.Remove(filepath.Dir(path)) // only when empty: logs or locks of other commands stay
	return nil
}

// ResolveTeam picks the team a command is about: the one named, else $TEAMCTL_TEAM, else
// the repository's only team.
func (w *Workspace) ResolveTeam(ctx context.Context, name string) (store.Team, error) {
	if name == "" {
		name = os.Getenv("TEAMCTL_TEAM")
		if l, ok := w.Launcher(); ok {
			name = l.Team()
		}
	}
	if name != "" {
		t, err := w.store.Team(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			if held, _ := w.repo.Branches(ctx, "teamctl/"+name+"/"); len(held) > 0 {
				return t, Errorf(ErrNoTeam, "no team %q is recorded in %s, but its branches are there (teamctl/%s/…): teamctl resume %s --rebuild PLAN rebuilds the team from them",
					name, w.repo.Root, name, name)
			}
			return t, Errorf(ErrNoTeam, "no team %q in %s (teamctl status lists them)", name, w.repo.Root)
		}
		return t, err
	}
	teams, err := w.store.Teams(ctx)
	if err != nil {
		return store.Team{}, err
	}
	switch len(teams) {
	case 0:
		if held, _ := w.repo.Branches(ctx, "teamctl/"); len(held) > 0 {
			return store.Team{}, Errorf(ErrNoTeam, "no team is recorded in %s, but teamctl branches are there (git branch --list 'teamctl/*'): teamctl resume TEAM --rebuild PLAN rebuilds a team from them",
				w.repo.Root)
		}
		return store.Team{}, Errorf(ErrNoTeam, "no team in %s (start one with teamctl run PLAN)", w.repo.Root)
	case 1:
		return teams[0], nil
	}
	names := make([]string, len(teams))
	for i, t := range teams {
		names[i] = t.Name
	}
	return store.Team{}, Errorf(ErrUsage, "%d teams in this repository (%s): name one with --team NAME", len(teams), strings.Join(names, ", "))
}

// ResolveTeamOf is ResolveTeam for a command about one blocker (blocker > 0) or one agent
// (agent != ""): with several teams and none named, the team is the one that holds it,
// when only one does.
func (w *Workspace) ResolveTeamOf(ctx context.Context, name string, blocker int64, agent string) (store.Team, error) {
	t, err := w.ResolveTeam(ctx, name)
	if !errors.Is(err, ErrUsage) || name != "" || os.Getenv("TEAMCTL_TEAM") != "" {
		return t, err // named, or the only team, or no team at all
	}
	switch {
	case blocker > 0:
		team, err := w.store.BlockerTeam(ctx, blocker)
		if errors.Is(err, store.ErrNotFound) {
			return store.Team{}, Errorf(ErrNoTeam, "no blocker %d in any team of this repository (teamctl blockers lists them)", blocker)
		}
		if err != nil {
			return store.Team{}, err
		}
		return w.ResolveTeam(ctx, team)
	case agent != "":
		teams, err := w.store.TeamsOfAgent(ctx, agent)
		if err != nil {
			return store.Team{}, err
		}
		switch len(teams) {
		case 0:
			return store.Team{}, Errorf(ErrNoTeam, "no agent %q in any team of this repository (teamctl status lists them)", agent)
		case 1:
			return w.ResolveTeam(ctx, teams[0])
		}
		return store.Team{}, Errorf(ErrUsage, "agent %s is in %d teams (%s): name one with --team NAME", agent, len(teams), strings.Join(teams, ", "))
	}
	return t, err
}

// lock is the supervisor lock of a team: an flock on a file in the common dir. The kernel
// drops it when its process dies, so it never goes stale the way a pid file does.
type lock struct{ f *os.File }

func lockPath(commonDir, team string) string {
	return filepath.Join(commonDir, "teamctl", "locks", team+".lock")
}

// acquireLock takes the team's supervisor lock, or returns ErrBusy.
func acquireLock(commonDir, team string) (*lock, error) {
	p := lockPath(commonDir, team)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, Errorf(ErrBusy, "team %q is supervised by another teamctl process", team)
		}
		return nil, fmt.Errorf("lock team %s: %w", team, err)
	}
	// The lock file is opened by agents' own teamctl calls too; keep the fd out of children.
	syscall.CloseOnExec(int(f.Fd()))
	return &lock{f: f}, nil
}

func (l *lock) release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
	}
}

// supervised reports whether a supervisor holds the team's lock right now.
func supervised(commonDir, team string) bool {
	l, err := acquireLock(commonDir, team)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	l.release()
	return false
}

// Errorf is an error of kind (ErrUsage, ErrNoTeam, …: what callers map to an exit code)
// that reads as its message alone: the person reads one sentence, not the kind's name in
// front of it. errors.Is finds the kind and whatever the message wraps with %w.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
