package agentproc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

// realAgent is a real agent CLI run through agentproc against the fake Messages API.
type realAgent struct {
	preset   agentproc.Preset
	worktree string
	log      string
	env      map[string]string
}

// newRealAgent makes a repository with a linked worktree on its own branch (as teamctl
// gives every agent) and the environment a real CLI needs to run offline: the fake's
// URL, any key, a fresh HOME, the CLI's directory on PATH.
func newRealAgent(t *testing.T, preset string, fake *fakeanthropic.Server) *realAgent {
	t.Helper()
	testsupport.NodeOnPath(t)
	p, ok := agentproc.PresetNamed(preset)
	if !ok {
		t.Fatalf("no preset %s", preset)
	}
	bin := testsupport.AgentCLI(t, p.Program)
	testsupport.OneRealAgentAtATime(t)
	repo := testsupport.NewRepo(t)
	wt := filepath.Join(filepath.Dir(repo), "wt-alice")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "teamctl/team/alice/work", wt)
	home := filepath.Join(filepath.Dir(repo), "agent-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &realAgent{preset: p, worktree: wt, log: filepath.Join(filepath.Dir(repo), "alice.log"), env: map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		// opencode takes $PWD, not its working directory, as its project: inherited from
		// the test it wrote and committed in the test's own directory. (Environ should set
		// it for every agent; until it does, say it here.)
		"PWD":                wt,
		"PATH":               filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"ANTHROPIC_BASE_URL": fake.URL,
		"ANTHROPIC_API_KEY":  "sk-ant-fake-key",
		// As root, claude refuses --dangerously-skip-permissions unless told it is sandboxed.
		"IS_SANDBOX": "1",
		// Keep the CLIs from calling home: no update checks, no telemetry.
		"DISABLE_AUTOUPDATER":                      "1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
		"PI_OFFLINE":                               "1",
	}}
	switch preset {
	case "pi":
		piConfig(t, home, fake.URL)
	case "opencode":
		// opencode reads its provider's endpoint from its config; the model's price list
		// and updates would come from the network.
		testsupport.WriteFile(t, filepath.Join(home, ".config", "opencode", "opencode.json"),
			`{"provider":{"anthropic":{"options":{"baseURL":"`+fake.URL+`/v1"}}},"model":"anthropic/claude-sonnet-4-5"}`)
		a.env["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
		a.env["OPENCODE_DISABLE_AUTOUPDATE"] = "1"
		a.env["OPENCODE_DISABLE_LSP_DOWNLOAD"] = "1"
	}
	return a
}

// piConfig points pi in home at the fake: pi reads its endpoint from models.json and
// its provider from settings.json, not from the environment.
func piConfig(t *testing.T, home, url string) {
	t.Helper()
	testsupport.WriteFile(t, filepath.Join(home, ".pi", "agent", "models.json"), `{"providers":{"anthropic":{"baseUrl":"`+url+`"}}}`)
	testsupport.WriteFile(t, filepath.Join(home, ".pi", "agent", "settings.json"), `{"defaultProvider":"anthropic"}`)
}

// run launches the agent once and waits for it; it returns the transcript of its log.
func (a *realAgent) run(t *testing.T, attempt int, reason, prompt, session string, resume bool) agentproc.Transcript {
	t.Helper()
	cmd := a.preset.Command(agentproc.ModeHeadless, session, resume)
	proc, err := agentproc.Start(t.Context(), agentproc.Launch{
		Team: "team", Agent: "alice", Role: "dev", TaskID: "hello", Prompt: prompt,
		Worktree: a.worktree, Branch: "teamctl/team/alice/work", LeaderBranch: "teamctl/team/lead/work",
		Attempt: attempt, Reason: reason, Command: cmd, Env: a.env, Timeout: 3 * time.Minute, LogPath: a.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	res := proc.Result()
	log, _ := os.ReadFile(a.log)
	if !res.OK() {
		t.Fatalf("%s %s; log:\n%s", a.preset.Name, res, log)
	}
	f, err := os.Open(a.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := agentproc.ParseTranscript(a.preset.Name, f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestRealAgentWritesCommitsAndResumes runs each real CLI whose model endpoint can be
// pointed at loopback with the Anthropic Messages API shape (claude by its environment;
// pi by its models.json; opencode by its opencode.json) in a worktree: it writes a file
// and commits with its shell tool, then a second launch resumes the same session and
// the fake sees the first launch's turns.
func TestRealAgentWritesCommitsAndResumes(t *testing.T) {
	t.Parallel()
	for _, preset := range []string{"claude", "pi", "opencode"} {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			tools := fakeanthropic.Tools(preset)
			call := func(tu fakeanthropic.ToolUse) fakeanthropic.Reply {
				return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tu}}
			}
			fake := fakeanthropic.Start(t, fakeanthropic.Steps("Nothing left to do.",
				func(dir string) fakeanthropic.Reply {
					r := call(tools.Write(dir, "hello.txt", "hello\n"))
					r.Text = "I will write hello.txt."
					return r
				},
				func(string) fakeanthropic.Reply { return call(tools.Bash(`git add -A && git commit -qm "add hello"`)) },
				func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "hello.txt is committed."} },
				// The second launch (a nudge) continues here, since the history it sends
				// back holds the three turns above.
				func(string) fakeanthropic.Reply {
					return call(tools.Bash(`echo again >> hello.txt && git commit -qam "say hello again"`))
				},
				func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "Committed the rest."} },
			))
			a := newRealAgent(t, preset, fake)
			session := agentproc.NewSessionID()
			if a.preset.NewSession == nil {
				session = ""
			}
			first := a.run(t, 1, agentproc.ReasonTask, "Write hello.txt and commit it.", session, false)
			if first.SessionID == "" || session != "" && first.SessionID != session {
				t.Fatalf("first launch session %q, want %q", first.SessionID, session)
			}
			if first.Status != agentproc.StatusDone {
				t.Errorf("first launch status %s", first.Status)
			}
			if got := testsupport.Git(t, a.worktree, "log", "-1", "--format=%an %s"); got != "alice add hello" {
				log, _ := os.ReadFile(a.log)
				t.Fatalf("last commit %q, want alice's \"add hello\"; log:\n%s", got, log)
			}
			before := len(fake.Conversations())

			second := a.run(t, 2, agentproc.ReasonNudge, "You left work uncommitted: commit it.", first.SessionID, true)
			if second.SessionID != first.SessionID || len(second.Launches) != 2 {
				t.Fatalf("resumed session %q over %d launches, want %q over 2", second.SessionID, len(second.Launches), first.SessionID)
			}
			if got := testsupport.Git(t, a.worktree, "log", "--format=%s", "main.."); got != "say hello again\nadd hello" {
				t.Errorf("branch commits:\n%s", got)
			}
			resumed := fake.Conversations()[before]
			if resumed.Turns() < 3 || !strings.Contains(strings.Join(resumed.UserTexts(), "\n"), "Write hello.txt") {
				t.Errorf("the resumed launch did not send the first launch's history: %d turns, prompts %q", resumed.Turns(), resumed.UserTexts())
			}
			if len(resumed.ToolResults()) < 2 {
				t.Errorf("the resumed launch's history holds %d tool results, want the first launch's 2", len(resumed.ToolResults()))
			}
			if second.Usage.Tokens() <= first.Usage.Tokens() || second.Usage.CostUSD <= first.Usage.CostUSD {
				t.Errorf("usage did not grow over the second launch: %+v then %+v", first.Usage, second.Usage)
			}
		})
	}
}

// TestRealClaudeInTmux runs Claude Code's own interface (mode: tmux) in a tmux session on
// a socket of the test's: the prompt given on its command line runs, then a multi-line
// nudge typed in with Tmux.Type is submitted (not left typed in the input box), and the
// agent commits in its worktree.
func TestRealClaudeInTmux(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	fake := fakeanthropic.Start(t, fakeanthropic.Steps("Done.",
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{fakeanthropic.Bash("echo one > one.txt")}}
		},
		func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "Wrote one.txt."} },
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{fakeanthropic.Bash(`git add -A && git commit -qm "commit one"`)}}
		},
	))
	a := newRealAgent(t, "claude", fake)
	home := a.env["HOME"]
	// What a person's ~/.claude.json holds after first use: onboarding done, this key
	// approved. The worktree's trust is what teamctl itself must grant.
	testsupport.WriteFile(t, filepath.Join(home, ".claude.json"), `{"hasCompletedOnboarding": true, "bypassPermissionsModeAccepted": true,
  "customApiKeyResponses": {"approved": ["sk-ant-fake-key"], "rejected": []}}`)
	if err := agentproc.TrustClaudeWorktree(filepath.Join(home, ".claude.json"), a.worktree); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tm := agentproc.NewTmux(agentproc.ExecTmux{}, t.TempDir(), "team")
	sess := agentproc.SessionName("team", "alice")
	t.Cleanup(func() {
		// Kill claude's whole process group and wait for it: a CLI still writing its
		// session files would make the temp dirs fail to go.
		st, err := tm.State(context.Background(), sess)
		exec.Command("tmux", "-L", tm.Socket, "kill-server").Run()
		if err == nil && st.Pid > 0 {
			_ = syscall.Kill(-st.Pid, syscall.SIGKILL)
			testsupport.Eventually(t, 30*time.Second, "claude exits", func() bool { return syscall.Kill(st.Pid, 0) != nil })
		}
	})
	l := agentproc.Launch{Team: "team", Agent: "alice", Prompt: "Write one.txt.", Worktree: a.worktree, Env: a.env,
		Command: a.preset.Command(agentproc.ModeTmux, "", false)}
	argv, err := agentproc.Argv(l)
	if err != nil {
		t.Fatal(err)
	}
	env := append(agentproc.Environ(l), "TERM=xterm-256color")
	if err := tm.Start(ctx, sess, a.worktree, env, argv); err != nil {
		t.Fatal(err)
	}
	screen := func() string { s, _ := tm.Capture(ctx, sess); return s }
	testsupport.Eventually(t, time.Minute, "claude runs the prompt from its command line", func() bool {
		return strings.Contains(screen(), "Wrote one.txt.")
	})
	if err := tm.Type(ctx, sess, "You left one.txt uncommitted.\nCommit it now.", a.preset.Submit); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "the typed nudge is submitted and the agent commits", func() bool {
		out, _ := exec.Command("git", "-C", a.worktree, "log", "-1", "--format=%s").Output()
		return strings.TrimSpace(string(out)) == "commit one"
	})
	convs := fake.Conversations()
	last := convs[len(convs)-1]
	if texts := strings.Join(last.UserTexts(), "\n"); !strings.Contains(texts, "You left one.txt uncommitted.\nCommit it now.") {
		t.Errorf("the nudge did not reach the model as one message: %q\nscreen:\n%s", texts, screen())
	}
	st, err := tm.State(ctx, sess)
	if err != nil || st.Dead {
		t.Errorf("claude's interface should still run, waiting for input: %+v, %v", st, err)
	}
}
