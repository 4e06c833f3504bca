package agentproc_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/worktree"
)

func TestCopyFilesBringsIgnoredFilesIntoAWorktree(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	testsupport.WriteFile(t, filepath.Join(repo, ".gitignore"), ".env\nconfig/local/\n")
	testsupport.WriteFile(t, filepath.Join(repo, ".env"), "TOKEN=secret\n")
	testsupport.WriteFile(t, filepath.Join(repo, "config", "local", "a.json"), "{}\n")
	testsupport.WriteFile(t, filepath.Join(repo, "config", "local", "deep", "b.json"), "[]\n")
	if err := os.Chmod(filepath.Join(repo, ".env"), 0o600); err != nil {
		t.Fatal(err)
	}
	testsupport.Git(t, repo, "add", ".gitignore")
	testsupport.Git(t, repo, "commit", "-qm", "ignore local files")
	wt := filepath.Join(filepath.Dir(repo), "wt")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "teamctl/t/alice/work", wt)

	copied, err := agentproc.CopyFiles(repo, wt, []string{".env", "config/local/", "missing.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(copied, []string{".env", "config/local/"}) {
		t.Errorf("copied %q", copied)
	}
	for path, want := range map[string]string{".env": "TOKEN=secret\n", "config/local/a.json": "{}\n", "config/local/deep/b.json": "[]\n"} {
		got, err := os.ReadFile(filepath.Join(wt, path))
		if err != nil || string(got) != want {
			t.Errorf("%s in the worktree: %q, %v", path, got, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(wt, ".env")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, %v: want 0600 kept", fi.Mode(), err)
	}
	// Ignored files leave the worktree clean: nothing for teamctl to nudge about.
	if st := testsupport.Git(t, wt, "status", "--porcelain"); st != "" {
		t.Errorf("worktree not clean after the copy:\n%s", st)
	}
}

func TestRunSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "logs", "alice.log")
	l := agentproc.Launch{Team: "t", Agent: "alice", Worktree: dir, LogPath: log}
	if err := agentproc.RunSetup(context.Background(), worktree.ExecRunner{}, l, `echo "installing as $TEAMCTL_AGENT"; touch node_modules.done`); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules.done")); err != nil {
		t.Errorf("setup did not run in the worktree: %v", err)
	}
	err := agentproc.RunSetup(context.Background(), worktree.ExecRunner{}, l, "echo broken lockfile >&2; exit 3")
	if !errors.Is(err, agentproc.ErrSetup) || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("failing setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		testsupport.Eventually(t, 10*time.Second, "the slow setup starts", func() bool {
			b, _ := os.ReadFile(log)
			return strings.Contains(string(b), "slow started")
		})
		cancel()
	}()
	if err := agentproc.RunSetup(ctx, worktree.ExecRunner{}, l, "echo slow started; sleep 60 & wait"); !errors.Is(err, agentproc.ErrSetup) {
		t.Errorf("cancelled setup: %v", err)
	}
	b, _ := os.ReadFile(log)
	for _, want := range []string{"setup agent=alice", "installing as alice", "setup done", "broken lockfile", "setup failed: exit status 3"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
}

// Both streams reach the log in the order they were written, a successful setup's stderr
// too (npm's warnings), and the command sees what `sh -c command` would.
func TestRunSetupLogsBothStreamsInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := agentproc.Launch{Team: "t", Agent: "alice", Worktree: dir, LogPath: filepath.Join(dir, "alice.log")}
	if err := agentproc.RunSetup(t.Context(), worktree.ExecRunner{}, l, `echo one; echo two >&2; echo "three $0 $#"`); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.LogPath)
	if !strings.Contains(string(b), "\none\ntwo\nthree sh 0\n=== teamctl ") {
		t.Errorf("log:\n%s", b)
	}
}

func TestSetupOutputIsItsOwnSection(t *testing.T) {
	t.Parallel()
	log := `=== teamctl 2026-11-24T10:00:00Z: setup agent=alice command="npm ci"
added 12 packages
=== teamctl 2026-11-24T10:00:05Z: setup done
=== teamctl 2026-11-24T10:00:06Z: launch agent=alice task=t attempt=1 reason=task argv=["x"]
{"type":"result","subtype":"success","is_error":false,"session_id":"s","result":"ok","usage":{"input_tokens":1,"output_tokens":1}}
`
	tr, err := agentproc.ParseTranscript("claude", strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Launches) != 2 || !tr.Launches[0].Setup || tr.Launches[0].Status != agentproc.StatusDone || tr.Launches[1].Setup || tr.Status != agentproc.StatusDone {
		t.Errorf("setup section: %+v", tr.Launches)
	}
}
