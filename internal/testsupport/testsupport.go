// Package testsupport is what every package's tests share: a hermetic git environment, a
// real repository in a temp dir, scripted agents, and polling with a deadline. No test
// copies these.
package testsupport

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hermetic points git at an empty home and configuration inside dir and sets an identity,
// so no test reads the machine's ~/.gitconfig or /etc/gitconfig. It returns the variables
// it set, for a child process environment.
func Hermetic(dir string) ([]string, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(home, ".gitconfig")
	// init.defaultBranch keeps git from printing its hint on every init.
	if err := os.WriteFile(cfg, []byte("[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n"), 0o644); err != nil {
		return nil, err
	}
	return []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_GLOBAL=" + cfg,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=owner",
		"GIT_AUTHOR_EMAIL=owner@example.invalid",
		"GIT_COMMITTER_NAME=owner",
		"GIT_COMMITTER_EMAIL=owner@example.invalid",
		"NO_COLOR=1",
	}, nil
}

// tempRoot is the test process's own temporary directory (Main removes it at the end).
var tempRoot string

// Main is a package's TestMain: it makes the whole test process (and every git, agent and
// teamctl process it starts) hermetic, then runs the tests.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "teamctl-test-")
	tempRoot = dir
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vars, err := Hermetic(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A go command a test runs (to build teamctl) keeps the machine's build and module
	// caches, which live under the HOME the hermetic one replaces.
	vars = append(vars, goCaches()...)
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	for _, k := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "TEAMCTL_TEAM", "TEAMCTL_AGENT"} {
		os.Unsetenv(k)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goCaches pins GOCACHE, GOMODCACHE and GOPATH to what they are before HOME changes.
func goCaches() []string {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return nil // no go command: nothing will build
	}
	vals := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(vals) != 3 {
		return nil
	}
	return []string{"GOCACHE=" + vals[0], "GOMODCACHE=" + vals[1], "GOPATH=" + vals[2]}
}

// Git runs git in dir and returns its trimmed output; it fails the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// NewRepo makes a git repository with one commit on main (a README) in a new temp dir and
// returns its path. The path has symlinks resolved, as git reports it.
func NewRepo(t testing.TB) string {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "repo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "init", "-q", "-b", "main")
	WriteFile(t, filepath.Join(dir, "README.md"), "# project\n")
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-qm", "initial commit")
	return dir
}

// WriteFile writes content to path, making its directories.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Script writes an executable /bin/sh script named name into dir and returns its path.
// body is the script after "#!/bin/sh".
func Script(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	WriteFile(t, path, "#!/bin/sh\n"+body+"\n")
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// Eventually polls cond until it holds or the deadline passes; then it fails the test with
// what. Tests never sleep to wait: they poll a condition.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := Poll(context.Background(), within, cond); err != nil {
		t.Fatalf("%s: not within %s", what, within)
	}
}

// Poll checks cond every few milliseconds until it holds (nil), ctx ends or within passes.
func Poll(ctx context.Context, within time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
