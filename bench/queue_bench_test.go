package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/worktree"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

const (
	testDuration = 200 * time.Millisecond
	dirs         = 60 // the generated repository: dirs × filesPerDir files
	filesPerDir  = 50
	leaderBranch = "teamctl/bench/lead/work"
)

// testCommand takes testDuration and fails when a branch marked itself BROKEN.
var testCommand = fmt.Sprintf("sleep %.1f; ! grep -rqs BROKEN marks/", testDuration.Seconds())

// generate makes a repository of dirs × filesPerDir small files plus shared.txt, committed
// on main, and returns its path.
func generate(b *testing.B) string {
	b.Helper()
	repo := testsupport.NewRepo(b)
	for d := 0; d < dirs; d++ {
		for f := 0; f < filesPerDir; f++ {
			var s strings.Builder
			for l := 0; l < 10; l++ {
				fmt.Fprintf(&s, "pkg%02d file%02d line %d\n", d, f, l)
			}
			testsupport.WriteFile(b, filepath.Join(repo, fmt.Sprintf("pkg%02d/f%02d.txt", d, f)), s.String())
		}
	}
	testsupport.WriteFile(b, filepath.Join(repo, "shared.txt"), "one\ntwo\nthree\n")
	testsupport.WriteFile(b, filepath.Join(repo, "marks", "base.txt"), "ok\n")
	testsupport.Git(b, repo, "add", "-A")
	testsupport.Git(b, repo, "commit", "-qm", "generated project")
	return repo
}

// scenario is one queue workload: which branches break the test, which pair conflicts.
type scenario struct {
	name     string
	bad      func(n int) []int
	conflict func(n int) []int // two branches editing the same line of shared.txt
}

var scenarios = []scenario{
	{name: "all clean", bad: func(int) []int { return nil }},
	{name: "one bad", bad: func(n int) []int { return []int{n / 3} }},
	{name: "two bad", bad: func(n int) []int { return []int{n / 4, 3 * n / 4} }},
	{name: "one conflicting pair", bad: func(int) []int { return nil }, conflict: func(int) []int { return []int{2, 5} }},
}

// bed is a generated repository with a leader worktree and a scratch worktree for making
// branches.
type bed struct {
	b        *testing.B
	repo     string
	root     string
	leader   string
	scratch  string
	wt       *worktree.Repo
	testDirs []string // three more worktrees candidates are tested in, merge.parallel: 4
}

func newBed(b *testing.B) *bed {
	repo := generate(b)
	e := &bed{b: b, repo: repo, root: filepath.Dir(repo)}
	e.leader = filepath.Join(e.root, "lead")
	e.scratch = filepath.Join(e.root, "scratch")
	testsupport.Git(b, repo, "branch", leaderBranch, "main")
	testsupport.Git(b, repo, "worktree", "add", "-q", e.leader, leaderBranch)
	testsupport.Git(b, repo, "worktree", "add", "-q", "--detach", e.scratch, "main")
	for k := 2; k <= 4; k++ {
		dir := filepath.Join(e.root, fmt.Sprintf("test-%d", k))
		testsupport.Git(b, repo, "worktree", "add", "-q", "--detach", dir, "main")
		e.testDirs = append(e.testDirs, dir)
	}
	wt, err := worktree.Open(context.Background(), worktree.ExecRunner{}, repo)
	if err != nil {
		b.Fatal(err)
	}
	e.wt = wt
	return e
}

// branches makes n branches for scenario sc off main, each changing one existing file and
// adding its own mark, and returns their requests oldest first.
func (e *bed) branches(sc scenario, n int) []merge.Request {
	bad := sc.bad(n)
	var conflict []int
	if sc.conflict != nil {
		conflict = sc.conflict(n)
	}
	var reqs []merge.Request
	for i := 0; i < n; i++ {
		agent := fmt.Sprintf("a%02d", i)
		br := fmt.Sprintf("teamctl/bench/%s-%d-%s", strings.ReplaceAll(sc.name, " ", "-"), n, agent)
		testsupport.Git(e.b, e.scratch, "checkout", "-q", "-B", br, "main")
		file := filepath.Join(e.scratch, fmt.Sprintf("pkg%02d/f%02d.txt", i%dirs, i/dirs))
		f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			e.b.Fatal(err)
		}
		fmt.Fprintf(f, "changed by %s\n", agent)
		f.Close()
		mark := "ok\n"
		if slices.Contains(bad, i) {
			mark = "BROKEN\n"
		}
		testsupport.WriteFile(e.b, filepath.Join(e.scratch, "marks", agent+".txt"), mark)
		if slices.Contains(conflict, i) {
			testsupport.WriteFile(e.b, filepath.Join(e.scratch, "shared.txt"), "one\ntwo by "+agent+"\nthree\n")
		}
		testsupport.Git(e.b, e.scratch, "add", "-A")
		testsupport.Git(e.b, e.scratch, "commit", "-qm", agent+": work")
		reqs = append(reqs, merge.Request{Team: "bench", Task: "task-" + agent, Agent: agent, Branch: br})
	}
	return reqs
}

// reset puts the leader branch back on main, checked out in the leader worktree.
func (e *bed) reset() {
	testsupport.Git(e.b, e.leader, "checkout", "-q", "-B", leaderBranch, "main")
	testsupport.Git(e.b, e.leader, "clean", "-fdq")
}

func (e *bed) merger(batch, retries int) *merge.Merger {
	return &merge.Merger{Repo: e.wt, Run: worktree.ExecRunner{}, Dir: e.leader, Branch: leaderBranch,
		Test: testCommand, TestTimeout: time.Minute, Batch: batch, TestRetries: retries}
}

// tally is one queue's work on one scenario.
type tally struct {
	runs, waves, merged, failed, conflicts int // waves: test runs one after another
	wall                                   time.Duration
}

func (t *tally) count(r merge.Result) {
	switch r.Outcome {
	case merge.Merged:
		t.merged++
	case merge.TestsFailed:
		t.failed++
	case merge.Conflict:
		t.conflicts++
	}
}

// arrivalGap is how far apart branches arrive in the staggered pattern: 8 agents started
// together that finish within a test run's time of each other.
const arrivalGap = testDuration / 10

// queue runs the batch queue as the supervisor does, on branches that arrive gap apart
// (0: all at once): every ready branch is handed to MergeBatch (which takes up to 8) once
// the batch has settled (merge.AutoSettle on the test time measured so far, kept in perRun
// across scenarios as a long-lived supervisor keeps it), what it did not get to goes round
// again. k is merge.parallel. Wall time runs from the first arrival to the last decision.
func (e *bed) queue(reqs []merge.Request, gap time.Duration, k int, perRun *time.Duration) tally {
	e.reset()
	m := e.merger(8, 1)
	m.TestDirs = e.testDirs[:k-1]
	var t tally
	start := time.Now()
	at := func(i int) time.Time { return start.Add(time.Duration(i) * gap) }
	var ready []int // arrived, not decided, oldest first
	for next := 0; next < len(reqs) || len(ready) > 0; {
		now := time.Now()
		for next < len(reqs) && !at(next).After(now) {
			ready = append(ready, next)
			next++
		}
		if len(ready) == 0 {
			time.Sleep(time.Until(at(next)))
			continue
		}
		if wait := merge.AutoSettle(*perRun).Wait(now, at(ready[0]), at(ready[len(ready)-1]), next < len(reqs)); wait > 0 {
			time.Sleep(min(wait, time.Until(at(next))))
			continue
		}
		var batch []merge.Request
		for _, i := range ready {
			batch = append(batch, reqs[i])
		}
		br, err := m.MergeBatch(context.Background(), batch)
		if err != nil {
			e.b.Fatal(err)
		}
		t.runs += br.TestRuns
		t.waves += br.Waves
		if br.TestRuns > 0 {
			*perRun = br.TestTime / time.Duration(br.TestRuns)
		}
		var left []int
		for j, r := range br.Results {
			if r.Outcome == merge.NotAttempted {
				left = append(left, ready[j])
			}
			t.count(r)
		}
		ready = left
	}
	t.wall = time.Since(start)
	return t
}

// oneAtATime is the classic queue: merge one branch, test, next; a failure is trusted (no
// rerun), as the reference point "one-at-a-time queues need 8 runs for 8 branches" assumes.
func (e *bed) oneAtATime(reqs []merge.Request, gap time.Duration) tally {
	e.reset()
	m := e.merger(1, 0)
	var t tally
	start := time.Now()
	for i, req := range reqs {
		time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
		r, err := m.Merge(context.Background(), req)
		if err != nil {
			e.b.Fatal(err)
		}
		t.runs += r.TestRuns
		t.count(r)
	}
	t.waves = t.runs
	t.wall = time.Since(start)
	return t
}

// bors simulates bors-ng's queue on the same branches, on a clock of testDuration per run:
// a batch is every branch ready when the queue is free (up to 8, as ours); a failing batch
// is split in halves, each tested as a batch of its own, until the bad branches stand alone.
// A conflicting branch drops out when the batch is built, with no test run, as in ours.
func bors(sc scenario, n int, gap time.Duration) tally {
	bad, conflict := sc.bad(n), []int(nil)
	if sc.conflict != nil {
		conflict = sc.conflict(n)
	}
	var t tally
	var clock time.Duration
	var landed []int
	var test func(batch []int)
	test = func(batch []int) {
		t.runs++
		clock += testDuration
		if !slices.ContainsFunc(batch, func(i int) bool { return slices.Contains(bad, i) }) {
			landed = append(landed, batch...)
			t.merged += len(batch)
			return
		}
		if len(batch) == 1 {
			t.failed++
			return
		}
		test(batch[:len(batch)/2])
		test(batch[len(batch)/2:])
	}
	for next := 0; next < n; {
		clock = max(clock, time.Duration(next)*gap)
		var batch []int
		for ; next < n && len(batch) < 8 && time.Duration(next)*gap <= clock; next++ {
			if slices.Contains(conflict, next) && slices.ContainsFunc(append(landed, batch...), func(i int) bool { return slices.Contains(conflict, i) }) {
				t.conflicts++
				continue
			}
			batch = append(batch, next)
		}
		if len(batch) > 0 {
			test(batch)
		}
	}
	t.waves, t.wall = t.runs, clock
	return t
}

func (t tally) cells() string {
	return fmt.Sprintf("%d | %d | %.1f s | %d/%d/%d", t.runs, t.waves, t.wall.Seconds(), t.merged, t.failed, t.conflicts)
}

// BenchmarkQueue prints, per scenario, team size and arrival pattern, the batch queue with
// one test run at a time (K=1) and four (K=4, merge.parallel) beside a one-at-a-time queue
// and simulated bors-style halving on the same branches: test runs, test-run latencies of
// wall time (runs one after another), wall time, and what landed (merged/failed/conflict).
func BenchmarkQueue(b *testing.B) {
	for i := 0; i < b.N; i++ {
		e := newBed(b)
		fmt.Printf("\nmerge queue: %d files, test command `%s` (%s), staggered = one branch every %s, %s/%s, %d CPUs\n\n",
			dirs*filesPerDir+2, testCommand, testDuration, arrivalGap, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
		fmt.Println("| scenario | N | arrival | K=1: runs | latencies | wall | m/f/c | K=4: runs | latencies | wall | m/f/c | one at a time: runs | latencies | wall | m/f/c | bors halving (simulated): runs | latencies | wall | m/f/c |")
		fmt.Println("| --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |")
		perRun := new(time.Duration)
		for _, n := range []int{8, 32} {
			for _, sc := range scenarios {
				reqs := e.branches(sc, n)
				for _, arr := range []struct {
					name string
					gap  time.Duration
				}{{"simultaneous", 0}, {"staggered", arrivalGap}} {
					k1 := e.queue(reqs, arr.gap, 1, perRun)
					k4 := e.queue(reqs, arr.gap, 4, perRun)
					ot := e.oneAtATime(reqs, arr.gap)
					fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", sc.name, n, arr.name, k1.cells(), k4.cells(), ot.cells(), bors(sc, n, arr.gap).cells())
				}
			}
		}
		e.warnings()
	}
}

// warnings prints what the early conflict check costs on 32 live branches.
func (e *bed) warnings() {
	reqs := e.branches(scenarios[3], 32)
	live := map[string]string{}
	for _, r := range reqs {
		live[r.Agent] = r.Branch
	}
	c := merge.NewPairChecker(e.wt)
	ctx := context.Background()
	start := time.Now()
	w, err := c.Check(ctx, "main", live)
	if err != nil {
		e.b.Fatal(err)
	}
	first, merges := time.Since(start), c.Merges()
	start = time.Now()
	if _, err := c.Check(ctx, "main", live); err != nil {
		e.b.Fatal(err)
	}
	again := time.Since(start)
	testsupport.Git(e.b, e.scratch, "checkout", "-q", reqs[7].Branch)
	testsupport.WriteFile(e.b, filepath.Join(e.scratch, "marks", "a07-more.txt"), "more\n")
	testsupport.Git(e.b, e.scratch, "add", "-A")
	testsupport.Git(e.b, e.scratch, "commit", "-qm", "a07: more")
	start = time.Now()
	if _, err := c.Check(ctx, "main", live); err != nil {
		e.b.Fatal(err)
	}
	moved := time.Since(start)
	fmt.Printf("\nearly conflict check, 32 live branches (%d pairs): first check %d ms (%d merge-trees, %d warning(s)); unchanged %d ms; one branch moved %d ms (%d merge-trees)\n",
		32*31/2, first.Milliseconds(), merges, len(w), again.Milliseconds(), moved.Milliseconds(), c.Merges()-merges)
}

// BenchmarkOrchestrationOverhead prints `run` of 8 instant agents with `test: true` beside
// the raw git floor: the same worktree adds, commits and merges with plain git, in the same
// repository. Median of three alternating rounds.
func BenchmarkOrchestrationOverhead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		repo := generate(b)
		tools := b.TempDir()
		agent := testsupport.Script(b, tools, "instant.sh",
			`echo "$TEAMCTL_AGENT" > "done-$TEAMCTL_AGENT.txt" && git add -A && git commit -qm "$TEAMCTL_AGENT: one file"`)
		var orch, floor []time.Duration
		for round := 0; round < 3; round++ {
			floor = append(floor, rawGit(b, repo, fmt.Sprintf("floor%d", round)))
			orch = append(orch, runTeam(b, repo, tools, agent, fmt.Sprintf("overhead%d", round)))
		}
		o, f := median(orch), median(floor)
		fmt.Printf("\norchestration overhead, 8 instant agents, `test: true`, %d files, %d CPUs (median of 3)\n\n", dirs*filesPerDir+2, runtime.NumCPU())
		fmt.Println("| | wall |")
		fmt.Println("| --- | ---: |")
		fmt.Printf("| raw git floor (9 branches + worktree adds, 8 commits, 8 merges --no-ff, 8 × `true`) | %.2f s |\n", f.Seconds())
		fmt.Printf("| `orchestrator.Run` | %.2f s |\n", o.Seconds())
		fmt.Printf("| ratio (target ≤ 1.25) | %.2fx |\n", o.Seconds()/f.Seconds())
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// runTeam runs a plan of 8 agents that each commit one file and returns its wall time.
func runTeam(b *testing.B, repo, tools, agent, team string) time.Duration {
	b.Helper()
	var yaml strings.Builder
	fmt.Fprintf(&yaml, "version: 1\nteam: %s\nrepo: %s\nbase: main\ntest: \"true\"\nworktrees: %s\ndefaults:\n  timeout: 1m\nagents:\n",
		team, repo, filepath.Join(tools, team))
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&yaml, "  - name: a%d\n    command: [%s]\n    tasks:\n      - id: t%d\n        prompt: write one file\n", i, agent, i)
	}
	path := filepath.Join(tools, team+".yaml")
	testsupport.WriteFile(b, path, yaml.String())
	p, err := plan.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs strings.Builder
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(&logs), Out: &strings.Builder{}}
	start := time.Now()
	if err := orchestrator.Run(ctx, env, p, orchestrator.RunOptions{ExitWhenBlocked: true}); err != nil {
		b.Fatalf("run %s: %v\n%s", team, err, logs.String())
	}
	wall := time.Since(start)
	merges := testsupport.Git(b, repo, "rev-list", "--count", "--merges", "--first-parent", "main..teamctl/"+team+"/lead/work")
	if merges != "8" {
		b.Fatalf("run %s merged %s branches, want 8\n%s", team, merges, logs.String())
	}
	return wall
}

// rawGit does what the orchestrator does for that plan with plain git, sequentially.
func rawGit(b *testing.B, repo, name string) time.Duration {
	b.Helper()
	root := filepath.Join(filepath.Dir(repo), name)
	run := func(dir string, argv ...string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	start := time.Now()
	lead := filepath.Join(root, "lead")
	run(repo, "git", "branch", name+"/lead", "main")
	run(repo, "git", "worktree", "add", "-q", lead, name+"/lead")
	for i := 0; i < 8; i++ {
		br, wt := fmt.Sprintf("%s/a%d", name, i), filepath.Join(root, fmt.Sprintf("a%d", i))
		run(repo, "git", "branch", br, "main")
		run(repo, "git", "worktree", "add", "-q", wt, br)
		testsupport.WriteFile(b, filepath.Join(wt, fmt.Sprintf("done-a%d.txt", i)), "a\n")
		run(wt, "git", "add", "-A")
		run(wt, "git", "commit", "-qm", "one file")
	}
	for i := 0; i < 8; i++ {
		run(lead, "git", "merge", "-q", "--no-ff", "-m", "merge", fmt.Sprintf("%s/a%d", name, i))
		run(lead, "sh", "-c", "true")
	}
	return time.Since(start)
}
