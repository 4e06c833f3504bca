package store

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// The helper mode of this test binary: TestMain-free, the parent re-executes the binary with
// -test.run selecting TestIncrementHelper and these variables set.
const (
	helperEnv   = "TEAMCTL_STORE_TEST_HELPER" // "increment"
	helperDBEnv = "TEAMCTL_STORE_TEST_DB"
	helperNEnv  = "TEAMCTL_STORE_TEST_N"
)

// TestIncrementHelper is not a test: run by TestConcurrentProcesses in a child process, it
// increments the sample task's Attempt TEAMCTL_STORE_TEST_N times.
func TestIncrementHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "increment" {
		t.Skip("helper process for TestConcurrentProcesses")
	}
	n, err := strconv.Atoi(os.Getenv(helperNEnv))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(os.Getenv(helperDBEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := increment(t.Context(), s, "paste", "parser", n); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentProcesses has 4 processes increment one counter at once: SQLite's file locks,
// not this process's mutex, keep every update.
func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	if os.Getenv(helperEnv) != "" {
		t.Skip("in a helper process")
	}
	path := Path(t.TempDir())
	seed(t, openAt(t, path), "paste")
	const procs, n = 4, 50
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestIncrementHelper$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), helperEnv+"=increment", helperDBEnv+"="+path, helperNEnv+"="+strconv.Itoa(n))
		cmds[i] = cmd
	}
	outs := make(chan error, procs)
	for _, cmd := range cmds {
		go func() {
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Logf("helper output:\n%s", out)
			}
			outs <- err
		}()
	}
	for range procs {
		if err := <-outs; err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	checkAttempt(t, openAt(t, path), procs*n)
}
