package orchestrator

// Confinement of a team's agents (DESIGN.md §11): whether they run confined, what each may
// write, and the relay that carries their teamctl commands to the supervisor.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/sandbox"
)

// RelayFunc runs a confined agent's teamctl command (sandbox.Call) as agent as, in the
// supervisor's process, and returns its exit status. The caller of the orchestrator gives it
// (Env.Relay): it is the command tree.
type RelayFunc func(ctx context.Context, c sandbox.Call, as agentproc.Launcher) int

// Confinement is how a supervisor runs its team's agents (DESIGN.md §11), as it journals
// at its start ("confinement") and status shows.
type Confinement struct {
	Confined bool   `json:"confined"`
	How      string `json:"how"` // "landlock ABI n", or why they are not confined
}

const confinementKind = "confinement"

// sandboxed says how the agents of plan p run (confined or not, and how), and a warning for
// the person when they are not although the plan did not ask for that (sandbox.mode off);
// an error when the plan asks for Landlock and this machine, or this supervisor, cannot
// give it.
func (w *Workspace) sandboxed(p *plan.Plan) (Confinement, string, error) {
	if p.Sandbox.Mode == plan.SandboxOff {
		return Confinement{How: "the plan says sandbox: {mode: off}"}, "", nil
	}
	abi, err := sandbox.Available()
	if err == nil && w.env.Relay == nil {
		err = errors.New("this supervisor has no relay for confined agents' commands")
	}
	if err != nil {
		if p.Sandbox.Mode == plan.SandboxLandlock {
			return Confinement{}, "", p.Errorf("sandbox.mode", "sandbox.mode is landlock, but %v", err)
		}
		return Confinement{How: err.Error()}, fmt.Sprintf("agents are NOT confined: %v. They can write anywhere you can; write sandbox: {mode: off} in the plan to run them so without this warning", err), nil
	}
	// A path that is not there is left out of the confinement, and the agent cannot make it.
	for _, d := range p.Sandbox.AllowWrite {
		if _, err := os.Stat(d); err != nil {
			return Confinement{}, "", p.Errorf("sandbox.allow_write", "sandbox.allow_write: %s does not exist: make it first (a confined agent could not)", d)
		}
	}
	return Confinement{Confined: true, How: fmt.Sprintf("landlock ABI %d", abi)}, "", nil
}

// confinement is how the team's agents ran the last time a supervisor started; nil before
// any did.
func (w *Workspace) confinement(ctx context.Context, team string) (*Confinement, error) {
	evs, err := w.store.EventsOfKinds(ctx, team, []string{confinementKind}, 0)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	var c Confinement
	if err := json.Unmarshal([]byte(evs[len(evs)-1].Data), &c); err != nil {
		return nil, fmt.Errorf("read the team's confinement: %w", err)
	}
	return &c, nil
}

// startRelay listens for the team's confined agents' commands until the supervisor ends.
func (s *supervisor) startRelay() error {
	ln, err := sandbox.Listen(sandbox.SocketPath(s.ws.repo.CommonDir, s.team.Name))
	if err != nil {
		return fmt.Errorf("listen for the confined agents' commands: %w", err)
	}
	go func() {
		if err := sandbox.Serve(s.life, ln, s.relay); err != nil {
			s.log().Error("the relay of the agents' commands stopped", "err", err)
		}
	}()
	return nil
}

// relay runs one call of a confined agent: the kernel named the calling process, whose
// process tree names the agent; a process of no launch of this team is refused.
func (s *supervisor) relay(ctx context.Context, c sandbox.Call) int {
	l, fakes, ok := agentproc.TrueLaunch(c.Pid)
	if ok && len(fakes) > 0 && l.Team() == s.team.Name {
		s.ws.refused(ctx, l, fmt.Sprintf("tried to pass for %s (a process made to look like its launch)", fakes[0].Agent()))
	}
	if !ok || l.Team() != s.team.Name || !strings.HasPrefix(l.PidFile, RunDir(s.ws.repo.CommonDir, s.team.Name)+string(filepath.Separator)) {
		if s.stopping.Load() {
			fmt.Fprintf(c.Stderr, "teamctl: team %s is stopping, and process %d is not one of its launches any more: nothing was done\n", s.team.Name, c.Pid)
			return 1
		}
		fmt.Fprintf(c.Stderr, "teamctl: refused: process %d is not one of a launch of team %s's agents, so the supervisor cannot tell whose call it is\n", c.Pid, s.team.Name)
		return 1
	}
	return s.ws.env.Relay(ctx, c, l)
}

// confine makes launch l of agent a a confined one: what it may write (its worktree, the git
// paths its commits need, its CLI's state, caches, a private TMPDIR, the plan's
// sandbox.allow_write) and the variables that send its teamctl commands to the relay.
func (s *supervisor) confine(ctx context.Context, l *agentproc.Launch, a plan.Agent) error {
	// A ref the agent made beside its branch would refuse the launch: it is set aside first.
	strays, err := s.ws.setAsideStrays(ctx, s.team.Name, a.Name, nil)
	if err == nil {
		_, err = s.recordIncidents(ctx, strays)
	}
	if err != nil {
		return fmt.Errorf("confine agent %s: %w", a.Name, err)
	}
	writes, err := s.ws.repo.AgentWrites(ctx, l.Worktree, l.Branch)
	if err != nil {
		return fmt.Errorf("confine agent %s: %w", a.Name, err)
	}
	env := maps.Clone(l.Env)
	if env == nil {
		env = map[string]string{}
	}
	tmp, ok := env["TMPDIR"]
	if !ok {
		tmp = sandbox.TempDir(s.ws.repo.CommonDir, s.team.Name, a.Name)
		env["TMPDIR"] = tmp
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("confine agent %s: its temp dir: %w", a.Name, err)
	}
	writes = append(writes, tmp)
	home := env["HOME"]
	if home == "" {
		home = os.Getenv("HOME")
	}
	if home != "" {
		for _, rel := range agentproc.StateOf(a) {
			p := filepath.Join(home, rel)
			if err := makeState(p, strings.HasSuffix(rel, "/")); err != nil {
				return fmt.Errorf("confine agent %s: its CLI's state %s: %w", a.Name, p, err)
			}
			writes = append(writes, p)
		}
		writes = append(writes, filepath.Join(home, ".cache"), filepath.Join(home, ".npm"))
	}
	writes = append(writes, goCaches(env, home)...)
	writes = append(writes, s.p.Sandbox.AllowWrite...)
	env[sandbox.SocketEnv] = sandbox.SocketPath(s.ws.repo.CommonDir, s.team.Name)
	// git's automatic gc would pack refs (packed-refs is the repository's, not the agent's)
	// and fail: the supervisor's git and the person's do that.
	gitConfig(env, "gc.auto", "0", "maintenance.auto", "false")
	l.Env = env
	l.Confine = &sandbox.Policy{Write: writes}
	l.ConfineBin = s.ws.env.Bin
	if l.ConfineBin == "" {
		l.ConfineBin = filepath.Join(s.ws.env.BinDir, "teamctl")
	}
	return nil
}

// forgetTempDirs removes the private temp dirs of the agents that no longer run, as the
// supervisor ends: what a launch left there is not the next one's (a relaunch makes its
// own again), and /tmp is not to fill with dead teams' leftovers.
func (s *supervisor) forgetTempDirs() {
	for _, a := range s.p.Members() {
		if _, running := s.procs[a.Name]; !running {
			_ = os.RemoveAll(sandbox.TempDir(s.ws.repo.CommonDir, s.team.Name, a.Name))
		}
	}
}

// makeState makes a CLI's state directory, or its JSON file (as "{}"), where it is missing:
// a confined CLI may write it, not make it in the home directory.
func makeState(p string, dir bool) error {
	if dir {
		return os.MkdirAll(p, 0o755)
	}
	if !strings.HasSuffix(p, ".json") {
		return nil
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, "{}\n")
	return errors.Join(err, f.Close())
}

// goCaches are Go's module and build caches, as the agent's environment names them.
func goCaches(env map[string]string, home string) []string {
	get := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	var out []string
	if c := get("GOCACHE"); c != "" {
		out = append(out, c)
	}
	switch {
	case get("GOMODCACHE") != "":
		out = append(out, get("GOMODCACHE"))
	case get("GOPATH") != "":
		out = append(out, filepath.Join(strings.Split(get("GOPATH"), string(os.PathListSeparator))[0], "pkg", "mod"))
	case home != "":
		out = append(out, filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// gitConfig adds git settings through GIT_CONFIG_COUNT/KEY_n/VALUE_n, after any the
// environment already has.
func gitConfig(env map[string]string, kv ...string) {
	count, ok := env["GIT_CONFIG_COUNT"]
	if !ok {
		count = os.Getenv("GIT_CONFIG_COUNT")
	}
	n, _ := strconv.Atoi(count)
	for i := 0; i+1 < len(kv); i += 2 {
		env["GIT_CONFIG_KEY_"+strconv.Itoa(n)] = kv[i]
		env["GIT_CONFIG_VALUE_"+strconv.Itoa(n)] = kv[i+1]
		n++
	}
	env["GIT_CONFIG_COUNT"] = strconv.Itoa(n)
}
