package testsupport

import (
	"path/filepath"
	"testing"
)

// Commit writes files (repo-relative path → content) in the worktree at dir, stages
// everything and commits it with msg, skipping any hooks a test installed. It returns the
// new commit's hash.
func Commit(t testing.TB, dir, msg string, files map[string]string) string {
	t.Helper()
	for path, content := range files {
		WriteFile(t, filepath.Join(dir, filepath.FromSlash(path)), content)
	}
	Git(t, dir, "add", "-A")
	Git(t, dir, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}
