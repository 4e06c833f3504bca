package merge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/worktree"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

const leaderBranch = "teamctl/t/lead/work"

// fixture is a real repository with a leader branch checked out in its own worktree, and a
// test command that logs every run: "<HEAD> pass|fail" to a file outside the repository.
type fixture struct {
	t      *testing.T
	dir    string // the main worktree (on main)
	leader string // the leader worktree
	log    string
	tools  string // scripts outside the repository
	repo   *worktree.Repo
}

// checkScript is the project's test: it fails when a file under src/ says BROKEN.
const checkScript = `h=$(git rev-parse HEAD)
if grep -rqs BROKEN src/; then echo "$h fail" >>"$1"; echo "src/ says BROKEN"; exit 1; fi
echo "$h pass" >>"$1"
`

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: testsupport.NewRepo(t), tools: t.TempDir()}
	f.log = filepath.Join(f.tools, "tests.log")
	testsupport.Script(t, f.tools, "check.sh", checkScript)
	testsupport.WriteFile(t, filepath.Join(f.dir, "src", "base.txt"), "base\n")
	testsupport.WriteFile(t, filepath.Join(f.dir, "shared.txt"), "one\ntwo\nthree\n")
	f.git("add", "-A")
	f.git("commit", "-qm", "project")
	f.git("branch", leaderBranch, "main")
	f.leader = filepath.Join(filepath.Dir(f.dir), "lead")
	f.git("worktree", "add", "-q", f.leader, leaderBranch)
	repo, err := worktree.Open(context.Background(), worktree.ExecRunner{}, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	f.repo = repo
	return f
}

func (f *fixture) git(args ...string) string { return testsupport.Git(f.t, f.dir, args...) }

// merger tests with check.sh, batches of 8, one retry.
func (f *fixture) merger() *merge.Merger {
	return &merge.Merger{
		Repo: f.repo, Run: worktree.ExecRunner{}, Dir: f.leader, Branch: leaderBranch,
		Test: "sh " + filepath.Join(f.tools, "check.sh") + " " + f.log, TestTimeout: time.Minute,
		Batch: 8, TestRetries: 1,
	}
}

// branch makes teamctl/t/<agent> from rev with one commit writing files, and returns its request.
func (f *fixture) branch(agent, from string, files map[string]string) merge.Request {
	f.t.Helper()
	br := "teamctl/t/" + agent + "/work"
	f.git("checkout", "-q", "-b", br, from)
	for p, content := range files {
		testsupport.WriteFile(f.t, filepath.Join(f.dir, p), content)
	}
	f.git("add", "-A")
	f.git("commit", "-qm", agent+": work")
	f.git("checkout", "-q", "main")
	return merge.Request{Team: "t", Task: "task-" + agent, Agent: agent, Branch: br}
}

// team makes n branches a0..a(n-1), each adding src/a<i>.txt; those in bad say BROKEN.
func (f *fixture) team(n int, bad ...int) []merge.Request {
	var reqs []merge.Request
	for i := 0; i < n; i++ {
		content := "ok\n"
		if slices.Contains(bad, i) {
			content = "BROKEN\n"
		}
		reqs = append(reqs, f.branch(fmt.Sprintf("a%d", i), "main", map[string]string{fmt.Sprintf("src/a%d.txt", i): content}))
	}
	return reqs
}

func (f *fixture) mergeBatch(m *merge.Merger, reqs []merge.Request) merge.BatchResult {
	f.t.Helper()
	br, err := m.MergeBatch(context.Background(), reqs)
	if err != nil {
		f.t.Fatalf("merge batch: %v", err)
	}
	f.checkRestored()
	return br
}

func (f *fixture) tip() string { return f.git("rev-parse", leaderBranch) }

// onTip reports whether path exists in the leader branch's tip.
func (f *fixture) onTip(path string) bool {
	cmd := testsupport.Git(f.t, f.dir, "ls-tree", "--name-only", leaderBranch, "--", path)
	return cmd != ""
}

// checkRestored: the leader worktree has the leader branch checked out at its tip, clean.
func (f *fixture) checkRestored() {
	f.t.Helper()
	if head := testsupport.Git(f.t, f.leader, "symbolic-ref", "HEAD"); head != "refs/heads/"+leaderBranch {
		f.t.Errorf("leader worktree HEAD is %s, want the leader branch", head)
	}
	if st := testsupport.Git(f.t, f.leader, "status", "--porcelain", "--untracked-files=all"); st != "" {
		f.t.Errorf("leader worktree is not clean:\n%s", st)
	}
	if h := testsupport.Git(f.t, f.leader, "rev-parse", "HEAD"); h != f.tip() {
		f.t.Errorf("leader worktree is at %s, the branch at %s", h, f.tip())
	}
}

// runs reads the test log: commit → outcomes of its runs.
func (f *fixture) runs() map[string][]string {
	f.t.Helper()
	data, err := os.ReadFile(f.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Fatal(err)
	}
	runs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if h, what, ok := strings.Cut(line, " "); ok {
			runs[h] = append(runs[h], what)
		}
	}
	return runs
}

// checkTested asserts what MergeBatch guarantees about the leader branch: every position the
// ref ever took (its reflog, after its creation) is a commit whose test run passed, and the
// first-parent line from the tip down to main holds only merge commits, each at or below such
// a position — so each was tested as part of the candidate that landed it.
func (f *fixture) checkTested() {
	f.t.Helper()
	runs := f.runs()
	positions := strings.Fields(f.git("reflog", "show", "--format=%H", "refs/heads/"+leaderBranch))
	positions = positions[:len(positions)-1] // the last is the branch's creation at main
	for _, p := range positions {
		if !slices.Contains(runs[p], "pass") {
			f.t.Errorf("the leader branch was at %s, which never passed the test (runs: %v)", p, runs[p])
		}
	}
	base := f.git("rev-parse", "main")
	line := strings.Fields(f.git("rev-list", "--first-parent", base+".."+leaderBranch))
	for _, c := range line {
		if parents := strings.Fields(f.git("rev-list", "--parents", "-n1", c)); len(parents) != 3 {
			f.t.Errorf("%s on the leader branch's first-parent line is not a merge commit", c)
		}
	}
	if len(line) > 0 && (len(positions) == 0 || positions[0] != line[0]) {
		f.t.Errorf("the leader tip %s is not a tested position", line[0])
	}
}

// checkBlamed: exactly the bad branches failed their tests, with the test's output, and
// every other one landed.
func (f *fixture) checkBlamed(br merge.BatchResult, bad ...int) {
	f.t.Helper()
	for i, r := range br.Results {
		want := merge.Merged
		if slices.Contains(bad, i) {
			want = merge.TestsFailed
			if !strings.Contains(r.Output, "src/ says BROKEN") {
				f.t.Errorf("request %d: output %q", i, r.Output)
			}
		}
		if r.Outcome != want {
			f.t.Errorf("request %d: %s, want %s", i, r.Outcome, want)
		}
		if on := f.onTip(fmt.Sprintf("src/a%d.txt", i)); on != (want == merge.Merged) {
			f.t.Errorf("src/a%d.txt on the leader tip: %v, want %v", i, on, !on)
		}
	}
}

func outcomes(br merge.BatchResult) []string {
	var out []string
	for _, r := range br.Results {
		out = append(out, r.Outcome)
	}
	return out
}

func TestBatchAllClean(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reqs := f.team(8)
	br := f.mergeBatch(f.merger(), reqs)
	for i, r := range br.Results {
		if r.Outcome != merge.Merged || r.Commit == "" || r.TestRuns != 1 {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if br.TestRuns != 1 || len(br.Flaky) != 0 || br.After != f.tip() || br.After == br.Before {
		t.Errorf("batch: %d test runs, flaky %v, after %s (tip %s, before %s)", br.TestRuns, br.Flaky, br.After, f.tip(), br.Before)
	}
	// One --no-ff merge commit per branch, in request order, message and trailers kept.
	subjects := strings.Split(f.git("log", "--first-parent", "--format=%s", "main.."+leaderBranch), "\n")
	slices.Reverse(subjects)
	for i, s := range subjects {
		if want := fmt.Sprintf("Merge teamctl/t/a%d/work: task task-a%d by a%d", i, i, i); s != want {
			t.Errorf("merge %d: subject %q, want %q", i, s, want)
		}
	}
	if len(subjects) != 8 {
		t.Errorf("%d merge commits, want 8", len(subjects))
	}
	if tr := f.git("log", "-1", "--format=%(trailers:key=Teamctl-Task,valueonly)", leaderBranch); tr != "task-a7" {
		t.Errorf("tip trailer Teamctl-Task = %q", tr)
	}
	// Each merge commit's second parent is the branch head that was merged.
	for i, r := range br.Results {
		if p2 := f.git("rev-parse", r.Commit+"^2"); p2 != r.BranchHead {
			t.Errorf("request %d: second parent %s, branch head %s", i, p2, r.BranchHead)
		}
		if p1 := f.git("rev-parse", r.Commit+"^1"); p1 != r.Before {
			t.Errorf("request %d: first parent %s, Before %s", i, p1, r.Before)
		}
	}
	f.checkTested()
}

func TestBatchOneBadAtEveryPosition(t *testing.T) {
	t.Parallel()
	for bad := 0; bad < 8; bad++ {
		t.Run(fmt.Sprintf("bad=%d", bad), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			reqs := f.team(8, bad)
			br := f.mergeBatch(f.merger(), reqs)
			f.checkBlamed(br, bad)
			if br.TestRuns > 5 {
				t.Errorf("%d test runs, want at most 5", br.TestRuns)
			}
			if len(br.Flaky) != 0 {
				t.Errorf("flaky: %+v", br.Flaky)
			}
			f.checkTested()
		})
	}
}

func TestBatchTwoBad(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]int{{0, 1}, {2, 5}, {0, 7}, {6, 7}} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			br := f.mergeBatch(f.merger(), f.team(8, bad...))
			f.checkBlamed(br, bad...)
			// Two rounds of 1 + ⌈log2 8⌉ + 1, less one: the second round has 7 or fewer.
			if br.TestRuns > 9 {
				t.Errorf("%d test runs, want at most 9", br.TestRuns)
			}
			f.checkTested()
		})
	}
}

// Two branches each clean against the leader tip conflict with each other: the later one is
// sent back without a test run; the rest of the batch lands with one run.
func TestBatchConflictBetweenBranches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reqs := []merge.Request{
		f.branch("a0", "main", map[string]string{"shared.txt": "one\nTWO by a0\nthree\n"}),
		f.branch("a1", "main", map[string]string{"shared.txt": "one\nTWO by a1\nthree\n"}),
		f.branch("a2", "main", map[string]string{"src/a2.txt": "ok\n"}),
	}
	for _, r := range reqs {
		if _, conflicts, err := f.repo.MergeTree(context.Background(), leaderBranch, r.Branch); err != nil || len(conflicts) > 0 {
			t.Fatalf("%s against the leader tip: conflicts %v, err %v", r.Branch, conflicts, err)
		}
	}
	br := f.mergeBatch(f.merger(), reqs)
	if got := outcomes(br); !slices.Equal(got, []string{merge.Merged, merge.Conflict, merge.Merged}) {
		t.Fatalf("outcomes %v", got)
	}
	if c := br.Results[1].Conflicts; !slices.Equal(c, []string{"shared.txt"}) || br.Results[1].TestRuns != 0 {
		t.Errorf("conflict result %+v", br.Results[1])
	}
	if br.TestRuns != 1 {
		t.Errorf("%d test runs, want 1", br.TestRuns)
	}
	f.checkTested()
}

// A branch that conflicts only with a branch that then fails its tests goes round again on
// the new tip in the same call, and lands.
func TestBatchConflictOnlyWithBadBranchLands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reqs := []merge.Request{
		f.branch("a0", "main", map[string]string{"shared.txt": "one\nTWO by a0\nthree\n", "src/a0.txt": "BROKEN\n"}),
		f.branch("a1", "main", map[string]string{"shared.txt": "one\nTWO by a1\nthree\n"}),
		f.branch("a2", "main", map[string]string{"src/a2.txt": "ok\n"}),
	}
	br := f.mergeBatch(f.merger(), reqs)
	if got := outcomes(br); !slices.Equal(got, []string{merge.TestsFailed, merge.Merged, merge.Merged}) {
		t.Fatalf("outcomes %v", got)
	}
	if got := f.git("show", leaderBranch+":shared.txt"); !strings.Contains(got, "TWO by a1") {
		t.Errorf("shared.txt on the tip:\n%s", got)
	}
	f.checkTested()
}

// A test that fails on its first run only: the failure is reported as flaky, nothing is
// blamed, everything lands. With no retries the same failure is blamed on a branch.
func TestBatchFlakyTest(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{1, 0} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			counter := filepath.Join(f.tools, "ran-once")
			reqs := f.team(8)
			m := f.merger()
			m.TestRetries = retries
			m.Test = fmt.Sprintf("if [ ! -e %s ]; then touch %s; echo 'flaky: first run fails'; exit 1; fi; %s", counter, counter, m.Test)
			br := f.mergeBatch(m, reqs)
			var blamed []int
			for i, r := range br.Results {
				if r.Outcome == merge.TestsFailed {
					blamed = append(blamed, i)
				}
			}
			if retries == 0 {
				if len(blamed) != 1 || len(br.Flaky) != 0 {
					t.Errorf("with no retries: blamed %v, flaky %+v", blamed, br.Flaky)
				}
				return
			}
			if len(blamed) != 0 {
				t.Errorf("blamed %v on a flaky test", blamed)
			}
			if len(br.Flaky) != 1 || !strings.Contains(br.Flaky[0].Output, "flaky: first run fails") || len(br.Flaky[0].Tasks) != 8 {
				t.Fatalf("flaky: %+v", br.Flaky)
			}
			if br.Flaky[0].Commit != f.tip() {
				t.Errorf("flaky commit %s, tip %s", br.Flaky[0].Commit, f.tip())
			}
			if br.TestRuns > 5 {
				t.Errorf("%d test runs, want at most 5", br.TestRuns)
			}
			f.checkTested()
		})
	}
}

// With 4 runs at once, a test that fails on one run only — on the whole batch's candidate,
// or on a prefix's while the whole batch passes — is reported as flaky, blamed on no one,
// and all 8 land.
func TestParallelFlakyTest(t *testing.T) {
	t.Parallel()
	// A prefix's failure counts only if it comes before the whole batch passes (the runs
	// still going are stopped then): there the whole batch's run is made slower.
	for name, hit := range map[string]string{"whole batch": "[ -e src/a7.txt ]", "a prefix": "{ [ ! -e src/a7.txt ] || ! sleep 1; }"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			once := filepath.Join(f.tools, "failed-once") // mkdir: one run only gets it
			m := f.parallel(4)
			m.Test = fmt.Sprintf("if %s && mkdir %s 2>/dev/null; then echo 'flaky: one run fails'; exit 1; fi; %s", hit, once, m.Test)
			br := f.mergeBatch(m, f.team(8))
			for i, r := range br.Results {
				if r.Outcome != merge.Merged {
					t.Errorf("branch %d: %v, want merged", i, r.Outcome)
				}
			}
			if len(br.Flaky) != 1 || !strings.Contains(br.Flaky[0].Output, "flaky: one run fails") {
				t.Errorf("flaky: %+v", br.Flaky)
			}
			if _, err := os.Stat(once); err != nil {
				t.Errorf("the flaky run never ran: %v", err)
			}
			f.checkTested()
		})
	}
}

// A branch that becomes ready while a batch is being tested is merged by the next call,
// on the tip the first batch landed.
func TestBatchBranchReadyDuringTest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := filepath.Join(f.tools, "gate")
	started := filepath.Join(f.tools, "started")
	m := f.merger()
	// The test waits for the gate (the test command's own short poll, not the Go test's).
	m.Test = fmt.Sprintf("touch %s; while [ ! -e %s ]; do sleep 0.02; done; %s", started, gate, m.Test)
	first := f.team(2)
	done := make(chan struct{})
	var br1 merge.BatchResult
	var err1 error
	go func() {
		defer close(done)
		br1, err1 = m.MergeBatch(context.Background(), first)
	}()
	testsupport.Eventually(t, time.Minute, "the first batch's test starts", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	late := f.branch("late", "main", map[string]string{"src/late.txt": "ok\n"})
	testsupport.WriteFile(t, gate, "")
	<-done
	if err1 != nil {
		t.Fatal(err1)
	}
	if got := outcomes(br1); !slices.Equal(got, []string{merge.Merged, merge.Merged}) {
		t.Fatalf("first batch: %v", got)
	}
	br2 := f.mergeBatch(m, []merge.Request{late})
	r := br2.Results[0]
	if r.Outcome != merge.Merged {
		t.Fatalf("late branch: %+v", r)
	}
	if r.Before != br1.After || f.git("rev-parse", r.Commit+"^1") != br1.After || br2.After != f.tip() {
		t.Errorf("late merge %s built on %s, want the first batch's tip %s", r.Commit, r.Before, br1.After)
	}
	f.checkRestored()
	f.checkTested()
}

func TestBatchRefusedAndNotAttempted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	outside := f.branch("a0", "main", map[string]string{"src/a0.txt": "ok\n", "README.md": "changed\n"})
	outside.Owns = []string{"src/"}
	gone := merge.Request{Team: "t", Task: "task-gone", Agent: "gone", Branch: "teamctl/t/gone/work"}
	ok := f.branch("a1", "main", map[string]string{"src/a1.txt": "ok\n"})
	extra := f.branch("a2", "main", map[string]string{"src/a2.txt": "ok\n"})
	m := f.merger()
	m.Batch = 3
	br := f.mergeBatch(m, []merge.Request{outside, gone, ok, extra})
	want := []string{merge.Refused, merge.Refused, merge.Merged, merge.NotAttempted}
	if got := outcomes(br); !slices.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if !strings.Contains(br.Results[0].Output, "README.md") || !strings.Contains(br.Results[1].Output, "does not exist") {
		t.Errorf("refusals: %q, %q", br.Results[0].Output, br.Results[1].Output)
	}
	f.checkTested()
}

// Cancelling mid-test leaves the leader branch where it was and its worktree restored;
// nothing is reported as merged.
func TestBatchCancelledMidTest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	started := filepath.Join(f.tools, "started")
	m := f.merger()
	m.Test = fmt.Sprintf("touch %s; touch stray-file; while :; do sleep 0.05; done", started)
	reqs := f.team(3)
	before := f.tip()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = testsupport.Poll(ctx, time.Minute, func() bool { _, err := os.Stat(started); return err == nil })
		cancel()
	}()
	br, err := m.MergeBatch(ctx, reqs)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	for i, r := range br.Results {
		if r.Outcome != merge.NotAttempted {
			t.Errorf("request %d: %s", i, r.Outcome)
		}
	}
	if f.tip() != before || br.After != before {
		t.Errorf("leader branch moved to %s (after %s) from %s", f.tip(), br.After, before)
	}
	f.checkRestored()
}

func TestMergeOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.merger()
	ctx := context.Background()
	clean := f.branch("a0", "main", map[string]string{"shared.txt": "one\nTWO by a0\nthree\n"})
	conflicting := f.branch("a1", "main", map[string]string{"shared.txt": "one\nTWO by a1\nthree\n"})
	broken := f.branch("a2", "main", map[string]string{"src/a2.txt": "BROKEN\n"})
	res, err := m.Merge(ctx, clean)
	if err != nil || res.Outcome != merge.Merged || res.Commit != f.tip() || res.TestRuns != 1 {
		t.Fatalf("clean: %+v, %v", res, err)
	}
	res, err = m.Merge(ctx, conflicting)
	if err != nil || res.Outcome != merge.Conflict || !slices.Equal(res.Conflicts, []string{"shared.txt"}) || res.TestRuns != 0 {
		t.Fatalf("conflicting: %+v, %v", res, err)
	}
	tip := f.tip()
	res, err = m.Merge(ctx, broken)
	// One retry: the failure is confirmed by a rerun before it is blamed.
	if err != nil || res.Outcome != merge.TestsFailed || res.TestRuns != 2 || f.tip() != tip || res.Before != tip {
		t.Fatalf("broken: %+v, %v", res, err)
	}
	f.checkRestored()
	// Merging a branch already in the leader branch changes nothing and runs no test.
	res, err = m.Merge(ctx, clean)
	if err != nil || res.Outcome != merge.Merged || res.Commit != tip || res.TestRuns != 0 || f.tip() != tip {
		t.Fatalf("already merged: %+v, %v", res, err)
	}
	f.checkTested()
}

// A killed supervisor's last `git update-ref` can finish after its successor built a batch on
// the old tip. The branch already on the batch's candidate (the same merge, landed late):
// the landing is done. Anywhere else: *LeaderMovedError, nothing of the batch counted as
// merged, the leader worktree on the new tip.
func TestBatchLeaderMovedDuringTest(t *testing.T) {
	t.Parallel()
	t.Run("onto the candidate", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		m := f.merger()
		m.Test = "git update-ref refs/heads/" + leaderBranch + " HEAD"
		br := f.mergeBatch(m, f.team(2))
		if got := outcomes(br); !slices.Equal(got, []string{merge.Merged, merge.Merged}) {
			t.Fatalf("outcomes %v, want both merged", got)
		}
		if br.After != f.tip() || !f.onTip("src/a1.txt") {
			t.Errorf("after %s, tip %s", br.After, f.tip())
		}
	})
	t.Run("elsewhere", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		other := f.branch("other", "main", map[string]string{"src/other.txt": "ok\n"})
		m := f.merger()
		m.Test = "git update-ref refs/heads/" + leaderBranch + " " + other.Branch
		before := f.tip()
		br, err := m.MergeBatch(context.Background(), f.team(2))
		var moved *merge.LeaderMovedError
		if !errors.As(err, &moved) || moved.Expected != before || moved.Tip != f.tip() {
			t.Fatalf("err %v, want the leader branch moved from %s to %s", err, before, f.tip())
		}
		if got := outcomes(br); !slices.Equal(got, []string{merge.NotAttempted, merge.NotAttempted}) {
			t.Errorf("outcomes %v, want none attempted", got)
		}
		if !f.onTip("src/other.txt") || f.onTip("src/a0.txt") {
			t.Error("the leader branch is not where it was moved to")
		}
		f.checkRestored()
	})
}

// parallel is f.merger with k-1 more worktrees, so k candidates are tested at once.
func (f *fixture) parallel(k int) *merge.Merger {
	m := f.merger()
	for i := 2; i <= k; i++ {
		dir := filepath.Join(filepath.Dir(f.dir), fmt.Sprintf("test-%d", i))
		if err := f.repo.AddDetachedWorktree(context.Background(), dir, "main"); err != nil {
			f.t.Fatal(err)
		}
		m.TestDirs = append(m.TestDirs, dir)
	}
	return m
}

// With 4 test runs at once, one bad branch in 8, wherever it is, is found and everything
// else landed within 2 waves of runs (the tested-tip guarantee holds as one at a time); all
// clean takes 1 wave.
func TestParallelOneBadAtEveryPosition(t *testing.T) {
	t.Parallel()
	for bad := -1; bad < 8; bad++ {
		t.Run(fmt.Sprintf("bad=%d", bad), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var br merge.BatchResult
			if bad < 0 {
				br = f.mergeBatch(f.parallel(4), f.team(8))
				f.checkBlamed(br)
			} else {
				br = f.mergeBatch(f.parallel(4), f.team(8, bad))
				f.checkBlamed(br, bad)
			}
			want := 2
			if bad < 0 {
				want = 1
			}
			if br.Waves > want {
				t.Errorf("%d waves of test runs (%d runs), want at most %d", br.Waves, br.TestRuns, want)
			}
			if len(br.Flaky) != 0 {
				t.Errorf("flaky: %+v", br.Flaky)
			}
			f.checkTested()
		})
	}
}

// Two bad branches, a conflicting pair and 32 branches: the parallel search blames exactly
// the bad ones, sends the conflict back, and lands the rest, tested.
func TestParallelTwoBadAndConflicts(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]int{{0, 1}, {2, 5}, {0, 7}, {6, 7}} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			br := f.mergeBatch(f.parallel(4), f.team(8, bad...))
			f.checkBlamed(br, bad...)
			if br.Waves > 4 {
				t.Errorf("%d waves, want at most 4", br.Waves)
			}
			f.checkTested()
		})
	}
	t.Run("conflict", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		reqs := f.team(3, 1)
		reqs = append(reqs, f.branch("x", "main", map[string]string{"shared.txt": "one\nx\nthree\n"}),
			f.branch("y", "main", map[string]string{"shared.txt": "one\ny\nthree\n"}))
		br := f.mergeBatch(f.parallel(3), reqs)
		if got := outcomes(br); !slices.Equal(got, []string{merge.Merged, merge.TestsFailed, merge.Merged, merge.Merged, merge.Conflict}) {
			t.Errorf("outcomes %v", got)
		}
		f.checkTested()
	})
	t.Run("32", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		m := f.parallel(4)
		m.Batch = 32
		br := f.mergeBatch(m, f.team(32, 11))
		f.checkBlamed(br, 11)
		if br.Waves > 3 {
			t.Errorf("%d waves, want at most 3", br.Waves)
		}
		f.checkTested()
	})
}
