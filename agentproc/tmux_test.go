package agentproc_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
)

// recorder is a TmuxExecutor that records each argv and answers from a script.
type recorder struct {
	mu    sync.Mutex
	calls [][]string
	reply func(argv []string) ([]byte, error)
}

func (r *recorder) Run(_ context.Context, argv []string) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(argv))
	r.mu.Unlock()
	if r.reply != nil {
		return r.reply(argv)
	}
	return nil, nil
}

func TestTmuxArgv(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &recorder{reply: func(argv []string) ([]byte, error) {
		if slices.Contains(argv, "display-message") {
			return []byte("4242 1 3 1795513539\n"), nil
		}
		return nil, nil
	}}
	tm := agentproc.NewTmux(rec, "/repo/.git", "paste")
	tm.SubmitDelay = time.Nanosecond
	if !strings.HasPrefix(tm.Socket, "teamctl-paste-") || len(tm.Socket) != len("teamctl-paste-")+8 {
		t.Errorf("socket %q, want teamctl-paste-<8 hex>", tm.Socket)
	}
	if other := agentproc.NewTmux(rec, "/other/.git", "paste"); other.Socket == tm.Socket {
		t.Errorf("two repositories share the socket %q", tm.Socket)
	}
	sess := agentproc.SessionName("paste", "alice")
	if err := tm.Start(ctx, sess, "/wt/alice", []string{"A=1", "B=two words"}, []string{"claude", "--dangerously-skip-permissions", "fix it"}); err != nil {
		t.Fatal(err)
	}
	if err := tm.Type(ctx, sess, "You left work uncommitted.\nCommit it.", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Capture(ctx, sess); err != nil {
		t.Fatal(err)
	}
	st, err := tm.State(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Kill(ctx, sess); err != nil {
		t.Fatal(err)
	}
	base := []string{"tmux", "-L", tm.Socket, "-f", "/dev/null"}
	want := [][]string{
		append(slices.Clone(base), "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
			"new-session", "-d", "-s", "paste-alice", "-c", "/wt/alice", "-x", "200", "-y", "50", "--",
			"env", "-i", "A=1", "B=two words", "PWD=/wt/alice", "claude", "--dangerously-skip-permissions", "fix it"),
		append(slices.Clone(base), "set-buffer", "-b", "teamctl-paste-alice", "--", "You left work uncommitted.\nCommit it."),
		append(slices.Clone(base), "paste-buffer", "-p", "-d", "-b", "teamctl-paste-alice", "-t", "=paste-alice:"),
		append(slices.Clone(base), "send-keys", "-t", "=paste-alice:", "Enter"),
		append(slices.Clone(base), "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "=paste-alice:"),
		append(slices.Clone(base), "display-message", "-p", "-t", "=paste-alice:", "#{pane_pid} #{pane_dead} #{pane_dead_status} #{window_activity}"),
		append(slices.Clone(base), "kill-session", "-t", "=paste-alice"),
	}
	if len(rec.calls) != len(want) {
		t.Fatalf("%d tmux calls, want %d:\n%q", len(rec.calls), len(want), rec.calls)
	}
	for i := range want {
		if !slices.Equal(rec.calls[i], want[i]) {
			t.Errorf("call %d:\n got %q\nwant %q", i, rec.calls[i], want[i])
		}
	}
	if st != (agentproc.PaneState{Pid: 4242, Dead: true, Status: 3, Activity: time.Unix(1795513539, 0)}) {
		t.Errorf("state %+v", st)
	}
	if got := tm.AttachArgv(sess); !slices.Equal(got, append(slices.Clone(base), "attach-session", "-t", "=paste-alice")) {
		t.Errorf("attach argv %q", got)
	}
	if env := agentproc.AttachEnv([]string{"TMUX=/tmp/x,1,0", "HOME=/h", "TMUX_PANE=%1"}); !slices.Equal(env, []string{"HOME=/h"}) {
		t.Errorf("attach env %q keeps TMUX", env)
	}
}

func TestTmuxSessionGoneIsErrNoSession(t *testing.T) {
	t.Parallel()
	rec := &recorder{reply: func([]string) ([]byte, error) {
		return nil, &agentproc.TmuxError{Args: []string{"display-message"}, ExitCode: 1, Stderr: "can't find session: paste-bob\n"}
	}}
	tm := agentproc.NewTmux(rec, "/repo/.git", "paste")
	if _, err := tm.State(context.Background(), "paste-bob"); !errors.Is(err, agentproc.ErrNoSession) {
		t.Errorf("State of a gone session: %v, want ErrNoSession", err)
	}
	if err := tm.Kill(context.Background(), "paste-bob"); err != nil {
		t.Errorf("Kill of a gone session: %v", err)
	}
}

// TestTmuxReal drives a real tmux server on a socket of the test's own: a line-reading
// program gets a typed, multi-line message submitted, its screen is captured, its exit
// status read, and the user's own tmux server is never involved.
func TestTmuxReal(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	// Longer than the three waits below together: a loaded CI machine is slow to start tmux.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, t.TempDir(), "real")
	tm.SubmitDelay = 100 * time.Millisecond
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	dir := t.TempDir()
	// A stand-in for an agent's interface: it echoes each submitted line and exits 7 on "bye".
	prog := testsupport.Script(t, dir, "tui.sh", `echo "ready in $PWD as $WHO"
while IFS= read -r line; do
  echo "got: $line"
  [ "$line" = bye ] && exit 7
done`)
	sess := agentproc.SessionName("real", "alice")
	if err := tm.Start(ctx, sess, dir, []string{"WHO=alice", "PATH=/usr/bin:/bin"}, []string{prog}); err != nil {
		t.Fatal(err)
	}
	screen := func() string {
		s, err := tm.Capture(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	testsupport.Eventually(t, time.Minute, "the program starts in its dir with its env", func() bool {
		return strings.Contains(screen(), "ready in "+dir+" as alice")
	})
	if err := tm.Type(ctx, sess, "commit your work", nil); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "the typed line is submitted", func() bool {
		return strings.Contains(screen(), "got: commit your work")
	})
	st, err := tm.State(ctx, sess)
	if err != nil || st.Dead || st.Pid == 0 || st.Activity.IsZero() {
		t.Fatalf("state of a running program: %+v, %v", st, err)
	}
	if err := tm.Type(ctx, sess, "bye", nil); err != nil {
		t.Fatal(err)
	}
	// Dead, with its pane kept. Its exit status is 7 when tmux has it: under load tmux 3.3a
	// was seen marking the pane dead (its terminal closed) and never filling in the status,
	// which is why an agent's exit status comes from its wrapper's exit file, not from tmux.
	var last agentproc.PaneState
	var lastErr error
	if err := testsupport.Poll(ctx, time.Minute, func() bool {
		last, lastErr = tm.State(ctx, sess)
		return lastErr == nil && last.Dead && (last.Status == 7 || last.Status == 0 && strings.Contains(screen(), "got: bye"))
	}); err != nil {
		scr, err := tm.Capture(ctx, sess)
		t.Fatalf("the program did not exit 7 with its pane remaining: last state %+v, %v\nscreen (%v):\n%s", last, lastErr, err, scr)
	}
	if err := tm.Kill(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.State(ctx, sess); !errors.Is(err, agentproc.ErrNoSession) {
		t.Errorf("state after kill: %v, want ErrNoSession", err)
	}
}

// TestStartInTmux launches an agent in a tmux session of its own through Start: the tty
// wrapper records the launch (pid, start time, exit status) as the headless one does, and the
// end of the launch puts the session's screen into the log.
func TestStartInTmux(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	l := launch(t, `echo "interactive $TEAMCTL_AGENT"; while [ ! -f "$TEAMCTL_WORKTREE/go" ]; do sleep 0.02; done; exit 6`)
	l.Tmux = agentproc.NewTmux(agentproc.ExecTmux{}, t.TempDir(), "start")
	t.Cleanup(func() { exec.Command("tmux", "-L", l.Tmux.Socket, "kill-server").Run() })
	p, err := agentproc.Start(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	pid, start, err := agentproc.ReadPid(l.Files)
	if err != nil || pid != p.Pid || start != p.Start || !agentproc.Alive(pid, start) {
		t.Fatalf("pid file %d %d, %v; the launch is %d %d", pid, start, err, p.Pid, p.Start)
	}
	testsupport.WriteFile(t, filepath.Join(l.Worktree, "go"), "")
	if res := p.Result(); res.ExitCode != 6 {
		t.Errorf("result %+v, want exit 6", res)
	}
	if log := readLog(t, l); !strings.Contains(log, "screen and scrollback") || !strings.Contains(log, "interactive alice") {
		t.Errorf("the log lacks the session's screen:\n%s", log)
	}
}
