package agentproc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TmuxExecutor runs one tmux command line (argv[0] is "tmux") and returns its stdout.
// The real one execs tmux; tests record the argv.
type TmuxExecutor interface {
	Run(ctx context.Context, argv []string) ([]byte, error)
}

// ExecTmux runs the tmux binary.
type ExecTmux struct{}

// TmuxError is a tmux command that failed.
type TmuxError struct {
	Args     []string
	ExitCode int
	Stderr   string
}

func (e *TmuxError) Error() string {
	return fmt.Sprintf("tmux %s: exit %d: %s", strings.Join(e.Args, " "), e.ExitCode, strings.TrimSpace(e.Stderr))
}

// Run runs argv with TMUX unset: teamctl started inside a tmux session would otherwise
// talk to that session's server, not the team's socket, for some commands.
func (ExecTmux) Run(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = withoutEnv(os.Environ(), "TMUX", "TMUX_PANE")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.Bytes(), &TmuxError{Args: argv[1:], ExitCode: ee.ExitCode(), Stderr: stderr.String()}
		}
		return out.Bytes(), fmt.Errorf("run tmux: %w", err)
	}
	return out.Bytes(), nil
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}

// ErrNoSession is a tmux session that does not exist (the agent's interface is gone).
var ErrNoSession = errors.New("no such tmux session")

// Tmux drives a team's agents in tmux sessions on a server of the team's own, so
// teamctl never touches the user's tmux server, its sessions or its options.
type Tmux struct {
	Exec   TmuxExecutor
	Socket string // tmux -L name: the server's socket in tmux's socket directory
	// SubmitDelay is the pause between typing a text and pressing Submit. A TUI reads a
	// burst of input as a paste and an Enter inside the burst as a newline in it: text
	// typed but never sent. Zero means DefaultSubmitDelay.
	SubmitDelay time.Duration
}

// DefaultSubmitDelay is Tmux.SubmitDelay when unset.
const DefaultSubmitDelay = 400 * time.Millisecond

// NewTmux returns the tmux of a team of the repository whose git common dir is commonDir.
// The socket name carries a hash of that directory: two clones running a team of the same
// name must not share a server (-S with a path in the common dir could pass the 108-byte
// limit of a socket path).
func NewTmux(exec TmuxExecutor, commonDir, team string) *Tmux {
	sum := sha256.Sum256([]byte(commonDir))
	return &Tmux{Exec: exec, Socket: "teamctl-" + team + "-" + hex.EncodeToString(sum[:4])}
}

// SessionName is an agent's tmux session. Team and agent names are [a-z0-9-], which
// tmux takes as they are (no '.' or ':', which it would read as window and pane).
func SessionName(team, agent string) string { return team + "-" + agent }

// target names session exactly: tmux matches a bare -t by prefix, so "alice" would
// also find "alice2"; "=" asks for an exact name, ":" for its current window and pane.
func target(session string) string { return "=" + session + ":" }

func (t *Tmux) run(ctx context.Context, args ...string) ([]byte, error) {
	// -f /dev/null: the user's ~/.tmux.conf (key bindings, a default command, hooks)
	// has no business in the agents' server.
	argv := append([]string{"tmux", "-L", t.Socket, "-f", "/dev/null"}, args...)
	out, err := t.Exec.Run(ctx, argv)
	var te *TmuxError
	if errors.As(err, &te) && (strings.Contains(te.Stderr, "can't find session") || strings.Contains(te.Stderr, "no server running") || strings.Contains(te.Stderr, "error connecting") ||
		strings.Contains(te.Stderr, "server exited unexpectedly")) { // its last session was just killed
		// tmux says so only in words; callers branch on ErrNoSession.
		return out, fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	return out, err
}

// Start runs argv in a new detached session in dir with exactly env. The pane stays
// after the program exits (remain-on-exit), so its exit status and last screen can be read.
func (t *Tmux) Start(ctx context.Context, session, dir string, env, argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("%w: tmux session %s: empty argv", ErrStart, session)
	}
	// start-server and set-option -g in the same client call as new-session: set after
	// it, a program that exits at once would take its session (and its status) with it.
	args := []string{"start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
		"new-session", "-d", "-s", session, "-c", dir, "-x", "200", "-y", "50", "--", "env", "-i"}
	args = append(args, env...)
	// Last, so it wins over an inherited one: some CLIs (opencode) take $PWD, not their
	// working directory, as the project they work on.
	args = append(args, "PWD="+dir)
	args = append(args, argv...)
	if _, err := t.run(ctx, args...); err != nil {
		return fmt.Errorf("start tmux session %s: %w", session, err)
	}
	return nil
}

// Type types text into the session's program and submits it with the keys submit
// (a preset's Submit; nil is Enter). The text goes in as a bracketed paste, so a
// multi-line nudge stays one message; the submit keys follow after SubmitDelay as a
// separate command, so the TUI does not read them as part of the paste.
func (t *Tmux) Type(ctx context.Context, session, text string, submit []string) error {
	if submit == nil {
		submit = []string{"Enter"}
	}
	buf := "teamctl-" + session
	if _, err := t.run(ctx, "set-buffer", "-b", buf, "--", text); err != nil {
		return fmt.Errorf("type into %s: %w", session, err)
	}
	if _, err := t.run(ctx, "paste-buffer", "-p", "-d", "-b", buf, "-t", target(session)); err != nil {
		return fmt.Errorf("type into %s: %w", session, err)
	}
	delay := t.SubmitDelay
	if delay == 0 {
		delay = DefaultSubmitDelay
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(delay):
	}
	if _, err := t.run(ctx, append([]string{"send-keys", "-t", target(session)}, submit...)...); err != nil {
		return fmt.Errorf("submit in %s: %w", session, err)
	}
	return nil
}

// Capture returns the session's screen and scrollback as plain text (no escape codes),
// wrapped lines joined: what `teamctl logs` shows of an interactive agent.
func (t *Tmux) Capture(ctx context.Context, session string) (string, error) {
	out, err := t.run(ctx, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", target(session))
	if err != nil {
		return "", fmt.Errorf("capture %s: %w", session, err)
	}
	return string(out), nil
}

// PaneState is what tmux knows of a session's program.
type PaneState struct {
	Pid      int
	Dead     bool      // the program exited (the pane remains)
	Status   int       // its exit status, when Dead and tmux has it (0 otherwise: see the wrapper's exit file)
	Activity time.Time // last output: idle detection compares it with the clock
}

// State reads the session's pane; ErrNoSession when the session is gone.
func (t *Tmux) State(ctx context.Context, session string) (PaneState, error) {
	out, err := t.run(ctx, "display-message", "-p", "-t", target(session), "#{pane_pid} #{pane_dead} #{pane_dead_status} #{window_activity}")
	if err != nil {
		return PaneState{}, fmt.Errorf("state of %s: %w", session, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		// A server that is shutting down (its last session just killed) can still answer
		// with every format empty.
		return PaneState{}, fmt.Errorf("%w: state of %s: tmux said %q", ErrNoSession, session, out)
	}
	var st PaneState
	st.Pid, _ = strconv.Atoi(f[0])
	st.Dead = f[1] == "1"
	activity := f[len(f)-1]
	if st.Dead && len(f) == 4 {
		st.Status, _ = strconv.Atoi(f[2])
	}
	if sec, err := strconv.ParseInt(activity, 10, 64); err == nil {
		st.Activity = time.Unix(sec, 0)
	}
	return st, nil
}

// Kill ends the session and its program; a session already gone is not an error.
func (t *Tmux) Kill(ctx context.Context, session string) error {
	if _, err := t.run(ctx, "kill-session", "-t", "="+session); err != nil && !errors.Is(err, ErrNoSession) {
		return fmt.Errorf("kill tmux session %s: %w", session, err)
	}
	return nil
}

// AttachArgv is the command that puts the user's terminal into the session (run it with
// the terminal attached and TMUX unset, see AttachEnv).
func (t *Tmux) AttachArgv(session string) []string {
	return []string{"tmux", "-L", t.Socket, "-f", "/dev/null", "attach-session", "-t", "=" + session}
}

// AttachEnv is env without TMUX: inside the user's own tmux, attach would refuse to nest.
func AttachEnv(env []string) []string { return withoutEnv(env, "TMUX", "TMUX_PANE") }
