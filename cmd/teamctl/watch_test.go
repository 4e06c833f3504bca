package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/worktree"
)

// tmuxSession is a real terminal for `teamctl watch`: a detached tmux session on a server
// of its own (-L, a socket no one else uses), driven with send-keys and read with
// capture-pane.
type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
}

const tmuxTarget = "watch"

// requireTmux returns tmux's path, or skips the test when tmux is missing.
func requireTmux(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: the end-to-end tests of teamctl watch need a real terminal; install tmux (apt-get install tmux) and run go test ./cmd/teamctl -run Watch")
	}
	return bin
}

// newTmux starts cmd in a w×h terminal of tmux (bin).
func newTmux(t *testing.T, bin string, w, h int, cmd ...string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, tmux: bin, socket: fmt.Sprintf("teamctl-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	t.Cleanup(func() { _ = exec.Command(s.tmux, "-L", s.socket, "kill-server").Run() })
	// The command's exit status is printed after it, and remain-on-exit keeps the pane to
	// read it (set on the server before the session exists, so a quick exit cannot beat
	// it). -f /dev/null: none of the machine's tmux configuration.
	line := shellQuote(cmd) + `; echo "watch-exit-status=$?"`
	s.run("-f", "/dev/null", "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
		"new-session", "-d", "-s", tmuxTarget, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), line)
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the terminal shows now.
func (s *tmuxSession) screen() string {
	s.t.Helper()
	return s.run("capture-pane", "-p", "-t", tmuxTarget)
}

// keys sends keys as tmux names them: "Enter", "Escape", "j".
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", tmuxTarget}, keys...)...)
}

// text types text literally.
func (s *tmuxSession) text(text string) {
	s.t.Helper()
	s.run("send-keys", "-t", tmuxTarget, "-l", text)
}

// waitFor polls the screen until it shows every one of wants.
func (s *tmuxSession) waitFor(what string, wants ...string) string {
	s.t.Helper()
	var screen string
	err := testsupport.Poll(context.Background(), time.Minute, func() bool {
		screen = s.screen()
		for _, w := range wants {
			if !strings.Contains(screen, w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		s.t.Fatalf("%s: the screen does not show %q within a minute:\n%s", what, wants, screen)
	}
	return screen
}

// exitStatus waits for the program to end and returns its exit status.
func (s *tmuxSession) exitStatus() string {
	s.t.Helper()
	var screen string
	// The scrollback too: after a resize the line may have scrolled off the screen.
	err := testsupport.Poll(context.Background(), time.Minute, func() bool {
		screen = s.run("capture-pane", "-p", "-t", tmuxTarget, "-S", "-")
		return strings.Contains(screen, "watch-exit-status=")
	})
	if err != nil {
		s.t.Fatalf("teamctl watch did not exit within a minute:\n%s", screen)
	}
	_, after, _ := strings.Cut(screen, "watch-exit-status=")
	return strings.Fields(after)[0]
}

func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// checkWidth fails when a line of the screen is wider than the terminal.
func checkWidth(t *testing.T, screen string, w int) {
	t.Helper()
	for i, l := range strings.Split(screen, "\n") {
		if n := len([]rune(l)); n > w {
			t.Errorf("screen line %d is %d wide in a terminal of %d: %q", i+1, n, w, l)
		}
	}
}

// hermetic makes this test process's git (and the agents' and teamctl's it starts) read
// no configuration of the machine's. It cannot run in parallel: it sets the process's
// environment, as the other packages' TestMain does for all their tests.
func hermetic(t *testing.T) {
	t.Helper()
	vars, err := testsupport.Hermetic(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"TEAMCTL_TEAM", "TEAMCTL_AGENT", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"} {
		t.Setenv(k, "") // restores the variable after the test...
		os.Unsetenv(k)  // ...and git takes an empty GIT_DIR for a path, so it must be unset
	}
}

// runTeam starts team t of agents (name → script body) on a new repository, supervised in
// this process as `teamctl run` would; it returns the repository and the run's end (a
// channel closed when Run returns, and Run's error).
func runTeam(t *testing.T, scripts map[string]string, agentsYAML string) (string, *runEnd, *testsupport.SyncBuffer) {
	t.Helper()
	repo := testsupport.NewRepo(t)
	dir := t.TempDir()
	for name, body := range scripts {
		testsupport.Script(t, dir, name+".sh", body)
	}
	yaml := fmt.Sprintf("version: 1\nteam: t\nrepo: %s\nbase: main\ndefaults: {timeout: 2m, retries: 0}\n", repo) +
		strings.ReplaceAll(agentsYAML, "$AGENTS", dir)
	testsupport.WriteFile(t, filepath.Join(dir, "team.yaml"), yaml)
	p, err := plan.Load(filepath.Join(dir, "team.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testsupport.SyncBuffer{}
	end := &runEnd{done: make(chan struct{})}
	bin, _ := exec.LookPath("teamctl") // so agents can call teamctl, as under `teamctl run`
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(logs), BinDir: filepath.Dir(bin)}
	go func() {
		end.err = orchestrator.Run(ctx, env, p, orchestrator.RunOptions{})
		close(end.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-end.done
	})
	return repo, end, logs
}

// runEnd is how a run started by runTeam ended: err is set once done is closed.
type runEnd struct {
	done chan struct{}
	err  error
}

// watchTeam runs `teamctl watch t` on repo in a 100×30 terminal, once team t exists (as a
// person would wait for it).
func watchTeam(t *testing.T, tmux, repo string) *tmuxSession {
	t.Helper()
	bin, err := exec.LookPath("teamctl")
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "team t created", func() bool {
		return exec.Command(bin, "-C", repo, "status", "t").Run() == nil
	})
	return newTmux(t, tmux, 100, 30, bin, "-C", repo, "watch", "t")
}

// TestWatchInTmux runs `teamctl watch` in a real terminal against a running team of
// scripted agents: it shows the team, opens an agent's conversation and follows it as
// the agent writes, goes back, shows the team move on, opens the review and quits.
func TestWatchInTmux(t *testing.T) {
	tmux := requireTmux(t)
	hermetic(t)
	gate := filepath.Join(t.TempDir(), "gate")
	repo, _, logs := runTeam(t, map[string]string{
		"alice": `echo "hello from alice"
while [ ! -f ` + gate + ` ]; do sleep 0.05; done
echo a > a.txt && git add -A && git commit -qm "alice: add a.txt" && echo "alice: done"`,
		"bob": `echo b > b.txt && git add -A && git commit -qm "bob: add b.txt"`,
	}, `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: a, prompt: p}]}
  - {name: bob, command: [$AGENTS/bob.sh], tasks: [{id: b, prompt: p}]}
`)
	s := watchTeam(t, tmux, repo)
	screen := s.waitFor("the team, alice running and her last words", "team t · running", "AGENTS", "> lead",
		"alice", "running", "hello from alice", "MERGE QUEUE", "FEED", "q quit")
	checkWidth(t, screen, 100)

	// A smaller terminal: the dashboard redraws to fit it, help bar included.
	s.run("resize-window", "-t", tmuxTarget, "-x", "80", "-y", "24")
	screen = s.waitFor("the dashboard at 80x24", "q quit")
	checkWidth(t, screen, 80)
	if n := strings.Count(strings.TrimRight(screen, "\n"), "\n") + 1; n > 24 {
		t.Errorf("%d lines on a terminal of 24", n)
	}

	s.keys("j")
	s.waitFor("alice selected", "> alice")
	s.keys("Enter")
	screen = s.waitFor("alice's conversation", "CONVERSATION of alice · task a · running · following", "hello from alice", "esc back")
	checkWidth(t, screen, 100)

	testsupport.WriteFile(t, gate, "go")
	s.waitFor("the conversation following alice's log", "alice: done")
	s.keys("Escape")
	screen = s.waitFor("the team again, alice's work merged", "AGENTS", "merge of a (alice): merged", "merged 2")
	if strings.Contains(screen, "CONVERSATION") {
		t.Errorf("esc did not leave the conversation:\n%s", screen)
	}

	s.keys("r")
	s.waitFor("the review", "REVIEW of team t", "# Review of team `t`", "### alice")
	s.keys("Escape")
	s.waitFor("back from the review", "AGENTS")
	s.keys("q")
	if st := s.exitStatus(); st != "0" {
		t.Errorf("teamctl watch exited with %s, want 0\nrun log:\n%s", st, logs.String())
	}
}

// TestWatchAnswersBlockerInTmux answers a blocker from the dashboard and checks that the
// blocked agent got the answer: the agent raises it with `teamctl blocker`, the person
// answers it in the dashboard (its Answer hook, dashboard.WorkspaceHooks), and the relaunch
// that the answer causes commits what it was told.
func TestWatchAnswersBlockerInTmux(t *testing.T) {
	tmux := requireTmux(t)
	hermetic(t)
	repo, done, logs := runTeam(t, map[string]string{
		"bob": `if [ "$TEAMCTL_REASON" = answer ]; then
  printf '%s\n' "$TEAMCTL_PROMPT" > answer.txt && git add -A && git commit -qm "bob: take the answer"; exit 0; fi
teamctl blocker --human "Which database should bob use?"`,
	}, `agents:
  - {name: bob, command: [$AGENTS/bob.sh], tasks: [{id: db, prompt: p}]}
`)
	s := watchTeam(t, tmux, repo)
	s.waitFor("bob's blocker on top", "! BLOCKER #", "Which database should bob use?")
	s.keys("a")
	s.waitFor("the answer box", "bob asks", "answer #")
	s.text("SQLite, one file")
	s.keys("Enter")
	s.waitFor("the answer sent", "answered blocker #")
	select {
	case <-done.done:
		if done.err != nil {
			t.Fatalf("run: %v\nlog:\n%s", done.err, logs.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the team did not finish after the answer\nlog:\n%s", logs.String())
	}
	if got := testsupport.Git(t, repo, "show", "teamctl/t/lead/work:answer.txt"); !strings.Contains(got, "SQLite, one file") {
		t.Errorf("bob's relaunch did not get the answer: answer.txt is %q", got)
	}
	s.keys("q")
	if st := s.exitStatus(); st != "0" {
		t.Errorf("teamctl watch exited with %s, want 0", st)
	}
}
