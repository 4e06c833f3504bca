package orchestrator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// fixture is a real repository, a folder of scripted agents outside it, and a plan.
type fixture struct {
	t      *testing.T
	repo   string
	agents string
	binDir string // Env.BinDir: first on the agents' PATH
	logs   syncBuffer
	out    syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, repo: testsupport.NewRepo(t), agents: t.TempDir()}
	// The project's test: fails when any file under src/ says BROKEN.
	testsupport.Script(t, f.repo, "check.sh", "! grep -rq BROKEN src/ 2>/dev/null\n")
	testsupport.WriteFile(t, filepath.Join(f.repo, "src", "base.txt"), "base\n")
	testsupport.Git(t, f.repo, "add", "-A")
	testsupport.Git(t, f.repo, "commit", "-qm", "project with a test")
	t.Cleanup(f.checkJournal)
	return f
}

// checkJournal fails the test when a task of any team in the repository moved in a way the
// lifecycle's table lacks, or a move was refused: every run a test makes checks the table
// against what really happened.
func (f *fixture) checkJournal() {
	ctx := context.Background()
	if _, err := os.Stat(store.Path(filepath.Join(f.repo, ".git"))); err != nil {
		return // the test made no team
	}
	st, err := store.Open(store.Path(filepath.Join(f.repo, ".git")))
	if err != nil {
		f.t.Errorf("open the store to check its journal: %v", err)
		return
	}
	defer st.Close()
	teams, err := st.Teams(ctx)
	if err != nil {
		f.t.Errorf("list teams: %v", err)
		return
	}
	allowed := map[string]bool{}
	for _, e := range orchestrator.Transitions() {
		allowed[e] = true
	}
	for _, team := range teams {
		events, err := st.EventsOfKinds(ctx, team.Name, []string{"task.state", "task.refused"}, 0)
		if err != nil {
			f.t.Errorf("journal of team %s: %v", team.Name, err)
			continue
		}
		for _, e := range events {
			var d struct{ From, To string }
			if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
				f.t.Errorf("team %s event %d: %v", team.Name, e.ID, err)
			}
			if move := d.From + " -> " + d.To; e.Kind == "task.refused" || !allowed[move] {
				f.t.Errorf("team %s task %s: %s %s is no move of the lifecycle (orchestrator/taskstate.go)", team.Name, e.Task, e.Kind, move)
			}
		}
	}
}

// agent writes a scripted agent and returns its path.
func (f *fixture) agent(name, body string) string {
	return testsupport.Script(f.t, f.agents, name+".sh", body)
}

func (f *fixture) env() orchestrator.Env {
	return orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(&f.logs), Out: &f.out, BinDir: f.binDir}
}

// writePlan writes the plan (with repo: pointing at the fixture's repository) and returns its path.
func (f *fixture) writePlan(yaml string) string {
	f.t.Helper()
	path := filepath.Join(f.agents, "team.yaml")
	yaml = strings.ReplaceAll(yaml, "$REPO", f.repo)
	yaml = strings.ReplaceAll(yaml, "$AGENTS", f.agents)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// load writes the plan and loads it.
func (f *fixture) load(yaml string) *plan.Plan {
	f.t.Helper()
	p, err := plan.Load(f.writePlan(yaml))
	if err != nil {
		f.t.Fatalf("plan: %v", err)
	}
	return p
}

func (f *fixture) run(p *plan.Plan) error {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{ExitWhenBlocked: true})
	if ctx.Err() != nil {
		f.t.Fatalf("run did not finish: %v\nlog:\n%s", err, f.logs.String())
	}
	return err
}

// start runs plan p in the background, as `teamctl run` without --exit-when-blocked
// (it waits for a person), and returns the run's context (2 minutes) and its end.
func (f *fixture) start(p *plan.Plan) (context.Context, <-chan error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	f.t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{}) }()
	return ctx, done
}

// finished waits for a run started with start to end well, before its context does.
func (f *fixture) finished(ctx context.Context, done <-chan error) {
	f.t.Helper()
	select {
	case err := <-done:
		if err != nil {
			f.t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
		}
	case <-ctx.Done():
		f.t.Fatalf("run did not finish\nlog:\n%s", f.logs.String())
	}
}

// openBlockers waits for the team's open blockers to number n and returns them.
func (f *fixture) openBlockers(ctx context.Context, n int) []store.Blocker {
	f.t.Helper()
	ws := f.workspace()
	var open []store.Blocker
	testsupport.Eventually(f.t, time.Minute, fmt.Sprintf("%d open blocker(s)", n), func() bool {
		open, _ = ws.TestStore().OpenBlockers(ctx, "t")
		return len(open) == n
	})
	return open
}

// answer answers blocker id of team t as the person.
func (f *fixture) answer(id int64, text string) {
	f.t.Helper()
	if _, err := f.workspace().As(orchestrator.Caller{Team: "t", As: orchestrator.Human}).Answer(context.Background(), id, text); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) workspace() *orchestrator.Workspace {
	f.t.Helper()
	ws, err := orchestrator.Open(context.Background(), f.env(), f.repo)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { ws.Close() })
	return ws
}

func (f *fixture) status(team string) orchestrator.Status {
	f.t.Helper()
	st, err := f.workspace().Status(context.Background(), team)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) taskState(st orchestrator.Status, id string) orchestrator.TaskStatus {
	f.t.Helper()
	for _, t := range st.Tasks {
		if t.ID == id {
			return t
		}
	}
	f.t.Fatalf("no task %s in %+v", id, st.Tasks)
	return orchestrator.TaskStatus{}
}

// onLeader reports whether path exists on the team's leader branch.
func (f *fixture) onLeader(team, path string) bool {
	_, err := worktree.ExecRunner{}.Run(context.Background(), f.repo, nil, "git", "cat-file", "-e", "teamctl/"+team+"/lead/work:"+path)
	return err == nil
}

func (f *fixture) git(args ...string) string { return testsupport.Git(f.t, f.repo, args...) }

const header = `version: 1
team: t
repo: $REPO
base: main
test: ./check.sh
defaults: {timeout: 30s, retries: 1, nudge: {max: 1, auto_commit: true}}
`

func TestRunPaths(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	clean := f.agent("clean", `echo one > src/one.txt && git add -A && git commit -qm "one: add one.txt"`)
	forgets := f.agent("forgets", `echo two > src/two.txt; echo "launch $TEAMCTL_ATTEMPT reason $TEAMCTL_REASON"`)
	fixer := f.agent("fixer", `if [ "$TEAMCTL_REASON" = fix-tests ]; then
  echo fixed > src/three.txt; git commit -qam "three: fixed"; exit 0; fi
echo BROKEN > src/three.txt && git add -A && git commit -qm "three: broken"`)
	after := f.agent("after", `test -f src/one.txt || { echo "one.txt missing: after: not respected"; exit 1; }
echo four > src/four.txt && git add -A && git commit -qm four`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], tasks: [{id: one, prompt: p}, {id: four, prompt: p, after: [one]}]}
  - {name: bob, command: ['%s'], tasks: [{id: two, prompt: p}]}
  - {name: carol, command: ['%s'], tasks: [{id: three, prompt: p}]}
  - {name: dave, command: ['%s'], tasks: [{id: five, prompt: p, after: [one]}]}
`, clean, forgets, fixer, after))
	// alice's second task uses the "after" script through her own command: swap by task id.
	_ = os.WriteFile(clean, []byte(`#!/bin/sh
if [ "$TEAMCTL_TASK_ID" = four ]; then exec `+after+`; fi
echo one > src/one.txt && git add -A && git commit -qm "one: add one.txt"
`), 0o755)
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	for _, id := range []string{"one", "two", "three", "four", "five"} {
		if got := f.taskState(st, id).State; got != orchestrator.Merged {
			t.Errorf("task %s: %s, want merged", id, got)
		}
	}
	for _, p := range []string{"src/one.txt", "src/two.txt", "src/three.txt", "src/four.txt"} {
		if !f.onLeader("t", p) {
			t.Errorf("%s is not on the leader branch", p)
		}
	}
	// The forgotten commit was nudged once, then auto-committed under bob's name.
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/t/bob/work"); !strings.HasPrefix(got, "bob|teamctl auto-commit: work left uncommitted by bob (task two)") {
		t.Errorf("bob's branch tip: %q", got)
	}
	if got := f.taskState(st, "two").Attempt; got != 2 {
		t.Errorf("bob launched %d times, want 2 (task, nudge)", got)
	}
	// The leader branch passes the test, and it never pointed at a failing merge.
	if _, err := (worktree.ExecRunner{}).Run(context.Background(), st.LeaderWorktree, nil, "sh", "-c", "./check.sh"); err != nil {
		t.Errorf("leader worktree fails the test: %v", err)
	}
	if out := f.git("show", "teamctl/t/lead/work:src/three.txt"); out != "fixed" {
		t.Errorf("three.txt on the leader branch: %q", out)
	}
	rv, err := f.workspace().Review(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if !rv.Tested || len(rv.Refused) != 1 || rv.Refused[0].Outcome != "tests-failed" || rv.Refused[0].Task != "three" {
		t.Errorf("review: tested=%v refused=%+v", rv.Tested, rv.Refused)
	}
	// accept fast-forwards main, which is checked out in the main worktree.
	if _, err := f.workspace().Accept(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	if f.git("rev-parse", "main") != f.git("rev-parse", "teamctl/t/lead/work") {
		t.Error("main is not at the leader branch after accept")
	}
	if _, err := os.Stat(filepath.Join(f.repo, "src", "four.txt")); err != nil {
		t.Error("accept did not update the main worktree's files")
	}
}

func TestRunWaitsOnHuman(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, extra string
		state             orchestrator.TaskState
		detail            string
	}{
		{"never commits, auto_commit off", `echo x > src/x.txt`, `nudge: {max: 1, auto_commit: false}`, orchestrator.Blocked, "auto_commit is off"},
		{"crashes", `echo partial > src/p.txt; exit 7`, ``, orchestrator.Failed, "exited with code 7"},
		{"times out", `exec sleep 600`, `timeout: 300ms`, orchestrator.Failed, "timed out"},
		{"never fixes the test", `echo BROKEN >> src/x.txt; git add -A; git commit -qm "attempt $TEAMCTL_ATTEMPT"`, ``, orchestrator.TestsFailed, "test exited with code 1"},
		{"missing program", ``, ``, orchestrator.Failed, "no-such-agent-program"},
		{"outside owns", `echo x > other.txt && git add -A && git commit -qm other`, `owns: [src/]`, orchestrator.Failed, "refused: changes other.txt outside its owns: src/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cmd := f.agent("a", c.body)
			if c.name == "missing program" {
				cmd = "no-such-agent-program"
			}
			extra := ""
			if c.extra != "" {
				extra = ", " + c.extra
			}
			ok := f.agent("ok", `echo ok > src/ok.txt && git add -A && git commit -qm ok`)
			p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: x, prompt: p}]%s}
  - {name: b, command: ['%s'], tasks: [{id: ok, prompt: p}]}
`, cmd, extra, ok))
			err := f.run(p)
			if !errors.Is(err, orchestrator.ErrWaiting) {
				t.Fatalf("run: %v, want ErrWaiting\nlog:\n%s", err, f.logs.String())
			}
			st := f.status("t")
			x := f.taskState(st, "x")
			if x.State != c.state || !strings.Contains(x.Detail, c.detail) {
				t.Errorf("task x: %s %q, want %s containing %q", x.State, x.Detail, c.state, c.detail)
			}
			if !strings.HasPrefix(x.Waiting, "a human: ") {
				t.Errorf("task x waits on %q, want a human", x.Waiting)
			}
			// The other agent's work is merged all the same: one failure does not stop the team.
			if got := f.taskState(st, "ok").State; got != orchestrator.Merged {
				t.Errorf("task ok: %s, want merged", got)
			}
			// Nothing the failing agent wrote is lost: it is committed on its branch or still in its worktree.
			if c.name == "crashes" {
				if _, err := os.Stat(filepath.Join(st.Agents[1].Worktree, "src", "p.txt")); err != nil {
					t.Errorf("the crashed agent's file is gone: %v", err)
				}
			}
			// The leader branch's tip passed the test.
			rv, err := f.workspace().Review(context.Background(), "t")
			if err != nil {
				t.Fatal(err)
			}
			if !rv.Tested {
				t.Error("the leader branch's tip is not the tested one")
			}
		})
	}
}

func TestRunConflictFixed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Both change the same line of src/base.txt; whoever merges second must resolve.
	p := f.load(conflictTeam(t, f))
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.git("show", "teamctl/t/lead/work:src/base.txt"); got != "first\nsecond" {
		t.Errorf("base.txt on the leader branch: %q", got)
	}
	st := f.status("t")
	if got := f.taskState(st, "second"); got.State != orchestrator.Merged || got.Reason != "fix-conflict" {
		t.Errorf("task second: %+v", got)
	}
}

func TestRunBadInputLeavesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(f *fixture) string // returns the plan text
		want  string
	}{
		{"repo not a git repository", func(f *fixture) string {
			return strings.Replace(header, "repo: $REPO", "repo: "+t.TempDir(), 1) + "agents: [{name: a, command: [x], tasks: [{id: x, prompt: p}]}]\n"
		}, "is not inside a git repository"},
		{"base missing", func(f *fixture) string {
			return strings.Replace(header, "base: main", "base: nope", 1) + "agents: [{name: a, command: [x], tasks: [{id: x, prompt: p}]}]\n"
		}, `base branch "nope" does not exist`},
		{"worktree path exists", func(f *fixture) string {
			wt := t.TempDir()
			testsupport.WriteFile(t, filepath.Join(wt, "t", "b", "mine.txt"), "not teamctl's")
			return header + "worktrees: " + wt + "\nagents: [{name: a, command: [x], tasks: [{id: x, prompt: p}]}, {name: b, command: [x], tasks: [{id: y, prompt: p}]}]\n"
		}, "already exists and is not one of teamctl's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			before := f.git("for-each-ref", "--format=%(refname)")
			err := f.run(f.load(c.setup(f)))
			if !errors.Is(err, plan.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: %v, want a plan error containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "team.yaml:") {
				t.Errorf("error %q does not name the plan file and line", err)
			}
			if after := f.git("for-each-ref", "--format=%(refname)"); after != before {
				t.Errorf("refs changed:\n%s\nwant\n%s", after, before)
			}
			if wts := f.git("worktree", "list"); strings.Count(wts, "\n") != 0 {
				t.Errorf("worktrees left: %s", wts)
			}
			if _, err := f.workspace().Status(context.Background(), "t"); !errors.Is(err, orchestrator.ErrNoTeam) {
				t.Errorf("team row left behind: %v", err)
			}
		})
	}
}

func TestRunRefusesExistingTeamAndCleans(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ok := f.agent("ok", `echo ok > src/ok.txt && git add -A && git commit -qm ok`)
	p := f.load(header + fmt.Sprintf("agents: [{name: a, command: ['%s'], tasks: [{id: x, prompt: p}]}]\n", ok))
	if err := f.run(p); err != nil {
		t.Fatal(err)
	}
	if err := f.run(p); !errors.Is(err, orchestrator.ErrUsage) || !strings.Contains(err.Error(), "teamctl resume t") {
		t.Fatalf("second run: %v", err)
	}
	ws := f.workspace()
	// A dirty worktree is not cleaned without --force: that work would be lost.
	st := f.status("t")
	testsupport.WriteFile(t, filepath.Join(st.Agents[1].Worktree, "precious.txt"), "keep me")
	if _, err := ws.Clean(context.Background(), "t", orchestrator.CleanOptions{}); !errors.Is(err, orchestrator.ErrUsage) {
		t.Fatalf("clean of a dirty team: %v", err)
	}
	done, err := ws.Clean(context.Background(), "t", orchestrator.CleanOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(done.Branches) != 2 || len(done.Worktrees) != 2 {
		t.Errorf("cleaned %+v", done)
	}
	if refs := f.git("for-each-ref", "--format=%(refname)", "refs/heads/teamctl"); refs != "" {
		t.Errorf("branches left: %s", refs)
	}
	if err := f.run(p); err != nil {
		t.Fatalf("run after clean: %v", err)
	}
}

// An agent that has nothing to change exits 0 with a clean worktree and no commits: its
// task is done with nothing to merge, and a task after it starts all the same.
func TestRunNothingToDo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.agent("a", `if [ "$TEAMCTL_TASK_ID" = idle ]; then echo "nothing to do"; exit 0; fi
echo next > src/next.txt && git add -A && git commit -qm next`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: idle, prompt: p}, {id: next, prompt: p, after: [idle]}]}
`, a))
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	if got := f.taskState(st, "idle"); got.State != orchestrator.Done || got.Detail != "no commits to merge" || got.Attempt != 1 {
		t.Errorf("task idle: %+v, want done with nothing to merge after one launch", got)
	}
	if got := f.taskState(st, "next"); got.State != orchestrator.Merged {
		t.Errorf("task next: %+v, want merged", got)
	}
	if st.State != orchestrator.TeamFinished {
		t.Errorf("team %s, want finished", st.State)
	}
}

// Launches that are repeated carry the reason and what it needs: a retry after a crash,
// and a nudge the agent answers by committing (then no auto-commit is needed).
func TestRunRetryAndNudgeAnswered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prompts := t.TempDir()
	retry := f.agent("retry", fmt.Sprintf(`echo "$TEAMCTL_PROMPT" > "%s/retry-$TEAMCTL_ATTEMPT"
if [ "$TEAMCTL_ATTEMPT" = 1 ]; then echo half > src/r.txt; exit 3; fi
echo whole > src/r.txt && git add -A && git commit -qm "retry: done on attempt $TEAMCTL_ATTEMPT"`, prompts))
	nudged := f.agent("nudged", fmt.Sprintf(`echo "$TEAMCTL_PROMPT" > "%s/nudged-$TEAMCTL_ATTEMPT"
echo n > "src/n $TEAMCTL_ATTEMPT.txt"
if [ "$TEAMCTL_REASON" = nudge ]; then git add -A && git commit -qm "nudged: committed when asked"; fi`, prompts))
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: retried, prompt: do the retried task}]}
  - {name: b, command: ['%s'], tasks: [{id: nudged, prompt: do the nudged task}]}
`, retry, nudged))
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	for _, id := range []string{"retried", "nudged"} {
		if got := f.taskState(st, id); got.State != orchestrator.Merged || got.Attempt != 2 {
			t.Errorf("task %s: %+v, want merged on the second launch", id, got)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(prompts, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if p := read("retry-2"); !strings.Contains(p, "do the retried task") || !strings.Contains(p, "exited with code 3") {
		t.Errorf("the retry's prompt does not say the last launch failed:\n%s", p)
	}
	if p := read("nudged-2"); !strings.Contains(p, "do the nudged task") || !strings.Contains(p, "uncommitted") || !strings.Contains(p, "src/n 1.txt") {
		t.Errorf("the nudge's prompt does not list what was left uncommitted:\n%s", p)
	}
	if got := f.git("log", "--format=%s", "teamctl/t/b/work"); strings.Contains(got, "auto-commit") || !strings.Contains(got, "nudged: committed when asked") {
		t.Errorf("b's branch:\n%s", got)
	}
	// The half-done work of the crashed launch was not lost: the retry continued over it.
	if got := f.git("show", "teamctl/t/lead/work:src/r.txt"); got != "whole" {
		t.Errorf("r.txt on the leader branch: %q", got)
	}
}

// A conflict the agent does not resolve, whether it leaves the merge half-done or aborts
// it, ends the task in conflict for a human after the fix rounds; the other work stays
// merged and the leader branch tested.
func TestRunConflictNeverFixed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, onFix, detail string
	}{
		{"leaves the conflict", `echo "not resolving"; exit 0`, "the agent left unresolved conflicts in src/base.txt"},
		{"aborts the merge", `git merge --abort; exit 0`, "conflicts with the leader branch in src/base.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			first := f.agent("first", `echo first > src/base.txt && git commit -qam first`)
			second := f.agent("second", `if [ "$TEAMCTL_REASON" = fix-conflict ] || [ "$TEAMCTL_REASON" = nudge ]; then `+c.onFix+`; fi
while ! git log --format=%s teamctl/t/lead/work | grep -q "task first"; do sleep 0.05; done
echo second > src/base.txt && git commit -qam second`)
			p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: first, prompt: p}]}
  - {name: b, command: ['%s'], tasks: [{id: second, prompt: p}]}
`, first, second))
			if err := f.run(p); !errors.Is(err, orchestrator.ErrWaiting) {
				t.Fatalf("run: %v, want ErrWaiting\nlog:\n%s", err, f.logs.String())
			}
			st := f.status("t")
			if got := f.taskState(st, "second"); got.State != orchestrator.Conflict || !strings.Contains(got.Detail, c.detail) {
				t.Errorf("task second: %+v, want conflict saying %q", got, c.detail)
			}
			if got := f.git("show", "teamctl/t/lead/work:src/base.txt"); got != "first" {
				t.Errorf("base.txt on the leader branch: %q", got)
			}
			// b's own commit is still on its branch for the human to resolve.
			if got := f.git("show", "teamctl/t/b/work:src/base.txt"); got != "second" {
				t.Errorf("base.txt on b's branch: %q", got)
			}
			rv, err := f.workspace().Review(context.Background(), "t")
			if err != nil {
				t.Fatal(err)
			}
			if !rv.Tested {
				t.Error("the leader branch's tip is not the tested one")
			}
		})
	}
}

// A failing test with retries: 0 ends the task at once, with the test's output, and
// the agent is not relaunched.
func TestRunTestsFailedNoRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	broken := f.agent("broken", `echo "launch $TEAMCTL_ATTEMPT"; echo BROKEN > src/b.txt && git add -A && git commit -qm broken`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], retries: 0, tasks: [{id: x, prompt: p}]}
`, broken))
	if err := f.run(p); !errors.Is(err, orchestrator.ErrWaiting) {
		t.Fatalf("run: %v, want ErrWaiting", err)
	}
	if got := f.taskState(f.status("t"), "x"); got.State != orchestrator.TestsFailed || got.Attempt != 1 || !strings.Contains(got.Detail, "test exited with code 1") {
		t.Errorf("task x: %+v, want tests-failed after one launch", got)
	}
	if got := f.git("rev-parse", "teamctl/t/lead/work"); got != f.git("rev-parse", "main") {
		t.Error("the leader branch moved to a failing merge")
	}
}

// Agents get the environment of DESIGN.md §4, and their commits carry their own name
// (or the one the plan's env gives them).
func TestRunAgentEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.binDir = t.TempDir()
	envs := t.TempDir()
	a := f.agent("env", fmt.Sprintf(`env | grep -E '^(TEAMCTL_[A-Z_]*|GIT_AUTHOR_[A-Z]*|PATH|PLAN_VAR)=' | grep -v '^TEAMCTL_PROMPT=' > "%s/$TEAMCTL_AGENT"
echo "$TEAMCTL_PROMPT" > "%s/$TEAMCTL_AGENT.prompt"
echo "$TEAMCTL_AGENT" > "src/$TEAMCTL_AGENT.txt" && git add -A && git commit -qm "work of $TEAMCTL_AGENT"`, envs, envs))
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], tasks: [{id: x, prompt: the task of alice}]}
  - {name: bob, command: ['%s'], env: {GIT_AUTHOR_NAME: Bob Real, PLAN_VAR: "from the plan"}, tasks: [{id: y, prompt: p}]}
`, a, a))
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	b, err := os.ReadFile(filepath.Join(envs, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	want := map[string]string{
		"TEAMCTL_TEAM": "t", "TEAMCTL_AGENT": "alice", "TEAMCTL_ROLE": "dev", "TEAMCTL_TASK_ID": "x",
		"TEAMCTL_WORKTREE": st.Agents[1].Worktree, "TEAMCTL_BRANCH": "teamctl/t/alice/work",
		"TEAMCTL_LEADER_BRANCH": "teamctl/t/lead/work", "TEAMCTL_ATTEMPT": "1", "TEAMCTL_REASON": "task",
		"GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": "alice@t.teamctl.invalid",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["PATH"], f.binDir+":") {
		t.Errorf("PATH=%s, want teamctl's directory %s first", env["PATH"], f.binDir)
	}
	if b, _ := os.ReadFile(filepath.Join(envs, "alice.prompt")); !strings.Contains(string(b), "the task of alice") {
		t.Errorf("TEAMCTL_PROMPT lacks the task's prompt:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(envs, "bob")); !strings.Contains(string(b), "PLAN_VAR=from the plan") || !strings.Contains(string(b), "GIT_AUTHOR_NAME=Bob Real") {
		t.Errorf("bob's env lacks the plan's env:\n%s", b)
	}
	if got := f.git("log", "-1", "--format=%an <%ae>", "teamctl/t/alice/work"); got != "alice <alice@t.teamctl.invalid>" {
		t.Errorf("alice's commit by %s", got)
	}
	if got := f.git("log", "-1", "--format=%an", "teamctl/t/bob/work"); got != "Bob Real" {
		t.Errorf("bob's commit by %s, want the plan's Bob Real", got)
	}
	if got := f.git("log", "--format=%s", "--author=alice", "teamctl/t/lead/work"); got != "work of alice" {
		t.Errorf("git log --author=alice on the leader branch: %q", got)
	}
}
