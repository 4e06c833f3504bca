package fakegemini_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
	"github.com/teamctl/teamctl/internal/testsupport/fakegemini"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

// post sends body to path and returns the response and its body.
func post(t *testing.T, url, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("x-goog-api-key", "key-test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type candidateResponse struct {
	Candidates []struct {
		Content struct {
			Role  string `json:"role"`
			Parts []struct {
				Text         string `json:"text"`
				FunctionCall *struct {
					Name string         `json:"name"`
					Args map[string]any `json:"args"`
				} `json:"functionCall"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata struct {
		PromptTokenCount, CandidatesTokenCount, TotalTokenCount int
	} `json:"usageMetadata"`
}

// sse splits a streamGenerateContent?alt=sse body into its chunks.
func sse(t *testing.T, body []byte) []candidateResponse {
	t.Helper()
	var out []candidateResponse
	for _, ev := range strings.Split(string(body), "\r\n\r\n") {
		if ev == "" {
			continue
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("event %q is not a data line", ev)
		}
		var c candidateResponse
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		out = append(out, c)
	}
	return out
}

const tools = `"tools":[{"functionDeclarations":[{"name":"write_file"},{"name":"run_shell_command"}]}]`

func TestStreamsLikeTheGeminiAPI(t *testing.T) {
	t.Parallel()
	tt := fakegemini.Tools()
	s := fakegemini.Start(t, fakeanthropic.Steps("finished",
		func(dir string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Text: "Writing.", Tools: []fakeanthropic.ToolUse{tt.Write(dir, "a.txt", "a\n"), tt.Bash("git add -A")}}
		},
	))
	body := `{"contents":[{"role":"user","parts":[{"text":"<session_context>\n- **Workspace Directories:**\n  - /work/repo\n</session_context>"},{"text":"go"}]}],
		"systemInstruction":{"role":"user","parts":[{"text":"You are Gemini CLI."}]},` + tools + `}`
	resp, b := post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse", body)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q: %s", ct, b)
	}
	chunks := sse(t, b)
	if len(chunks) != 2 {
		t.Fatalf("%d chunks, want 2 (the text split in two, the last with the calls): %s", len(chunks), b)
	}
	var text string
	var calls []string
	for _, c := range chunks {
		for _, p := range c.Candidates[0].Content.Parts {
			text += p.Text
			if p.FunctionCall != nil {
				calls = append(calls, p.FunctionCall.Name)
				if p.FunctionCall.Name == "write_file" && p.FunctionCall.Args["file_path"] != "/work/repo/a.txt" {
					t.Errorf("write_file args %v: the path is not under the workspace directory", p.FunctionCall.Args)
				}
			}
		}
	}
	last := chunks[len(chunks)-1]
	if text != "Writing." || strings.Join(calls, " ") != "write_file run_shell_command" || chunks[0].Candidates[0].FinishReason != "" ||
		last.Candidates[0].FinishReason != "STOP" || last.Candidates[0].Content.Role != "model" ||
		last.UsageMetadata.CandidatesTokenCount <= 0 || last.UsageMetadata.TotalTokenCount != last.UsageMetadata.PromptTokenCount+last.UsageMetadata.CandidatesTokenCount {
		t.Errorf("text %q, calls %v, last chunk %+v", text, calls, last)
	}

	// The history, as the CLI sends it: its function calls and responses carry ids; a
	// second response without one pairs with the call of its name.
	history := `{"contents":[
		{"role":"user","parts":[{"text":"go"}]},
		{"role":"model","parts":[{"text":"Writing."},{"functionCall":{"id":"write_file_1","name":"write_file","args":{"file_path":"a.txt","content":"a\n"}}},
			{"functionCall":{"name":"run_shell_command","args":{"command":"git add -A"}}}]},
		{"role":"user","parts":[{"functionResponse":{"id":"write_file_1","name":"write_file","response":{"output":"wrote a.txt"}}},
			{"functionResponse":{"name":"run_shell_command","response":{"error":"exit status 1"}}}]}],` + tools + `}`
	_, b = post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:generateContent", history)
	var c candidateResponse
	if err := json.Unmarshal(b, &c); err != nil || c.Candidates[0].Content.Parts[0].Text != "finished" || c.Candidates[0].FinishReason != "STOP" {
		t.Errorf("after the history's tool calls: %s (%v)", b, err)
	}
	convs := s.Conversations()
	if len(convs) != 2 {
		t.Fatalf("%d conversations", len(convs))
	}
	r := convs[1]
	results := r.ToolResults()
	uses := r.Messages[1].Content
	if r.Turns() != 1 || r.SincePrompt() != 1 || r.Model != "gemini-3-flash-preview" || r.Stream || r.APIKey != "key-test" ||
		len(results) != 2 || len(uses) != 3 || uses[1].ID != "write_file_1" || results[0].ToolUseID != "write_file_1" || results[0].Content != "wrote a.txt" || results[0].IsError ||
		results[1].ToolUseID != uses[2].ID || uses[2].ID == "" || results[1].Content != "exit status 1" || !results[1].IsError {
		t.Errorf("decoded: %+v", r)
	}
	if convs[0].System != "You are Gemini CLI." || !convs[0].Stream || convs[0].WorkingDir() != "/work/repo" || strings.Join(convs[0].UserTexts(), "|") != "<session_context>\n- **Workspace Directories:**\n  - /work/repo\n</session_context>\ngo" {
		t.Errorf("first request: %+v (working dir %q)", convs[0], convs[0].WorkingDir())
	}
}

func TestSideRequestsAreAnsweredWithoutTheScript(t *testing.T) {
	t.Parallel()
	s := fakegemini.Start(t, func(fakeanthropic.Request) fakeanthropic.Reply {
		t.Error("the script answered a request that offers no function declarations")
		return fakeanthropic.Reply{}
	})
	text := func(b []byte) string {
		var c candidateResponse
		if err := json.Unmarshal(b, &c); err != nil || len(c.Candidates) != 1 || len(c.Candidates[0].Content.Parts) != 1 {
			t.Fatalf("answer %s: %v", b, err)
		}
		return c.Candidates[0].Content.Parts[0].Text
	}
	// The next-speaker check (its schema as 0.61 sends it): the user speaks next.
	_, b := post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:generateContent", `{"contents":[{"role":"user","parts":[{"text":"who next?"}]}],
		"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"reasoning":{"type":"string"},
		"next_speaker":{"type":"string","enum":["user","model"]}},"required":["reasoning","next_speaker"]}}}`)
	var next struct{ Reasoning, NextSpeaker string }
	if err := json.Unmarshal([]byte(text(b)), &next); err != nil || next.Reasoning == "" {
		t.Errorf("next speaker answer %s: %v", b, err)
	}
	if !strings.Contains(text(b), `"next_speaker":"user"`) {
		t.Errorf("next speaker answer %s", text(b))
	}
	// The router's classifier (OpenAPI-style types) and the loop check.
	_, b = post(t, s.URL, "/v1beta/models/gemini-3.5-flash-lite:generateContent", `{"contents":[{"role":"user","parts":[{"text":"say hi"}]}],
		"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"OBJECT","properties":{"complexity_reasoning":{"type":"STRING"},
		"complexity_score":{"type":"INTEGER"}},"required":["complexity_reasoning","complexity_score"]}}}`)
	var route struct {
		Reasoning string  `json:"complexity_reasoning"`
		Score     float64 `json:"complexity_score"`
	}
	if err := json.Unmarshal([]byte(text(b)), &route); err != nil || route.Score < 1 || route.Score > 100 || route.Reasoning == "" {
		t.Errorf("classifier answer %s: %v", text(b), err)
	}
	_, b = post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:generateContent", `{"contents":[{"role":"user","parts":[{"text":"loop?"}]}],
		"generationConfig":{"responseJsonSchema":{"type":"object","properties":{"unproductive_state_analysis":{"type":"string"},"unproductive_state_confidence":{"type":"number"}}}}}`)
	if !strings.Contains(text(b), `"unproductive_state_confidence":0`) {
		t.Errorf("loop check answer %s", text(b))
	}
	// A summary (no schema, no tools): a short text, streamed when asked.
	resp, b := post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"summarize"}]}]}`)
	if chunks := sse(t, b); resp.StatusCode != http.StatusOK || len(chunks) == 0 || chunks[len(chunks)-1].Candidates[0].FinishReason != "STOP" {
		t.Errorf("summary: %d %s", resp.StatusCode, b)
	}
	_, b = post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:countTokens", `{"contents":[{"role":"user","parts":[{"text":"count me"}]}]}`)
	var count struct{ TotalTokens int }
	if err := json.Unmarshal(b, &count); err != nil || count.TotalTokens <= 0 {
		t.Errorf("countTokens: %s (%v)", b, err)
	}
	for _, path := range []string{"/v1beta/models", "/v1beta/models/gemini-3-flash-preview", "/v1beta/cachedContents"} {
		resp, err := http.Get(s.URL + path + "?key=key-get")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %v %v", path, resp, err)
			continue
		}
		resp.Body.Close()
	}
	reqs := s.Requests()
	if len(reqs) != 8 || len(s.Conversations()) != 0 || reqs[7].APIKey != "key-get" || reqs[0].APIKey != "key-test" {
		t.Errorf("%d requests, %d conversations recorded", len(reqs), len(s.Conversations()))
	}
}

func TestFaultsInGooglesErrorShape(t *testing.T) {
	t.Parallel()
	s := fakegemini.Start(t, fakeanthropic.Steps("never"))
	var n atomic.Int32
	faults := []*fakeanthropic.Fault{fakegemini.UsageLimit(90 * time.Second), fakegemini.ServerError(), fakegemini.Overloaded(), fakeanthropic.Overloaded()}
	s.SetFaults(func(fakeanthropic.Request) *fakeanthropic.Fault {
		return faults[n.Add(1)-1]
	})
	type googleError struct {
		Error struct {
			Code    int
			Message string
			Status  string
			Details []map[string]any
		}
	}
	want := []struct {
		code   int
		status string
	}{{429, "RESOURCE_EXHAUSTED"}, {500, "INTERNAL"}, {503, "UNAVAILABLE"}, {529, "UNAVAILABLE"}}
	for i, w := range want {
		resp, b := post(t, s.URL, "/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],`+tools+`}`)
		var e googleError
		if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != w.code || e.Error.Code != w.code || e.Error.Status != w.status || e.Error.Message == "" {
			t.Errorf("fault %d: %d %s (%v)", i, resp.StatusCode, b, err)
		}
		if i == 0 {
			var delay, quota string
			for _, d := range e.Error.Details {
				switch d["@type"] {
				case "type.googleapis.com/google.rpc.RetryInfo":
					delay, _ = d["retryDelay"].(string)
				case "type.googleapis.com/google.rpc.QuotaFailure":
					quota = "yes"
				}
			}
			if delay != "90s" || quota == "" || !strings.Contains(e.Error.Message, "Please retry in 90s.") {
				t.Errorf("usage limit: %s", b)
			}
		}
	}
	if f := s.Faulted(); f[429] != 1 || f[500] != 1 || f[503] != 1 || f[529] != 1 {
		t.Errorf("faulted %v", f)
	}
}

// gemini is a real Gemini CLI pointed at a fake in a hermetic home.
type gemini struct {
	t         *testing.T
	bin, repo string
	env       []string
}

// newGemini makes a repository and a home whose settings.json is fakegemini.Settings
// (maxAttempts), and the environment that points the CLI at s.
func newGemini(t *testing.T, s *fakegemini.Server, maxAttempts int) *gemini {
	t.Helper()
	bin := testsupport.AgentCLI(t, "gemini")
	testsupport.NodeOnPath(t)
	dir := t.TempDir()
	vars, err := testsupport.Hermetic(dir)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	testsupport.WriteFile(t, filepath.Join(home, ".gemini", "settings.json"), string(fakegemini.Settings(maxAttempts)))
	tmp := filepath.Join(dir, "tmp") // the CLI's error reports go to os.tmpdir()
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp,
		// No machine-wide settings either (/etc/gemini-cli/settings.json by default).
		"GEMINI_CLI_SYSTEM_SETTINGS_PATH=" + filepath.Join(dir, "system-settings.json"),
		"GEMINI_CLI_SYSTEM_DEFAULTS_PATH=" + filepath.Join(dir, "system-defaults.json"),
	}, vars...)
	env = append(env, s.Env("key-"+t.Name())...)
	return &gemini{t: t, bin: bin, repo: testsupport.NewRepo(t), env: env}
}

// launch is one headless launch: its stream-json events, stderr and exit code.
type launch struct {
	events []map[string]any
	stderr string
	code   int
}

func (l launch) of(typ string) []map[string]any {
	var out []map[string]any
	for _, e := range l.events {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func (l launch) result() map[string]any {
	if r := l.of("result"); len(r) == 1 {
		return r[0]
	}
	return nil
}

// run runs gemini with teamctl's preset flags after args (the prompt, --resume ...).
func (g *gemini) run(args ...string) launch {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.bin, append(args, "--output-format", "stream-json", "--yolo", "--skip-trust")...)
	cmd.Dir, cmd.Env = g.repo, g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	l := launch{stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		l.code = exit.ExitCode()
	case err != nil:
		g.t.Fatalf("gemini %v: %v\n%s", args, err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			g.t.Fatalf("stream-json line %q: %v", sc.Text(), err)
		}
		l.events = append(l.events, ev)
	}
	return l
}

func TestRealGeminiRunsToolsAndResumes(t *testing.T) {
	testsupport.AgentCLI(t, "gemini")
	testsupport.OneRealAgentAtATime(t)
	tt := fakegemini.Tools()
	s := fakegemini.Start(t, fakeanthropic.Steps("All done.",
		// The first launch: a file, a shell command, an end of turn.
		func(dir string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Text: "Writing hello.txt.", Tools: []fakeanthropic.ToolUse{tt.Write(dir, "hello.txt", "hello\n")}}
		},
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tt.Bash("git add -A && git commit -qm hello && git log --format=%s")}}
		},
		func(string) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "Committed."} },
		// The resumed launch goes on from the history: turn 3 is its first.
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{tt.Bash("cat hello.txt; echo again > again.txt")}}
		},
	))
	g := newGemini(t, s, 1)
	const session = "0b7e2f9a-5c1d-4e3b-9a8f-6d2c1b0a9e8d"
	first := g.run("--session-id", session, "-p", "make hello")
	if r := first.result(); first.code != 0 || r == nil || r["status"] != "success" {
		t.Fatalf("first launch: exit %d, result %v\n%s", first.code, r, first.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(g.repo, "hello.txt")); err != nil || string(got) != "hello\n" {
		t.Errorf("hello.txt: %q, %v", got, err)
	}
	if log := testsupport.Git(t, g.repo, "log", "--format=%s", "-1"); log != "hello" {
		t.Errorf("last commit %q: the shell command did not run", log)
	}
	init := first.of("init")
	if len(init) != 1 || init[0]["session_id"] != session {
		t.Errorf("init events %v: want session %s", init, session)
	}
	var tools []string
	for _, e := range first.of("tool_use") {
		tools = append(tools, e["tool_name"].(string))
	}
	if strings.Join(tools, " ") != "write_file run_shell_command" {
		t.Errorf("tool_use events: %v", tools)
	}
	// The router's classifier got JSON it could read: no fallback noise on stderr.
	if strings.Contains(first.stderr, "ClassifierStrategy failed") {
		t.Errorf("the side request was not answered as the CLI expects:\n%s", first.stderr)
	}
	convs := s.Conversations()
	if len(convs) != 3 {
		t.Fatalf("%d conversation requests in the first launch, want 3", len(convs))
	}
	if dir := convs[0].WorkingDir(); dir != g.repo {
		t.Errorf("working dir %q, want %q", dir, g.repo)
	}
	// Every call in the history pairs with its result.
	answered := map[string]bool{}
	for _, r := range convs[2].ToolResults() {
		answered[r.ToolUseID] = true
	}
	var uses int
	for _, m := range convs[2].Messages {
		for _, b := range m.Content {
			if b.Type == "tool_use" {
				uses++
				if !answered[b.ID] {
					t.Errorf("tool_use %s (%s) has no tool_result", b.ID, b.Name)
				}
			}
		}
	}
	if uses != 2 {
		t.Errorf("%d tool_use blocks in the history, want 2", uses)
	}
	if out := convs[2].ToolResults(); len(out) == 0 || !strings.Contains(out[len(out)-1].Content, "hello") {
		t.Errorf("shell result %+v", out)
	}

	second := g.run("-p", "continue please", "--resume", session)
	if r := second.result(); second.code != 0 || r == nil || r["status"] != "success" {
		t.Fatalf("resumed launch: exit %d, result %v\n%s", second.code, r, second.stderr)
	}
	if init := second.of("init"); len(init) != 1 || init[0]["session_id"] != session {
		t.Errorf("resumed init %v: want session %s", init, session)
	}
	if _, err := os.Stat(filepath.Join(g.repo, "again.txt")); err != nil {
		t.Errorf("the resumed launch's command did not run: %v", err)
	}
	convs = s.Conversations()
	if len(convs) != 5 {
		t.Fatalf("%d conversation requests in all, want 5", len(convs))
	}
	resumed := convs[3]
	texts := resumed.UserTexts()
	if resumed.Turns() != 3 || resumed.SincePrompt() != 0 || len(texts) < 2 ||
		!strings.HasSuffix(texts[0], "make hello") || texts[len(texts)-1] != "continue please" {
		t.Errorf("the resumed request does not carry the first launch: turns %d, since prompt %d, prompts %q", resumed.Turns(), resumed.SincePrompt(), texts)
	}
	// Gemini CLI 0.61 sends each earlier tool result twice on --resume (its session file
	// records a result in the call's message and again as a user message).
	var earlier []string
	for _, r := range resumed.ToolResults() {
		earlier = append(earlier, r.Name)
	}
	if len(earlier) < 2 || earlier[0] != "write_file" || earlier[len(earlier)-1] != "run_shell_command" {
		t.Errorf("earlier tool results in the resumed history: %v", earlier)
	}
	if final := second.of("message"); len(final) == 0 || final[len(final)-1]["content"] == "" {
		t.Errorf("resumed messages %v", final)
	}
}

// TestRealGeminiFaults records what the CLI does on a 429 and a 5xx of the main model.
// general.maxAttempts is 1 where a retry would only make the test wait (the CLI waits at
// least 5 s before a retry, so a default of 10 attempts takes minutes).
func TestRealGeminiFaults(t *testing.T) {
	testsupport.AgentCLI(t, "gemini")
	testsupport.OneRealAgentAtATime(t)
	conversationOnly := func(f func() *fakeanthropic.Fault) func(fakeanthropic.Request) *fakeanthropic.Fault {
		return func(r fakeanthropic.Request) *fakeanthropic.Fault {
			if !r.Conversation() {
				return nil // the router's classifier retries 5 times on its own
			}
			return f()
		}
	}
	failed := func(t *testing.T, l launch, code int, words ...string) {
		t.Helper()
		r := l.result()
		if l.code != code&0xff || r == nil || r["status"] != "error" {
			t.Fatalf("exit %d (want %d), result %v\n%s", l.code, code&0xff, r, l.stderr)
		}
		e, _ := r["error"].(map[string]any)
		msg, _ := e["message"].(string)
		for _, w := range words {
			if !strings.Contains(msg, w) {
				t.Errorf("result error %q lacks %q", msg, w)
			}
		}
		if len(l.of("error")) != 0 {
			t.Errorf("error events %v", l.of("error"))
		}
	}

	t.Run("limit", func(t *testing.T) {
		s := fakegemini.Start(t, fakeanthropic.Steps("never"))
		s.SetFaults(conversationOnly(func() *fakeanthropic.Fault { return fakegemini.UsageLimit(30 * time.Second) }))
		l := newGemini(t, s, 1).run("-p", "hi")
		failed(t, l, 429, "[API Error: You exceeded your current quota", "Suggested retry after 30s.", "Please wait and try again later.")
		if f := s.Faulted(); f[429] != 1 {
			t.Errorf("faulted %v, want one 429", f)
		}
	})
	t.Run("limit-terminal", func(t *testing.T) {
		// A retry delay past 5 minutes is terminal: no retry whatever maxAttempts says.
		s := fakegemini.Start(t, fakeanthropic.Steps("never"))
		s.SetFaults(conversationOnly(func() *fakeanthropic.Fault { return fakegemini.UsageLimit(time.Hour) }))
		l := newGemini(t, s, 0).run("-p", "hi")
		failed(t, l, 429, "Suggested retry after 3600s.")
		if f := s.Faulted(); f[429] != 1 {
			t.Errorf("faulted %v, want one 429", f)
		}
		models := map[string]bool{}
		for _, r := range s.Conversations() {
			models[r.Model] = true
		}
		if len(models) != 1 {
			t.Errorf("the 429 made the CLI call models %v: a fallback", models)
		}
	})
	t.Run("server-error", func(t *testing.T) {
		s := fakegemini.Start(t, fakeanthropic.Steps("never"))
		s.SetFaults(conversationOnly(fakegemini.ServerError))
		l := newGemini(t, s, 1).run("-p", "hi")
		failed(t, l, 500, `[API Error: {"error":{"code":500,`, `"status":"INTERNAL"`)
	})
	t.Run("overloaded", func(t *testing.T) {
		s := fakegemini.Start(t, fakeanthropic.Steps("never"))
		s.SetFaults(conversationOnly(fakegemini.Overloaded))
		l := newGemini(t, s, 1).run("-p", "hi")
		failed(t, l, 503, "[API Error: The model is overloaded. Please try again later.]")
	})
	t.Run("server-error-retried", func(t *testing.T) {
		// One 500, then an answer: with two attempts the CLI retries (after its 5 s
		// backoff, jittered) and the launch succeeds; the stream says nothing of it.
		s := fakegemini.Start(t, fakeanthropic.Steps("Recovered."))
		var calls atomic.Int32
		s.SetFaults(conversationOnly(func() *fakeanthropic.Fault {
			if calls.Add(1) > 1 {
				return nil
			}
			return fakegemini.ServerError()
		}))
		l := newGemini(t, s, 2).run("-p", "hi")
		if r := l.result(); l.code != 0 || r == nil || r["status"] != "success" {
			t.Fatalf("exit %d, result %v\n%s", l.code, r, l.stderr)
		}
		if !strings.Contains(l.stderr, "Attempt 1 failed with status 500. Retrying with backoff...") {
			t.Errorf("stderr does not tell of the retry:\n%s", l.stderr)
		}
		if f := s.Faulted(); f[500] != 1 || len(s.Conversations()) != 2 {
			t.Errorf("faulted %v, %d conversation requests", f, len(s.Conversations()))
		}
	})
}
