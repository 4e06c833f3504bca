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

// diverged makes a repository where main and "topic" each have commits since base.
func diverged(t *testing.T) (repo, base string) {
	t.Helper()
	repo = testsupport.NewRepo(t)
	base = testsupport.Git(t, repo, "rev-parse", "HEAD")
	testsupport.Git(t, repo, "checkout", "-q", "-b", "topic")
	testsupport.Commit(t, repo, "topic 1", map[string]string{"t1.txt": "1\n"})
	testsupport.Commit(t, repo, "topic 2", map[string]string{"t2.txt": "2\n"})
	testsupport.Git(t, repo, "checkout", "-q", "main")
	testsupport.Commit(t, repo, "main 1", map[string]string{"m1.txt": "1\n"})
	return repo, base
}

func TestIsAncestor(t *testing.T) {
	t.Parallel()
	repo, base := diverged(t)
	testsupport.Git(t, repo, "checkout", "-q", "--orphan", "unrelated")
	testsupport.Commit(t, repo, "unrelated root", nil)
	testsupport.Git(t, repo, "checkout", "-q", "main")
	r := open(t, repo)
	cases := []struct {
		a, b string
		want bool
	}{
		{base, "topic", true},
		{base, "main", true},
		{"topic~1", "topic", true},
		{"topic", base, false},
		{"main", "topic", false},
		{"topic", "main", false},
		{"main", "main", true},
		{base, "unrelated", false},
		{"unrelated", "main", false},
	}
	for _, c := range cases {
		t.Run(c.a+" "+c.b, func(t *testing.T) {
			t.Parallel()
			if got, err := r.IsAncestor(ctx, c.a, c.b); err != nil || got != c.want {
				t.Errorf("IsAncestor(%s, %s) = %v, %v; want %v", c.a, c.b, got, err, c.want)
			}
		})
	}
	if _, err := r.IsAncestor(ctx, "nope", "main"); !errors.Is(err, worktree.ErrNoRef) {
		t.Errorf("IsAncestor of a missing rev: %v, want ErrNoRef", err)
	}
}

func TestAheadBehind(t *testing.T) {
	t.Parallel()
	repo, base := diverged(t)
	r := open(t, repo)
	cases := []struct {
		a, b          string
		ahead, behind int
	}{
		{"main", "topic", 2, 1},
		{"topic", "main", 1, 2},
		{base, "topic", 2, 0},
		{"topic", base, 0, 2},
		{"topic", "topic", 0, 0},
	}
	for _, c := range cases {
		ahead, behind, err := r.AheadBehind(ctx, c.a, c.b)
		if err != nil || ahead != c.ahead || behind != c.behind {
			t.Errorf("AheadBehind(%s, %s) = %d, %d, %v; want %d, %d", c.a, c.b, ahead, behind, err, c.ahead, c.behind)
		}
	}
	if _, _, err := r.AheadBehind(ctx, "main", "nope"); err == nil {
		t.Error("AheadBehind with a missing rev succeeded")
	}
}

func TestCommits(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	base := testsupport.Git(t, repo, "rev-parse", "HEAD")
	first := testsupport.Commit(t, repo, "first: one line", map[string]string{"a.txt": "a\n"})
	body := "Subject of the second\n\nA body\nover lines,\n\n\nwith blank ones.\n\nTeamctl-Task: x"
	second := testsupport.Commit(t, repo, body, map[string]string{"b.txt": "b\n"})
	testsupport.Git(t, repo, "-c", "user.name=ignored", "commit", "-q", "--allow-empty", "--author=Zoë Ünï <zoe@example.invalid>", "-m", "by someone else")
	third := testsupport.Git(t, repo, "rev-parse", "HEAD")
	r := open(t, repo)

	got, err := r.Commits(ctx, base, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Commits = %+v, want 3", got)
	}
	for i, c := range []struct{ hash, subject, body, author, email, parent string }{
		{third, "by someone else", "", "Zoë Ünï", "zoe@example.invalid", second},
		{second, "Subject of the second", "A body\nover lines,\n\nwith blank ones.\n\nTeamctl-Task: x", "owner", "owner@example.invalid", first},
		{first, "first: one line", "", "owner", "owner@example.invalid", base},
	} {
		g := got[i]
		if g.Hash != c.hash || g.Subject != c.subject || g.Body != c.body || g.Author != c.author || g.Email != c.email ||
			!reflect.DeepEqual(g.Parents, []string{c.parent}) || g.When.IsZero() {
			t.Errorf("commit %d = %+v\nwant %+v", i, g, c)
		}
	}
	if got, err := r.Commits(ctx, "main", "main"); err != nil || len(got) != 0 {
		t.Errorf("Commits(main..main) = %+v, %v", got, err)
	}
	if _, err := r.Commits(ctx, base, "nope"); err == nil {
		t.Error("Commits to a missing rev succeeded")
	}

	// A merge commit lists both parents.
	testsupport.Git(t, repo, "checkout", "-q", "-b", "side", base)
	side := testsupport.Commit(t, repo, "side", map[string]string{"s.txt": "s\n"})
	testsupport.Git(t, repo, "checkout", "-q", "main")
	testsupport.Git(t, repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
	got, _ = r.Commits(ctx, third, "main")
	if len(got) != 2 || got[0].Subject != "merge side" || !reflect.DeepEqual(got[0].Parents, []string{third, side}) {
		t.Errorf("Commits over a merge = %+v", got)
	}
}

func TestChangedFiles(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	base := testsupport.Commit(t, repo, "base", map[string]string{"src/moved.txt": "a file long enough to be seen as renamed\n", "keep.txt": "k\n"})
	testsupport.Git(t, repo, "checkout", "-q", "-b", "agent")
	if err := os.Mkdir(filepath.Join(repo, "elsewhere"), 0o755); err != nil { // git mv wants it
		t.Fatal(err)
	}
	testsupport.Git(t, repo, "mv", "src/moved.txt", "elsewhere/moved.txt")
	testsupport.Commit(t, repo, "agent", map[string]string{"src/new file.txt": "n\n", "ünï.txt": "u\n", "README.md": "changed\n"})
	testsupport.Git(t, repo, "checkout", "-q", "main")
	// What main did since is not the agent's change (three dots: from the merge base).
	testsupport.Commit(t, repo, "main moves on", map[string]string{"keep.txt": "changed on main\n", "main.txt": "m\n"})
	r := open(t, repo)

	got, err := r.ChangedFiles(ctx, "main", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	// A rename counts as both paths: moving a file out of a directory changes that directory.
	want := []string{"README.md", "elsewhere/moved.txt", "src/moved.txt", "src/new file.txt", "ünï.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ChangedFiles = %q, want %q", got, want)
	}
	if got, err := r.ChangedFiles(ctx, "agent", base); err != nil || len(got) != 0 {
		t.Errorf("ChangedFiles(agent, base) = %q, %v; want none", got, err)
	}
	if _, err := r.ChangedFiles(ctx, "main", "nope"); err == nil {
		t.Error("ChangedFiles with a missing rev succeeded")
	}
}

func TestDiffStat(t *testing.T) {
	t.Parallel()
	repo := testsupport.NewRepo(t)
	base := testsupport.Commit(t, repo, "base", map[string]string{"text.txt": "one\ntwo\nthree\n", "gone.txt": "a\nb\n"})
	testsupport.Git(t, repo, "checkout", "-q", "-b", "agent")
	testsupport.Git(t, repo, "rm", "-q", "gone.txt")
	testsupport.Commit(t, repo, "agent", map[string]string{
		"text.txt":       "one\nTWO\nthree\nfour\nfive\n",
		"image.bin":      "\x00\x01\x02binary\x00",
		"with space.txt": "s\n",
	})
	r := open(t, repo)
	got, err := r.DiffStat(ctx, base, "agent")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got.Files, func(i, j int) bool { return got.Files[i].Path < got.Files[j].Path })
	want := worktree.DiffStat{
		Files: []worktree.FileStat{
			{Path: "gone.txt", Deletions: 2},
			{Path: "image.bin"}, // binary: listed, no line counts
			{Path: "text.txt", Insertions: 3, Deletions: 1},
			{Path: "with space.txt", Insertions: 1},
		},
		Insertions: 4,
		Deletions:  3,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DiffStat =\n%+v\nwant\n%+v", got, want)
	}
	if got, err := r.DiffStat(ctx, "agent", "agent"); err != nil || len(got.Files) != 0 || got.Insertions != 0 {
		t.Errorf("DiffStat of nothing = %+v, %v", got, err)
	}
}

// ffRepo is a repository with main checked out in the main worktree and a leader branch,
// in a linked worktree, two commits ahead of it (changing README.md and adding lead.txt).
func ffRepo(t *testing.T) (repo, leader, tip string) {
	t.Helper()
	repo = testsupport.NewRepo(t)
	leader = linked(t, repo, "teamctl/t/lead/work")
	testsupport.Commit(t, leader, "lead 1", map[string]string{"lead.txt": "l\n"})
	tip = testsupport.Commit(t, leader, "lead 2", map[string]string{"README.md": "# merged by the team\n"})
	return repo, leader, tip
}

func TestFastForwardCheckedOut(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		dirty func(t *testing.T, repo string) // uncommitted work in the main worktree
		ok    bool
	}{
		{"clean", func(*testing.T, string) {}, true},
		{"uncommitted change in a file the team did not touch", func(t *testing.T, repo string) {
			testsupport.WriteFile(t, filepath.Join(repo, "notes.txt"), "mine\n")
			testsupport.Git(t, repo, "add", "notes.txt")
			testsupport.WriteFile(t, filepath.Join(repo, "scratch.txt"), "mine\n")
		}, true},
		{"uncommitted change in a file the team changed", func(t *testing.T, repo string) {
			testsupport.WriteFile(t, filepath.Join(repo, "README.md"), "# my edit\n")
		}, false},
		{"staged change in a file the team changed", func(t *testing.T, repo string) {
			testsupport.WriteFile(t, filepath.Join(repo, "README.md"), "# my edit\n")
			testsupport.Git(t, repo, "add", "README.md")
		}, false},
		{"untracked file where the team added one", func(t *testing.T, repo string) {
			testsupport.WriteFile(t, filepath.Join(repo, "lead.txt"), "mine\n")
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			repo, _, tip := ffRepo(t)
			r := open(t, repo)
			before := testsupport.Git(t, repo, "rev-parse", "main")
			c.dirty(t, repo)
			statusBefore := testsupport.Git(t, repo, "status", "--porcelain=v2")
			readme, _ := os.ReadFile(filepath.Join(repo, "README.md"))

			err := r.FastForward(ctx, "main", tip)
			if c.ok {
				if err != nil {
					t.Fatalf("FastForward: %v", err)
				}
				if got := testsupport.Git(t, repo, "rev-parse", "main"); got != tip {
					t.Errorf("main at %s, want %s", got, tip)
				}
				if got := testsupport.Git(t, repo, "rev-parse", "HEAD"); got != tip {
					t.Errorf("the main worktree's HEAD at %s, want %s", got, tip)
				}
				if got, _ := os.ReadFile(filepath.Join(repo, "lead.txt")); string(got) != "l\n" {
					t.Errorf("the main worktree's files were not updated: lead.txt = %q", got)
				}
				if got := testsupport.Git(t, repo, "diff", "HEAD", "--stat"); strings.Contains(got, "README.md") || strings.Contains(got, "lead.txt") {
					t.Errorf("the main worktree differs from the new HEAD:\n%s", got)
				}
				// The person's own uncommitted work is still there.
				if _, err := os.Stat(filepath.Join(repo, "notes.txt")); err == nil {
					if got := testsupport.Git(t, repo, "status", "--porcelain"); got != "A  notes.txt\n?? scratch.txt" && got != "A  notes.txt\n?? scratch.txt\n" {
						t.Errorf("uncommitted work after the fast-forward:\n%s", got)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("FastForward over uncommitted work succeeded")
			}
			// Refused: nothing changed, neither the branch nor a single file.
			if got := testsupport.Git(t, repo, "rev-parse", "main"); got != before {
				t.Errorf("main moved to %s", got)
			}
			if got := testsupport.Git(t, repo, "rev-parse", "HEAD"); got != before {
				t.Errorf("HEAD moved to %s", got)
			}
			if got := testsupport.Git(t, repo, "status", "--porcelain=v2"); got != statusBefore {
				t.Errorf("status changed:\n%s\nwant\n%s", got, statusBefore)
			}
			if got, _ := os.ReadFile(filepath.Join(repo, "README.md")); string(got) != string(readme) {
				t.Errorf("README.md = %q, want %q", got, readme)
			}
		})
	}
}

func TestFastForwardElsewhere(t *testing.T) {
	t.Parallel()
	repo, leader, tip := ffRepo(t)
	r := open(t, repo)
	start := testsupport.Git(t, repo, "rev-parse", "main")

	// A branch no worktree has checked out: only the ref moves.
	testsupport.Git(t, repo, "branch", "release", start)
	if err := r.FastForward(ctx, "release", tip); err != nil {
		t.Fatal(err)
	}
	if got := testsupport.Git(t, repo, "rev-parse", "release"); got != tip {
		t.Errorf("release at %s, want %s", got, tip)
	}
	if got := testsupport.Git(t, repo, "rev-parse", "HEAD"); got != start || testsupport.Git(t, repo, "status", "--porcelain") != "" {
		t.Error("fast-forwarding another branch touched the main worktree")
	}

	// A branch checked out in a linked worktree: that worktree follows.
	other := filepath.Join(filepath.Dir(repo), "other")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "deploy", other, start)
	if err := r.FastForward(ctx, "deploy", tip); err != nil {
		t.Fatal(err)
	}
	if got := testsupport.Git(t, other, "rev-parse", "HEAD"); got != tip {
		t.Errorf("the linked worktree's HEAD at %s, want %s", got, tip)
	}
	if _, err := os.Stat(filepath.Join(other, "lead.txt")); err != nil {
		t.Errorf("the linked worktree's files were not updated: %v", err)
	}

	// Not a fast-forward (both are at tip now): refused, whether the branch is checked out
	// or not.
	testsupport.Git(t, leader, "reset", "-q", "--hard", start)
	sideways := testsupport.Commit(t, leader, "sideways", map[string]string{"x.txt": "x\n"})
	for _, b := range []string{"release", "deploy"} {
		before := testsupport.Git(t, repo, "rev-parse", b)
		if err := r.FastForward(ctx, b, sideways); err == nil {
			t.Errorf("FastForward(%s) to a commit that does not descend from it succeeded", b)
		}
		if got := testsupport.Git(t, repo, "rev-parse", b); got != before {
			t.Errorf("a refused FastForward moved %s from %s to %s", b, before, got)
		}
	}
	if err := r.FastForward(ctx, "no-such-branch", tip); !errors.Is(err, worktree.ErrNoRef) {
		t.Errorf("FastForward of a missing branch: %v, want ErrNoRef", err)
	}
}

func TestUpdateRef(t *testing.T) {
	t.Parallel()
	repo, _, tip := ffRepo(t)
	r := open(t, repo)
	start := testsupport.Git(t, repo, "rev-parse", "main")
	testsupport.Git(t, repo, "branch", "target", start)
	// Someone moved the branch since it was read: the compare-and-swap fails.
	if err := r.UpdateRef(ctx, "target", tip, tip); err == nil {
		t.Fatal("UpdateRef with a stale old value succeeded")
	}
	if got := testsupport.Git(t, repo, "rev-parse", "target"); got != start {
		t.Errorf("a failed UpdateRef moved target to %s", got)
	}
	if err := r.UpdateRef(ctx, "target", tip, start); err != nil {
		t.Fatal(err)
	}
	if got := testsupport.Git(t, repo, "rev-parse", "target"); got != tip {
		t.Errorf("target at %s, want %s", got, tip)
	}
	// It is recorded in the reflog, so a person can see and undo what teamctl did.
	if got := testsupport.Git(t, repo, "reflog", "-1", "--format=%gs", "target"); got != "teamctl" {
		t.Errorf("reflog says %q", got)
	}
}
