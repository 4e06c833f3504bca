package orchestrator_test

import (
	"bytes"
	"context"
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
	"github.com/teamctl/teamctl/worktree"
)

// fixture is a real repository, a folder of scripted agents outside it, and a plan.
type fixture struct {
	t      *testing.T
	repo   string
	agents string
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
	return f
}

// agent writes a scripted agent and returns its path.
func (f *fixture) agent(name, body string) string {
	return testsupport.Script(f.t, f.agents, name+".sh", body)
}

func (f *fixture) env() orchestrator.Env {
	return orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(&f.logs), Out: &f.out}
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
	_, err := worktree.ExecRunner{}.Run(context.Background(), f.repo, nil, "git", "cat-file", "-e", "teamctl/"+team+"/lead:"+path)
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
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/t/bob"); !strings.HasPrefix(got, "bob|teamctl auto-commit: work left uncommitted by bob (task two)") {
		t.Errorf("bob's branch tip: %q", got)
	}
	if got := f.taskState(st, "two").Attempt; got != 2 {
		t.Errorf("bob launched %d times, want 2 (task, nudge)", got)
	}
	// The leader branch passes the test, and it never pointed at a failing merge.
	if _, err := (worktree.ExecRunner{}).Run(context.Background(), st.LeaderWorktree, nil, "sh", "-c", "./check.sh"); err != nil {
		t.Errorf("leader worktree fails the test: %v", err)
	}
	if out := f.git("show", "teamctl/t/lead:src/three.txt"); out != "fixed" {
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
	if f.git("rev-parse", "main") != f.git("rev-parse", "teamctl/t/lead") {
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
		state, detail     string
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
	first := f.agent("first", `echo first > src/base.txt && git commit -qam first`)
	second := f.agent("second", `if [ "$TEAMCTL_REASON" = fix-conflict ]; then
  git diff --name-only --diff-filter=U | grep -q src/base.txt || exit 9
  printf 'first\nsecond\n' > src/base.txt; git add -A; git commit -qm "resolve"; exit 0; fi
# Wait until a's work is merged, so this branch is clean against base but conflicts with the leader.
while ! git log --format=%s teamctl/t/lead | grep -q "task first"; do sleep 0.05; done
echo second > src/base.txt && git commit -qam second`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: first, prompt: p}]}
  - {name: b, command: ['%s'], tasks: [{id: second, prompt: p}]}
`, first, second))
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.git("show", "teamctl/t/lead:src/base.txt"); got != "first\nsecond" {
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
