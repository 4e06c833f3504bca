package merge_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/worktree"
)

var ctx = context.Background()

// oneFixture is a repository with a leader worktree on teamctl/t/lead/work and an agent worktree
// on teamctl/t/alice/work, both from main; the project's test fails when a file under src/
// says BROKEN. Every test run appends a line to runs, outside the repository.
type oneFixture struct {
	t      *testing.T
	repo   string
	leader string
	alice  string
	runs   string // the file each test run appends to
	out    string // a scratch directory outside the repository
	m      *merge.Merger
}

func newOneFixture(t *testing.T) *oneFixture {
	t.Helper()
	f := &oneFixture{t: t, repo: testsupport.NewRepo(t), out: t.TempDir()}
	f.runs = filepath.Join(f.out, "runs")
	testsupport.Script(t, f.repo, "check.sh", "! grep -rq BROKEN src/ 2>/dev/null\n")
	testsupport.Commit(t, f.repo, "project", map[string]string{
		".gitignore":    "cache/\n",
		"src/base.txt":  "base\n",
		"other/x.txt":   "x\n",
		"docs/guide.md": "guide\n",
	})
	parent := filepath.Dir(f.repo)
	f.leader = filepath.Join(parent, "repo.teamctl", "t", "lead")
	f.alice = filepath.Join(parent, "repo.teamctl", "t", "alice")
	testsupport.Git(t, f.repo, "worktree", "add", "-q", "-b", leaderBranch, f.leader)
	testsupport.Git(t, f.repo, "worktree", "add", "-q", "-b", "teamctl/t/alice/work", f.alice)
	repo, err := worktree.Open(ctx, worktree.ExecRunner{}, f.repo)
	if err != nil {
		t.Fatal(err)
	}
	f.m = &merge.Merger{
		Repo: repo, Run: worktree.ExecRunner{}, Dir: f.leader, Branch: leaderBranch,
		Test:        f.counted("./check.sh"),
		TestTimeout: time.Minute,
		Env: []string{"GIT_AUTHOR_NAME=lead", "GIT_AUTHOR_EMAIL=lead@t.teamctl.invalid",
			"GIT_COMMITTER_NAME=lead", "GIT_COMMITTER_EMAIL=lead@t.teamctl.invalid"},
	}
	return f
}

// counted is a test command that records its run, then runs cmd.
func (f *oneFixture) counted(cmd string) string {
	return fmt.Sprintf("echo run >> '%s'\n%s", f.runs, cmd)
}

// testRuns is how many times the test command ran.
func (f *oneFixture) testRuns() int {
	b, err := os.ReadFile(f.runs)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.Count(string(b), "run\n")
}

func (f *oneFixture) git(dir string, args ...string) string {
	return testsupport.Git(f.t, dir, args...)
}

func (f *oneFixture) request() merge.Request {
	return merge.Request{Team: "t", Task: "x", Agent: "alice", Branch: "teamctl/t/alice/work"}
}

// state is everything about the leader worktree a failed merge must leave as it was.
type state struct {
	Tip, Head, Status string
	Merging           bool
	Files             map[string]string // path → content hash, .git excluded
}

func (f *oneFixture) state() state {
	f.t.Helper()
	s := state{
		Tip:    f.git(f.leader, "rev-parse", leaderBranch),
		Status: f.git(f.leader, "status", "--porcelain=v2", "--branch", "--untracked-files=all", "--ignored"),
		Files:  map[string]string{},
	}
	if out, err := (worktree.ExecRunner{}).Run(ctx, f.leader, nil, "git", "symbolic-ref", "HEAD"); err == nil {
		s.Head = strings.TrimSpace(string(out))
	} else {
		s.Head = "detached"
	}
	var err error
	if s.Merging, err = f.m.Repo.MergeInProgress(ctx, f.leader); err != nil {
		f.t.Fatal(err)
	}
	err = filepath.WalkDir(f.leader, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.leader, p)
		s.Files[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// unchanged checks the leader branch and worktree are exactly as in before.
func (f *oneFixture) unchanged(before state) {
	f.t.Helper()
	after := f.state()
	if !reflect.DeepEqual(after, before) {
		f.t.Errorf("the leader worktree changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if after.Merging || after.Head != "refs/heads/"+leaderBranch {
		f.t.Errorf("leader worktree: merging=%v HEAD=%s", after.Merging, after.Head)
	}
	if ch, err := f.m.Repo.Status(ctx, f.leader); err != nil || len(ch) != 0 {
		f.t.Errorf("leader worktree not clean: %+v, %v", ch, err)
	}
}

func TestMergeClean(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	before := f.git(f.leader, "rev-parse", "HEAD")
	head := testsupport.Commit(t, f.alice, "alice: one", map[string]string{"src/one.txt": "one\n"})
	// The test sees the candidate merge while the leader branch still points at the
	// tested tip: a crash mid-test never leaves an untested tip behind.
	during := filepath.Join(f.out, "during")
	f.m.Test = f.counted(fmt.Sprintf("git rev-parse %s HEAD > '%s'; test -f src/one.txt && ./check.sh", leaderBranch, during))
	// Like most tests it leaves output behind; the leader worktree is teamctl's, and is left
	// exactly at the new tip, not holding files no one will commit.
	f.m.Test += "\necho report > coverage.txt; mkdir -p out; echo x > out/o.txt"

	res, err := f.m.Merge(ctx, f.request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != merge.Merged || res.Before != before || res.BranchHead != head || res.TestRuns != 1 || res.Commit == "" {
		t.Fatalf("Merge = %+v", res)
	}
	if got := f.git(f.repo, "rev-parse", leaderBranch); got != res.Commit {
		t.Errorf("leader branch at %s, want the merge commit %s", got, res.Commit)
	}
	if got := f.git(f.repo, "log", "-1", "--format=%P", res.Commit); got != before+" "+head {
		t.Errorf("merge parents = %s, want %s %s", got, before, head)
	}
	msg := f.git(f.repo, "log", "-1", "--format=%B", res.Commit)
	if !strings.Contains(msg, "task x") || !strings.Contains(msg, "alice") || msg != strings.TrimSpace(merge.Message(f.request())) {
		t.Errorf("merge message %q does not name the task and the agent", msg)
	}
	if got := f.git(f.repo, "log", "-1", "--format=%an", res.Commit); got != "lead" {
		t.Errorf("merge author %s, want lead", got)
	}
	if got := f.git(f.leader, "symbolic-ref", "HEAD"); got != "refs/heads/"+leaderBranch {
		t.Errorf("leader worktree HEAD is %s, want the branch", got)
	}
	if ch, _ := f.m.Repo.Status(ctx, f.leader); len(ch) != 0 {
		t.Errorf("leader worktree not clean: %+v", ch)
	}
	b, _ := os.ReadFile(during)
	if got := strings.Fields(string(b)); len(got) != 2 || got[0] != before || got[1] != res.Commit {
		t.Errorf("during the test the branch and HEAD were %q, want %s (untouched) and %s (the candidate)", got, before, res.Commit)
	}
	if n := f.testRuns(); n != 1 {
		t.Errorf("test ran %d times, want 1", n)
	}
}

func TestMergeConflict(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	testsupport.Commit(t, f.leader, "merged earlier", map[string]string{"src/base.txt": "leader\n"})
	testsupport.Commit(t, f.alice, "alice", map[string]string{"src/base.txt": "alice\n", "src/new.txt": "new\n"})
	before := f.state()
	res, err := f.m.Merge(ctx, f.request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != merge.Conflict || !reflect.DeepEqual(res.Conflicts, []string{"src/base.txt"}) || res.Commit != "" {
		t.Errorf("Merge = %+v, want a conflict in src/base.txt", res)
	}
	f.unchanged(before)
	if n := f.testRuns(); n != 0 || res.TestRuns != 0 {
		t.Errorf("test ran %d times (result says %d) for a conflict, want 0", n, res.TestRuns)
	}
}

func TestMergeTestsFail(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	// The test writes files as tests do (an untracked report, an ignored cache), prints
	// a lot, then fails.
	f.m.Test = f.counted(`mkdir -p report cache; echo junk > report/out.txt; echo junk > stray.txt; echo cached > cache/c
i=1; while [ $i -le 100 ]; do echo "output line $i"; i=$((i+1)); done
echo "FAIL: src says BROKEN" >&2
./check.sh`)
	testsupport.Commit(t, f.alice, "alice: broken", map[string]string{"src/b.txt": "BROKEN\n"})
	before := f.state()
	res, err := f.m.Merge(ctx, f.request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != merge.TestsFailed || res.Commit != "" || res.TestRuns != 1 {
		t.Fatalf("Merge = %+v", res)
	}
	for _, want := range []string{"output line 100", "FAIL: src says BROKEN", "test exited with code 1"} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("output %q lacks %q", res.Output, want)
		}
	}
	if strings.Contains(res.Output, "output line 1\n") {
		t.Errorf("output is not a tail: %q", res.Output)
	}
	// Ignored files the test wrote stay (a build cache is not the branch's work, and
	// removing it would only slow the next run); everything else is as it was.
	if _, err := os.Stat(filepath.Join(f.leader, "cache", "c")); err != nil {
		t.Errorf("the ignored cache is gone: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(f.leader, "cache")); err != nil {
		t.Fatal(err)
	}
	f.unchanged(before)
	if n := f.testRuns(); n != 1 {
		t.Errorf("test ran %d times, want 1", n)
	}
}

func TestMergeTestTimeout(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	f.m.Test = f.counted("echo started > started.txt; sleep 600")
	f.m.TestTimeout = 200 * time.Millisecond
	testsupport.Commit(t, f.alice, "alice", map[string]string{"src/one.txt": "one\n"})
	before := f.state()
	res, err := f.m.Merge(ctx, f.request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != merge.TestsFailed || !strings.Contains(res.Output, "killed after 200ms") {
		t.Errorf("Merge = %+v, want tests-failed saying the test was killed", res)
	}
	f.unchanged(before)
}

func TestMergeCancelledDuringTest(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	started := filepath.Join(f.out, "started")
	f.m.Test = f.counted(fmt.Sprintf("echo junk > stray.txt; touch '%s'; sleep 600", started))
	testsupport.Commit(t, f.alice, "alice", map[string]string{"src/one.txt": "one\n"})
	before := f.state()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		res merge.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := f.m.Merge(cctx, f.request())
		done <- result{res, err}
	}()
	testsupport.Eventually(t, 30*time.Second, "the test command starts", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Merge did not return after its context was cancelled")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Merge = %+v, %v; want the context's error", r.res, r.err)
	}
	if r.res.Outcome == merge.Merged {
		t.Errorf("a cancelled merge is reported merged: %+v", r.res)
	}
	f.unchanged(before)
}

func TestMergeOwns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		owns   []string
		change func(t *testing.T, alice string)
		refuse string // "" = merged; else a path the refusal names
	}{
		{"inside a directory", []string{"src/"}, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "deep", map[string]string{"src/a/b/c.txt": "c\n"})
		}, ""},
		{"a sibling sharing the prefix", []string{"src/"}, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "sibling", map[string]string{"srcx.txt": "x\n"})
		}, "srcx.txt"},
		{"one allowed file", []string{"docs/guide.md"}, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "guide", map[string]string{"docs/guide.md": "better\n"})
		}, ""},
		{"a file next to the allowed one", []string{"docs/guide.md"}, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "guide", map[string]string{"docs/guide.md": "better\n", "docs/other.md": "o\n"})
		}, "docs/other.md"},
		// "src" names the path src, not a directory prefix (DESIGN.md §6): "src/" does.
		{"a file entry is not a prefix", []string{"src"}, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "inside", map[string]string{"src/new.txt": "n\n"})
		}, "src/new.txt"},
		// Moving a file into an owned directory deletes it where it was.
		{"a rename from outside", []string{"src/"}, func(t *testing.T, a string) {
			testsupport.Git(t, a, "mv", "other/x.txt", "src/x.txt")
			testsupport.Commit(t, a, "move", nil)
		}, "other/x.txt"},
		{"one of several entries", []string{"docs/", "src/"}, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "both", map[string]string{"docs/new.md": "n\n", "src/new.txt": "n\n"})
		}, ""},
		{"no owns: anything", nil, func(t *testing.T, a string) {
			testsupport.Commit(t, a, "anything", map[string]string{"anywhere.txt": "n\n"})
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newOneFixture(t)
			// The leader branch moved on outside the owns since alice branched: that is not
			// alice's change.
			testsupport.Commit(t, f.leader, "merged earlier", map[string]string{"other/y.txt": "y\n"})
			c.change(t, f.alice)
			req := f.request()
			req.Owns = c.owns
			before := f.state()
			res, err := f.m.Merge(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if c.refuse == "" {
				if res.Outcome != merge.Merged {
					t.Errorf("Merge = %+v, want merged", res)
				}
				return
			}
			if res.Outcome != merge.Refused || !strings.Contains(res.Output, c.refuse) || !strings.Contains(res.Output, strings.Join(c.owns, ", ")) {
				t.Errorf("Merge = %+v, want refused naming %s and the owns", res, c.refuse)
			}
			f.unchanged(before)
			if n := f.testRuns(); n != 0 || res.TestRuns != 0 {
				t.Errorf("test ran %d times for a refused branch", n)
			}
		})
	}
}

// A crash can leave the leader worktree detached on a candidate, mid-merge, with stray
// and half-written files: the next merge starts from the leader branch's tip all the same.
func TestMergeAfterCrash(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	tip := f.git(f.leader, "rev-parse", "HEAD")
	testsupport.Commit(t, f.alice, "alice", map[string]string{"src/one.txt": "one\n"})
	f.git(f.leader, "checkout", "-q", "--detach")
	testsupport.Commit(t, f.leader, "an untested candidate", map[string]string{"src/candidate.txt": "BROKEN\n"})
	f.git(f.leader, "merge", "-q", "--no-ff", "--no-commit", "teamctl/t/alice/work")
	testsupport.WriteFile(t, filepath.Join(f.leader, "stray.txt"), "left by a test")
	testsupport.WriteFile(t, filepath.Join(f.leader, "src", "base.txt"), "half-written\n")
	res, err := f.m.Merge(ctx, f.request())
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := f.m.Repo.MergeInProgress(ctx, f.leader); in {
		t.Error("the merge the crash left in progress is still there")
	}
	if res.Outcome != merge.Merged || res.Before != tip {
		t.Fatalf("Merge = %+v, want merged on top of %s", res, tip)
	}
	if got := f.git(f.repo, "log", "-1", "--format=%P", leaderBranch); got != tip+" "+res.BranchHead {
		t.Errorf("merge parents %s: the candidate left by the crash was kept", got)
	}
	if _, err := os.Stat(filepath.Join(f.leader, "stray.txt")); !os.IsNotExist(err) {
		t.Errorf("stray file survived: %v", err)
	}
}

func TestMergeNoTestCommand(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	f.m.Test = ""
	testsupport.Commit(t, f.alice, "alice", map[string]string{"src/b.txt": "BROKEN\n"})
	res, err := f.m.Merge(ctx, f.request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != merge.Merged || res.TestRuns != 0 {
		t.Errorf("Merge without a test command = %+v, want merged with no test run", res)
	}
}

func TestMergeMissingBranch(t *testing.T) {
	t.Parallel()
	f := newOneFixture(t)
	before := f.state()
	req := f.request()
	req.Branch = "teamctl/t/nobody/work"
	// A branch deleted under the queue is refused with the reason, not an error that would
	// stop the whole batch.
	if res, err := f.m.Merge(ctx, req); err != nil || res.Outcome != merge.Refused || !strings.Contains(res.Output, "teamctl/t/nobody/work") {
		t.Errorf("Merge of a missing branch: %+v, %v, want refused naming the branch", res, err)
	}
	f.unchanged(before)
}

func TestCovers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		owns []string
		path string
		want bool
	}{
		{[]string{"src/"}, "src/a.go", true},
		{[]string{"src/"}, "src/deep/a.go", true},
		{[]string{"src/"}, "srcx/a.go", false},
		{[]string{"src/"}, "src", false},
		{[]string{"src"}, "src", true},
		{[]string{"src"}, "src/a.go", false},
		{[]string{"a.txt", "b/"}, "b/c", true},
		{nil, "a", false},
	}
	for _, c := range cases {
		if got := merge.Covers(c.owns, c.path); got != c.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", c.owns, c.path, got, c.want)
		}
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in           string
		lines, bytes int
		want         string
	}{
		{"a\nb\nc\n", 2, 100, "b\nc"},
		{"a\nb\nc", 5, 100, "a\nb\nc"},
		{"abcdef\n", 5, 3, "def"},
		{"", 5, 100, ""},
	}
	for _, c := range cases {
		if got := merge.Tail(c.in, c.lines, c.bytes); got != c.want {
			t.Errorf("Tail(%q, %d, %d) = %q, want %q", c.in, c.lines, c.bytes, got, c.want)
		}
	}
}
