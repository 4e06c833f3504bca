package agentproc_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
)

// startWrapper runs script as a launch's wrapper is run — in a process group of its own, with
// the launch's pid and exit files, around an agent that exits 7 once finish exists — and
// returns it and a channel closed once it has been waited for.
func startWrapper(t *testing.T, script string, files agentproc.Files, finish string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("/bin/sh", script, files.Pid, files.Exit, "/bin/sh", "-c", "while [ ! -f '"+finish+"' ]; do sleep 0.01; done; exit 7")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	return cmd, waited
}

func TestProcessEnviron(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("/bin/sh", "-c", "exec sleep 600")
	cmd.Env = []string{"TEAMCTL_AGENT=alice", "PATH=/usr/bin:/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// What it was executed with, as the orchestrator asks of an agent's group leader.
	testsupport.Eventually(t, time.Minute, "sleep execs with its environment", func() bool {
		env, err := agentproc.ProcessEnviron(cmd.Process.Pid)
		return err == nil && slices.Contains(env, "TEAMCTL_AGENT=alice") && slices.Contains(env, "PATH=/usr/bin:/bin")
	})
	if _, err := agentproc.ProcessEnviron(1 << 30); err == nil {
		t.Error("ProcessEnviron of no process: no error")
	}
}

// TestPidFileWithoutStartTime is the pid file of a wrapper that cannot read its own start
// time (macOS: no /proc): ReadPid takes the start time from the process, once its argv shows
// it is still the launch's wrapper, and a launch recorded so is adopted like any other.
func TestPidFileWithoutStartTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := agentproc.FilesIn(filepath.Join(dir, "run"), "alice")
	script := testsupport.Script(t, filepath.Dir(files.Pid), "teamctl-agent.sh", `pidf=$1; exitf=$2; shift 2
echo "$$" > "$pidf.tmp" && mv -f "$pidf.tmp" "$pidf"
"$@"; rc=$?; echo "$rc" > "$exitf"; exit $rc
`)
	finish := filepath.Join(dir, "finish")
	cmd, waited := startWrapper(t, script, files, finish)
	t.Cleanup(func() { testsupport.WriteFile(t, finish, ""); <-waited })
	want, err := agentproc.StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "pid file written", func() bool {
		_, err := os.Stat(files.Pid)
		return err == nil
	})
	pid, start, err := agentproc.ReadPid(files)
	if err != nil || pid != cmd.Process.Pid || start != want {
		t.Fatalf("ReadPid = %d %d, %v; want %d %d", pid, start, err, cmd.Process.Pid, want)
	}
	p, err := agentproc.Adopt(t.Context(), files, filepath.Join(dir, "alice.log"), time.Minute)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	testsupport.WriteFile(t, finish, "")
	if res := p.Result(); res.ExitCode != 7 {
		t.Errorf("adopted result %+v, want exit 7", res)
	}

	// A pid that is not the wrapper (its pid reused, say) is no launch of the agent.
	testsupport.WriteFile(t, files.Pid, strconv.Itoa(os.Getpid())+"\n")
	if _, _, err := agentproc.ReadPid(files); !errors.Is(err, agentproc.ErrGone) {
		t.Errorf("ReadPid of a pid that is not the wrapper: %v, want ErrGone", err)
	}
}

// TestCancelledCtxLeavesTheAgentRunning: the ctx of Start bounds the watching, not the agent,
// which runs on as under a supervisor that died; the next one adopts it, and Stop still
// stops the launch that was left.
func TestCancelledCtxLeavesTheAgentRunning(t *testing.T) {
	t.Parallel()
	l := launch(t, `while [ ! -f "$TEAMCTL_WORKTREE/go" ]; do sleep 0.02; done; exit 4`)
	ctx, cancel := context.WithCancel(t.Context())
	p, err := agentproc.Start(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "pid file written", func() bool {
		_, _, err := agentproc.ReadPid(l.Files)
		return err == nil
	})
	cancel()
	if res := p.Result(); !res.Detached || res.OK() || res.Vanished() || res.String() != "no longer watched" {
		t.Errorf("result after cancel %+v (%s), want detached", res, res)
	}
	if !agentproc.Alive(p.Pid, p.Start) {
		t.Fatal("the agent died with the ctx that watched it")
	}
	if _, err := agentproc.Adopt(ctx, l.Files, l.LogPath, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Adopt with an ended ctx: %v, want its error (not ErrGone)", err)
	}
	adopted, err := agentproc.Adopt(t.Context(), l.Files, l.LogPath, time.Minute)
	if err != nil || adopted.Pid != p.Pid {
		t.Fatalf("Adopt after the first watcher left: %v, %v", adopted, err)
	}
	p.Stop(200 * time.Millisecond)
	if agentproc.Alive(p.Pid, p.Start) {
		t.Error("Stop of a detached launch left the agent running")
	}
	if res := adopted.Result(); res.OK() {
		t.Errorf("adopted result %+v, want the end of a stopped agent", res)
	}
	if log := readLog(t, l); strings.Contains(log, "no longer watched") {
		t.Errorf("the log says the launch ended when it was only left:\n%s", log)
	}
}

// TestStopGroupCtxCutsGraceShort: an agent that ignores SIGTERM is killed as soon as the
// ctx of the stop ends, not at the end of a long grace period.
func TestStopGroupCtxCutsGraceShort(t *testing.T) {
	t.Parallel()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command("/bin/sh", "-c", "trap '' TERM; : > '"+ready+"'; while :; do sleep 0.05; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	testsupport.Eventually(t, time.Minute, "SIGTERM ignored", func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	pid := cmd.Process.Pid
	start, err := agentproc.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	agentproc.StopGroup(ctx, pid, start, time.Hour)
	select {
	case <-waited:
	case <-time.After(time.Minute):
		t.Fatal("the group still runs after StopGroup")
	}
	if d := time.Since(begin); d < 300*time.Millisecond || d > 30*time.Second {
		t.Errorf("StopGroup took %s: want the grace cut short when its ctx ends (after 300ms)", d)
	}
}

func TestCheckProgram(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := testsupport.Script(t, dir, "agent.sh", "exit 0")
	testsupport.WriteFile(t, filepath.Join(dir, "notes.txt"), "not a program\n")
	env := []string{"PATH=" + dir}
	for _, c := range []struct {
		prog, want string
		notOnPath  bool
	}{
		{prog: "agent.sh"},
		{prog: "./agent.sh"},
		{prog: prog},
		{prog: "no-such-cli", want: "no-such-cli: not found on the agent's PATH", notOnPath: true},
		{prog: "./missing.sh", want: "./missing.sh: no such file (relative to the agent's worktree " + dir + ")"},
		{prog: "/no/such/agent", want: "/no/such/agent: no such file"},
		{prog: "./notes.txt", want: "./notes.txt: not an executable file"},
	} {
		err := agentproc.CheckProgram(c.prog, dir, env)
		var got string
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("CheckProgram(%s) = %q, want %q", c.prog, got, c.want)
		}
		if errors.Is(err, agentproc.ErrNotOnPath) != c.notOnPath {
			t.Errorf("CheckProgram(%s) = %v: ErrNotOnPath %v, want %v", c.prog, err, !c.notOnPath, c.notOnPath)
		}
	}
}

// KillWithEnv finds the processes started with a variable, kills their groups (children
// too) and returns once they are gone; a process without it lives on.
func TestKillWithEnv(t *testing.T) {
	t.Parallel()
	kv := "TEAMCTL_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + t.Name()
	pidFile := filepath.Join(t.TempDir(), "child")
	marked := exec.Command("sh", "-c", `sleep 60 & echo $! > "$1"; wait`, "sh", pidFile)
	marked.Env = append(os.Environ(), kv)
	marked.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	other := exec.Command("sleep", "60")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for _, c := range []*exec.Cmd{marked, other} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	waited := make(chan error, 1)
	go func() { waited <- marked.Wait() }() // reaped, as init reaps a dead supervisor's orphans
	testsupport.Eventually(t, 10*time.Second, "the marked script's child started", func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
	n, err := agentproc.KillWithEnv(kv, 10*time.Second)
	if err != nil || n != 2 {
		t.Fatalf("KillWithEnv: %d, %v; want the script and its child", n, err)
	}
	<-waited
	if left, err := agentproc.WithEnv(kv); err != nil || len(left) != 0 {
		t.Errorf("still alive: %v (%v)", left, err)
	}
	if !agentproc.Alive(other.Process.Pid, 0) {
		t.Error("a process without the variable was killed")
	}
}
