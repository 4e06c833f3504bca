package worktree_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/worktree"
)

// project is a repository with tracked files of every kind Status must tell apart, an
// ignore file, and a linked worktree.
func project(t *testing.T) string {
	t.Helper()
	repo := testsupport.NewRepo(t)
	testsupport.Commit(t, repo, "project", map[string]string{
		".gitignore":       "build/\n*.log\n",
		"mod.txt":          "mod\n",
		"staged.txt":       "staged\n",
		"gone.txt":         "gone\n",
		"removed.txt":      "removed\n",
		"old name.txt":     "renamed\n",
		"with space.txt":   "space\n",
		"dir/deep/a.txt":   "a\n",
		"ünïcödé/fïlé.txt": "u\n",
	})
	return repo
}

func sortedChanges(c []worktree.Change) []worktree.Change {
	sort.Slice(c, func(i, j int) bool { return c[i].Path < c[j].Path })
	return c
}

func TestStatus(t *testing.T) {
	t.Parallel()
	repo := project(t)
	r := open(t, repo)
	if got, err := r.Status(ctx, repo); err != nil || len(got) != 0 {
		t.Fatalf("Status of a clean worktree = %+v, %v", got, err)
	}
	w := func(p, s string) { testsupport.WriteFile(t, filepath.Join(repo, filepath.FromSlash(p)), s) }
	w("mod.txt", "changed\n")    // modified, not staged
	w("staged.txt", "changed\n") // modified and staged
	testsupport.Git(t, repo, "add", "staged.txt")
	if err := os.Remove(filepath.Join(repo, "gone.txt")); err != nil { // deleted, not staged
		t.Fatal(err)
	}
	testsupport.Git(t, repo, "rm", "-q", "removed.txt")            // deleted and staged
	testsupport.Git(t, repo, "mv", "old name.txt", "new name.txt") // renamed and staged
	w("with space.txt", "changed\n")
	w("added.txt", "new\n") // new and staged
	testsupport.Git(t, repo, "add", "added.txt")
	w("dir/deep/er/untracked.txt", "u\n") // untracked, in a new subdirectory
	w("ünïcödé/nëw.txt", "u\n")           // untracked, non-ASCII
	w("ünïcödé/fïlé.txt", "changed\n")    // modified, non-ASCII
	w("build/out.o", "ignored\n")         // ignored by a directory pattern
	w("dir/trace.log", "ignored\n")       // ignored by a glob
	w("excluded.txt", "ignored\n")        // ignored by .git/info/exclude (go-git misses it)
	testsupport.WriteFile(t, filepath.Join(repo, ".git", "info", "exclude"), "excluded.txt\n")
	if err := os.Symlink("mod.txt", filepath.Join(repo, "link")); err != nil {
		t.Fatal(err)
	}

	got, err := r.Status(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	want := []worktree.Change{
		{Path: "added.txt", Code: "A"},
		{Path: "dir/deep/er/untracked.txt", Code: "?"},
		{Path: "gone.txt", Code: "D"},
		{Path: "link", Code: "?"},
		{Path: "mod.txt", Code: "M"},
		// Renames are listed as their two halves: the old path matters as much as the new
		// one (an auto-commit message, an owns check).
		{Path: "new name.txt", Code: "A"},
		{Path: "old name.txt", Code: "D"},
		{Path: "removed.txt", Code: "D"},
		{Path: "staged.txt", Code: "M"},
		{Path: "with space.txt", Code: "M"},
		{Path: "ünïcödé/fïlé.txt", Code: "M"},
		{Path: "ünïcödé/nëw.txt", Code: "?"},
	}
	if got = sortedChanges(got); !reflect.DeepEqual(got, want) {
		t.Errorf("Status =\n%+v\nwant\n%+v", got, want)
	}
}

func TestStatusTypeChangeAndLinkedWorktree(t *testing.T) {
	t.Parallel()
	repo := project(t)
	r := open(t, repo)
	wt := linked(t, repo, "topic")
	if err := os.Remove(filepath.Join(wt, "mod.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("staged.txt", filepath.Join(wt, "mod.txt")); err != nil {
		t.Fatal(err)
	}
	testsupport.WriteFile(t, filepath.Join(wt, "only-here.txt"), "x")
	got, err := r.Status(ctx, wt)
	if err != nil {
		t.Fatal(err)
	}
	want := []worktree.Change{{Path: "mod.txt", Code: "T"}, {Path: "only-here.txt", Code: "?"}}
	if got = sortedChanges(got); !reflect.DeepEqual(got, want) {
		t.Errorf("Status of the linked worktree = %+v, want %+v", got, want)
	}
	// The main worktree is clean: status is per worktree.
	if got, _ := r.Status(ctx, repo); len(got) != 0 {
		t.Errorf("Status of the main worktree = %+v", got)
	}
}

func TestStatusUnmerged(t *testing.T) {
	t.Parallel()
	repo, _, other := conflicting(t)
	r := open(t, repo)
	if _, err := r.Merge(ctx, repo, other, "merge", nil); err == nil {
		t.Fatal("merge of conflicting branches succeeded")
	}
	testsupport.WriteFile(t, filepath.Join(repo, "untracked.txt"), "u")
	got, err := r.Status(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	want := []worktree.Change{
		{Path: "both with space.txt", Code: "U"},
		{Path: "both.txt", Code: "U"},
		{Path: "other.txt", Code: "A"}, // the clean half of the merge, staged
		{Path: "untracked.txt", Code: "?"},
	}
	if got = sortedChanges(got); !reflect.DeepEqual(got, want) {
		t.Errorf("Status during a conflicted merge =\n%+v\nwant\n%+v", got, want)
	}
}

// hooks installs commit hooks that all refuse, in the repository's hooks dir.
func hooks(t *testing.T, repo string) {
	t.Helper()
	for _, h := range []string{"pre-commit", "prepare-commit-msg", "commit-msg", "pre-merge-commit", "post-commit", "post-merge"} {
		testsupport.Script(t, filepath.Join(repo, ".git", "hooks"), h, `echo "hook `+h+` refuses" >&2; exit 1`)
	}
}

func TestCommitAll(t *testing.T) {
	t.Parallel()
	repo := project(t)
	r := open(t, repo)
	wt := linked(t, repo, "teamctl/t/alice/work")
	hooks(t, repo)
	// Signing is configured, with a program that cannot sign: teamctl's commits do not sign.
	testsupport.Git(t, repo, "config", "commit.gpgsign", "true")
	testsupport.Git(t, repo, "config", "gpg.program", "false")

	if _, err := r.CommitAll(ctx, wt, "nothing", nil); !errors.Is(err, worktree.ErrNothingToCommit) {
		t.Fatalf("CommitAll of a clean worktree: %v, want ErrNothingToCommit", err)
	}
	testsupport.WriteFile(t, filepath.Join(wt, "mod.txt"), "changed\n")
	testsupport.WriteFile(t, filepath.Join(wt, "new dir", "nëw.txt"), "new\n")
	testsupport.WriteFile(t, filepath.Join(wt, "build", "out.o"), "ignored\n")
	testsupport.WriteFile(t, filepath.Join(wt, "x.log"), "ignored\n")
	if err := os.Remove(filepath.Join(wt, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	env := []string{"GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@t.teamctl.invalid",
		"GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@t.teamctl.invalid"}
	msg := "teamctl auto-commit: work left uncommitted by alice (task x)\n\n  M mod.txt\n  ? new dir/nëw.txt\n"
	hash, err := r.CommitAll(ctx, wt, msg, env)
	if err != nil {
		t.Fatalf("CommitAll with refusing hooks and signing configured: %v", err)
	}
	if head := testsupport.Git(t, wt, "rev-parse", "HEAD"); head != hash {
		t.Errorf("CommitAll returned %s, HEAD is %s", hash, head)
	}
	if got := testsupport.Git(t, wt, "rev-parse", "teamctl/t/alice/work"); got != hash {
		t.Errorf("the branch is at %s, want the commit %s", got, hash)
	}
	if got := testsupport.Git(t, wt, "log", "-1", "--format=%an|%ae|%cn|%ce"); got != "alice|alice@t.teamctl.invalid|alice|alice@t.teamctl.invalid" {
		t.Errorf("identity = %s", got)
	}
	if got := testsupport.Git(t, wt, "log", "-1", "--format=%B"); got != strings.TrimSpace(msg) {
		t.Errorf("message = %q, want %q", got, msg)
	}
	files := testsupport.Git(t, wt, "-c", "core.quotePath=false", "show", "--name-status", "--format=", "HEAD")
	if want := "M\tmod.txt\nD\tgone.txt\nA\tnew dir/nëw.txt"; sortLines(files) != sortLines(want) {
		t.Errorf("committed:\n%s\nwant\n%s", files, want)
	}
	if got, _ := r.Status(ctx, wt); len(got) != 0 {
		t.Errorf("Status after CommitAll = %+v", got)
	}
	for _, f := range []string{"build/out.o", "x.log"} {
		if _, err := os.Stat(filepath.Join(wt, f)); err != nil {
			t.Errorf("ignored file %s is gone: %v", f, err)
		}
	}
	// The main worktree and its branch are untouched.
	if got, _ := r.Status(ctx, repo); len(got) != 0 {
		t.Errorf("main worktree changed: %+v", got)
	}
}

// CommitAll concludes a merge whose conflicts were resolved but not committed: the
// result keeps both parents.
func TestCommitAllConcludesMerge(t *testing.T) {
	t.Parallel()
	repo, _, other := conflicting(t)
	r := open(t, repo)
	if _, err := r.Merge(ctx, repo, other, "merge", nil); err == nil {
		t.Fatal("merge of conflicting branches succeeded")
	}
	testsupport.WriteFile(t, filepath.Join(repo, "both.txt"), "resolved\n")
	testsupport.WriteFile(t, filepath.Join(repo, "both with space.txt"), "resolved\n")
	if _, err := r.CommitAll(ctx, repo, "resolve", nil); err != nil {
		t.Fatal(err)
	}
	if parents := strings.Fields(testsupport.Git(t, repo, "log", "-1", "--format=%P")); len(parents) != 2 {
		t.Errorf("the resolved merge has parents %v, want 2", parents)
	}
	if in, err := r.MergeInProgress(ctx, repo); err != nil || in {
		t.Errorf("MergeInProgress after the commit = %v, %v", in, err)
	}
}

func TestResetHard(t *testing.T) {
	t.Parallel()
	repo := project(t)
	r := open(t, repo)
	wt := linked(t, repo, "leader")
	base := testsupport.Git(t, wt, "rev-parse", "HEAD")
	testsupport.Commit(t, wt, "to be undone", map[string]string{"later.txt": "later\n"})
	testsupport.WriteFile(t, filepath.Join(wt, "mod.txt"), "changed\n")
	testsupport.WriteFile(t, filepath.Join(wt, "staged.txt"), "changed\n")
	testsupport.Git(t, wt, "add", "staged.txt")
	testsupport.WriteFile(t, filepath.Join(wt, "untracked.txt"), "u\n")
	testsupport.WriteFile(t, filepath.Join(wt, "new", "deep", "u.txt"), "u\n")
	testsupport.WriteFile(t, filepath.Join(wt, "build", "cache.o"), "ignored\n")
	if err := r.ResetHard(ctx, wt, base); err != nil {
		t.Fatal(err)
	}
	if got := testsupport.Git(t, wt, "rev-parse", "leader"); got != base {
		t.Errorf("branch at %s, want %s", got, base)
	}
	if got := testsupport.Git(t, wt, "rev-parse", "--abbrev-ref", "HEAD"); got != "leader" {
		t.Errorf("HEAD is %s, want the branch still checked out", got)
	}
	if got, _ := r.Status(ctx, wt); len(got) != 0 {
		t.Errorf("Status after ResetHard = %+v", got)
	}
	for _, gone := range []string{"later.txt", "untracked.txt", "new"} {
		if _, err := os.Stat(filepath.Join(wt, gone)); !os.IsNotExist(err) {
			t.Errorf("%s survived ResetHard: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(wt, "build", "cache.o")); err != nil {
		t.Errorf("ResetHard removed an ignored file: %v", err)
	}
	if err := r.ResetHard(ctx, wt, "no-such-rev"); err == nil {
		t.Error("ResetHard to a missing rev succeeded")
	}
}

func sortLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}
