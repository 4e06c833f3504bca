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
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
	"github.com/teamctl/teamctl/orchestrator"
)

// TestRunRealAgentTeam runs a whole team of two real agents of one CLI (preset: claude,
// then preset: pi), each against its own scripted fake of the Messages API on loopback.
// alice writes, messages bob with `teamctl msg send`, and commits. bob raises a blocker
// with `teamctl blocker` and exits; a person answers it; bob is relaunched with the answer
// in his own session, writes and forgets to commit; teamctl nudges him, again in his
// session, and he commits. Both branches are merged with the project's test passing.
func TestRunRealAgentTeam(t *testing.T) {
	t.Parallel()
	for _, preset := range []string{"claude", "pi"} {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			runRealAgentTeam(t, preset)
		})
	}
}

func runRealAgentTeam(t *testing.T, preset string) {
	testsupport.NodeOnPath(t)
	cli := testsupport.AgentCLI(t, preset)
	bin := testsupport.TeamctlBinDir(t)
	testsupport.OneRealAgentAtATime(t)
	f := newFixture(t)
	f.binDir = bin
	tools := fakeanthropic.Tools(preset)

	alice := fakeanthropic.Start(t, fakeanthropic.Steps("Greeting committed.",
		func(dir string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Text: "Writing the greeting.", Tools: []fakeanthropic.ToolUse{tools.Write(dir, "src/alice.txt", "hello from alice\n")}}
		},
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`teamctl msg send --to bob "the greeting is in src/alice.txt"`)}}
		},
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "alice: add greeting"`)}}
		},
	))
	// bob answers from the whole conversation, so a resumed session carries on: the launch
	// is told by its newest prompt, and where it is in it by the turns since.
	bob := fakeanthropic.Start(t, func(req fakeanthropic.Request) fakeanthropic.Reply {
		texts := req.UserTexts()
		last := texts[len(texts)-1]
		step := req.SincePrompt()
		switch {
		case strings.Contains(last, "You exited with uncommitted changes") && step == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "bob: add farewell"`)}}
		case strings.Contains(last, "was answered") && step == 0:
			answer := "goodbye"
			if i := strings.Index(last, "The answer: "); i >= 0 {
				answer = strings.Fields(last[i+len("The answer: "):])[0]
			}
			return fakeanthropic.Reply{Text: "Writing the farewell.", Tools: []fakeanthropic.ToolUse{tools.Write(req.WorkingDir(), "src/bob.txt", answer+" from bob\n")}}
		case len(texts) == 1 && step == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`teamctl blocker "Which word should the farewell use?"`)}}
		}
		return fakeanthropic.Reply{Text: "Done for now."}
	})

	home := func(name, url string) string {
		h := filepath.Join(f.agents, "home-"+name)
		if err := os.MkdirAll(h, 0o755); err != nil {
			t.Fatal(err)
		}
		if preset == "pi" {
			// pi reads its endpoint and provider from its own files, not the environment.
			testsupport.WriteFile(t, filepath.Join(h, ".pi", "agent", "models.json"), `{"providers":{"anthropic":{"baseUrl":"`+url+`"}}}`)
			testsupport.WriteFile(t, filepath.Join(h, ".pi", "agent", "settings.json"), `{"defaultProvider":"anthropic"}`)
		}
		return h
	}
	p := f.load(fmt.Sprintf(`version: 1
team: real
repo: $REPO
base: main
test: ./check.sh
defaults:
  preset: %s
  timeout: 3m
  retries: 0
  nudge: {max: 1, auto_commit: false}
  env:
    ANTHROPIC_API_KEY: sk-ant-fake-key
    IS_SANDBOX: "1"
    DISABLE_AUTOUPDATER: "1"
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
    PI_OFFLINE: "1"
    PATH: %q
agents:
  - name: alice
    env: {ANTHROPIC_BASE_URL: %q, HOME: %q}
    tasks: [{id: greet, prompt: Write src/alice.txt with a greeting and commit it.}]
  - name: bob
    env: {ANTHROPIC_BASE_URL: %q, HOME: %q}
    tasks: [{id: farewell, prompt: Write src/bob.txt with a farewell and commit it.}]
`, preset, filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH"), alice.URL, home("alice", alice.URL), bob.URL, home("bob", bob.URL)))
	// A longer deadline than f.run's: four launches of a real CLI on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{}) }()
	// bob's blocker goes to a person (no leader agent): answer it as one would, from a shell.
	ws := f.workspace()
	var blocker int64
	testsupport.Eventually(t, 6*time.Minute, "bob's blocker", func() bool {
		select {
		case err := <-done:
			b, _ := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "real", "bob"))
			t.Fatalf("run ended before bob's blocker: %v\nlog:\n%s\nbob's log:\n%s", err, f.logs.String(), b)
		default:
		}
		bs, err := ws.TestStore().OpenBlockers(ctx, "real")
		if err == nil && len(bs) == 1 {
			blocker = bs[0].ID
		}
		return blocker != 0
	})
	if _, err := ws.As(orchestrator.Caller{Team: "real", As: orchestrator.Human}).Answer(ctx, blocker, "farewell"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || ctx.Err() != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st := f.status("real")
	for _, id := range []string{"greet", "farewell"} {
		if got := f.taskState(st, id).State; got != orchestrator.Merged {
			t.Errorf("task %s: %s, want merged", id, got)
		}
	}
	for _, path := range []string{"src/alice.txt", "src/bob.txt"} {
		if !f.onLeader("real", path) {
			t.Errorf("%s is not on the leader branch", path)
		}
	}
	if got := f.git("show", "teamctl/real/lead/work:src/bob.txt"); got != "farewell from bob" {
		t.Errorf("src/bob.txt %q: the answer did not reach bob", got)
	}
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/real/bob/work"); got != "bob|bob: add farewell" {
		t.Errorf("bob's branch tip %q: want his own commit after the nudge", got)
	}
	if got := f.taskState(st, "farewell").Attempt; got != 3 {
		t.Errorf("bob launched %d times, want 3 (task, answer, nudge)", got)
	}
	// alice's message went through teamctl, from her agent's shell.
	if th, err := ws.TestStore().Thread(ctx, "real", "alice", "bob", 0); err != nil || len(th) != 1 || !strings.Contains(th[0].Text, "src/alice.txt") {
		t.Errorf("thread alice-bob: %+v, %v", th, err)
	}
	// Every relaunch of bob continued his own session, with its history sent back.
	btr, err := agentproc.ReadLog(preset, orchestrator.LogPath(ws.TestRepo().CommonDir, "real", "bob"), agentproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for _, l := range btr.Launches {
		sessions = append(sessions, l.SessionID)
	}
	if len(sessions) != 3 || sessions[0] == "" || sessions[1] != sessions[0] || sessions[2] != sessions[0] {
		t.Errorf("bob's launches' sessions %q: want one session continued three times", sessions)
	}
	convs := bob.Conversations()
	if lastReq := convs[len(convs)-1]; lastReq.Turns() < 3 {
		t.Errorf("bob's last model call had %d earlier turns: the resumed session's history was not sent back", lastReq.Turns())
	}
	if t.Failed() {
		b, _ := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "real", "bob"))
		t.Logf("supervisor log:\n%s\nbob's log:\n%s", f.logs.String(), b)
	}
	// Each agent's log reads back as a conversation with its session and cost.
	for _, name := range []string{"alice", "bob"} {
		tr, err := agentproc.ReadLog(preset, orchestrator.LogPath(ws.TestRepo().CommonDir, "real", name), agentproc.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != agentproc.StatusDone || tr.SessionID == "" || tr.Usage.CostUSD <= 0 {
			t.Errorf("%s's transcript: status %s session %q usage %+v", name, tr.Status, tr.SessionID, tr.Usage)
		}
	}
	// Every model call came from the agent's own worktree.
	for name, fake := range map[string]*fakeanthropic.Server{"alice": alice, "bob": bob} {
		for _, r := range fake.Conversations() {
			if !strings.HasSuffix(r.WorkingDir(), "/real/"+name) {
				t.Errorf("%s's model call came from %q", name, r.WorkingDir())
			}
		}
	}
}

// TestRealClaudeInTmuxStartsOnItsOwn runs a real Claude Code agent in mode: tmux with a
// HOME where the person has used Claude before ({"hasCompletedOnboarding": true} only): it
// must not stop at the folder trust dialog, the API key approval or the bypass-permissions
// warning (teamctl answers them in ~/.claude.json before the launch): it writes, commits,
// says teamctl done, and is merged after one launch.
func TestRealClaudeInTmuxStartsOnItsOwn(t *testing.T) {
	t.Parallel()
	testsupport.NodeOnPath(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: apt-get install tmux (make test on CI has it)")
	}
	cli := testsupport.AgentCLI(t, "claude")
	testsupport.OneRealAgentAtATime(t)
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	fake := fakeanthropic.Start(t, fakeanthropic.Steps("Done.",
		func(dir string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{fakeanthropic.Write(filepath.Join(dir, "src", "tui.txt"), "from the tui\n")}}
		},
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{fakeanthropic.Bash(`git add -A && git commit -qm "tui: add" && teamctl done`)}}
		},
	))
	home := filepath.Join(f.agents, "home")
	testsupport.WriteFile(t, filepath.Join(home, ".claude.json"), `{"hasCompletedOnboarding": true}`)
	p := f.load(fmt.Sprintf(`version: 1
team: t
repo: $REPO
base: main
test: ./check.sh
agents:
  - name: tui
    preset: claude
    mode: tmux
    timeout: 3m
    env: {ANTHROPIC_API_KEY: sk-ant-fake-key-for-the-tui, ANTHROPIC_BASE_URL: %q, HOME: %q, IS_SANDBOX: "1",
      DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", PATH: %q}
    tasks: [{id: tui, prompt: Write src/tui.txt and commit it.}]
`, fake.URL, home, filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH")))
	ws := f.workspace()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, ws.TestRepo().CommonDir, "t")
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.Socket, "kill-server").Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{ExitWhenBlocked: true}); err != nil {
		screen, _ := tm.Capture(context.Background(), agentproc.SessionName("t", "tui"))
		t.Fatalf("run: %v\nscreen:\n%s\nlog:\n%s", err, screen, f.logs.String())
	}
	if tk := f.taskState(f.status("t"), "tui"); tk.State != orchestrator.Merged || tk.Attempt != 1 {
		t.Errorf("task tui: %s after %d launch(es), want merged after 1", tk.State, tk.Attempt)
	}
	data, _ := os.ReadFile(filepath.Join(home, ".claude.json"))
	// (Claude Code moves the bypass acceptance into its settings once it has read it.)
	for _, want := range []string{`"hasTrustDialogAccepted": true`, `"fake-key-for-the-tui"`, `"hasCompletedOnboarding": true`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("~/.claude.json lacks %s:\n%s", want, data)
		}
	}
}
