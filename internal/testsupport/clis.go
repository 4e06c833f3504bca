package testsupport

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// CLIDirEnv names the directory `make test` installs the pinned agent CLIs into (an npm
// prefix: the programs are in its node_modules/.bin).
const CLIDirEnv = "TEAMCTL_TEST_CLI_DIR"

// AgentCLI returns the path of a real agent CLI (claude, codex, gemini, opencode, pi)
// installed by `make test`, or skips the test saying how to get it.
func AgentCLI(t testing.TB, program string) string {
	t.Helper()
	dir := os.Getenv(CLIDirEnv)
	if dir == "" {
		t.Skipf("real agent CLI %s not available: run `make test` (it installs the pinned CLIs with npm into a cache and sets %s), or set %s to an npm prefix holding them", program, CLIDirEnv, CLIDirEnv)
	}
	path := filepath.Join(dir, "node_modules", ".bin", program)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real agent CLI %s is not installed in %s=%s (npm missing or offline?): run `make test-clis` and look at its output", program, CLIDirEnv, dir)
	}
	return path
}

// NodeOnPath skips the test when node, which every npm-installed CLI runs on, is missing.
func NodeOnPath(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: the npm-installed agent CLIs need it")
	}
}

var realAgentMu sync.Mutex

// OneRealAgentAtATime makes the test wait until no other test on this machine (in this
// process or another package's) runs real agent CLIs, and holds that turn until it
// ends. Each CLI is a heavy node process: several at once on a small shared machine
// turn a 20-second run into minutes and their deadlines into flakes.
func OneRealAgentAtATime(t testing.TB) {
	t.Helper()
	// The mutex first: two flocks from one process on two descriptors would wait for
	// each other.
	realAgentMu.Lock()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "teamctl-test-real-agents.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		realAgentMu.Unlock()
		t.Fatalf("real agent lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		realAgentMu.Unlock()
		t.Fatalf("real agent lock: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		realAgentMu.Unlock()
	})
}
