package fakeopenai_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
	"github.com/teamctl/teamctl/internal/testsupport/fakeopenai"
)

// realCLI is a real agent CLI pointed at a fake, in a repository of its own with a fresh
// HOME. Its launches go to one log as teamctl writes it (a "=== teamctl" line per launch,
// the CLI's stdout and stderr, a line when it ended), so a test's log can serve
// agentproc's transcript tests: set FAKEOPENAI_LOG_DIR to keep it.
type realCLI struct {
	name, bin, dir, home, log string
	env                       []string
	attempt                   int
}

func newCLI(t *testing.T, name string) *realCLI {
	t.Helper()
	testsupport.NodeOnPath(t)
	bin := testsupport.AgentCLI(t, name)
	testsupport.OneRealAgentAtATime(t)
	dir := testsupport.NewRepo(t)
	home := filepath.Join(filepath.Dir(dir), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &realCLI{name: name, bin: bin, dir: dir, home: home, log: filepath.Join(filepath.Dir(dir), name+".log")}
	// testsupport.Main has made the process hermetic (GIT_CONFIG_GLOBAL, GIT_CONFIG_NOSYSTEM,
	// an identity); the CLI gets a HOME of its own on top.
	c.env = append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"PWD="+dir, // opencode takes $PWD as its project
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	return c
}

func (c *realCLI) setenv(kv ...string) { c.env = append(c.env, kv...) }

// run launches the CLI with args and waits for it; it returns the JSON lines it printed
// on stdout, and its exit code.
func (c *realCLI) run(t *testing.T, args ...string) ([]map[string]any, int) {
	t.Helper()
	c.attempt++
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	argv := append([]string{c.name}, args...)
	reason := "task"
	if c.attempt > 1 {
		reason = "nudge"
	}
	fmt.Fprintf(logf, "=== teamctl %s: launch agent=alice task=hello attempt=%d reason=%s argv=%q\n",
		time.Now().UTC().Format(time.RFC3339), c.attempt, reason, argv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	var stdout bytes.Buffer
	cmd.Stdout = io.MultiWriter(logf, &stdout)
	cmd.Stderr = logf
	// A CLI's children (opencode's) would hold its stdout open past a timeout: the whole
	// group goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	fmt.Fprintf(logf, "=== teamctl %s: agent exited with code %d\n", time.Now().UTC().Format(time.RFC3339), code)
	var events []map[string]any
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			events = append(events, ev)
		}
	}
	return events, code
}

// keepLog copies the test's log to $FAKEOPENAI_LOG_DIR/name, when that is set.
func (c *realCLI) keepLog(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("FAKEOPENAI_LOG_DIR")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(c.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c *realCLI) logText(t *testing.T) string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

func newCodex(t *testing.T, fake *fakeopenai.Server, model string, requestRetries, streamRetries int) *realCLI {
	t.Helper()
	c := newCLI(t, "codex")
	codexHome := filepath.Join(c.home, ".codex")
	testsupport.WriteFile(t, filepath.Join(codexHome, "config.toml"), fakeopenai.CodexConfig(fake.URL, model, requestRetries, streamRetries))
	c.setenv("CODEX_HOME="+codexHome, "OPENAI_API_KEY=sk-fake-codex")
	return c
}

// byType is the events of the given type.
func byType(events []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range events {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

// items is the completed items of the given type.
func items(events []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range byType(events, "item.completed") {
		if it, _ := ev["item"].(map[string]any); it["type"] == typ {
			out = append(out, it)
		}
	}
	return out
}

func call(tu fakeanthropic.ToolUse) fakeanthropic.Reply {
	return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tu}}
}

// writeRunResume is the script both CLIs' tests run: write hello.txt, commit it with the
// shell, say so; the resumed launch commits one more line.
func writeRunResume(tools fakeanthropic.Toolset) fakeanthropic.Script {
	return func(req fakeanthropic.Request) fakeanthropic.Reply {
		dir := req.WorkingDir()
		return fakeanthropic.Steps("Nothing left to do.",
			func(string) fakeanthropic.Reply {
				r := call(tools.Write(dir, "hello.txt", "hello\n"))
				r.Text = "I will write hello.txt."
				return r
			},
			func(string) fakeanthropic.Reply {
				return call(tools.Bash(`cat hello.txt && git add -A && git commit -qm "add hello"`))
			},
			func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "hello.txt is committed."} },
			// The resumed launch continues here, since the history it sends back holds
			// the three turns above.
			func(string) fakeanthropic.Reply {
				return call(tools.Bash(`echo again >> hello.txt && git commit -qam "say hello again"`))
			},
			func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "Committed the rest."} },
		)(req)
	}
}

// checkResumed checks what the fake saw: the resumed launch's first request carries the
// first launch's prompt, turns and tool results, and the new prompt.
func checkResumed(t *testing.T, fake *fakeopenai.Server, before int, first, second string) {
	t.Helper()
	convs := fake.Conversations()
	if len(convs) <= before {
		t.Fatalf("no conversation request after the first launch's %d", before)
	}
	resumed := convs[before]
	texts := strings.Join(resumed.UserTexts(), "\n")
	if resumed.Turns() != 3 || resumed.SincePrompt() != 0 || !strings.Contains(texts, first) || !strings.Contains(texts, second) {
		t.Errorf("the resumed launch did not send the first launch's history: %d turns (%d since the prompt), prompts %q",
			resumed.Turns(), resumed.SincePrompt(), resumed.UserTexts())
	}
	results := resumed.ToolResults()
	if len(results) != 2 || !strings.Contains(results[1].Content, "hello") || results[1].IsError {
		t.Errorf("the resumed launch's history holds tool results %+v, want the first launch's 2 (the second printing hello)", results)
	}
}

// TestRealCodexWritesRunsAndResumes runs codex exec (teamctl's preset argv) against the
// fake: it writes a file with apply_patch and commits with exec_command, then `codex
// exec resume` of its thread continues with the first launch's history.
func TestRealCodexWritesRunsAndResumes(t *testing.T) {
	t.Parallel()
	fake := fakeopenai.Start(t, writeRunResume(fakeopenai.Tools("codex")))
	c := newCodex(t, fake, "gpt-5.5", 0, 0)
	const firstPrompt, secondPrompt = "Write hello.txt and commit it.", "You left work uncommitted: commit it."
	events, code := c.run(t, "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", firstPrompt)
	if code != 0 {
		t.Fatalf("codex exited with %d; log:\n%s", code, c.logText(t))
	}
	started := byType(events, "thread.started")
	if len(started) != 1 {
		t.Fatalf("thread.started events: %v", started)
	}
	thread, _ := started[0]["thread_id"].(string)
	if got := testsupport.Git(t, c.dir, "log", "-1", "--format=%s"); got != "add hello" {
		t.Fatalf("last commit %q, want \"add hello\"; log:\n%s", got, c.logText(t))
	}
	if b, _ := os.ReadFile(filepath.Join(c.dir, "hello.txt")); string(b) != "hello\n" {
		t.Errorf("hello.txt holds %q", b)
	}
	if len(items(events, "file_change")) != 1 || len(items(events, "command_execution")) != 1 || len(items(events, "agent_message")) != 2 {
		t.Errorf("items: %d file_change, %d command_execution, %d agent_message; log:\n%s",
			len(items(events, "file_change")), len(items(events, "command_execution")), len(items(events, "agent_message")), c.logText(t))
	}
	done := byType(events, "turn.completed")
	if len(done) != 1 {
		t.Fatalf("turn.completed events: %v", done)
	}
	usage, _ := done[0]["usage"].(map[string]any)
	if in, _ := usage["input_tokens"].(float64); in <= 0 {
		t.Errorf("turn usage %v", usage)
	}
	if cached, _ := usage["cached_input_tokens"].(float64); cached <= 0 {
		t.Errorf("no cached tokens in turn usage %v", usage)
	}
	convs := fake.Conversations()
	before := len(convs)
	if before != 3 {
		t.Errorf("%d conversation requests in the first launch, want 3", before)
	}
	if r := convs[0]; r.Model != "gpt-5.5" || r.APIKey != "sk-fake-codex" || !r.Stream || r.Path != "/v1/responses" ||
		!strings.HasPrefix(r.System, "You are Codex") || r.WorkingDir() != c.dir {
		t.Errorf("first request: model %q key %q stream %v path %q working dir %q, system %.40q",
			r.Model, r.APIKey, r.Stream, r.Path, r.WorkingDir(), r.System)
	}
	if tools := strings.Join(convs[0].Tools, " "); !strings.Contains(tools, "exec_command") || !strings.Contains(tools, "apply_patch") {
		t.Errorf("codex offers %s", tools)
	}

	events, code = c.run(t, "exec", "resume", "--json", "--dangerously-bypass-approvals-and-sandbox", thread, secondPrompt)
	if code != 0 {
		t.Fatalf("codex exec resume exited with %d; log:\n%s", code, c.logText(t))
	}
	if s := byType(events, "thread.started"); len(s) != 1 || s[0]["thread_id"] != thread {
		t.Errorf("resumed thread.started %v, want thread %s", s, thread)
	}
	if got := testsupport.Git(t, c.dir, "log", "--format=%s", "main~2.."); got != "say hello again\nadd hello" {
		t.Errorf("commits:\n%s", got)
	}
	checkResumed(t, fake, before, firstPrompt, secondPrompt)
	c.keepLog(t, "codex.log")
	t.Logf("log:\n%s", c.logText(t))
}

// newOpencode points opencode's openai provider at the fake in its opencode.json
// ($XDG_CONFIG_HOME/opencode/opencode.json): the provider speaks the Responses API at
// options.baseURL. Models come from opencode's bundled list (no models.dev fetch).
func newOpencode(t *testing.T, fake *fakeopenai.Server) *realCLI {
	t.Helper()
	c := newCLI(t, "opencode")
	testsupport.WriteFile(t, filepath.Join(c.home, ".config", "opencode", "opencode.json"),
		fakeopenai.OpencodeConfig(fake.URL, "sk-fake-opencode"))
	c.setenv("OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_LSP_DOWNLOAD=1")
	return c
}

// TestRealOpencodeWritesRunsAndResumes runs opencode run (teamctl's preset argv) with its
// openai provider against the fake: it writes a file with apply_patch and commits with
// bash, then `--session` continues with the first launch's history.
func TestRealOpencodeWritesRunsAndResumes(t *testing.T) {
	t.Parallel()
	fake := fakeopenai.Start(t, writeRunResume(fakeopenai.Tools("opencode")))
	c := newOpencode(t, fake)
	const firstPrompt, secondPrompt = "Write hello.txt and commit it.", "You left work uncommitted: commit it."
	events, code := c.run(t, "run", "--format", "json", "--auto", firstPrompt)
	if code != 0 {
		t.Fatalf("opencode exited with %d; log:\n%s", code, c.logText(t))
	}
	session, _ := events[0]["sessionID"].(string)
	if session == "" {
		t.Fatalf("no session id; log:\n%s", c.logText(t))
	}
	if got := testsupport.Git(t, c.dir, "log", "-1", "--format=%s"); got != "add hello" {
		t.Fatalf("last commit %q, want \"add hello\"; log:\n%s", got, c.logText(t))
	}
	if b, _ := os.ReadFile(filepath.Join(c.dir, "hello.txt")); string(b) != "hello\n" {
		t.Errorf("hello.txt holds %q", b)
	}
	var steps []map[string]any
	for _, ev := range byType(events, "step_finish") {
		steps = append(steps, ev["part"].(map[string]any))
	}
	if len(steps) != 3 || steps[2]["reason"] != "stop" {
		t.Errorf("step_finish parts %v", steps)
	} else if tok := steps[1]["tokens"].(map[string]any); tok["input"].(float64) <= 0 || tok["cache"].(map[string]any)["read"].(float64) <= 0 {
		t.Errorf("second step's tokens %v, want input and cache reads", tok)
	}
	convs := fake.Conversations()
	before := len(convs)
	if before != 3 {
		t.Errorf("%d conversation requests in the first launch, want 3", before)
	}
	if r := convs[0]; r.Model != "gpt-5.5" || r.APIKey != "sk-fake-opencode" || !r.Stream || r.WorkingDir() != c.dir {
		t.Errorf("first request: model %q key %q stream %v working dir %q", r.Model, r.APIKey, r.Stream, r.WorkingDir())
	}

	events, code = c.run(t, "run", "--format", "json", "--auto", "--session", session, secondPrompt)
	if code != 0 {
		t.Fatalf("opencode --session exited with %d; log:\n%s", code, c.logText(t))
	}
	if got := testsupport.Git(t, c.dir, "log", "--format=%s", "main~2.."); got != "say hello again\nadd hello" {
		t.Errorf("commits:\n%s", got)
	}
	if len(events) == 0 || events[0]["sessionID"] != session {
		t.Errorf("resumed launch's events %v, want session %s", events, session)
	}
	checkResumed(t, fake, before, firstPrompt, secondPrompt)
	c.keepLog(t, "opencode.log")
	t.Logf("log:\n%s", c.logText(t))
}

// lines is the events as the JSON lines the CLI printed, for a test's log.
func lines(events []map[string]any) string {
	var b strings.Builder
	for _, ev := range events {
		j, _ := json.Marshal(ev)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// errorMessages is the message of every codex error event, and of its turn.failed.
func errorMessages(events []map[string]any) (errs []string, failed string) {
	for _, ev := range byType(events, "error") {
		m, _ := ev["message"].(string)
		errs = append(errs, m)
	}
	for _, ev := range byType(events, "turn.failed") {
		e, _ := ev["error"].(map[string]any)
		failed, _ = e["message"].(string)
	}
	return errs, failed
}

// TestRealCodexFaults records what codex exec --json prints when the API fails, and how
// often it retries: request_max_retries retries each HTTP request (5xx, not 429), and
// stream_max_retries the whole model call ("Reconnecting... n/m" error events), so a
// persistent 500 is (request_max_retries+1)*(stream_max_retries+1) requests. A usage
// limit, an exhausted quota and an overload end the turn at once.
func TestRealCodexFaults(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(3 * time.Hour)
	for _, tc := range []struct {
		name     string
		fault    *fakeanthropic.Fault
		failures int // how many requests fail (0: all)
		requests int // how many faults the fake serves
		errs     []string
		failed   string // the turn's error ("": the turn completes)
	}{
		{name: "usage limit", fault: fakeopenai.UsageLimit(reset), requests: 1,
			errs:   []string{"You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at "},
			failed: "You’ve hit your usage limit."},
		// (A 500 every time: six requests, 13 s of codex's own backoff, ending as "We’re
		// currently experiencing high demand…"; its recording is agentproc's
		// testdata/errors/codex-overload-500.log. Not run here: it is slow.)
		{name: "server error then success", fault: fakeopenai.ServerError(), failures: 3, requests: 3,
			errs: []string{"Reconnecting... 1/2 (We’re currently experiencing high demand, which may cause temporary errors.)"}},
		{name: "overloaded", fault: fakeopenai.Overloaded(), requests: 2,
			errs:   []string{"Selected model is at capacity. Please try a different model."},
			failed: "Selected model is at capacity. Please try a different model."},
		{name: "rate limit", fault: fakeopenai.RateLimit(time.Second), requests: 3,
			errs: []string{"Reconnecting... 1/2 (exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_fault429)",
				"Reconnecting... 2/2 (exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_fault429)",
				"exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_fault429"},
			failed: "exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_fault429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeopenai.Start(t, func(fakeanthropic.Request) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "Done."} })
			var n atomic.Int32
			fake.SetFaults(func(fakeanthropic.Request) *fakeanthropic.Fault {
				if n := n.Add(1); tc.failures == 0 || int(n) <= tc.failures {
					return tc.fault
				}
				return nil
			})
			// One retry of each request, two of each model call; the backoff is codex's own
			// (about 200ms doubling).
			c := newCodex(t, fake, "gpt-5.5", 1, 2)
			events, code := c.run(t, "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "Say done.")
			t.Logf("codex exited with %d after %v faults; it printed:\n%s", code, fake.Faulted(), lines(events))
			if got := fake.Faulted()[tc.fault.Status]; got != tc.requests {
				t.Errorf("%d faults served, want %d", got, tc.requests)
			}
			errs, failed := errorMessages(events)
			if len(errs) != len(tc.errs) {
				t.Fatalf("error events %q, want %q", errs, tc.errs)
			}
			for i, want := range tc.errs {
				if !strings.HasPrefix(errs[i], want) {
					t.Errorf("error event %d: %q, want %q", i, errs[i], want)
				}
			}
			if !strings.HasPrefix(failed, tc.failed) || (tc.failed == "") != (code == 0) {
				t.Errorf("turn.failed %q and exit code %d, want %q", failed, code, tc.failed)
			}
			if tc.failed == "" && len(items(events, "agent_message")) != 1 {
				t.Errorf("the recovered turn did not answer:\n%s", lines(events))
			}
			c.keepLog(t, "codex-"+strings.ReplaceAll(tc.name, " ", "-")+".log")
		})
	}
}

// TestRealOpencodeFaults records what opencode run --format json prints when the API
// fails: it retries a 429 or 5xx five times (six requests), waiting what retry-after-ms
// or retry-after says (else 2s doubling, to 30s), prints nothing meanwhile, then one
// error event with the status. The faults here say retry-after-ms: 20, to be quick.
func TestRealOpencodeFaults(t *testing.T) {
	t.Parallel()
	quick := func(f *fakeanthropic.Fault) *fakeanthropic.Fault {
		h := map[string]string{"retry-after-ms": "20"}
		for k, v := range f.Header {
			h[k] = v
		}
		f.Header = h
		return f
	}
	for _, tc := range []struct {
		name    string
		fault   *fakeanthropic.Fault
		message string
	}{
		{"usage limit", quick(fakeopenai.UsageLimit(time.Now().Add(3 * time.Hour))), "The usage limit has been reached"},
		{"server error", quick(fakeopenai.ServerError()), "The server had an error while processing your request. Sorry about that!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeopenai.Start(t, func(fakeanthropic.Request) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "Done."} })
			fake.SetFaults(func(r fakeanthropic.Request) *fakeanthropic.Fault {
				if !r.Conversation() {
					return nil // the session title
				}
				return tc.fault
			})
			c := newOpencode(t, fake)
			events, code := c.run(t, "run", "--format", "json", "--auto", "Say done.")
			t.Logf("opencode exited with %d after %v faults; it printed:\n%s", code, fake.Faulted(), lines(events))
			if got := fake.Faulted()[tc.fault.Status]; code != 1 || got != 6 {
				t.Errorf("exit code %d after %d faults, want 1 after 6", code, got)
			}
			errs := byType(events, "error")
			if len(errs) != 1 {
				t.Fatalf("error events:\n%s", lines(errs))
			}
			e, _ := errs[0]["error"].(map[string]any)
			data, _ := e["data"].(map[string]any)
			if e["name"] != "APIError" || data["statusCode"] != float64(tc.fault.Status) || data["message"] != tc.message {
				t.Errorf("error event %v", errs[0])
			}
			c.keepLog(t, "opencode-"+strings.ReplaceAll(tc.name, " ", "-")+".log")
		})
	}
}
