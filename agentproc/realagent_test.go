package agentproc_test

import (
	"os"
	"path/filepath"
	"strings"
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
	repo := testsupport.NewRepo(t)
	wt := filepath.Join(filepath.Dir(repo), "wt-alice")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "teamctl/team/alice", wt)
	home := filepath.Join(filepath.Dir(repo), "agent-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &realAgent{preset: p, worktree: wt, log: filepath.Join(filepath.Dir(repo), "alice.log"), env: map[string]string{
		"HOME":               home,
		"XDG_CONFIG_HOME":    filepath.Join(home, ".config"),
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
	if preset == "pi" {
		// pi reads its endpoint from its models.json, not from the environment.
		testsupport.WriteFile(t, filepath.Join(home, ".pi", "agent", "models.json"),
			`{"providers":{"anthropic":{"baseUrl":"`+fake.URL+`"}}}`)
	}
	return a
}

// run launches the agent once and waits for it; it returns the transcript of its log.
func (a *realAgent) run(t *testing.T, attempt int, reason, prompt, session string, resume bool) agentproc.Transcript {
	t.Helper()
	cmd := a.preset.Command(agentproc.ModeHeadless, session, resume)
	if a.preset.Name == "pi" {
		cmd = append(cmd[:1], append([]string{"--provider", "anthropic"}, cmd[1:]...)...)
	}
	proc, err := agentproc.Start(agentproc.Launch{
		Team: "team", Agent: "alice", Role: "dev", TaskID: "hello", Prompt: prompt,
		Worktree: a.worktree, Branch: "teamctl/team/alice", LeaderBranch: "teamctl/team/lead",
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
// pointed at loopback with the Anthropic Messages API shape (claude; pi with its
// models.json) in a worktree: it writes a file and commits with its shell tool, then a
// second launch resumes the same session and the fake sees the first launch's turns.
func TestRealAgentWritesCommitsAndResumes(t *testing.T) {
	t.Parallel()
	tools := map[string]struct{ write, bash string }{
		"claude": {"Write", "Bash"},
		"pi":     {"write", "bash"},
	}
	for _, preset := range []string{"claude", "pi"} {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			names := tools[preset]
			call := func(name string, input map[string]any) fakeanthropic.Reply {
				return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{{Name: name, Input: input}}}
			}
			fake := fakeanthropic.Start(t, fakeanthropic.Steps("Nothing left to do.",
				func(dir string) fakeanthropic.Reply {
					// Claude Code's Write wants an absolute file_path (and refuses unknown
					// keys); pi's write takes a path relative to its working directory.
					input := map[string]any{"file_path": filepath.Join(dir, "hello.txt"), "content": "hello\n"}
					if preset == "pi" {
						input = map[string]any{"path": "hello.txt", "content": "hello\n"}
					}
					r := call(names.write, input)
					r.Text = "I will write hello.txt."
					return r
				},
				func(string) fakeanthropic.Reply {
					return call(names.bash, map[string]any{"command": `git add -A && git commit -qm "add hello"`})
				},
				func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "hello.txt is committed."} },
				// The second launch (a nudge) continues here, since the history it sends
				// back holds the three turns above.
				func(string) fakeanthropic.Reply {
					return call(names.bash, map[string]any{"command": `echo again >> hello.txt && git commit -qam "say hello again"`})
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
