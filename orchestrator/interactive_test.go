package orchestrator_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// An agent in mode: tmux runs in a session of the team's own tmux server with the pane as
// its terminal. Like an interactive CLI it never exits by itself: it writes a file, leaves
// it uncommitted and waits at its prompt. Idle past nudge.idle, it gets the nudge typed in
// (read from its terminal), commits, and says `teamctl done`; the supervisor then ends its
// session, and the task is merged after one launch. Its log holds the session's screen.
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
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: ivy, command: ['%s'], mode: tmux, nudge: {idle: 2s, max: 1}, tasks: [{id: i, prompt: p}]}
`, ivy))
	ws := f.workspace()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, ws.Repo.CommonDir, "t")
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("t")
	if tk := f.taskState(st, "i"); tk.State != orchestrator.Merged || tk.Attempt != 1 {
		t.Errorf("task i: %s after %d launch(es), want merged after 1\nlog:\n%s", tk.State, tk.Attempt, f.logs.String())
	}
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/t/ivy"); got != "ivy|ivy: commit after the nudge" {
		t.Errorf("ivy's branch tip %q: want her own commit after the typed nudge", got)
	}
	b, err := os.ReadFile(orchestrator.LogPath(ws.Repo.CommonDir, "t", "ivy"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
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
