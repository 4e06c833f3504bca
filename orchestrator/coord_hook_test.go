package orchestrator_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/worktree"
)

// commit stages everything in dir and commits; it returns git's combined output and error.
func commit(dir, msg string) (string, error) {
	cmd := exec.Command("sh", "-c", `git add -A && git commit -qm "$1"`, "sh", msg)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestAgentHooksOnlyInAgentWorktree: the hook runs in the linked worktree it was installed
// in and nowhere else, chains to the user's own hooks, keeps go-git able to read the
// repository, and goes away without a trace.
func TestAgentHooksOnlyInAgentWorktree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	repo := testsupport.NewRepo(t)
	tmp := t.TempDir()
	checked, userRan, deny := filepath.Join(tmp, "checked"), filepath.Join(tmp, "user-ran"), filepath.Join(tmp, "deny")
	testsupport.Script(t, filepath.Join(repo, ".git", "hooks"), "pre-commit", `echo "$(pwd)" >> '`+userRan+`'`)
	testsupport.Script(t, filepath.Join(repo, ".git", "hooks"), "commit-msg", `grep -q . "$1" || { echo empty message >&2; exit 1; }`)
	configBefore, err := os.ReadFile(filepath.Join(repo, ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	wt := filepath.Join(filepath.Dir(repo), "wt-alice")
	other := filepath.Join(filepath.Dir(repo), "wt-bob")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "alice", wt)
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "bob", other)
	r, err := worktree.Open(ctx, worktree.ExecRunner{}, repo)
	if err != nil {
		t.Fatal(err)
	}
	check := []string{"/bin/sh", "-c", `pwd >> '` + checked + `'; test ! -e '` + deny + `' || { echo "denied by the check" >&2; exit 4; }`}
	if err := r.InstallAgentHooks(ctx, repo, worktree.AgentHooks{PreCommit: check}); err == nil {
		t.Fatal("InstallAgentHooks in the main worktree succeeded; it must refuse")
	}
	if err := r.InstallAgentHooks(ctx, wt, worktree.AgentHooks{PreCommit: check}); err != nil {
		t.Fatal(err)
	}
	// Installed again as it is (resume does it in every worktree): left as it is, not
	// rewritten; with another check: rewritten.
	hook := filepath.Join(repo, ".git", "teamctl", "hooks", "wt-alice", "hooks", "pre-commit")
	before, err := os.Stat(hook)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.InstallAgentHooks(ctx, wt, worktree.AgentHooks{PreCommit: check}); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(hook); err != nil || !os.SameFile(before, after) {
		t.Errorf("installing the same hooks again rewrote them (%v)", err)
	}
	if err := r.InstallAgentHooks(ctx, wt, worktree.AgentHooks{PreCommit: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(hook); !strings.Contains(string(b), "/bin/true") {
		t.Errorf("installing another check left the old one:\n%s", b)
	}
	if err := r.InstallAgentHooks(ctx, wt, worktree.AgentHooks{PreCommit: check}); err != nil {
		t.Fatal(err)
	}

	testsupport.WriteFile(t, filepath.Join(wt, "a.txt"), "a\n")
	if out, err := commit(wt, "alice one"); err != nil {
		t.Fatalf("commit in the agent worktree: %v\n%s", err, out)
	}
	if got := readLines(t, checked); !reflect.DeepEqual(got, []string{wt}) {
		t.Errorf("check ran in %v, want once in %s", got, wt)
	}
	if got := readLines(t, userRan); !reflect.DeepEqual(got, []string{wt}) {
		t.Errorf("the user's pre-commit ran in %v, want once in %s (chained)", got, wt)
	}
	// The user's other hooks still run there: an empty message is refused by its commit-msg.
	testsupport.WriteFile(t, filepath.Join(wt, "b.txt"), "b\n")
	if out, err := commit(wt, ""); err == nil || !strings.Contains(out, "empty message") {
		t.Errorf("commit with an empty message in the agent worktree: %v\n%s; want the user's commit-msg to refuse it", err, out)
	}
	// A failing check refuses the commit, and the user's hook does not run after it.
	testsupport.WriteFile(t, deny, "")
	if out, err := commit(wt, "alice two"); err == nil || !strings.Contains(out, "denied by the check") {
		t.Errorf("commit with the check failing: %v\n%s; want refused", err, out)
	}
	if n := len(readLines(t, userRan)); n != 2 {
		t.Errorf("the user's hook ran %d times, want 2: not after a refusal", n)
	}
	// The main worktree and the other linked worktree keep their hooks: no check there.
	for _, dir := range []string{repo, other} {
		testsupport.WriteFile(t, filepath.Join(dir, "m.txt"), dir+"\n")
		if out, err := commit(dir, "elsewhere"); err != nil {
			t.Fatalf("commit in %s: %v\n%s", dir, err, out)
		}
	}
	if got := readLines(t, checked); !reflect.DeepEqual(got, []string{wt, wt, wt}) {
		t.Errorf("check ran in %v, want only in %s", got, wt)
	}
	if got := readLines(t, userRan); !reflect.DeepEqual(got, []string{wt, wt, repo, other}) {
		t.Errorf("the user's hook ran in %v", got)
	}
	// go-git still opens and reads the repository (it refuses extensions.worktreeConfig).
	if _, err := r.Resolve(ctx, "alice"); err != nil {
		t.Errorf("go-git read after the install: %v", err)
	}

	if err := r.RemoveAgentHooks(ctx, wt); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(repo, ".git", "config")); string(after) != string(configBefore) {
		t.Errorf("the repository's config after removing the hooks:\n%s\nwant as before:\n%s", after, configBefore)
	}
	if exists(filepath.Join(repo, ".git", "teamctl", "hooks", "wt-alice")) {
		t.Error("the hook dir is left after RemoveAgentHooks")
	}
	if out, err := commit(wt, "alice three"); err != nil {
		t.Fatalf("commit after removing the hooks: %v\n%s", err, out)
	}
	if n := len(readLines(t, checked)); n != 3 {
		t.Errorf("the check ran after its removal")
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// TestAgentHooksRelativeHooksPath: a project whose hooks live in the tree (core.hooksPath
// = .githooks) gets its own hook run from the agent's worktree, at the agent's version.
func TestAgentHooksRelativeHooksPath(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	repo := testsupport.NewRepo(t)
	testsupport.Script(t, filepath.Join(repo, ".githooks"), "pre-commit", `echo "project hook in $(pwd)" > hook.out; git add hook.out`)
	testsupport.Git(t, repo, "config", "core.hooksPath", ".githooks")
	testsupport.Git(t, repo, "add", "-A")
	testsupport.Git(t, repo, "commit", "-qm", "hooks in the tree")
	wt := filepath.Join(filepath.Dir(repo), "wt-alice")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "alice", wt)
	r, err := worktree.Open(ctx, worktree.ExecRunner{}, repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.InstallAgentHooks(ctx, wt, worktree.AgentHooks{PreCommit: []string{"/bin/true"}}); err != nil {
		t.Fatal(err)
	}
	testsupport.WriteFile(t, filepath.Join(wt, "a.txt"), "a\n")
	if out, err := commit(wt, "one"); err != nil {
		t.Fatalf("commit: %v\n%s", err, out)
	}
	if got := testsupport.Git(t, wt, "show", "HEAD:hook.out"); got != "project hook in "+wt {
		t.Errorf("hook.out = %q, want the project's hook run in %s", got, wt)
	}
	if got := testsupport.Git(t, repo, "config", "core.hooksPath"); got != ".githooks" {
		t.Errorf("the main worktree's core.hooksPath = %q, want it untouched", got)
	}
}

// TestCheckCommitInMerge: in a merge commit only what differs from both parents is the
// agent's change; what the merge brings from the other side is not checked against
// reservations.
func TestCheckCommitInMerge(t *testing.T) {
	t.Parallel()
	ws, repo := coordTeam(t, false, "alice", "bob")
	ctx := t.Context()
	testsupport.WriteFile(t, filepath.Join(repo, "c.txt"), "base\n")
	testsupport.Git(t, repo, "add", "-A")
	testsupport.Git(t, repo, "commit", "-qm", "c")
	testsupport.Git(t, repo, "checkout", "-q", "-b", "theirs")
	testsupport.WriteFile(t, filepath.Join(repo, "b.txt"), "theirs\n")
	testsupport.WriteFile(t, filepath.Join(repo, "c.txt"), "theirs\n")
	testsupport.Git(t, repo, "add", "-A")
	testsupport.Git(t, repo, "commit", "-qm", "theirs")
	testsupport.Git(t, repo, "checkout", "-q", "main")
	wt := filepath.Join(filepath.Dir(repo), "wt-alice")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "alice", wt)
	testsupport.WriteFile(t, filepath.Join(wt, "c.txt"), "alice\n")
	testsupport.WriteFile(t, filepath.Join(wt, "a.txt"), "alice\n")
	testsupport.Git(t, wt, "add", "-A")
	testsupport.Git(t, wt, "commit", "-qm", "alice")

	if _, err := ws.As(as("bob")).Reserve(ctx, []string{"b.txt"}, "bob's"); err != nil {
		t.Fatal(err)
	}
	// A conflicting merge, resolved by alice: c.txt is hers to resolve, b.txt came as it was.
	cmd := exec.Command("git", "merge", "-q", "theirs")
	cmd.Dir = wt
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("merge did not conflict:\n%s", out)
	}
	testsupport.WriteFile(t, filepath.Join(wt, "c.txt"), "resolved\n")
	testsupport.Git(t, wt, "add", "c.txt")
	files, err := ws.TestRepo().StagedFiles(ctx, wt, "")
	if err != nil || !reflect.DeepEqual(files, []string{"c.txt"}) {
		t.Fatalf("StagedFiles in the merge = %v, %v; want only c.txt", files, err)
	}
	cc, err := ws.CheckCommit(ctx, "t", "alice", wt, "")
	if err != nil || cc.Refused != "" {
		t.Errorf("CheckCommit with b.txt (reserved by bob) only from the other side = %+v, %v; want allowed", cc, err)
	}
	if _, err := ws.As(as("bob")).Reserve(ctx, []string{"c.txt"}, "bob's too"); err != nil {
		t.Fatal(err)
	}
	cc, err = ws.CheckCommit(ctx, "t", "alice", wt, "")
	if !errors.Is(err, orchestrator.ErrReserved) || !strings.Contains(err.Error(), `changes c.txt, which bob has reserved (c.txt: "bob's too", token 2)`) {
		t.Errorf("CheckCommit of alice's resolution of c.txt (reserved by bob) = %v, want refused", err)
	}
	if cc.Seen != 2 {
		t.Errorf("CheckCommit saw token %d, want the newest, 2", cc.Seen)
	}
	// Both checks are in the journal with what they saw.
	evs, err := ws.TestStore().EventsOfKinds(ctx, "t", []string{"commit.check", "commit.refused"}, 0)
	if err != nil || len(evs) != 2 || evs[0].Kind != "commit.check" || evs[1].Kind != "commit.refused" ||
		!strings.Contains(evs[1].Data, `"seen":2`) {
		t.Errorf("journal = %+v, %v", evs, err)
	}
	// alice's own reservation covering the file is recorded with the check, by token.
	if _, err := ws.As(as("bob")).Release(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.As(as("alice")).Reserve(ctx, []string{"c.txt"}, ""); err != nil {
		t.Fatal(err)
	}
	cc, err = ws.CheckCommit(ctx, "t", "alice", wt, "")
	if err != nil || !reflect.DeepEqual(cc.Tokens, []int64{3}) {
		t.Errorf("CheckCommit with alice's own reservation = %+v, %v; want tokens [3]", cc, err)
	}
}
