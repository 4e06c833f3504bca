package worktree_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/worktree"
)

func TestExecRunner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var run worktree.ExecRunner

	out, err := run.Run(ctx, dir, []string{"EXTRA=from env"}, "sh", "-c", `echo "out $EXTRA in $(pwd)"; echo noise >&2`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "out from env in " + dir + "\n"; string(out) != want {
		t.Errorf("stdout = %q, want %q (stderr kept apart)", out, want)
	}

	argv := []string{"sh", "-c", `echo partial; echo "it broke" >&2; exit 3`}
	out, err = run.Run(ctx, dir, nil, argv...)
	var ee *worktree.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if ee.ExitCode != 3 || ee.Stderr != "it broke\n" || ee.Dir != dir || !reflect.DeepEqual(ee.Argv, argv) {
		t.Errorf("ExitError = %+v", ee)
	}
	if string(out) != "partial\n" {
		t.Errorf("stdout of a failed command = %q, want what it printed", out)
	}
	// os/exec's own words stay reachable, for a caller that reports the end as it does.
	if xe := (*exec.ExitError)(nil); !errors.As(err, &xe) || xe.String() != "exit status 3" {
		t.Errorf("ExitError does not unwrap to os/exec's: %v", err)
	}
	if msg := ee.Error(); !strings.Contains(msg, "exit 3") || !strings.Contains(msg, "it broke") || !strings.Contains(msg, dir) {
		t.Errorf("Error() = %q", msg)
	}

	if _, err := run.Run(ctx, dir, nil, "no-such-program-anywhere"); err == nil || errors.As(err, &ee) {
		t.Errorf("a missing program: %v, want an error that is not an *ExitError", err)
	}
	if _, err := run.Run(ctx, dir, nil); err == nil {
		t.Error("an empty argv ran")
	}
	if _, err := run.Run(ctx, filepath.Join(dir, "missing"), nil, "true"); err == nil {
		t.Error("a missing directory ran")
	}
}

// A variable a git hook or alias would hand down (GIT_DIR) does not point git elsewhere.
// Not parallel: it sets the process environment.
func TestExecRunnerScrubsGitEnv(t *testing.T) {
	repo := testsupport.NewRepo(t)
	other := testsupport.NewRepo(t)
	t.Setenv("GIT_DIR", filepath.Join(other, ".git"))
	t.Setenv("GIT_WORK_TREE", other)
	t.Setenv("GIT_INDEX_FILE", filepath.Join(other, ".git", "index"))
	r, err := worktree.Open(ctx, worktree.ExecRunner{}, repo)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root != repo {
		t.Errorf("Root = %s, want %s (GIT_DIR leaked in)", r.Root, repo)
	}
	for _, kv := range worktree.Environ([]string{"A=1"}) {
		if strings.HasPrefix(kv, "GIT_DIR=") || strings.HasPrefix(kv, "GIT_WORK_TREE=") || strings.HasPrefix(kv, "GIT_INDEX_FILE=") {
			t.Errorf("Environ keeps %s", kv)
		}
	}
	// A caller's own env is added last, so it wins.
	if env := worktree.Environ([]string{"GIT_AUTHOR_NAME=alice"}); env[len(env)-1] != "GIT_AUTHOR_NAME=alice" {
		t.Errorf("Environ does not end with the caller's env: %q", env[len(env)-1])
	}
}

// alive reports whether pid is a live process (a zombie waiting for its parent is dead).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err)
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
	return !strings.HasPrefix(strings.TrimSpace(string(rest)), "Z")
}

// readPID waits for a script to write a pid into path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testsupport.Eventually(t, 10*time.Second, "the script writes its grandchild's pid", func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func TestExecRunnerCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, script string }{
		// sh waits on a background sleep: SIGTERM to the group ends both.
		{"grandchild", `sleep 600 & echo $! > "$PIDFILE"; wait`},
		// Both ignore SIGTERM: only the SIGKILL after the grace period ends them.
		{"grandchild ignoring SIGTERM", `trap '' TERM; sh -c "trap '' TERM; sleep 600 & echo \$! > \"$PIDFILE\"; wait"; wait`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pid")
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := worktree.ExecRunner{}.Run(cctx, dir, []string{"PIDFILE=" + pidfile}, "sh", "-c", c.script)
				done <- err
			}()
			pid := readPID(t, pidfile)
			if !alive(pid) {
				t.Fatalf("grandchild %d is not running before the cancel", pid)
			}
			cancel()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context was cancelled")
			}
			var ee *worktree.ExitError
			if !errors.As(err, &ee) || ee.ExitCode != -1 || !strings.Contains(ee.Error(), "killed") {
				t.Errorf("err = %v, want an *ExitError saying killed (exit code -1)", err)
			}
			testsupport.Eventually(t, 10*time.Second, "the grandchild dies with its group", func() bool { return !alive(pid) })
		})
	}
}

func TestExecRunnerCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := worktree.ExecRunner{}.Run(cctx, t.TempDir(), nil, "sh", "-c", "touch "+marker)
	if err == nil {
		t.Fatal("a command ran with a cancelled context")
	}
	if _, serr := os.Stat(marker); serr == nil {
		t.Error("the command ran although its context was already cancelled")
	}
}

// A command that exits leaving a process in the background (a server a test script
// started) succeeds with its own exit code, and what it left behind is killed: nothing
// outlives the command, and the leftover holding stdout open does not hold up Run.
func TestExecRunnerKillsLeftovers(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, 4} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pid")
			script := `sleep 600 & echo $! > "$PIDFILE"; echo "left it running"; exit ` + strconv.Itoa(code)
			out, err := worktree.ExecRunner{}.Run(ctx, dir, []string{"PIDFILE=" + pidfile}, "sh", "-c", script)
			var ee *worktree.ExitError
			switch {
			case code == 0 && err != nil:
				t.Errorf("Run = %v, want success", err)
			case code != 0 && (!errors.As(err, &ee) || ee.ExitCode != code):
				t.Errorf("Run = %v, want exit %d", err, code)
			}
			if string(out) != "left it running\n" {
				t.Errorf("stdout = %q", out)
			}
			pid := readPID(t, pidfile)
			testsupport.Eventually(t, 10*time.Second, "the leftover process dies", func() bool { return !alive(pid) })
		})
	}
}

// Every command names the process that ran it, for a successor to find it by.
func TestExecRunnerNamesItsProcess(t *testing.T) {
	t.Parallel()
	out, err := worktree.ExecRunner{}.Run(ctx, t.TempDir(), nil, "sh", "-c", "echo $"+worktree.RunnerEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("%s = %q, want this process's pid %d", worktree.RunnerEnv, got, os.Getpid())
	}
}
