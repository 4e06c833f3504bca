package testsupport

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var teamctl struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// TeamctlBinDir builds the teamctl command once per test process and returns the
// directory holding it, for tests whose agents call `teamctl` (put it first on their PATH
// with orchestrator.Env.BinDir). Built without the race detector: it is the program under
// test run as a user runs it, and it builds in seconds.
func TeamctlBinDir(t testing.TB) string {
	t.Helper()
	teamctl.once.Do(func() {
		teamctl.dir, teamctl.err = os.MkdirTemp(tempRoot, "teamctl-bin-")
		if teamctl.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(teamctl.dir, "teamctl"), "github.com/teamctl/teamctl/cmd/teamctl")
		teamctl.out, teamctl.err = cmd.CombinedOutput()
	})
	if teamctl.err != nil {
		t.Fatalf("build teamctl: %v\n%s", teamctl.err, teamctl.out)
	}
	return teamctl.dir
}
