package worktree_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/worktree"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

var ctx = context.Background()

// open opens the repository holding dir with the real git runner.
func open(t *testing.T, dir string) *worktree.Repo {
	t.Helper()
	r, err := worktree.Open(ctx, worktree.ExecRunner{}, dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return r
}

// linked adds a linked worktree of repo on a new branch and returns its path.
func linked(t *testing.T, repo, branch string) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(repo), "wt-"+strings.ReplaceAll(branch, "/", "-"))
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", branch, path)
	return path
}

func TestOpen(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	testsupport.WriteFile(t, filepath.Join(repo, "a", "b", "file.txt"), "x\n")
	wt := linked(t, repo, "feature")
	testsupport.WriteFile(t, filepath.Join(wt, "sub", "file.txt"), "x\n")
	cases := []struct{ name, dir string }{
		{"main worktree", repo},
		{"subdirectory of the main worktree", filepath.Join(repo, "a", "b")},
		{"linked worktree", wt},
		{"subdirectory of a linked worktree", filepath.Join(wt, "sub")},
		{"git common dir", filepath.Join(repo, ".git")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := open(t, c.dir)
			if r.Root != repo {
				t.Errorf("Root = %s, want the main worktree %s", r.Root, repo)
			}
			if want := filepath.Join(repo, ".git"); r.CommonDir != want || !filepath.IsAbs(r.CommonDir) {
				t.Errorf("CommonDir = %s, want %s", r.CommonDir, want)
			}
		})
	}
}

// A repository reached through a symlink, and one whose git dir lives elsewhere
// (git init --separate-git-dir, as submodules and some tools make them).
func TestOpenIndirect(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(repo, link); err != nil {
		t.Fatal(err)
	}
	if r := open(t, link); r.Root != repo || r.CommonDir != filepath.Join(repo, ".git") {
		t.Errorf("through a symlink: Root %s, CommonDir %s", r.Root, r.CommonDir)
	}

	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sep, gitdir := filepath.Join(tmp, "sep"), filepath.Join(tmp, "gitdir")
	testsupport.Git(t, tmp, "init", "-q", "-b", "main", "--separate-git-dir="+gitdir, sep)
	head := testsupport.Commit(t, sep, "first", map[string]string{"f.txt": "f\n"})
	r := open(t, sep)
	if r.Root != sep || r.CommonDir != gitdir {
		t.Errorf("separate git dir: Root %s, CommonDir %s; want %s, %s", r.Root, r.CommonDir, sep, gitdir)
	}
	if got, err := r.Resolve(ctx, "main"); err != nil || got != head {
		t.Errorf("separate git dir: Resolve(main) = %s, %v; want %s", got, err, head)
	}
	wt := filepath.Join(tmp, "wt")
	if err := r.CreateBranch(ctx, "b", "main"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddWorktree(ctx, wt, "b"); err != nil {
		t.Fatal(err)
	}
	// The main worktree, where main is checked out, is found to fast-forward it. (Opened
	// from a linked worktree, nothing points back at the main worktree: git itself then
	// names the git dir.)
	tip := testsupport.Commit(t, wt, "on b", map[string]string{"b.txt": "b\n"})
	if got, _ := r.Worktrees(ctx); len(got) != 2 || got[0].Path != sep || got[0].Branch != "main" {
		t.Errorf("separate git dir: Worktrees = %+v", got)
	}
	if err := r.FastForward(ctx, "main", tip); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sep, "b.txt")); err != nil {
		t.Errorf("the main worktree was not fast-forwarded: %v", err)
	}
}

func TestOpenRelativePath(t *testing.T) {
	// Not parallel: it changes the working directory of the process.
	repo := testsupport.NewRepo(t)
	t.Chdir(repo)
	r := open(t, ".")
	if r.Root != repo {
		t.Errorf("Root = %s, want %s", r.Root, repo)
	}
}

func TestOpenNotRepo(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	bare := filepath.Join(tmp, "bare.git")
	testsupport.Git(t, tmp, "init", "-q", "--bare", bare)
	file := filepath.Join(tmp, "file")
	testsupport.WriteFile(t, file, "x")
	cases := []struct{ name, dir string }{
		{"plain directory", tmp},
		{"missing directory", filepath.Join(tmp, "missing")},
		{"a file", file},
		{"bare repository", bare},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, err := worktree.Open(ctx, worktree.ExecRunner{}, c.dir)
			if !errors.Is(err, worktree.ErrNotRepo) {
				t.Fatalf("Open(%s) = %+v, %v; want ErrNotRepo", c.dir, r, err)
			}
			if !strings.Contains(err.Error(), c.dir) {
				t.Errorf("error %q does not name %s", err, c.dir)
			}
		})
	}
}

func TestInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := worktree.Init(ctx, worktree.ExecRunner{}, dir, "trunk"); err != nil {
		t.Fatal(err)
	}
	r := open(t, dir)
	if b, err := r.CurrentBranch(ctx); err != nil || b != "trunk" {
		t.Errorf("CurrentBranch = %q, %v; want trunk", b, err)
	}
	// The first commit of a repository with no HEAD yet (what `teamctl demo` does).
	testsupport.WriteFile(t, filepath.Join(dir, "f.txt"), "x\n")
	hash, err := r.CommitAll(ctx, dir, "first", nil)
	if err != nil {
		t.Fatalf("CommitAll on an unborn branch: %v", err)
	}
	if got, err := r.Resolve(ctx, "trunk"); err != nil || got != hash {
		t.Errorf("Resolve(trunk) = %s, %v; want %s", got, err, hash)
	}
}

func TestCurrentBranch(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	if b, err := r.CurrentBranch(ctx); err != nil || b != "main" {
		t.Fatalf("CurrentBranch = %q, %v; want main", b, err)
	}
	testsupport.Git(t, repo, "checkout", "-q", "-b", "topic/with-slash")
	if b, err := r.CurrentBranch(ctx); err != nil || b != "topic/with-slash" {
		t.Fatalf("CurrentBranch = %q, %v; want topic/with-slash", b, err)
	}
	testsupport.Git(t, repo, "checkout", "-q", "--detach")
	if b, err := r.CurrentBranch(ctx); err != nil || b != "" {
		t.Fatalf("detached: CurrentBranch = %q, %v; want \"\"", b, err)
	}
	// It is the main worktree's branch, whichever worktree the repo was opened from.
	wt := linked(t, repo, "elsewhere")
	if b, err := open(t, wt).CurrentBranch(ctx); err != nil || b != "" {
		t.Fatalf("opened from a linked worktree: CurrentBranch = %q, %v; want the main worktree's (detached)", b, err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	first := testsupport.Git(t, repo, "rev-parse", "HEAD")
	second := testsupport.Commit(t, repo, "second", map[string]string{"b.txt": "b\n"})
	testsupport.Git(t, repo, "tag", "light", first)
	testsupport.Git(t, repo, "tag", "-a", "-m", "annotated", "v1", first)
	// A tag named like a branch: the branch wins, as in `git rev-parse`.
	testsupport.Git(t, repo, "branch", "dup", second)
	testsupport.Git(t, repo, "tag", "dup", first)
	tree := testsupport.Git(t, repo, "rev-parse", "HEAD^{tree}")
	r := open(t, repo)
	cases := []struct{ rev, want string }{
		{"main", second},
		{"HEAD", second},
		{"refs/heads/main", second},
		{second, second},
		{second[:12], second},
		{"main~1", first},
		{"light", first},
		{"v1", first},
		{"dup", second},
	}
	for _, c := range cases {
		t.Run(c.rev, func(t *testing.T) {
			t.Parallel()
			got, err := r.Resolve(ctx, c.rev)
			if err != nil || got != c.want {
				t.Errorf("Resolve(%s) = %s, %v; want %s", c.rev, got, err, c.want)
			}
		})
	}
	for _, rev := range []string{"nope", "feature/missing", strings.Repeat("0", 40), tree} {
		t.Run("missing "+rev, func(t *testing.T) {
			t.Parallel()
			if got, err := r.Resolve(ctx, rev); !errors.Is(err, worktree.ErrNoRef) {
				t.Errorf("Resolve(%s) = %s, %v; want ErrNoRef", rev, got, err)
			}
		})
	}
}

func TestBranches(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	first := testsupport.Git(t, repo, "rev-parse", "HEAD")
	testsupport.Commit(t, repo, "second", map[string]string{"b.txt": "b\n"})
	r := open(t, repo)

	if ok, err := r.BranchExists(ctx, "teamctl/t/alice/work"); err != nil || ok {
		t.Fatalf("BranchExists before CreateBranch = %v, %v", ok, err)
	}
	if err := r.CreateBranch(ctx, "teamctl/t/alice/work", first); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.BranchExists(ctx, "teamctl/t/alice/work"); err != nil || !ok {
		t.Fatalf("BranchExists after CreateBranch = %v, %v", ok, err)
	}
	if got, _ := r.Resolve(ctx, "teamctl/t/alice/work"); got != first {
		t.Errorf("new branch at %s, want %s", got, first)
	}
	if err := r.CreateBranch(ctx, "teamctl/t/alice/work", "main"); err == nil {
		t.Error("CreateBranch of an existing branch succeeded")
	} else if got, _ := r.Resolve(ctx, "teamctl/t/alice/work"); got != first {
		t.Errorf("a refused CreateBranch moved the branch to %s", got)
	}
	if err := r.CreateBranch(ctx, "other", "no-such-rev"); err == nil {
		t.Error("CreateBranch from a missing rev succeeded")
	}
	// The branch is not tracking anything: `git pull` there must not surprise anyone.
	if out, err := (worktree.ExecRunner{}).Run(ctx, repo, nil, "git", "config", "branch.teamctl/t/alice.merge"); err == nil {
		t.Errorf("the new branch tracks %s", out)
	}

	if err := r.DeleteBranch(ctx, "teamctl/t/alice/work"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.BranchExists(ctx, "teamctl/t/alice/work"); ok {
		t.Error("branch still exists after DeleteBranch")
	}
	if err := r.DeleteBranch(ctx, "teamctl/t/alice/work"); err != nil {
		t.Errorf("DeleteBranch of a missing branch: %v", err)
	}
	// An unmerged branch is deleted all the same (force): clean removes the team's branches.
	testsupport.Git(t, repo, "branch", "unmerged", first)
	wt := linked(t, repo, "side")
	testsupport.Commit(t, wt, "side work", map[string]string{"side.txt": "s\n"})
	testsupport.Git(t, wt, "checkout", "-q", "--detach")
	if err := r.DeleteBranch(ctx, "side"); err != nil {
		t.Errorf("DeleteBranch of an unmerged branch: %v", err)
	}
	// The branch checked out in the main worktree cannot go.
	if err := r.DeleteBranch(ctx, "main"); err == nil {
		t.Error("DeleteBranch of the checked-out branch succeeded")
	}
}

func TestWorktrees(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	head := testsupport.Git(t, repo, "rev-parse", "HEAD")
	root := filepath.Join(filepath.Dir(repo), "repo.teamctl", "t")
	alice := filepath.Join(root, "alice")        // parent dirs do not exist yet
	bob := filepath.Join(root, "bob with space") // a space survives -z
	for _, b := range []struct{ branch, path string }{{"teamctl/t/alice/work", alice}, {"teamctl/t/bob/work", bob}} {
		if err := r.CreateBranch(ctx, b.branch, "main"); err != nil {
			t.Fatal(err)
		}
		if err := r.AddWorktree(ctx, b.path, b.branch); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(alice, "README.md")); err != nil {
		t.Fatalf("the new worktree has no files: %v", err)
	}
	want := []worktree.Worktree{
		{Path: repo, Head: head, Branch: "main"},
		{Path: alice, Head: head, Branch: "teamctl/t/alice/work"},
		{Path: bob, Head: head, Branch: "teamctl/t/bob/work"},
	}
	got, err := r.Worktrees(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Worktrees = %+v, %v\nwant %+v", got, err, want)
	}
	// A branch checked out elsewhere cannot be added twice.
	if err := r.AddWorktree(ctx, filepath.Join(root, "again"), "teamctl/t/alice/work"); err == nil {
		t.Error("AddWorktree of a branch checked out elsewhere succeeded")
	}
	// A detached worktree lists no branch.
	testsupport.Git(t, bob, "checkout", "-q", "--detach")
	got, _ = r.Worktrees(ctx)
	if got[2].Branch != "" || got[2].Head != head {
		t.Errorf("detached worktree listed as %+v", got[2])
	}

	// RemoveWorktree removes the directory and git's record, even with uncommitted work
	// (callers check for that first); the branch stays.
	testsupport.WriteFile(t, filepath.Join(alice, "dirty.txt"), "uncommitted")
	if err := r.RemoveWorktree(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(alice); !os.IsNotExist(err) {
		t.Errorf("worktree directory still there: %v", err)
	}
	if ok, _ := r.BranchExists(ctx, "teamctl/t/alice/work"); !ok {
		t.Error("RemoveWorktree deleted the branch")
	}
	if got, _ := r.Worktrees(ctx); len(got) != 2 || got[1].Path != bob {
		t.Errorf("Worktrees after remove = %+v", got)
	}
	// Removing it again is not an error.
	if err := r.RemoveWorktree(ctx, alice); err != nil {
		t.Errorf("RemoveWorktree of a removed worktree: %v", err)
	}
	// The branch can be checked out again at the same path.
	if err := r.AddWorktree(ctx, alice, "teamctl/t/alice/work"); err != nil {
		t.Errorf("AddWorktree after RemoveWorktree: %v", err)
	}
}

func TestRemoveWorktreeLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	plain := filepath.Join(t.TempDir(), "not-a-worktree")
	testsupport.WriteFile(t, filepath.Join(plain, "precious.txt"), "mine")
	if err := r.RemoveWorktree(ctx, plain); err != nil {
		t.Fatalf("RemoveWorktree of a plain directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(plain, "precious.txt")); err != nil {
		t.Errorf("RemoveWorktree deleted a directory git does not list: %v", err)
	}
	// Nor is the main worktree ever removed.
	if err := r.RemoveWorktree(ctx, repo); err != nil {
		t.Fatalf("RemoveWorktree of the main worktree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(repo, "README.md")); err != nil {
		t.Errorf("RemoveWorktree touched the main worktree: %v", err)
	}
	if err := r.RemoveWorktree(ctx, filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("RemoveWorktree of a missing path: %v", err)
	}
}

func TestRemoveWorktreeLockedAndThroughSymlink(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	wt := linked(t, repo, "locked")
	testsupport.Git(t, repo, "worktree", "lock", "--reason", "on a stick", wt)
	// The caller names the worktree through a symlink to its parent.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Dir(wt), link); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveWorktree(ctx, filepath.Join(link, filepath.Base(wt))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(wt); !os.IsNotExist(err) {
		t.Errorf("locked worktree still there: %v", err)
	}
	if got, _ := r.Worktrees(ctx); len(got) != 1 {
		t.Errorf("Worktrees = %+v, want only the main one", got)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	wt := linked(t, repo, "gone")
	keep := linked(t, repo, "kept")
	if err := os.RemoveAll(wt); err != nil { // deleted by hand, behind git's back
		t.Fatal(err)
	}
	got, err := r.Worktrees(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Path != wt || !got[1].Prunable || got[1].Branch != "gone" || got[2].Prunable {
		t.Fatalf("Worktrees = %+v, want %s prunable and %s not", got, wt, keep)
	}
	if err := r.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Worktrees(ctx)
	if len(got) != 2 || got[1].Path != keep {
		t.Fatalf("Worktrees after Prune = %+v", got)
	}
	// The branch is free again: it can get a new worktree.
	if err := r.AddWorktree(ctx, wt, "gone"); err != nil {
		t.Errorf("AddWorktree after Prune: %v", err)
	}
	// RemoveWorktree of one deleted by hand prunes it, and its branch can then be deleted.
	if err := os.RemoveAll(keep); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveWorktree(ctx, keep); err != nil {
		t.Fatalf("RemoveWorktree of a worktree deleted by hand: %v", err)
	}
	if got, _ := r.Worktrees(ctx); len(got) != 2 || got[1].Path != wt {
		t.Errorf("Worktrees = %+v", got)
	}
	if err := r.DeleteBranch(ctx, "kept"); err != nil {
		t.Errorf("DeleteBranch after its worktree was removed: %v", err)
	}
}

func TestDetachAndCheckout(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	r := open(t, repo)
	wt := linked(t, repo, "topic")
	head := testsupport.Commit(t, wt, "topic work", map[string]string{"t.txt": "t\n"})
	if err := r.Detach(ctx, wt); err != nil {
		t.Fatal(err)
	}
	if b := testsupport.Git(t, wt, "rev-parse", "--abbrev-ref", "HEAD"); b != "HEAD" {
		t.Errorf("after Detach HEAD is %s, want detached", b)
	}
	testsupport.Commit(t, wt, "detached work", nil)
	if got, _ := r.Resolve(ctx, "topic"); got != head {
		t.Errorf("a commit on the detached HEAD moved the branch to %s", got)
	}
	testsupport.Git(t, wt, "reset", "-q", "--hard", head)
	if err := r.Checkout(ctx, wt, "topic"); err != nil {
		t.Fatal(err)
	}
	if b := testsupport.Git(t, wt, "rev-parse", "--abbrev-ref", "HEAD"); b != "topic" {
		t.Errorf("after Checkout HEAD is %s, want topic", b)
	}
	// A branch named like a file is checked out as the branch, not the file.
	testsupport.Git(t, wt, "branch", "README.md")
	if err := r.Checkout(ctx, wt, "README.md"); err != nil {
		t.Fatalf("Checkout of a branch named like a file: %v", err)
	}
	if err := r.Checkout(ctx, wt, "main"); err == nil {
		t.Error("Checkout of a branch checked out in another worktree succeeded")
	}
}

// Listing worktrees while others are added: `git worktree add` holds an "initializing" lock
// file for a moment, and git fails a listing that sees it go. Worktrees looks again.
func TestWorktreesWhileOthersAreAdded(t *testing.T) {
	t.Parallel()
	dir := testsupport.NewRepo(t)
	r := open(t, dir)
	ctx := t.Context()
	stop := make(chan struct{})
	added := make(chan error, 1)
	go func() {
		defer close(added)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wt := filepath.Join(t.TempDir(), "wt")
			br := fmt.Sprintf("b%d", i)
			if err := r.CreateBranch(ctx, br, "main"); err != nil {
				added <- err
				return
			}
			if err := r.AddWorktree(ctx, wt, br); err != nil {
				added <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := r.Worktrees(ctx); err != nil {
					errs <- fmt.Errorf("listing %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
}

// A worktree whose `git worktree add` was killed before the index was written has its
// checkout finished; one that has an index is left as it is.
func TestCompleteCheckout(t *testing.T) {
	t.Parallel()
	repo, wt := featureWithSrc(t)
	r := open(t, repo)
	if done, err := r.CompleteCheckout(ctx, wt, "feature"); err != nil || done {
		t.Fatalf("a whole worktree: %v, %v; want left alone", done, err)
	}
	// As a killed add leaves it: no index, files missing, and an untracked one of someone's.
	cutOff(t, wt)
	testsupport.WriteFile(t, filepath.Join(wt, "notes.txt"), "mine\n")
	if done, err := r.CompleteCheckout(ctx, wt, "feature"); err != nil || !done {
		t.Fatalf("a cut-off checkout: %v, %v; want it finished", done, err)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "src", "a.txt")); err != nil || string(b) != "a\n" {
		t.Errorf("src/a.txt after: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "notes.txt")); err != nil || string(b) != "mine\n" {
		t.Errorf("an untracked file was touched: %q, %v", b, err)
	}
	if st := testsupport.Git(t, wt, "status", "--porcelain"); st != "?? notes.txt" {
		t.Errorf("status after: %q", st)
	}
}

// `git worktree add` killed before it pointed HEAD at the branch leaves HEAD holding the
// all-zero placeholder it writes first, and no index: the checkout is finished on the branch.
func TestCompleteCheckoutOfAPlaceholderHEAD(t *testing.T) {
	t.Parallel()
	repo, wt := featureWithSrc(t)
	admin := cutOff(t, wt)
	testsupport.WriteFile(t, filepath.Join(admin, "HEAD"), strings.Repeat("0", 40)+"\n")
	if done, err := open(t, repo).CompleteCheckout(ctx, wt, "feature"); err != nil || !done {
		t.Fatalf("a cut-off add: %v, %v; want it finished", done, err)
	}
	if b := testsupport.Git(t, wt, "symbolic-ref", "HEAD"); b != "refs/heads/feature" {
		t.Errorf("HEAD after: %q, want refs/heads/feature", b)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "src", "a.txt")); err != nil || string(b) != "a\n" {
		t.Errorf("src/a.txt after: %q, %v", b, err)
	}
	if st := testsupport.Git(t, wt, "status", "--porcelain"); st != "" {
		t.Errorf("status after: %q", st)
	}
}

// featureWithSrc is a repository with src/a.txt committed on main and a linked worktree
// on branch feature.
func featureWithSrc(t *testing.T) (repo, wt string) {
	repo = testsupport.NewRepo(t)
	testsupport.WriteFile(t, filepath.Join(repo, "src", "a.txt"), "a\n")
	testsupport.Git(t, repo, "add", "-A")
	testsupport.Git(t, repo, "commit", "-qm", "a")
	return repo, linked(t, repo, "feature")
}

// cutOff leaves wt as a killed `git worktree add` does: no index, the files missing. It
// returns wt's admin dir.
func cutOff(t *testing.T, wt string) string {
	admin := strings.TrimSpace(testsupport.Git(t, wt, "rev-parse", "--absolute-git-dir"))
	for _, p := range []string{filepath.Join(admin, "index"), filepath.Join(wt, "src")} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	return admin
}

// The locks a git killed half-way leaves in a worktree (its index, HEAD, a pseudo-ref such as
// ORIG_HEAD that a reset or merge writes, its branch) are removed, and git works there again.
func TestRemoveStaleLocks(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	wt := linked(t, repo, "feature")
	r := open(t, repo)
	admin := strings.TrimSpace(testsupport.Git(t, wt, "rev-parse", "--absolute-git-dir"))
	locks := []string{
		filepath.Join(admin, "index.lock"), filepath.Join(admin, "HEAD.lock"), filepath.Join(admin, "ORIG_HEAD.lock"),
		filepath.Join(r.CommonDir, "refs", "heads", "feature.lock"),
	}
	for _, p := range locks {
		testsupport.WriteFile(t, p, "")
	}
	removed, err := r.RemoveStaleLocks(wt, "feature")
	if err != nil || len(removed) != len(locks) {
		t.Fatalf("removed %v, %v; want all of %v", removed, err, locks)
	}
	testsupport.Git(t, wt, "commit", "-q", "--allow-empty", "-m", "after")
	testsupport.Git(t, wt, "reset", "-q", "--hard", "HEAD~1") // writes ORIG_HEAD
}

// TestResolveBranches: the tips of the named branches in one go; a missing one is left
// out, and a name is not taken for the directory of others (teamctl/t/a is not
// teamctl/t/a/work).
func TestResolveBranches(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	testsupport.Git(t, repo, "commit", "-q", "--allow-empty", "-m", "one")
	testsupport.Git(t, repo, "branch", "teamctl/t/a/work")
	testsupport.Git(t, repo, "commit", "-q", "--allow-empty", "-m", "two")
	testsupport.Git(t, repo, "branch", "teamctl/t/b/work")
	r := open(t, repo)
	got, err := r.ResolveBranches(context.Background(), []string{"teamctl/t/a/work", "teamctl/t/b/work", "teamctl/t/gone/work", "teamctl/t/a"})
	if err != nil {
		t.Fatal(err)
	}
	a := testsupport.Git(t, repo, "rev-parse", "HEAD~1")
	b := testsupport.Git(t, repo, "rev-parse", "HEAD")
	if len(got) != 2 || got["teamctl/t/a/work"] != a || got["teamctl/t/b/work"] != b {
		t.Errorf("ResolveBranches = %v, want a at %s and b at %s only", got, a, b)
	}
}

// Snapshot saves changed, deleted and untracked files (not ignored ones) as a commit on HEAD
// and leaves the worktree, its index and its branch as they were.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	repo, wt := featureWithSrc(t)
	testsupport.WriteFile(t, filepath.Join(wt, ".gitignore"), "*.log\n")
	testsupport.WriteFile(t, filepath.Join(wt, "keep.txt"), "k\n")
	testsupport.Git(t, wt, "add", "-A")
	testsupport.Git(t, wt, "commit", "-qm", "more")
	head := testsupport.Git(t, wt, "rev-parse", "HEAD")
	testsupport.WriteFile(t, filepath.Join(wt, "src", "a.txt"), "changed\n")
	testsupport.WriteFile(t, filepath.Join(wt, "new.txt"), "new\n")
	testsupport.WriteFile(t, filepath.Join(wt, "build.log"), "ignored\n")
	testsupport.Git(t, wt, "add", "new.txt") // staged, to see the index untouched after
	if err := os.Remove(filepath.Join(wt, "keep.txt")); err != nil {
		t.Fatal(err)
	}
	before := testsupport.Git(t, wt, "status", "--porcelain")
	hash, err := open(t, repo).Snapshot(ctx, wt, "saved", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := testsupport.Git(t, wt, "status", "--porcelain"); got != before {
		t.Errorf("status after: %q, before %q", got, before)
	}
	if got := testsupport.Git(t, wt, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved to %s", got)
	}
	if p := testsupport.Git(t, repo, "rev-parse", hash+"^"); p != head {
		t.Errorf("snapshot's parent %s, want HEAD %s", p, head)
	}
	files := testsupport.Git(t, repo, "ls-tree", "-r", "--name-only", hash)
	if files != ".gitignore\nREADME.md\nnew.txt\nsrc/a.txt" { // keep.txt deleted, build.log ignored
		t.Errorf("snapshot holds %q", files)
	}
	if got := testsupport.Git(t, repo, "show", hash+":src/a.txt"); got != "changed" {
		t.Errorf("src/a.txt in the snapshot: %q", got)
	}
}
