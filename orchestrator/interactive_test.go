package orchestrator_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// An agent in mode: tmux runs in a session of the team's own tmux server with the pane as
// its terminal. Like an interactive CLI it never exits by itself: it writes a file, leaves
// it uncommitted and waits at its prompt. Idle past nudge.idle, it gets the nudge typed in
// (read from its terminal), commits, and says `teamctl done`; the supervisor then ends its
// session, and the task is merged after one launch. Its log holds the session's screen.
// Another raises a blocker and waits at its prompt: the person's answer is typed in there,
// in the same launch.
func TestInteractiveAgentInTmux(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: apt-get install tmux (make test on CI has it)")
	}
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	ivy := f.agent("ivy", `echo "ivy at her prompt ($TEAMCTL_REASON)"
test -t 0 || { echo "stdin is not a terminal"; exit 3; }
echo wip > src/ivy.txt
read -r line
echo "ivy read: $line"
git add -A && git commit -qm "ivy: commit after the nudge" && teamctl done --summary "committed"
sleep 600`)
	// ian asks a question, and waits at his prompt for the answer typed in, with work
	// uncommitted: waiting on his blocker, he is not idle (no nudge is typed in).
	ian := f.agent("ian", `echo draft > src/ian-draft.txt
teamctl blocker "Which greeting?" >/dev/null
read -r answer
echo "$answer" > src/ian.txt && git add -A && git commit -qm "ian: with the answer" && teamctl done
sleep 600`)
	// ned waits at his prompt with nothing uncommitted, until a person nudges him.
	ned := f.agent("ned", `read -r line
echo "$line" > src/ned.txt && git add -A && git commit -qm "ned: nudged" && teamctl done
sleep 600`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: ivy, command: ['%s'], mode: tmux, nudge: {idle: 2s, max: 1}, tasks: [{id: i, prompt: p}]}
  - {name: ian, command: ['%s'], mode: tmux, nudge: {idle: 1s, max: 1}, tasks: [{id: j, prompt: p}]}
  - {name: ned, command: ['%s'], mode: tmux, tasks: [{id: k, prompt: p}]}
`, ivy, ian, ned))
	ws := f.workspace()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, ws.TestRepo().CommonDir, "t")
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	ctx, done := f.start(p)
	b := f.openBlockers(ctx, 1)[0]
	// The person nudges ned (as the dashboard's n does): typed into his session.
	testsupport.Eventually(t, time.Minute, "ned running", func() bool {
		a, err := ws.TestStore().Agent(ctx, "t", "ned")
		return err == nil && a.State == "running"
	})
	if _, err := ws.As(orchestrator.Caller{Team: "t", As: orchestrator.Human}).Nudge(ctx, "ned"); err != nil {
		t.Fatal(err)
	}
	// ivy's idle nudge (2s) comes and goes while ian waits, dirty, past his own 1s.
	testsupport.Eventually(t, time.Minute, "ivy nudged and committed", func() bool {
		out, err := exec.Command("git", "-C", f.repo, "log", "-1", "--format=%s", "teamctl/t/ivy/work").Output()
		return err == nil && strings.TrimSpace(string(out)) == "ivy: commit after the nudge"
	})
	f.answer(b.ID, "hello there")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	if got := f.git("show", "teamctl/t/lead/work:src/ned.txt"); got != orchestrator.NudgeText {
		t.Errorf("ned read %q at his prompt: want the nudge typed in", got)
	}
	for _, id := range []string{"i", "j", "k"} {
		if tk := f.taskState(st, id); tk.State != orchestrator.Merged || tk.Attempt != 1 {
			t.Errorf("task %s: %s after %d launch(es), want merged after 1\nlog:\n%s", id, tk.State, tk.Attempt, f.logs.String())
		}
	}
	if got := f.git("show", "teamctl/t/lead/work:src/ian.txt"); got != "teamctl: your blocker "+fmt.Sprint(b.ID)+" was answered by human. The answer: hello there" {
		t.Errorf("ian read %q at his prompt: want the answer typed in", got)
	}
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/t/ivy/work"); got != "ivy|ivy: commit after the nudge" {
		t.Errorf("ivy's branch tip %q: want her own commit after the typed nudge", got)
	}
	logBytes, err := os.ReadFile(orchestrator.LogPath(ws.TestRepo().CommonDir, "t", "ivy"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(logBytes)
	for _, want := range []string{"the tmux session's screen", "ivy at her prompt (task)", "ivy read: teamctl: you have been idle for 2s with work left uncommitted"} {
		if !strings.Contains(log, want) {
			t.Errorf("ivy's log lacks %q:\n%s", want, log)
		}
	}
	// Its session was ended with its task.
	if _, err := tm.State(t.Context(), agentproc.SessionName("t", "ivy")); err == nil {
		t.Error("ivy's tmux session is still there after her task ended")
	}
}

// A tmux agent still at work when its supervisor is killed -9 is re-adopted by resume as the
// interactive agent it is: its `teamctl done` ends its session and its task is merged.
func TestResumeReadoptsATmuxAgent(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: apt-get install tmux (make test on CI has it)")
	}
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	gate := filepath.Join(t.TempDir(), "gate")
	f.agent("ivy", fmt.Sprintf(`echo "ivy at work"
while [ ! -e %s ]; do sleep 0.05; done
echo done > src/ivy.txt && git add -A && git commit -qm "ivy: after the resume" && teamctl done
sleep 600`, gate))
	path := f.writePlan(header + `agents:
  - {name: ivy, command: [$AGENTS/ivy.sh], mode: tmux, timeout: 5m, tasks: [{id: i, prompt: p}]}
`) // (the header's 30s timeout counts from the launch: on a loaded machine the kill and resume outlast it)
	ws := f.workspace()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, ws.TestRepo().CommonDir, "t")
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	sup := f.startSupervisor(path)
	testsupport.Eventually(t, time.Minute, "ivy running", func() bool {
		a, err := ws.TestStore().Agent(context.Background(), "t", "ivy")
		return err == nil && a.State == "running" && a.PID > 0
	})
	if err := sup.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sup.Wait()
	testsupport.WriteFile(t, gate, "go")
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if tk := f.taskState(f.status("t"), "i"); tk.State != orchestrator.Merged || tk.Attempt != 1 {
		t.Errorf("task i: %s after %d launch(es), want merged after the one launch it was adopted in\nlog:\n%s", tk.State, tk.Attempt, f.logs.String())
	}
}

// A tmux agent's relaunch continues its own session: its log is a screen, not a stream
// that names the session, so teamctl keeps the id it gave the first launch (--session-id)
// and passes it to --resume.
func TestTmuxRelaunchResumesItsSession(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: apt-get install tmux (make test on CI has it)")
	}
	f := newFixture(t)
	argvs := filepath.Join(t.TempDir(), "argv")
	// The stand-in for claude's interface: the first launch leaves its work uncommitted and
	// exits; the nudged one commits and says it is done.
	f.agent("ivy", fmt.Sprintf(`{ printf '%%s' "$*" | tr '\n' ' '; echo; } >> %s
if [ "$TEAMCTL_ATTEMPT" = 1 ]; then echo wip > src/ivy.txt; exit 0; fi
git add -A && git commit -qm "ivy: after the nudge" && teamctl done
sleep 600`, argvs))
	f.fakeCLI("claude")
	bin := testsupport.TeamctlBinDir(t)
	if err := os.Symlink(filepath.Join(bin, "teamctl"), filepath.Join(f.binDir, "teamctl")); err != nil {
		t.Fatal(err)
	}
	p := f.load(header + `agents:
  - {name: ivy, preset: claude, mode: tmux, tasks: [{id: i, prompt: p}]}
`)
	ws := f.workspace()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, ws.TestRepo().CommonDir, "t")
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	data, err := os.ReadFile(argvs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("launches %q: want the task, then the nudge", lines)
	}
	first := strings.Fields(lines[0])
	var id string
	for i, a := range first {
		if a == "--session-id" && i+1 < len(first) {
			id = first[i+1]
		}
	}
	if id == "" || !strings.Contains(lines[1], "--resume "+id) {
		t.Errorf("first launch %q, nudge %q: want the nudge to --resume the first launch's --session-id", lines[0], lines[1])
	}
	if tk := f.taskState(f.status("t"), "i"); tk.State != orchestrator.Merged {
		t.Errorf("task i: %s, want merged", tk.State)
	}
}

// A tmux agent whose CLI stops at a first-run dialog (one teamctl could not answer before
// the launch) is seen stopped there: a person is asked, by name of the dialog, at once
// rather than after the launch's timeout.
func TestTmuxAgentStoppedAtADialog(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: apt-get install tmux (make test on CI has it)")
	}
	f := newFixture(t)
	// The stand-in for claude's interface at its API key approval, as 2.1.330 draws it.
	f.agent("ivy", `printf '  Detected a custom API key in your environment\n  Do you want to use this API key?\n    Yes\n  ❯ No (recommended)\n'
sleep 600`)
	f.fakeCLI("claude")
	p := f.load(header + `agents:
  - {name: ivy, preset: claude, mode: tmux, env: {HOME: $AGENTS}, tasks: [{id: i, prompt: p}]}
`)
	ws := f.workspace()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, ws.TestRepo().CommonDir, "t")
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{}) }()
	b := f.openBlockers(context.Background(), 1)[0]
	if !b.Human || !strings.Contains(b.Text, "ivy stopped at the API key approval") || !strings.Contains(b.Text, "teamctl attach ivy") {
		t.Errorf("blocker %+v: want a person told which dialog, and how to reach it", b)
	}
	cancel()
	<-done
}
