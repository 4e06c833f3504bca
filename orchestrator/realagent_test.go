package orchestrator_test

import (
	"context"
	"fmt"
	"os"
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
// then preset: pi), each against its own scripted fake of the Messages API on loopback:
// alice writes and commits; bob writes, forgets to commit, is nudged by teamctl and
// commits. Both branches are merged with the project's test passing.
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
	testsupport.OneRealAgentAtATime(t)
	f := newFixture(t)
	tools := fakeanthropic.Tools(preset)

	alice := fakeanthropic.Start(t, fakeanthropic.Steps("Greeting committed.",
		func(dir string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Text: "Writing the greeting.", Tools: []fakeanthropic.ToolUse{tools.Write(dir, "src/alice.txt", "hello from alice\n")}}
		},
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "alice: add greeting"`)}}
		},
	))
	// bob decides from the whole conversation: a nudge (its prompt says the work is
	// uncommitted) gets a commit; a first launch writes and stops without committing.
	bob := fakeanthropic.Start(t, func(req fakeanthropic.Request) fakeanthropic.Reply {
		nudged := strings.Contains(strings.Join(req.UserTexts(), "\n"), "You exited with uncommitted changes")
		switch {
		case nudged && req.Turns() == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "bob: add farewell"`)}}
		case !nudged && req.Turns() == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Write(req.WorkingDir(), "src/bob.txt", "goodbye from bob\n")}}
		}
		return fakeanthropic.Reply{Text: "Done."}
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
	// A longer deadline than f.run's: three launches of a real CLI on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{ExitWhenBlocked: true}); err != nil || ctx.Err() != nil {
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
	if got := f.git("log", "-1", "--format=%an|%s", "teamctl/real/bob"); got != "bob|bob: add farewell" {
		t.Errorf("bob's branch tip %q: want his own commit after the nudge", got)
	}
	if got := f.taskState(st, "farewell").Attempt; got != 2 {
		t.Errorf("bob launched %d times, want 2 (task, nudge)", got)
	}
	if t.Failed() {
		b, _ := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "real", "bob"))
		t.Logf("supervisor log:\n%s\nbob's log:\n%s", f.logs.String(), b)
	}
	// Each agent's log reads back as a conversation with its session and cost.
	ws := f.workspace()
	for _, name := range []string{"alice", "bob"} {
		tr, err := agentproc.ReadLog(preset, orchestrator.LogPath(ws.Repo.CommonDir, "real", name))
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
