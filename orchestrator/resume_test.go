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
)

// killedMidRun starts a team whose agent "slow" waits for a go-file, kills the supervisor
// once slow runs, and returns the go-file's path: creating it lets slow finish.
func killedMidRun(t *testing.T, f *fixture, slowBody string) string {
	t.Helper()
	gate := filepath.Join(f.agents, "go")
	slow := f.agent("slow", fmt.Sprintf(`echo started > src/slow.txt; git add -A; git commit -qm "slow: started"
while [ ! -f '%s' ]; do sleep 0.02; done
%s`, gate, slowBody))
	ok := f.agent("ok", `echo ok > src/ok.txt && git add -A && git commit -qm ok`)
	child := f.startSupervisor(f.writePlan(header + fmt.Sprintf(`agents:
  - {name: slow, command: ['%s'], tasks: [{id: s, prompt: p}]}
  - {name: ok, command: ['%s'], tasks: [{id: o, prompt: p}]}
`, slow, ok)))
	testsupport.Eventually(t, time.Minute, "slow running and ok merged", func() bool {
		st, err := f.workspace().Status(context.Background(), "t")
		if err != nil {
			return false
		}
		return f.taskState(st, "o").State == orchestrator.Merged && f.taskState(st, "s").State == orchestrator.Running
	})
	_ = child.Process.Kill()
	_ = child.Wait()
	return gate
}

func TestResumeAdoptsAgentThatCommitsWhileDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := killedMidRun(t, f, `echo more > src/more.txt; git add -A; git commit -qm "slow: more while no supervisor watched"`)
	if st := f.status("t"); st.State != "crashed" || f.taskState(st, "s").Waiting != "a supervisor: teamctl resume t" {
		t.Errorf("status of a team whose supervisor died: %s, task s waits on %q", st.State, f.taskState(st, "s").Waiting)
	}
	// The agent finishes and commits while no supervisor runs; resume finds its exit status.
	testsupport.WriteFile(t, gate, "")
	testsupport.Eventually(t, time.Minute, "slow's commit", func() bool {
		return strings.Contains(f.git("log", "--format=%s", "teamctl/t/slow/work"), "while no supervisor watched")
	})
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\n%s", err, f.logs.String())
	}
	if !f.onLeader("t", "src/more.txt") || !f.onLeader("t", "src/slow.txt") {
		t.Error("the commits slow made while the supervisor was down are not merged")
	}
	if !strings.Contains(f.logs.String(), "agent ended while no supervisor watched") {
		t.Errorf("resume did not apply the recorded exit:\n%s", f.logs.String())
	}
}

func TestResumeAdoptsLiveAgent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := killedMidRun(t, f, `echo done > src/done.txt; git add -A; git commit -qm "slow: done"`)
	done := make(chan error, 1)
	go func() { done <- f.resume("t") }()
	testsupport.Eventually(t, time.Minute, "slow adopted", func() bool {
		return strings.Contains(f.logs.String(), "agent still running: adopted")
	})
	// Adopted, not relaunched: still one launch, and its pid is the original one.
	if got := f.taskState(f.status("t"), "s").Attempt; got != 1 {
		t.Errorf("task s launched %d times, want 1 (adopted)", got)
	}
	testsupport.WriteFile(t, gate, "")
	if err := <-done; err != nil {
		t.Fatalf("resume: %v\n%s", err, f.logs.String())
	}
	if !f.onLeader("t", "src/done.txt") {
		t.Error("the adopted agent's work is not merged")
	}
}

func TestResumeRecreatesDeletedWorktree(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	killedMidRun(t, f, `echo never > src/never.txt`)
	st := f.status("t")
	f.killAgents("t")
	var wt string
	for _, a := range st.Agents {
		if a.Name == "slow" {
			wt = a.Worktree
		}
	}
	if err := os.RemoveAll(wt); err != nil {
		t.Fatal(err)
	}
	// The relaunched agent (reason resume) finds its committed work in the recreated
	// worktree and finishes.
	testsupport.Script(t, f.agents, "slow.sh", `test -f src/slow.txt || exit 3
test "$TEAMCTL_REASON" = resume || exit 4
echo resumed > src/resumed.txt; git add -A; git commit -qm "slow: resumed"`)
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\n%s", err, f.logs.String())
	}
	if !f.onLeader("t", "src/slow.txt") || !f.onLeader("t", "src/resumed.txt") {
		t.Errorf("work of the recreated worktree not merged:\n%s", f.logs.String())
	}
	if wts := f.git("worktree", "list", "--porcelain"); strings.Contains(wts, "prunable") {
		t.Errorf("a worktree is left prunable:\n%s", wts)
	}
}

func TestResumeKillsAdoptedAgentPastTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hang := f.agent("hang", `if [ "$TEAMCTL_ATTEMPT" = 1 ]; then echo hanging; exec sleep 600; fi
echo fine > src/fine.txt; git add -A; git commit -qm fine`)
	child := f.startSupervisor(f.writePlan(header + fmt.Sprintf(`agents:
  - {name: h, command: ['%s'], timeout: 2s, tasks: [{id: h, prompt: p}]}
`, hang)))
	testsupport.Eventually(t, time.Minute, "h running", func() bool {
		// Its output, not only its task's state: the kill is to come after the launch.
		b, _ := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "t", "h"))
		return strings.Contains(string(b), "hanging")
	})
	_ = child.Process.Kill()
	_ = child.Wait()
	// The adopted launch's timeout still runs from its start: it is killed and retried.
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\n%s", err, f.logs.String())
	}
	if !f.onLeader("t", "src/fine.txt") {
		t.Error("the retried launch's work is not merged")
	}
	if !strings.Contains(f.logs.String(), `result="timed out"`) {
		t.Errorf("no timeout of the adopted agent in the log:\n%s", f.logs.String())
	}
}

func TestResumeFinishedAndConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := killedMidRun(t, f, `echo x > src/x.txt; git add -A; git commit -qm x`)
	first := make(chan error, 1)
	go func() { first <- f.resume("t") }()
	testsupport.Eventually(t, time.Minute, "first resume holds the team", func() bool {
		return strings.Contains(f.logs.String(), "adopted")
	})
	// A second supervisor for the same team is refused while the first holds it.
	err := f.workspace().Resume(context.Background(), "t", orchestrator.RunOptions{ExitWhenBlocked: true})
	if !errors.Is(err, orchestrator.ErrBusy) {
		t.Errorf("second resume: %v, want ErrBusy", err)
	}
	testsupport.WriteFile(t, gate, "")
	if err := <-first; err != nil {
		t.Fatalf("resume: %v", err)
	}
	// Resuming a finished team does nothing and says so.
	before := f.git("rev-parse", "teamctl/t/lead/work")
	f.out = syncBuffer{}
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume of a finished team: %v", err)
	}
	if !strings.Contains(f.out.String(), "team t is finished: nothing to resume") {
		t.Errorf("resume of a finished team said %q", f.out.String())
	}
	if after := f.git("rev-parse", "teamctl/t/lead/work"); after != before {
		t.Error("resume of a finished team moved the leader branch")
	}
}

func TestStopThenResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := filepath.Join(f.agents, "go")
	slow := f.agent("slow", fmt.Sprintf(`while [ ! -f '%s' ]; do sleep 0.02; done
echo s > src/s.txt; git add -A; git commit -qm s`, gate))
	child := f.startSupervisor(f.writePlan(header + fmt.Sprintf(`agents:
  - {name: slow, command: ['%s'], tasks: [{id: s, prompt: p}]}
`, slow)))
	testsupport.Eventually(t, time.Minute, "slow running", func() bool {
		st, err := f.workspace().Status(context.Background(), "t")
		return err == nil && f.taskState(st, "s").State == orchestrator.Running && st.Agents[1].State == "running"
	})
	if err := f.workspace().Stop(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	st := f.status("t")
	if st.State != orchestrator.TeamStopped || st.Agents[1].State == "running" {
		t.Fatalf("after stop: team %s, agent %s", st.State, st.Agents[1].State)
	}
	testsupport.WriteFile(t, gate, "")
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\n%s", err, f.logs.String())
	}
	got := f.taskState(f.status("t"), "s")
	if got.State != orchestrator.Merged || got.Attempt != 2 || got.Reason != "resume" {
		t.Errorf("task after stop and resume: %+v, want merged on launch 2 with reason resume", got)
	}
}

// A supervisor cut off between marking an answer delivered and relaunching the agent with
// it left an answered task that does not run; resume relaunches it with that answer.
func TestResumeRedoesACutOffAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crasher := f.agent("crasher", `if [ "$TEAMCTL_REASON" = answer ]; then
  printf '%s\n' "$TEAMCTL_PROMPT" > src/answer.txt && git add -A && git commit -qm "alice: with the answer"; exit 0; fi
exit 1`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], retries: 0, tasks: [{id: a, prompt: p}]}
`, crasher))
	if err := f.run(p); !errors.Is(err, orchestrator.ErrWaiting) {
		t.Fatalf("run: %v, want ErrWaiting\nlog:\n%s", err, f.logs.String())
	}
	ctx := context.Background()
	ws := f.workspace()
	open := f.openBlockers(ctx, 1)
	f.answer(open[0].ID, "use the fallback")
	// What deliver does first; the kill came before the launch.
	if err := ws.TestStore().MarkBlockerDelivered(ctx, "t", open[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.git("show", "teamctl/t/lead/work:src/answer.txt"); !strings.Contains(got, "use the fallback") {
		t.Errorf("alice was not relaunched with the answer: %q", got)
	}
	if open, _ := ws.TestStore().OpenBlockers(ctx, "t"); len(open) != 0 {
		t.Errorf("open blockers after the answer was redone: %+v", open)
	}
}
