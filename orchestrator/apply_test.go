package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
)

// loadAs writes yaml as the plan file name (beside team.yaml) and loads it.
func (f *fixture) loadAs(name, yaml string) *plan.Plan {
	f.t.Helper()
	path := filepath.Join(f.agents, name)
	yaml = strings.ReplaceAll(yaml, "$REPO", f.repo)
	yaml = strings.ReplaceAll(yaml, "$AGENTS", f.agents)
	testsupport.WriteFile(f.t, path, yaml)
	p, err := plan.Load(path)
	if err != nil {
		f.t.Fatalf("plan %s: %v", name, err)
	}
	return p
}

// TestApplyToALiveTeam: an edited plan applied while the team runs adds an agent and its
// task, changes the test the merge queue runs, and (with --force) cancels a task whose
// agent is working: the agent is stopped, what it left uncommitted is committed on its
// branch, and the rest of the team finishes.
func TestApplyToALiveTeam(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	f.agent("alice", fmt.Sprintf(`while [ ! -e %s/go ]; do sleep 0.05; done
echo one > src/one.txt && git add -A && git commit -qm one`, marks))
	f.agent("bob", fmt.Sprintf(`echo half > src/bob.txt; touch %s/bob.working; while :; do sleep 0.05; done`, marks))
	f.agent("carol", `echo three > src/three.txt && git add -A && git commit -qm three`)
	agents := `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: one, prompt: p}]}
`
	bob := `  - {name: bob, command: [$AGENTS/bob.sh], tasks: [{id: two, prompt: p}]}
`
	p := f.load(header + agents + bob)
	ctx, done := f.start(p)
	testsupport.Eventually(t, time.Minute, "bob working", func() bool { _, err := os.Stat(filepath.Join(marks, "bob.working")); return err == nil })

	edited := strings.Replace(header, "test: ./check.sh", "test: touch "+marks+"/new-test && ./check.sh", 1) + agents +
		"  - {name: carol, command: [$AGENTS/carol.sh], tasks: [{id: three, prompt: p}]}\n"
	ws := f.workspace()
	res, err := ws.Apply(ctx, f.loadAs("edited.yaml", edited), orchestrator.ApplyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"+ agent carol", "+ task three (carol)", "- task two (bob): cancelled while running (--force)", "- agent bob: leaves the plan", `~ test: "./check.sh" → "touch `}
	for _, w := range want {
		if !strings.Contains(strings.Join(res.Changes, "\n"), w) {
			t.Errorf("changes %q: want a line %q", res.Changes, w)
		}
	}
	if err := testsupport.Poll(ctx, time.Minute, func() bool {
		st, err := ws.Status(ctx, "t")
		return err == nil && f.taskState(st, "two").State == orchestrator.Cancelled
	}); err != nil {
		t.Fatalf("two not cancelled: %v\nlog:\n%s", err, f.logs.String())
	}
	if err := os.WriteFile(filepath.Join(marks, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.finished(ctx, done)
	st := f.status("t")
	for id, want := range map[string]orchestrator.TaskState{"one": orchestrator.Merged, "two": orchestrator.Cancelled, "three": orchestrator.Merged} {
		if got := f.taskState(st, id).State; got != want {
			t.Errorf("task %s: %s, want %s", id, got, want)
		}
	}
	if !f.onLeader("t", "src/three.txt") || f.onLeader("t", "src/bob.txt") {
		t.Errorf("leader branch: want carol's three.txt and not bob's cancelled work")
	}
	if got := f.git("show", "teamctl/t/bob/work:src/bob.txt"); got != "half" {
		t.Errorf("bob's branch holds %q in src/bob.txt: his uncommitted work must stay on his branch", got)
	}
	if _, err := os.Stat(filepath.Join(marks, "new-test")); err != nil {
		t.Errorf("the merge queue did not run the applied plan's test")
	}
	if ev := f.journal("t", "plan.applied"); len(ev) != 1 || !strings.Contains(ev[0].Data, "+ task three") {
		t.Errorf("journal: %+v, want one plan.applied with the diff", ev)
	}
	// resume reads the applied plan, not the one run started with.
	stored, err := ws.Plan(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored.Agent("carol"); !ok || !strings.Contains(stored.Test, "new-test") {
		t.Errorf("the stored plan is not the applied one: agents %v test %q", stored.Agents, stored.Test)
	}
}

// TestApplyRefusesAndChangesNothing: every bad edit is refused with a clear error, and the
// team is as it was: its plan, its tasks, its branches, its journal.
func TestApplyRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	f.agent("alice", fmt.Sprintf(`touch %s/alice.working; while [ ! -e %s/go ]; do sleep 0.05; done
echo $TEAMCTL_TASK_ID > src/$TEAMCTL_TASK_ID.txt && git add -A && git commit -qm $TEAMCTL_TASK_ID`, marks, marks))
	agents := `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: one, prompt: p}, {id: later, prompt: p}]}
`
	p := f.load(header + agents)
	ctx, done := f.start(p)
	testsupport.Eventually(t, time.Minute, "alice working", func() bool { _, err := os.Stat(filepath.Join(marks, "alice.working")); return err == nil })
	ws := f.workspace()
	snapshot := func() string {
		team, err := ws.TestStore().Team(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		tasks, _ := ws.TestStore().Tasks(ctx, "t")
		var b strings.Builder
		fmt.Fprintln(&b, team.PlanJSON)
		for _, tk := range tasks {
			fmt.Fprintln(&b, tk.ID, tk.Agent, tk.Prompt, tk.After, tk.Cancel)
		}
		fmt.Fprintln(&b, f.git("branch", "--list"), len(f.journal("t", "plan.applied")))
		return b.String()
	}
	before := snapshot()
	newAgent := "  - {name: dave, command: [$AGENTS/alice.sh], tasks: [{id: five, prompt: p}]}\n"
	cases := []struct {
		name, yaml string
		want       string
		is         error
	}{
		{"a renamed team", strings.Replace(header, "team: t", "team: u", 1) + agents, `edited.yaml:2:7: team u: this repository has no team "u"`, orchestrator.ErrNoTeam},
		{"another base", strings.Replace(header, "base: main", "base: other", 1) + agents, "edited.yaml:4:7: base other: team t started from main", plan.ErrInvalid},
		{"a running task removed without --force (and an agent added)", header + `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: later, prompt: p}]}
` + newAgent, "edited.yaml:8:3: the plan removes 1 task(s) that have started: one (alice, running); apply --force cancels them", plan.ErrInvalid},
		{"a task moved to another agent", header + `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: one, prompt: p}]}
  - {name: dave, command: [$AGENTS/alice.sh], tasks: [{id: later, prompt: p}]}
`, "task later is alice's; a task cannot move to another agent", plan.ErrInvalid},
		{"after: of a started task", header + `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: one, prompt: p, after: [later]}, {id: later, prompt: p}]}
`, "task one is running: its after: can change only before it starts", plan.ErrInvalid},
	}
	for _, c := range cases {
		_, err := ws.Apply(ctx, f.loadAs("edited.yaml", c.yaml), orchestrator.ApplyOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
			t.Errorf("%s: err %v, want %q (%v)", c.name, err, c.want, c.is)
		}
		if after := snapshot(); after != before {
			t.Errorf("%s changed the team:\nbefore %s\nafter  %s", c.name, before, after)
		}
	}
	// A dry run of a good edit says what would change and changes nothing either.
	res, err := ws.Apply(ctx, f.loadAs("edited.yaml", header+agents+newAgent), orchestrator.ApplyOptions{DryRun: true})
	if err != nil || !res.DryRun || len(res.Changes) != 2 {
		t.Errorf("dry run: %+v %v, want the new agent and its task", res, err)
	}
	if after := snapshot(); after != before {
		t.Errorf("the dry run changed the team")
	}
	_ = os.WriteFile(filepath.Join(marks, "go"), nil, 0o644)
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
}

// TestApplyRaisesABudget: an agent stopped over its budget goes on once apply raises the
// budget and its blocker is answered (before apply, a team could never get past it).
func TestApplyRaisesABudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("alice", `echo '{"type":"assistant","message":{"id":"m'$TEAMCTL_ATTEMPT'","model":"claude-sonnet-4-5","content":[{"type":"text","text":"working"}],"usage":{"input_tokens":1000,"output_tokens":10}}}'
if [ "$TEAMCTL_ATTEMPT" -gt 1 ]; then echo a > src/a.txt && git add -A && git commit -qm a; fi`)
	f.fakeCLI("claude")
	agents := func(tokens int) string {
		return fmt.Sprintf(`agents:
  - {name: alice, preset: claude, budget: {tokens: %d}, tasks: [{id: ta, prompt: p}]}
`, tokens)
	}
	p := f.load(header + agents(500))
	ctx, done := f.start(p)
	open := f.openBlockers(ctx, 1)
	if !strings.Contains(open[0].Text, "1010 tokens of its 500") {
		t.Fatalf("blocker %q: want alice's token budget", open[0].Text)
	}
	ws := f.workspace()
	res, err := ws.Apply(ctx, f.loadAs("edited.yaml", header+agents(100000)), orchestrator.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0] != "~ agents.alice.budget.tokens: 500 → 100000" {
		t.Errorf("changes %q: want the budget raised", res.Changes)
	}
	f.answer(open[0].ID, "budget raised: go on")
	f.finished(ctx, done)
	if got := f.taskState(f.status("t"), "ta").State; got != orchestrator.Merged {
		t.Errorf("ta: %s, want merged", got)
	}
}
