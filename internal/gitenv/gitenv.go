// Package gitenv owns the list of git variables that teamctl drops from the environment it
// hands down, so that every process it starts (git, the test command, agents) finds the
// repository from the directory it runs in.
package gitenv

import "strings"

// Scrub returns env (KEY=VALUE pairs) without the variables through which a process
// started from a git hook or alias (or a `git rebase -x`) inherits the repository that ran
// it: left in, they would point every git command at that repository, its index and its
// object store, not at the worktree the command runs in. A func, not an exported slice, so
// no caller can change the list under the others.
func Scrub(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !inherited(k) {
			out = append(out, kv)
		}
	}
	return out
}

func inherited(key string) bool {
	switch key {
	case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY":
		return true
	}
	return false
}
