package sandbox_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/teamctl/teamctl/sandbox"
)

// The test binary is the wrapper too, as teamctl is: run with sandbox.Command first, it is
// sandbox.Main; with "ptrace PID", it tries to attach to PID and says what happened.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.Command {
		os.Exit(sandbox.Main(os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "ptrace" {
		pid, _ := strconv.Atoi(os.Args[2])
		if err := syscall.PtraceAttach(pid); err != nil {
			fmt.Println("ptrace refused:", err)
			os.Exit(0)
		}
		fmt.Println("ATTACHED")
		_ = syscall.PtraceDetach(pid)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The two ways a process is confined: by Main, which confines itself and executes it (a
// tmux pane's launch), and forked already confined by Start (a headless one).
var ways = []string{"main", "start"}

// eachWay runs test once for each way of confining.
func eachWay(t *testing.T, test func(t *testing.T, way string)) {
	for _, way := range ways {
		t.Run(way, func(t *testing.T) { test(t, way) })
	}
}

// confined runs the shell script confined by p the given way, and returns its output.
func confined(t *testing.T, way string, p sandbox.Policy, script string) (string, error) {
	t.Helper()
	argv := []string{"sh", "-c", script, os.Args[0]}
	if way == "main" {
		argv = sandbox.Argv(os.Args[0], p, argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "SECRET=supervisor-only")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if way == "main" {
		err := cmd.Run()
		return out.String(), err
	}
	// Start needs the streams to be files: a pipe read here.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = sandbox.Start(cmd, p)
	w.Close()
	if err != nil {
		r.Close()
		return "", err
	}
	b, _ := io.ReadAll(r)
	r.Close()
	return string(b), cmd.Wait()
}

// TestStartLeavesTheCallerFree: Start confines what it starts, not the process that calls
// it, nor any of its threads.
func TestStartLeavesTheCallerFree(t *testing.T) {
	needLandlock(t)
	dir := t.TempDir()
	for i := range 20 { // enough starts that a confined thread, were one reused, would be met
		out, err := confined(t, "start", sandbox.Policy{}, `if echo x > "`+dir+`/child.txt" 2>/dev/null; then echo WROTE; fi`)
		if err != nil || strings.Contains(out, "WROTE") {
			t.Fatalf("start %d: %v, %q", i, err, out)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("caller-%d.txt", i)), []byte("x"), 0o644); err != nil {
			t.Fatalf("after start %d the caller cannot write: %v", i, err)
		}
	}
}

func needLandlock(t *testing.T) {
	t.Helper()
	if _, err := sandbox.Available(); err != nil {
		t.Skipf("skipped: %v; run on Linux 5.13 or later with Landlock enabled to test confinement", err)
	}
}

func TestConfinedWritesOnlyWhatItMay(t *testing.T) { eachWay(t, testConfinedWritesOnlyWhatItMay) }

func testConfinedWritesOnlyWhatItMay(t *testing.T, way string) {
	needLandlock(t)
	dir := t.TempDir()
	own, other := filepath.Join(dir, "own"), filepath.Join(dir, "other")
	for _, d := range []string{own, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "file.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "keep.txt"), []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := sandbox.Policy{Write: []string{own, file, filepath.Join(dir, "missing")}}
	out, err := confined(t, way, p, `set -e
mkdir -p "$1/sub" 2>/dev/null || true
echo mine > `+own+`/a.txt
mkdir `+own+`/d && echo x > `+own+`/d/b && mv `+own+`/d/b `+own+`/c
echo '{"a":1}' > `+file+`
echo written
if echo no > `+other+`/new.txt 2>/dev/null; then echo "WROTE OTHER"; fi
if echo no > `+other+`/keep.txt 2>/dev/null; then echo "OVERWROTE OTHER"; fi
if rm -f `+other+`/keep.txt 2>/dev/null; then echo "REMOVED OTHER"; fi
if mkdir `+dir+`/missing 2>/dev/null; then echo "MADE MISSING"; fi
if mv `+own+`/c `+other+`/c 2>/dev/null; then echo "MOVED OUT"; fi
cat `+other+`/keep.txt
echo hi > /dev/null && echo devnull
`)
	if err != nil {
		t.Fatalf("confined script: %v\n%s", err, out)
	}
	for _, want := range []string{"written", "theirs", "devnull"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"WROTE", "OVERWROTE", "REMOVED", "MADE", "MOVED"} {
		if strings.Contains(out, bad) {
			t.Errorf("a write outside the policy went through (%s):\n%s", bad, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(other, "keep.txt")); string(b) != "theirs" {
		t.Errorf("other/keep.txt = %q", b)
	}
	if b, _ := os.ReadFile(file); strings.TrimSpace(string(b)) != `{"a":1}` {
		t.Errorf("the allowed file = %q", b)
	}
	if _, err := os.Stat(filepath.Join(own, "c")); err != nil {
		t.Errorf("a rename inside the own dir: %v", err)
	}
}

// A confined process cannot ptrace, signal, or read the environment of a process outside
// its confinement, whoever runs it (root too: see droppedCaps).
func TestConfinedCannotReachOtherProcesses(t *testing.T) {
	eachWay(t, testConfinedCannotReachOtherProcesses)
}

func testConfinedCannotReachOtherProcesses(t *testing.T, way string) {
	needLandlock(t)
	sleeper := exec.Command("sleep", "60")
	sleeper.Env = []string{"SECRET=sleeper-only"}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	pid := strconv.Itoa(sleeper.Process.Pid)
	out, err := confined(t, way, sandbox.Policy{}, `
"$0" ptrace `+pid+`
if kill -0 `+pid+` 2>/dev/null; then echo "SIGNALLED"; else echo "no signal"; fi
if tr '\0' '\n' < /proc/`+pid+`/environ 2>/dev/null | grep -q SECRET; then echo "environ readable"; fi
`)
	if err != nil {
		t.Fatalf("confined script: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ptrace refused") {
		t.Errorf("a confined process attached to one outside:\n%s", out)
	}
	if abi, _ := sandbox.Available(); abi >= 6 && !strings.Contains(out, "no signal") {
		t.Errorf("a confined process signalled one outside (Landlock ABI %d scopes signals):\n%s", abi, out)
	}
	if strings.Contains(out, "environ readable") {
		t.Errorf("a confined process read /proc/%s/environ of one outside (uid %d):\n%s", pid, os.Getuid(), out)
	}
}

func TestMainRefusesWhatItCannotRun(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--write"}, "unknown argument"},
		{[]string{"--write", "/tmp"}, "no -- before"},
		{[]string{"--"}, "no program"},
		{[]string{"--", "no-such-program-here"}, "cannot start the agent"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{sandbox.Command}, c.args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("Main(%q) = %v, %q; want a failure saying %q", c.args, err, out, c.want)
		}
	}
}
