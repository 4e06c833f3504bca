package orchestrator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
	"github.com/teamctl/teamctl/internal/testsupport/fakegemini"
	"github.com/teamctl/teamctl/internal/testsupport/fakeopenai"
	"github.com/teamctl/teamctl/orchestrator"
)

// TestRealAgent runs, for each preset whose CLI installs from npm, a whole team of two real
// agents of that CLI, each against its own scripted fake of the model API the CLI speaks
// (the Messages API for claude and pi, OpenAI's for codex and opencode, Google's for
// gemini) on loopback. alice writes, messages bob with `teamctl msg send`, and commits. bob
// raises a blocker with `teamctl blocker` and exits; a person answers it; bob is relaunched
// with the answer in his own session, writes and forgets to commit; teamctl nudges him,
// again in his session, and he commits. Both branches are merged with the project's test
// passing; each agent's transcript shows its tool calls, its session and its cost. carol's
// first model call meets the provider's usage limit (a 429 as that API sends it): teamctl
// reads it from her CLI's output as the provider's, pauses her without spending a retry or
// asking anyone, and relaunches her when the limit resets; she commits and is merged.
func TestRealAgent(t *testing.T) {
	t.Parallel()
	for _, preset := range []string{"claude", "codex", "gemini", "opencode", "pi"} {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			runRealAgentTeam(t, preset)
		})
	}
}

// modelAPI is a scripted fake of the model API one preset's CLI speaks, and what an agent
// of that CLI needs to use it: its environment and the files of its HOME.
type modelAPI struct {
	conversations func() []fakeanthropic.Request
	env           map[string]string // "$HOME" in a value is the agent's HOME
	files         map[string]string // relative to the agent's HOME
}

// limitReset is how long the usage limit of limitedFor lasts.
const limitReset = 3 * time.Second

// limitedFor answers conversation requests with the fault fault makes for a limit that
// resets limitReset after the first of them (the CLI's own retries meet it too), the rest
// as usual.
func limitedFor(fault func(reset time.Time) *fakeanthropic.Fault) func(fakeanthropic.Request) *fakeanthropic.Fault {
	var mu sync.Mutex
	var reset time.Time
	var f *fakeanthropic.Fault
	return func(r fakeanthropic.Request) *fakeanthropic.Fault {
		if !r.Conversation() {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if reset.IsZero() {
			reset = time.Now().Add(limitReset)
			f = fault(reset)
		}
		if time.Now().After(reset) {
			return nil
		}
		return f
	}
}

// startModelAPI serves script as the API of preset's CLI on loopback; with limited, its
// first conversation request meets a usage limit that resets in a few seconds.
func startModelAPI(t *testing.T, preset string, script fakeanthropic.Script, limited ...bool) modelAPI {
	limit := len(limited) > 0 && limited[0]
	switch preset {
	case "codex":
		// codex reads its endpoint from its config.toml (not OPENAI_BASE_URL); gpt-5.5 is
		// offered exec_command and apply_patch (codex's default model gets one JavaScript
		// tool instead). One retry of a failed call, not five.
		fake := fakeopenai.Start(t, script)
		if limit {
			// Out of quota: codex does not retry it (a rate limit it retries after its
			// retry-after, and its usage limit's reset it says to the minute only).
			fake.SetFaults(limitedFor(func(time.Time) *fakeanthropic.Fault { return fakeopenai.QuotaExceeded() }))
		}
		return modelAPI{conversations: fake.Conversations,
			env:   map[string]string{"CODEX_HOME": "$HOME/.codex", "OPENAI_API_KEY": "sk-fake-codex-key"},
			files: map[string]string{".codex/config.toml": fakeopenai.CodexConfig(fake.URL, "gpt-5.5", 1, 1)}}
	case "opencode":
		// opencode's openai provider, pointed at the fake by its opencode.json.
		fake := fakeopenai.Start(t, script)
		if limit {
			// opencode tries a call six times, waiting what retry-after-ms says (else 2 s
			// doubling): quick tries, so that it gives up inside the limit.
			fake.SetFaults(limitedFor(func(reset time.Time) *fakeanthropic.Fault {
				f := fakeopenai.UsageLimit(reset)
				f.Header["retry-after-ms"] = "20"
				return f
			}))
		}
		return modelAPI{conversations: fake.Conversations,
			env: map[string]string{"XDG_CONFIG_HOME": "$HOME/.config", "OPENCODE_DISABLE_MODELS_FETCH": "1",
				"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1"},
			files: map[string]string{".config/opencode/opencode.json": fakeopenai.OpencodeConfig(fake.URL, "sk-fake-opencode-key")}}
	case "gemini":
		fake := fakegemini.Start(t, script)
		if limit {
			fake.SetFaults(limitedFor(func(time.Time) *fakeanthropic.Fault { return fakegemini.UsageLimit(limitReset) }))
		}
		// The settings of a person who turned off the CLI's telemetry and update checks,
		// with no auth type chosen: teamctl chooses the API key (the base URL would make
		// the CLI pick its gateway auth, which it refuses headless). One try per model
		// call: a fault is the test's, not the network's.
		var settings map[string]any
		if err := json.Unmarshal(fakegemini.Settings(1), &settings); err != nil {
			t.Fatal(err)
		}
		delete(settings["security"].(map[string]any), "auth")
		b, _ := json.Marshal(settings)
		return modelAPI{conversations: fake.Conversations,
			env:   map[string]string{"GOOGLE_GEMINI_BASE_URL": fake.URL, "GEMINI_API_KEY": "fake-gemini-key"},
			files: map[string]string{".gemini/settings.json": string(b)}}
	}
	fake := fakeanthropic.Start(t, script)
	if limit {
		fake.SetFaults(limitedFor(fakeanthropic.UsageLimit))
	}
	api := modelAPI{conversations: fake.Conversations, env: map[string]string{"ANTHROPIC_BASE_URL": fake.URL, "ANTHROPIC_API_KEY": "sk-ant-fake-key"}}
	if preset == "pi" {
		// pi reads its endpoint and provider from its own files, not the environment.
		api.files = map[string]string{
			".pi/agent/models.json": `{"providers":{"anthropic":{"baseUrl":"` + fake.URL + `"}}}`,
			// No retries of its own: a limit is teamctl's to wait out.
			".pi/agent/settings.json": `{"defaultProvider":"anthropic","retry":{"enabled":false,"provider":{"maxRetries":0}}}`,
		}
	}
	return api
}

// realTools is how the scripts call preset's CLI's tools.
func realTools(preset string) fakeanthropic.Toolset {
	switch preset {
	case "gemini":
		return fakegemini.Tools()
	case "codex", "opencode":
		return fakeopenai.Tools(preset)
	}
	return fakeanthropic.Tools(preset)
}

func runRealAgentTeam(t *testing.T, preset string) {
	testsupport.NodeOnPath(t)
	cli := testsupport.AgentCLI(t, preset)
	bin := testsupport.TeamctlBinDir(t)
	testsupport.OneRealAgentAtATime(t)
	f := newFixture(t)
	f.binDir = bin
	tools := realTools(preset)

	alice := startModelAPI(t, preset, fakeanthropic.Steps("Greeting committed.",
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
	bob := startModelAPI(t, preset, func(req fakeanthropic.Request) fakeanthropic.Reply {
		texts := req.UserTexts()
		last := texts[len(texts)-1]
		step := req.SincePrompt()
		// teamctl's prompts, one a launch (a CLI may send texts of its own as the user's:
		// codex its environment).
		launches := 0
		for _, text := range texts {
			if strings.Contains(text, "## teamctl protocol") {
				launches++
			}
		}
		switch {
		case strings.Contains(last, "You exited with uncommitted changes") && step == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "bob: add farewell"`)}}
		case strings.Contains(last, "was answered") && step == 0:
			answer := "goodbye"
			if i := strings.Index(last, "The answer: "); i >= 0 {
				answer = strings.Fields(last[i+len("The answer: "):])[0]
			}
			return fakeanthropic.Reply{Text: "Writing the farewell.", Tools: []fakeanthropic.ToolUse{tools.Write(req.WorkingDir(), "src/bob.txt", answer+" from bob\n")}}
		case launches == 1 && step == 0:
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`teamctl blocker "Which word should the farewell use?"`)}}
		}
		return fakeanthropic.Reply{Text: "Done for now."}
	})

	carol := startModelAPI(t, preset, fakeanthropic.Steps("Note committed.",
		func(dir string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Write(dir, "src/carol.txt", "a note from carol\n")}}
		},
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tools.Bash(`git add -A && git commit -qm "carol: add note"`)}}
		},
	), true)

	// Each agent's own HOME with its CLI's files, and its fake's environment.
	agentEnv := func(name string, api modelAPI) string {
		h := filepath.Join(f.agents, "home-"+name)
		if err := os.MkdirAll(h, 0o755); err != nil {
			t.Fatal(err)
		}
		for rel, content := range api.files {
			testsupport.WriteFile(t, filepath.Join(h, rel), content)
		}
		env := map[string]string{"HOME": h}
		for k, v := range api.env {
			env[k] = strings.ReplaceAll(v, "$HOME", h)
		}
		b, _ := json.Marshal(env)
		return string(b) // YAML's flow mapping is JSON's object
	}
	p := f.load(fmt.Sprintf(`version: 1
team: real
repo: $REPO
base: main
test: ./check.sh
limits: {backoff: 3s}
defaults:
  preset: %s
  timeout: 3m
  retries: 0
  nudge: {max: 1, auto_commit: false}
  env:
    IS_SANDBOX: "1"
    DISABLE_AUTOUPDATER: "1"
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
    PI_OFFLINE: "1"
    PATH: %q
agents:
  - name: alice
    env: %s
    tasks: [{id: greet, prompt: Write src/alice.txt with a greeting and commit it.}]
  - name: bob
    env: %s
    tasks: [{id: farewell, prompt: Write src/bob.txt with a farewell and commit it.}]
  - name: carol
    env: %s
    tasks: [{id: note, prompt: Write src/carol.txt with a note and commit it.}]
`, preset, filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH"), agentEnv("alice", alice), agentEnv("bob", bob), agentEnv("carol", carol)))
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
	for _, id := range []string{"greet", "farewell", "note"} {
		if got := f.taskState(st, id).State; got != orchestrator.Merged {
			t.Errorf("task %s: %s, want merged", id, got)
		}
	}
	for _, path := range []string{"src/alice.txt", "src/bob.txt", "src/carol.txt"} {
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
	// carol's limit was the provider's: she was paused (no retry spent: retries are 0),
	// and launched again once it reset.
	if note := f.taskState(st, "note"); note.Attempt != 2 {
		t.Errorf("carol launched %d times, want 2 (the limit, then after it)", note.Attempt)
	}
	if ev := f.journal("real", "provider.limited"); len(ev) != 1 {
		t.Errorf("provider.limited events %+v: want carol's one", ev)
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
	convs := bob.conversations()
	if lastReq := convs[len(convs)-1]; lastReq.Turns() < 3 {
		t.Errorf("bob's last model call had %d earlier turns: the resumed session's history was not sent back", lastReq.Turns())
	}
	if t.Failed() {
		b, _ := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "real", "bob"))
		t.Logf("supervisor log:\n%s\nbob's log:\n%s", f.logs.String(), b)
	}
	// Each agent's log reads back as a conversation with its session, its cost and its
	// tool calls (each with its result): the commands it ran through its CLI's shell tool.
	ran := map[string]string{"alice": "teamctl msg send --to bob", "bob": "teamctl blocker", "carol": "carol: add note"}
	for _, name := range []string{"alice", "bob", "carol"} {
		tr, err := agentproc.ReadLog(preset, orchestrator.LogPath(ws.TestRepo().CommonDir, "real", name), agentproc.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != agentproc.StatusDone || tr.SessionID == "" || tr.Usage.CostUSD <= 0 {
			t.Errorf("%s's transcript: status %s session %q usage %+v", name, tr.Status, tr.SessionID, tr.Usage)
		}
		found := false
		for _, l := range tr.Launches {
			for _, e := range l.Entries {
				found = found || e.Tool != nil && e.Tool.Done && strings.Contains(e.Tool.Input, ran[name])
			}
		}
		if !found {
			t.Errorf("%s's transcript shows no finished tool call running %q", name, ran[name])
		}
	}
	// carol's first launch ended on the provider's limit, read from her CLI's output.
	if tr, err := agentproc.ReadLog(preset, orchestrator.LogPath(ws.TestRepo().CommonDir, "real", "carol"), agentproc.Options{}); err != nil {
		t.Fatal(err)
	} else if f := tr.Launches[0].Fault; f == nil || f.Kind != agentproc.FaultLimit {
		t.Errorf("carol's first launch: fault %v, want a limit", f)
	}
	// Every model call came from the agent's own worktree.
	for name, fake := range map[string]modelAPI{"alice": alice, "bob": bob} {
		for _, r := range fake.conversations() {
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
