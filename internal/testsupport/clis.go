package testsupport

import (
	"os"
	"os/exec"
	"path/filepath"
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
