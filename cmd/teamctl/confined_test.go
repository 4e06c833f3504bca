package main

import (
	"context"
	"encoding/json"
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
	"github.com/teamctl/teamctl/sandbox"
)

// TestRealClaudeConfined runs a real Claude Code agent confined by Landlock, against a
// scripted Messages API on loopback, through the teamctl binary a person runs: it edits,
// commits, messages the person, raises a blocker (its commands relayed to the supervisor),
// is relaunched in its own session with the answer, forgets to commit, is nudged in that
// session, commits, and is merged. A write its Bash tool tries outside its worktree fails.
func TestRealClaudeConfined(t *testing.T) {
	t.Parallel()
	if _, err := sandbox.Available(); err != nil {
		t.Skipf("skipped: %v; run on Linux 5.13 or later with Landlock enabled", err)
	}
	testsupport.NodeOnPath(t)
	cli := testsupport.AgentCLI(t, "claude")
	bin := filepath.Join(testsupport.TeamctlBinDir(t), "teamctl")
	testsupport.OneRealAgentAtATime(t)
	repo := testsupport.NewRepo(t)
	testsupport.WriteFile(t, filepath.Join(repo, "check.sh"), "#!/bin/sh\ntest -f src/alice.txt\n")
	if err := os.Chmod(filepath.Join(repo, "check.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	testsupport.Git(t, repo, "add", "-A")
	testsupport.Git(t, repo, "commit", "-qm", "a test")
	outside := filepath.Join(filepath.Dir(repo), "outside.txt")

	tools := fakeanthropic.Tools("claude")
	fake := fakeanthropic.Start(t, func(req fakeanthropic.Request) fakeanthropic.Reply {
		texts := req.UserTexts()
		last, step := texts[len(texts)-1], req.SincePrompt()
		switch {
		case strings.Contains(last, "You exited with uncommitted changes") && step == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "alice: the answer"`)}}
		case strings.Contains(last, "was answered") && step == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`echo farewell > src/answer.txt`)}}
		case len(texts) == 1 && step == 0:
			return fakeanthropic.Reply{Text: "Writing.", Tools: []fakeanthropic.ToolUse{tools.Write(req.WorkingDir(), "src/alice.txt", "hello from alice\n")}}
		case len(texts) == 1 && step == 1:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "alice: greeting" && teamctl msg send --to human "the greeting is in"`)}}
		case len(texts) == 1 && step == 2:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`echo pwned > ` + outside + ` || echo "write refused"`)}}
		case len(texts) == 1 && step == 3:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`teamctl blocker --human "Which word should the farewell use?"`)}}
		}
		return fakeanthropic.Reply{Text: "Done for now."}
	})

	home := filepath.Join(filepath.Dir(repo), "home")
	testsupport.WriteFile(t, filepath.Join(home, ".claude.json"), `{"hasCompletedOnboarding": true}`)
	plan := filepath.Join(filepath.Dir(repo), "team.yaml")
	testsupport.WriteFile(t, plan, fmt.Sprintf(`version: 1
team: real
repo: repo
test: ./check.sh
sandbox: {mode: landlock}
defaults: {retries: 0, timeout: 3m, nudge: {max: 1, auto_commit: false}}
agents:
  - name: alice
    preset: claude
    env:
      ANTHROPIC_API_KEY: sk-ant-fake-key
      ANTHROPIC_BASE_URL: %q
      HOME: %q
      IS_SANDBOX: "1"
      DISABLE_AUTOUPDATER: "1"
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
      PATH: %q
    tasks: [{id: greet, prompt: Write src/alice.txt with a greeting and commit it.}]
`, fake.URL, home, filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH")))

	env, err := testsupport.Hermetic(filepath.Join(t.TempDir(), "hermetic"))
	if err != nil {
		t.Fatal(err)
	}
	env = append(os.Environ(), env...)
	teamctl := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = repo, env
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var runOut strings.Builder
	run := teamctl(ctx, "run", plan)
	run.Stdout, run.Stderr = &runOut, &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	logOf := func() string {
		b, _ := os.ReadFile(filepath.Join(repo, ".git", "teamctl", "logs", "real", "alice.log"))
		return string(b)
	}
	testsupport.Eventually(t, 6*time.Minute, "alice's blocker", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run ended before the blocker: %v\n%s\nalice's log:\n%s", err, runOut.String(), logOf())
		default:
		}
		out, err := teamctl(ctx, "blockers", "--json").Output()
		return err == nil && strings.Contains(string(out), "Which word")
	})
	if out, err := teamctl(ctx, "answer", "1", "farewell").CombinedOutput(); err != nil {
		t.Fatalf("answer: %v\n%s", err, out)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s\nalice's log:\n%s", err, runOut.String(), logOf())
	}

	out, err := teamctl(ctx, "status", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Tasks []struct{ ID, State string }
	}
	if err := json.Unmarshal(out, &st); err != nil || len(st.Tasks) != 1 || st.Tasks[0].State != "merged" {
		t.Errorf("status: %v %s", err, out)
	}
	if got := testsupport.Git(t, repo, "show", "teamctl/real/lead/work:src/answer.txt"); got != "farewell" {
		t.Errorf("src/answer.txt on the leader branch: %q", got)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Errorf("the confined agent wrote %s", outside)
	}
	if !strings.Contains(logOf(), "write refused") {
		t.Errorf("alice's write outside her worktree was not refused:\n%s", logOf())
	}
	feed, _ := teamctl(ctx, "msg", "feed").Output()
	if !strings.Contains(string(feed), "alice → human: the greeting is in") {
		t.Errorf("alice's message: feed\n%s", feed)
	}
	tr, err := agentproc.ReadLog("claude", filepath.Join(repo, ".git", "teamctl", "logs", "real", "alice.log"), agentproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for _, l := range tr.Launches {
		sessions = append(sessions, l.SessionID)
	}
	if len(sessions) != 3 || sessions[0] == "" || sessions[1] != sessions[0] || sessions[2] != sessions[0] {
		t.Errorf("alice's launches' sessions %q: want one session continued three times (task, answer, nudge)", sessions)
	}
	if t.Failed() {
		t.Logf("run:\n%s\nalice's log:\n%s", runOut.String(), logOf())
	}
}
