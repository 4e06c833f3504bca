package testsupport

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSSKB is process pid's resident memory in KiB (pid 0: this process), from /proc; 0 where
// /proc does not say. For benchmarks' memory figures.
func RSSKB(pid int) int {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
