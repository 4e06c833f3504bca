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

// conflicting makes a repository whose main and branch "other" both changed both.txt and
// "both with space.txt" since base; "other" also added other.txt. main is checked out.
func conflicting(t *testing.T) (repo, base, other string) {
	t.Helper()
	repo = testsupport.NewRepo(t)
	base = testsupport.Commit(t, repo, "base", map[string]string{"both.txt": "base\n", "both with space.txt": "base\n"})
	testsupport.Git(t, repo, "checkout", "-q", "-b", "other")
	testsupport.Commit(t, repo, "other", map[string]string{"both.txt": "other\n", "both with space.txt": "other\n", "other.txt": "o\n"})
	testsupport.Git(t, repo, "checkout", "-q", "main")
	testsupport.Commit(t, repo, "main", map[string]string{"both.txt": "main\n", "both with space.txt": "main\n"})
	return repo, base, "other"
}

var leaderEnv = []string{"GIT_AUTHOR_NAME=lead", "GIT_AUTHOR_EMAIL=lead@t.teamctl.invalid",
	"GIT_COMMITTER_NAME=lead", "GIT_COMMITTER_EMAIL=lead@t.teamctl.invalid"}

func TestMergeNoFF(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	leader := linked(t, repo, "teamctl/t/lead/work")
	alice := linked(t, repo, "teamctl/t/alice/work")
	before := testsupport.Git(t, leader, "rev-parse", "HEAD")
	work := testsupport.Commit(t, alice, "alice: add a", map[string]string{"a.txt": "a\n"})
	hooks(t, repo)
	testsupport.Git(t, repo, "config", "commit.gpgsign", "true")
	testsupport.Git(t, repo, "config", "gpg.program", "false")

	msg := "Merge teamctl/t/alice/work: task x by alice\n\nTeamctl-Task: x\n"
	// A fast-forward is possible, and --no-ff makes a merge commit all the same: the merge
	// commit is what names the task and the agent.
	hash, err := r.Merge(ctx, leader, "teamctl/t/alice/work", msg, leaderEnv)
	if err != nil {
		t.Fatalf("Merge with refusing hooks and signing configured: %v", err)
	}
	if head := testsupport.Git(t, leader, "rev-parse", "HEAD"); head != hash {
		t.Errorf("Merge returned %s, HEAD is %s", hash, head)
	}
	if got := testsupport.Git(t, leader, "log", "-1", "--format=%P"); got != before+" "+work {
		t.Errorf("parents = %s, want %s %s", got, before, work)
	}
	if got := testsupport.Git(t, leader, "log", "-1", "--format=%B"); got != strings.TrimSpace(msg) {
		t.Errorf("message = %q", got)
	}
	if got := testsupport.Git(t, leader, "log", "-1", "--format=%an|%cn"); got != "lead|lead" {
		t.Errorf("identity = %s", got)
	}
	if _, err := os.Stat(filepath.Join(leader, "a.txt")); err != nil {
		t.Errorf("merged file missing in the worktree: %v", err)
	}
	if got, _ := r.Status(ctx, leader); len(got) != 0 {
		t.Errorf("Status after Merge = %+v", got)
	}
}

func TestMergeConflict(t *testing.T) {
	t.Parallel()
	repo, _, other := conflicting(t)
	r := open(t, repo)
	before := testsupport.Git(t, repo, "rev-parse", "HEAD")
	_, err := r.Merge(ctx, repo, other, "merge other", leaderEnv)
	var ce *worktree.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Merge = %v, want *ConflictError", err)
	}
	files := append([]string(nil), ce.Files...)
	sort.Strings(files)
	if want := []string{"both with space.txt", "both.txt"}; !reflect.DeepEqual(files, want) {
		t.Errorf("conflicting files = %q, want %q", ce.Files, want)
	}
	if !strings.Contains(ce.Error(), "both.txt") || !strings.Contains(ce.Error(), "both with space.txt") {
		t.Errorf("ConflictError says %q", ce)
	}
	if in, err := r.MergeInProgress(ctx, repo); err != nil || !in {
		t.Fatalf("MergeInProgress = %v, %v; want the merge left in progress", in, err)
	}
	if err := r.AbortMerge(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if in, err := r.MergeInProgress(ctx, repo); err != nil || in {
		t.Errorf("MergeInProgress after AbortMerge = %v, %v", in, err)
	}
	if got := testsupport.Git(t, repo, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD moved to %s", got)
	}
	if got, _ := r.Status(ctx, repo); len(got) != 0 {
		t.Errorf("Status after AbortMerge = %+v", got)
	}
	// Aborting when no merge is in progress does nothing.
	if err := r.AbortMerge(ctx, repo); err != nil {
		t.Errorf("AbortMerge with no merge: %v", err)
	}
}

// AbortMerge also gets out of a half-resolved merge: a conflicted file fixed and staged by
// hand, another edited and not.
func TestAbortHalfResolvedMerge(t *testing.T) {
	t.Parallel()
	repo, _, other := conflicting(t)
	r := open(t, repo)
	before := testsupport.Git(t, repo, "rev-parse", "HEAD")
	if _, err := r.Merge(ctx, repo, other, "merge", nil); err == nil {
		t.Fatal("merge of conflicting branches succeeded")
	}
	testsupport.WriteFile(t, filepath.Join(repo, "both.txt"), "resolved\n")
	testsupport.Git(t, repo, "add", "both.txt")
	testsupport.WriteFile(t, filepath.Join(repo, "both with space.txt"), "half\n")
	if err := r.AbortMerge(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if in, _ := r.MergeInProgress(ctx, repo); in {
		t.Error("merge still in progress")
	}
	if got := testsupport.Git(t, repo, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD moved to %s", got)
	}
	if got, _ := r.Status(ctx, repo); len(got) != 0 {
		t.Errorf("Status after AbortMerge = %+v", got)
	}
}

func TestMergeInProgressInLinkedWorktree(t *testing.T) {
	t.Parallel()
	repo, _, other := conflicting(t)
	r := open(t, repo)
	wt := filepath.Join(filepath.Dir(repo), "side")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "side", wt, "main")
	if _, err := r.Merge(ctx, wt, other, "merge", nil); err == nil {
		t.Fatal("merge of conflicting branches succeeded")
	}
	// MERGE_HEAD is per worktree: the main worktree has none.
	if in, _ := r.MergeInProgress(ctx, wt); !in {
		t.Error("no merge in progress in the linked worktree")
	}
	if in, _ := r.MergeInProgress(ctx, repo); in {
		t.Error("the linked worktree's merge shows in the main worktree")
	}
}

func TestMergeOtherFailures(t *testing.T) {
	t.Parallel()
	repo, _, other := conflicting(t)
	r := open(t, repo)
	var ce *worktree.ConflictError
	if _, err := r.Merge(ctx, repo, "no-such-branch", "m", nil); err == nil || errors.As(err, &ce) {
		t.Errorf("Merge of a missing branch = %v, want a plain error", err)
	}
	// Uncommitted changes the merge would overwrite: git refuses before it starts; that is
	// not a conflict to resolve.
	testsupport.WriteFile(t, filepath.Join(repo, "other.txt"), "untracked, in the way\n")
	if _, err := r.Merge(ctx, repo, other, "m", nil); err == nil || errors.As(err, &ce) {
		t.Errorf("Merge over an untracked file = %v, want a plain error", err)
	}
	if in, _ := r.MergeInProgress(ctx, repo); in {
		t.Error("a refused merge left a merge in progress")
	}
	if got, _ := os.ReadFile(filepath.Join(repo, "other.txt")); string(got) != "untracked, in the way\n" {
		t.Errorf("the untracked file was overwritten: %q", got)
	}
}

func TestSync(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	leader := linked(t, repo, "teamctl/t/lead/work")
	alice := linked(t, repo, "teamctl/t/alice/work")
	hooks(t, repo)
	merged := testsupport.Commit(t, leader, "merged work", map[string]string{"l.txt": "l\n"})

	// alice has no commits of her own: a fast-forward, no merge commit.
	if err := r.Sync(ctx, alice, "teamctl/t/lead/work", nil); err != nil {
		t.Fatalf("Sync (fast-forward): %v", err)
	}
	if got := testsupport.Git(t, alice, "rev-parse", "HEAD"); got != merged {
		t.Errorf("after a fast-forward Sync HEAD = %s, want %s", got, merged)
	}

	// Both moved on, in different files: a merge commit with both parents.
	own := testsupport.Commit(t, alice, "alice's work", map[string]string{"a.txt": "a\n"})
	more := testsupport.Commit(t, leader, "more merged work", map[string]string{"m.txt": "m\n"})
	env := []string{"GIT_AUTHOR_NAME=alice", "GIT_COMMITTER_NAME=alice"}
	if err := r.Sync(ctx, alice, "teamctl/t/lead/work", env); err != nil {
		t.Fatalf("Sync (merge): %v", err)
	}
	if got := testsupport.Git(t, alice, "log", "-1", "--format=%P|%an|%s"); got != own+" "+more+"|alice|Merge branch 'teamctl/t/lead/work' into teamctl/t/alice/work" {
		t.Errorf("sync merge = %s", got)
	}
	for _, f := range []string{"a.txt", "l.txt", "m.txt"} {
		if _, err := os.Stat(filepath.Join(alice, f)); err != nil {
			t.Errorf("%s missing after Sync: %v", f, err)
		}
	}
	// Up to date: nothing happens.
	head := testsupport.Git(t, alice, "rev-parse", "HEAD")
	if err := r.Sync(ctx, alice, "teamctl/t/lead/work", nil); err != nil {
		t.Fatal(err)
	}
	if got := testsupport.Git(t, alice, "rev-parse", "HEAD"); got != head {
		t.Errorf("Sync when up to date moved HEAD to %s", got)
	}

	// Both changed the same line: the conflict is left in progress for the agent.
	testsupport.Commit(t, alice, "alice edits", map[string]string{"l.txt": "alice\n"})
	testsupport.Commit(t, leader, "leader edits", map[string]string{"l.txt": "leader\n"})
	var ce *worktree.ConflictError
	if err := r.Sync(ctx, alice, "teamctl/t/lead/work", nil); !errors.As(err, &ce) || !reflect.DeepEqual(ce.Files, []string{"l.txt"}) {
		t.Fatalf("Sync of a conflict = %v, want a *ConflictError on l.txt", err)
	}
	if in, _ := r.MergeInProgress(ctx, alice); !in {
		t.Error("the conflicting Sync left no merge in progress")
	}
}

func TestMergeTree(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	base := testsupport.Commit(t, repo, "base", map[string]string{"shared.txt": "one\ntwo\nthree\n", "doomed.txt": "d\n"})
	branch := func(name string, files map[string]string, remove ...string) string {
		testsupport.Git(t, repo, "checkout", "-q", "-b", name, base)
		for _, f := range remove {
			testsupport.Git(t, repo, "rm", "-q", f)
		}
		return testsupport.Commit(t, repo, name, files)
	}
	a := branch("a", map[string]string{"shared.txt": "one\nTWO by a\nthree\n", "a.txt": "a\n", "doomed.txt": "changed\n"})
	branch("b", map[string]string{"shared.txt": "one\nTWO by b\nthree\n", "b file.txt": "b\n"}, "doomed.txt")
	c := branch("c", map[string]string{"c.txt": "c\n"})
	testsupport.Git(t, repo, "checkout", "-q", "main")
	r := open(t, repo)

	// Each branch alone is clean against base: the tree is the branch's own.
	for _, rev := range []string{"a", "b"} {
		tree, conflicts, err := r.MergeTree(ctx, base, rev)
		if err != nil || conflicts != nil {
			t.Fatalf("MergeTree(base, %s) = %q, %q, %v", rev, tree, conflicts, err)
		}
		if want := testsupport.Git(t, repo, "rev-parse", rev+"^{tree}"); tree != want {
			t.Errorf("MergeTree(base, %s) tree = %s, want %s", rev, tree, want)
		}
	}
	// a and c touch different files: a clean tree holding both.
	tree, conflicts, err := r.MergeTree(ctx, a, c)
	if err != nil || conflicts != nil || tree == "" {
		t.Fatalf("MergeTree(a, c) = %q, %q, %v", tree, conflicts, err)
	}
	if got := testsupport.Git(t, repo, "ls-tree", "--name-only", tree); got != "README.md\na.txt\nc.txt\ndoomed.txt\nshared.txt" {
		t.Errorf("merged tree holds:\n%s", got)
	}
	if testsupport.Git(t, repo, "rev-parse", "HEAD") != base || testsupport.Git(t, repo, "status", "--porcelain") != "" {
		t.Error("MergeTree touched the main worktree")
	}
	// a and b conflict with each other, in a content conflict and a modify/delete.
	tree, conflicts, err = r.MergeTree(ctx, a, "b")
	if err != nil {
		t.Fatalf("MergeTree(a, b): %v", err)
	}
	sort.Strings(conflicts)
	if want := []string{"doomed.txt", "shared.txt"}; tree != "" || !reflect.DeepEqual(conflicts, want) {
		t.Errorf("MergeTree(a, b) = %q, %q; want no tree and %q", tree, conflicts, want)
	}
	if _, _, err := r.MergeTree(ctx, a, "no-such-branch"); err == nil {
		t.Error("MergeTree with a missing branch succeeded")
	}
}
