package main

// A confined agent's teamctl commands (DESIGN.md §11): its process sends them to the team's
// supervisor (relayed), which runs them there as that agent (serveAgent).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/charmbracelet/log"
	"github.com/charmbracelet/x/term"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/sandbox"
)

// relayWait is how long a confined agent's command waits for its supervisor to listen
// (crashed, or between a stop and a resume) before it fails, having done nothing.
const relayWait = 2 * time.Minute

// relaySocket is the socket of the supervisor this process's command goes to: it runs in a
// confined agent's launch. TEAMCTL_SOCKET says so; an agent that unset it is still known by
// its process tree, and its team's socket is there while its supervisor runs.
func relaySocket() (string, bool) {
	if sock := os.Getenv(sandbox.SocketEnv); sock != "" {
		return sock, true
	}
	l, ok := agentproc.LaunchedBy(os.Getpid())
	if !ok {
		return "", false
	}
	// The pid file is <common dir>/teamctl/run/<team>/<agent>.pid.
	common := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(l.PidFile))))
	sock := sandbox.SocketPath(common, l.Team())
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return "", false
	}
	return sock, true
}

// relayed runs this process's command at the supervisor listening on sock.
func relayed(ctx context.Context, sock string) int {
	wait := relayWait
	if d, err := time.ParseDuration(os.Getenv("TEAMCTL_SOCKET_WAIT")); err == nil {
		wait = d
	}
	dir, err := os.Getwd()
	if err != nil {
		dir = ""
	}
	// stdin goes too, unless it is a terminal (a tmux pane's: it is the agent's, not this
	// command's) or nothing (/dev/null reads as empty either way).
	in := os.Stdin
	if term.IsTerminal(in.Fd()) {
		in = nil
	}
	env := map[string]string{}
	for _, k := range sandbox.RelayedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	code, err := sandbox.Relay(ctx, sock, sandbox.Call{Args: os.Args[1:], Dir: dir, Env: env, Stdin: in, Stdout: os.Stdout, Stderr: os.Stderr}, wait)
	if err != nil {
		fmt.Fprintf(os.Stderr, "teamctl: this agent's commands go through its team's supervisor, and %v; nothing was done: call again once the team is resumed (teamctl resume)\n", err)
		return exitError
	}
	return code
}

// relayable are the commands a confined agent may have run for it: coordination and reads.
// The person's own (accept, clean, stop, apply) are there to be refused as an incident.
var relayable = []string{
	"msg", "agents", "whoami", "spawn", "reserve", "release", "reservations", "intent", "blocker", "blockers", "answer", "escalate",
	"task", "done", "hook", "status", "review", "logs", "validate", "help",
	"accept", "clean", "stop", "apply",
}

// serveAgent runs a relayed call of agent as in this supervisor's process: its own streams,
// its working directory, and as its caller, whatever its flags and environment say.
func (f *Factory) serveAgent(ctx context.Context, c sandbox.Call, as agentproc.Launcher) int {
	dir := c.Dir
	if !filepath.IsAbs(dir) {
		dir = "/"
	}
	g := &Factory{IO: IOStreams{In: c.Stdin, Out: c.Stdout, ErrOut: c.Stderr}, Peer: &as, callerDir: dir, callerEnv: c.Env}
	g.Log = log.NewWithOptions(c.Stderr, log.Options{ReportTimestamp: true, TimeFormat: "15:04:05"})
	root := NewCmdRoot(g)
	var err error
	if cmd, _, ferr := root.Find(c.Args); ferr == nil { // else the command line is bad: Execute says how
		top := cmd
		for top.HasParent() && top.Parent() != root {
			top = top.Parent()
		}
		if top != root && !slices.Contains(relayable, top.Name()) {
			err = &usageError{fmt.Errorf("teamctl %s is not for an agent: it is refused inside agent %s of team %s", top.Name(), as.Agent(), as.Team())}
		}
	}
	if err == nil {
		root.SetArgs(c.Args)
		root.SetIn(c.Stdin)
		err = root.ExecuteContext(ctx)
	}
	if err != nil {
		fmt.Fprintln(printable(c.Stderr), "teamctl:", clip(err.Error()))
	}
	return exitCode(err)
}
