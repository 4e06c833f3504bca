package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// A task that fails its launches, and one whose branch is refused (a file outside its
// owns:), are no dead ends: each gets a blocker raised for it, to the person when there is
// no leader agent; the answer relaunches the agent with it (and its retries again), and
// both tasks end merged.
func TestStuckTasksRaiseBlockers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crasher := f.agent("crasher", `if [ "$TEAMCTL_REASON" = answer ]; then
  printf '%s\n' "$TEAMCTL_PROMPT" > src/answer.txt && git add -A && git commit -qm "alice: with the answer"; exit 0; fi
echo "cannot go on"; exit 1`)
	outside := f.agent("outside", `if [ "$TEAMCTL_REASON" = answer ]; then
  git rm -q other.txt && git commit -qm "bob: other.txt is not mine"; exit 0; fi
echo b > src/b.txt && echo o > other.txt && git add -A && git commit -qm "bob: b and other"`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], retries: 0, tasks: [{id: a, prompt: p}]}
  - {name: bob, command: ['%s'], owns: [src/], tasks: [{id: b, prompt: p}]}
`, crasher, outside))
	ctx, done := f.start(p)
	open := f.openBlockers(ctx, 2) // one for each stuck task
	st := f.status("t")
	for _, b := range open {
		want := map[string]string{"alice": "task a of alice is failed: agent exited with code 1", "bob": "task b of bob is failed: refused: changes other.txt outside its owns"}[b.Agent]
		if !b.Human || !strings.Contains(b.Text, want) {
			t.Errorf("blocker %+v: want one for a person saying %q", b, want)
		}
		if s := f.taskState(st, b.Task).State; s != orchestrator.Failed {
			t.Errorf("task %s %s while its blocker waits, want failed", b.Task, s)
		}
		answer := map[string]string{"alice": "use the fallback", "bob": "drop other.txt"}[b.Agent]
		f.answer(b.ID, answer)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st = f.status("t")
	for _, id := range []string{"a", "b"} {
		if s := f.taskState(st, id); s.State != orchestrator.Merged {
			t.Errorf("task %s: %s (%s), want merged after the answer", id, s.State, s.Detail)
		}
	}
	if got := f.git("show", "teamctl/t/lead/work:src/answer.txt"); !strings.Contains(got, "use the fallback") {
		t.Errorf("alice's relaunch did not get the answer: %q", got)
	}
	if f.onLeader("t", "other.txt") {
		t.Error("other.txt, outside bob's owns, reached the leader branch")
	}
}

// Commits an agent made off its branch are not left out: carol detaches HEAD and commits
// there (her branch is fast-forwarded to them and checked out again); dave's detached
// commit has diverged from his branch, so nothing moves and a blocker says so; answered,
// he merges it into his branch himself. Both tasks end merged with all their commits.
func TestCommitsOffTheBranch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	carol := f.agent("carol", `git checkout -q --detach && echo c > src/c.txt && git add -A && git commit -qm "carol: c, detached"`)
	dave := f.agent("dave", `if [ "$TEAMCTL_REASON" = answer ]; then
  h=$(git rev-parse HEAD) && git checkout -q "$TEAMCTL_BRANCH" && git merge -q --no-edit "$h"; exit 0; fi
echo d1 > src/d1.txt && git add -A && git commit -qm "dave: d1"
git checkout -q --detach HEAD~1 && echo d2 > src/d2.txt && git add -A && git commit -qm "dave: d2, detached"`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: carol, command: ['%s'], tasks: [{id: c, prompt: p}]}
  - {name: dave, command: ['%s'], tasks: [{id: d, prompt: p}]}
`, carol, dave))
	ctx, done := f.start(p)
	open := f.openBlockers(ctx, 1) // for dave's diverged commit
	if b := open[0]; b.Agent != "dave" || !strings.Contains(b.Text, "detached HEAD") || !strings.Contains(b.Text, "not on its branch teamctl/t/dave/work") {
		t.Errorf("blocker %+v", b)
	}
	f.answer(open[0].ID, "merge it")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	for _, path := range []string{"src/c.txt", "src/d1.txt", "src/d2.txt"} {
		if !f.onLeader("t", path) {
			t.Errorf("%s is not on the leader branch", path)
		}
	}
	wt := filepath.Join(f.repo+".teamctl", "t", "carol")
	if got := testsupport.Git(t, wt, "symbolic-ref", "--short", "HEAD"); got != "teamctl/t/carol/work" {
		t.Errorf("carol's worktree is on %q, want her branch again", got)
	}
}

// A blocker the leader agent escalates goes to the person, and the blocked task's why
// says so (it no longer waits on the leader); the person's answer relaunches the dev.
func TestEscalatedBlockerWaitsOnAPerson(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	lead := f.agent("lead", `case "$TEAMCTL_TASK_ID" in
lead-blocker-*) teamctl escalate "${TEAMCTL_TASK_ID#lead-blocker-}" ;;
esac`)
	dev := f.agent("dev", `if [ "$TEAMCTL_REASON" = answer ]; then
  echo ok > src/ok.txt && git add -A && git commit -qm "alice: ok"; exit 0; fi
teamctl blocker "Which licence?"`)
	p := f.load(header + fmt.Sprintf(`leader: {command: ['%s']}
agents:
  - {name: alice, command: ['%s'], tasks: [{id: a, prompt: p}]}
`, lead, dev))
	ctx, done := f.start(p)
	ws := f.workspace()
	var task orchestrator.TaskStatus
	testsupport.Eventually(t, 3*time.Minute, "task a waiting on a person", func() bool {
		st, err := ws.Status(ctx, "t")
		if err != nil {
			return false
		}
		for _, tk := range st.Tasks {
			if tk.ID == "a" {
				task = tk
			}
		}
		return strings.Contains(task.Detail, "waits on a person (escalated): Which licence?")
	})
	open := f.openBlockers(ctx, 1)
	if !open[0].Human {
		t.Fatalf("open blocker %+v: want it for a person", open[0])
	}
	f.answer(open[0].ID, "MIT")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if !f.onLeader("t", "src/ok.txt") {
		t.Error("alice's work after the answer is not on the leader branch")
	}
}

// A leader agent that ends its tasks without doing them does not leave the team waiting
// on it: the blocker it was handed (lead-blocker-N) goes on to a person, and so does the
// branch it was asked to land (lead-fix-ID) and did not; each answer relaunches the dev,
// and every task ends merged.
func TestLeaderThatDoesNothingPassesItOn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	lead := f.agent("lead", `echo "$TEAMCTL_TASK_ID: nothing to say"; exit 0`)
	asker := f.agent("asker", `if [ "$TEAMCTL_REASON" = answer ]; then
  printf '%s\n' "$TEAMCTL_PROMPT" > src/licence.txt && git add -A && git commit -qm "alice: licence"; exit 0; fi
teamctl blocker "Which licence?"`)
	first := f.agent("first", `echo first > src/base.txt && git commit -qam "carol: first"`)
	second := f.agent("second", `if [ "$TEAMCTL_REASON" = answer ]; then
  git merge -q -X ours --no-edit "teamctl/t/lead/work"; exit 0; fi
while ! git log --format=%s teamctl/t/lead/work | grep -q "task first"; do sleep 0.05; done
echo second > src/base.txt && git commit -qam "bob: second"`)
	p := f.load(header + fmt.Sprintf(`leader: {command: ['%s']}
agents:
  - {name: alice, command: ['%s'], tasks: [{id: a, prompt: p}]}
  - {name: carol, command: ['%s'], tasks: [{id: first, prompt: p}]}
  - {name: bob, command: ['%s'], retries: 0, tasks: [{id: second, prompt: p}]}
`, lead, asker, first, second))
	ctx, done := f.start(p)
	ws := f.workspace()
	var open []store.Blocker
	testsupport.Eventually(t, time.Minute, "two blockers for a person", func() bool {
		open, _ = ws.TestStore().OpenBlockers(ctx, "t")
		return len(open) == 2 && open[0].Human && open[1].Human
	})
	st := f.status("t")
	for _, b := range open {
		switch b.Agent {
		case "alice":
			testsupport.Eventually(t, 3*time.Minute, "task a waiting on a person", func() bool {
				return strings.Contains(f.taskState(f.status("t"), "a").Detail, "waits on a person (escalated): Which licence?")
			})
		case "bob":
			if !strings.Contains(b.Text, "task second of bob is conflict") {
				t.Errorf("bob's blocker says %q, want that his task is in conflict", b.Text)
			}
			if got := f.taskState(st, plan.LeaderFixPrefix+"second"); got.State != orchestrator.Done {
				t.Errorf("the leader's fix task: %+v, want done before bob's task goes to a person", got)
			}
		default:
			t.Errorf("unexpected blocker %+v", b)
		}
		answer := map[string]string{"alice": "MIT", "bob": "keep yours"}[b.Agent]
		f.answer(b.ID, answer)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st = f.status("t")
	for _, id := range []string{"a", "first", "second"} {
		if s := f.taskState(st, id); s.State != orchestrator.Merged {
			t.Errorf("task %s: %s (%s), want merged", id, s.State, s.Detail)
		}
	}
	if got := f.git("show", "teamctl/t/lead/work:src/base.txt"); got != "second" {
		t.Errorf("base.txt on the leader branch: %q, want bob's after the answer", got)
	}
	if got := f.git("show", "teamctl/t/lead/work:src/licence.txt"); !strings.Contains(got, "MIT") {
		t.Errorf("alice's relaunch did not get the answer: %q", got)
	}
}

// A task whose set-up failed waits on a person with a blocker to answer, like any stuck
// task; answered once the set-up is fixed, resume sets the worktree up and runs the agent.
func TestFailedSetupRaisesABlocker(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fixed := filepath.Join(f.agents, "fixed")
	ok := f.agent("ok", `test -f .prepared && rm .prepared && echo ok > src/ok.txt && git add src/ok.txt && git commit -qm "alice: ok"`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], setup: "test -f '%s' && touch .prepared", tasks: [{id: a, prompt: p}]}
`, ok, fixed))
	if err := f.run(p); !errors.Is(err, orchestrator.ErrWaiting) {
		t.Fatalf("run: %v, want ErrWaiting\nlog:\n%s", err, f.logs.String())
	}
	open := f.openBlockers(context.Background(), 1)
	if b := open[0]; !b.Human || b.Task != "a" || !strings.Contains(b.Text, "task a of alice is failed") {
		t.Fatalf("blocker %+v: want one for a person about alice's failed task", b)
	}
	testsupport.WriteFile(t, fixed, "")
	f.answer(open[0].ID, "set-up fixed")
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if !f.onLeader("t", "src/ok.txt") {
		t.Errorf("alice's work is not merged after the answer\nlog:\n%s", f.logs.String())
	}
}
