package orchestrator_test

import (
	"fmt"
	"os"
	"os/exec"
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
		out, err := exec.Command("git", "-C", f.repo, "log", "-1", "--format=%s", "teamctl/t/ivy").Output()
		return err == nil && strings.TrimSpace(string(out)) == "ivy: commit after the nudge"
	})
	f.answer(b.ID, "hello there")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	if got := f.git("show", "teamctl/t/lead:src/ned.txt"); got != orchestrator.NudgeText {
		t.Errorf("ned read %q at his prompt: want the nudge typed in", got)
	}
	for _, id := range []string{"i", "j", "k"} {
		if tk := f.taskState(st, id); tk.State != orchestrator.Merged || tk.Attempt != 1 {
			t.Errorf("task %s: %s after %d launch(es), want merged after 1\nlog:\n%s", id, tk.State, tk.Attempt, f.logs.String())
		}
	}
	if got := f.git("show", "teamctl/t/lead:src/ian.txt"); got != "teamctl: your blocker "+fmt.Sprint(b.ID)+" was answered by human. The answer: hello there" {
		t.Errorf("ian read %q at his prompt: want the answer typed in", got)
	}
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/t/ivy"); got != "ivy|ivy: commit after the nudge" {
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
