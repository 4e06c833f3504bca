// Package failpoint stops a process dead (SIGKILL, as a crash or an OOM kill would) at a
// named point of its work, so the crash tests can cut teamctl off between two steps no
// journal entry separates — after a git command and before its result is recorded. A
// process arms at most one point, once, before its work starts; teamctl itself never arms
// one, and an unarmed Hit costs one string comparison.
package failpoint

import (
	"os"
	"syscall"
)

// The points teamctl passes.
const (
	// SyncConflicted: the leader branch was merged into a conflicting agent's worktree
	// (MERGE_HEAD is there), and the agent's fix-conflict launch is not yet recorded.
	SyncConflicted = "sync-conflicted"
	// LeaderMoved: the merge queue moved the leader branch to a tested candidate, and the
	// landing is not yet recorded.
	LeaderMoved = "leader-moved"
)

var armed string

// Arm makes Hit(name) kill the process. Call it before any goroutine that may Hit starts.
func Arm(name string) { armed = name }

// Hit kills the process when name is the armed point.
func Hit(name string) {
	if armed == "" || armed != name {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
