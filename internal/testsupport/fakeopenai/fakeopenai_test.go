package fakeopenai_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
	"github.com/teamctl/teamctl/internal/testsupport/fakeopenai"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

type event struct {
	name string
	data map[string]any
}

// post sends a Responses API request and returns the SSE events it streams.
func post(t *testing.T, url, body string) []event {
	t.Helper()
	resp := do(t, url, body)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, content type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var events []event
	sc := bufio.NewScanner(resp.Body)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("data of %s: %v", name, err)
			}
			if d["type"] != name {
				t.Errorf("event %s carries type %v", name, d["type"])
			}
			if d["sequence_number"] != float64(len(events)) {
				t.Errorf("event %d (%s) has sequence_number %v", len(events), name, d["sequence_number"])
			}
			events = append(events, event{name, d})
		}
	}
	return events
}

func do(t *testing.T, url, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/responses", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// completed is the response of the stream's response.completed event.
func completed(t *testing.T, events []event) map[string]any {
	t.Helper()
	last := events[len(events)-1]
	if last.name != "response.completed" {
		t.Fatalf("last event %s", last.name)
	}
	return last.data["response"].(map[string]any)
}

const tools = `"tools":[{"type":"function","name":"exec_command","parameters":{}},{"type":"custom","name":"apply_patch","format":{}},{"type":"web_search"}]`

func TestStreamsLikeTheResponsesAPI(t *testing.T) {
	t.Parallel()
	codex := fakeopenai.Tools("codex")
	s := fakeopenai.Start(t, fakeanthropic.Steps("finished",
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Text: "Let me write it.", Tools: []fakeanthropic.ToolUse{
				codex.Write("", "a.txt", "one\ntwo\n"), codex.Bash("git commit -qam x")}}
		},
	))
	if !strings.HasSuffix(s.URL, "/v1") {
		t.Errorf("URL %s does not end in /v1", s.URL)
	}
	events := post(t, s.URL, `{"model":"gpt-5.5","stream":true,`+tools+`,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]}]}`)
	var names []string
	for _, e := range events {
		names = append(names, e.name)
	}
	want := "response.created response.in_progress " +
		"response.output_item.added response.content_part.added response.output_text.delta response.output_text.delta " +
		"response.output_text.done response.content_part.done response.output_item.done " +
		"response.output_item.added response.custom_tool_call_input.delta response.custom_tool_call_input.delta " +
		"response.custom_tool_call_input.done response.output_item.done " +
		"response.output_item.added response.function_call_arguments.delta response.function_call_arguments.delta " +
		"response.function_call_arguments.done response.output_item.done response.completed"
	if strings.Join(names, " ") != want {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(names, " "), want)
	}
	// Deltas join into the whole text and arguments.
	var text, args, patch string
	for _, e := range events {
		switch e.name {
		case "response.output_text.delta":
			text += e.data["delta"].(string)
		case "response.function_call_arguments.delta":
			args += e.data["delta"].(string)
		case "response.custom_tool_call_input.delta":
			patch += e.data["delta"].(string)
		}
	}
	if text != "Let me write it." || patch != "*** Begin Patch\n*** Add File: a.txt\n+one\n+two\n*** End Patch\n" {
		t.Errorf("text %q, patch %q", text, patch)
	}
	var in map[string]any
	if err := json.Unmarshal([]byte(args), &in); err != nil || in["cmd"] != "git commit -qam x" {
		t.Errorf("arguments %q: %v", args, err)
	}
	resp := completed(t, events)
	out := resp["output"].([]any)
	if len(out) != 3 || resp["status"] != "completed" || !strings.HasPrefix(resp["id"].(string), "resp_") {
		t.Fatalf("completed response %v", resp)
	}
	call := out[2].(map[string]any)
	if call["type"] != "function_call" || call["name"] != "exec_command" || call["call_id"] == "" || call["arguments"] != args {
		t.Errorf("function call %v", call)
	}
	if c := out[1].(map[string]any); c["type"] != "custom_tool_call" || c["name"] != "apply_patch" || c["input"] != patch {
		t.Errorf("custom tool call %v", c)
	}
	usage := resp["usage"].(map[string]any)
	if usage["input_tokens"].(float64) <= 0 || usage["output_tokens"].(float64) <= 0 || usage["total_tokens"] == nil ||
		usage["input_tokens_details"].(map[string]any)["cached_tokens"] == nil || usage["output_tokens_details"] == nil {
		t.Errorf("usage %v", usage)
	}
	r := s.Conversations()[0]
	if r.Model != "gpt-5.5" || r.APIKey != "sk-test" || !r.Stream || r.Path != "/v1/responses" ||
		strings.Join(r.Tools, " ") != "exec_command apply_patch web_search" {
		t.Errorf("recorded %+v", r)
	}
}

// TestDecodesTheWholeHistory decodes codex's input items into the fakeanthropic model:
// developer messages are the system prompt, an assistant turn's message and calls are one
// message, outputs are tool results (failed when codex says the exit code was not 0).
func TestDecodesTheWholeHistory(t *testing.T) {
	t.Parallel()
	var got fakeanthropic.Request
	s := fakeopenai.Start(t, func(req fakeanthropic.Request) fakeanthropic.Reply { got = req; return fakeanthropic.Reply{Text: "ok"} })
	body := `{"model":"gpt-5.5","stream":true,"instructions":"be brief",` + tools + `,"input":[
		{"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex."}]},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n  <cwd>/w/repo</cwd>\n</environment_context>"}]},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"Write a.txt."}]},
		{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"x"},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Writing."}]},
		{"type":"custom_tool_call","call_id":"c1","name":"apply_patch","input":"*** Begin Patch\n*** End Patch\n"},
		{"type":"custom_tool_call_output","call_id":"c1","output":"Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess."},
		{"type":"function_call","call_id":"c2","name":"exec_command","arguments":"{\"cmd\":\"false\"}"},
		{"type":"function_call_output","call_id":"c2","output":"Chunk ID: 1\nWall time: 0.0 seconds\nProcess exited with code 1\nOutput:\n"},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"It failed."}]},
		{"role":"user","content":"Try again."}]}`
	post(t, s.URL, body)
	if got.System != "be brief\nYou are Codex." {
		t.Errorf("system %q", got.System)
	}
	if got.Turns() != 3 || got.SincePrompt() != 0 {
		t.Errorf("%d turns, %d since the prompt; messages %+v", got.Turns(), got.SincePrompt(), got.Messages)
	}
	if texts := got.UserTexts(); len(texts) != 3 || texts[1] != "Write a.txt." || texts[2] != "Try again." {
		t.Errorf("user texts %q", texts)
	}
	first := got.Messages[2]
	if first.Role != "assistant" || len(first.Content) != 2 || first.Content[0].Text != "Writing." ||
		first.Content[1].Type != "tool_use" || first.Content[1].ID != "c1" || first.Content[1].Input["input"] != "*** Begin Patch\n*** End Patch\n" {
		t.Errorf("first assistant turn %+v", first)
	}
	results := got.ToolResults()
	if len(results) != 2 || results[0].ToolUseID != "c1" || results[0].IsError || results[1].ToolUseID != "c2" || !results[1].IsError ||
		!strings.Contains(results[1].Content, "exited with code 1") {
		t.Errorf("tool results %+v", results)
	}
	if call := got.Messages[4].Content[0]; call.Name != "exec_command" || call.Input["cmd"] != "false" {
		t.Errorf("second call %+v", call)
	}
}

// TestRemembersResponses answers previous_response_id and item_reference inputs (what a
// client that lets the API store its responses sends) from the responses it served.
func TestRemembersResponses(t *testing.T) {
	t.Parallel()
	codex := fakeopenai.Tools("codex")
	s := fakeopenai.Start(t, fakeanthropic.Steps("done",
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{codex.Bash("ls")}}
		},
	))
	first := completed(t, post(t, s.URL, `{"model":"m","stream":true,`+tools+`,"input":"list the files"}`))
	call := first["output"].([]any)[0].(map[string]any)
	output := `{"type":"function_call_output","call_id":"` + call["call_id"].(string) + `","output":"a.txt"}`
	for _, body := range []string{
		`{"model":"m","stream":true,` + tools + `,"previous_response_id":"` + first["id"].(string) + `","input":[` + output + `]}`,
		`{"model":"m","stream":true,` + tools + `,"input":[{"role":"user","content":"list the files"},{"type":"item_reference","id":"` + call["id"].(string) + `"},` + output + `]}`,
	} {
		resp := completed(t, post(t, s.URL, body))
		msg := resp["output"].([]any)[0].(map[string]any)
		if msg["type"] != "message" || msg["content"].([]any)[0].(map[string]any)["text"] != "done" {
			t.Errorf("answer %v, want the script's end", msg)
		}
		r := s.Conversations()[len(s.Conversations())-1]
		if r.Turns() != 1 || r.UserTexts()[0] != "list the files" || len(r.ToolResults()) != 1 || r.ToolResults()[0].Content != "a.txt" {
			t.Errorf("history %+v", r.Messages)
		}
	}
	resp := do(t, s.URL, `{"model":"m","stream":true,`+tools+`,"previous_response_id":"resp_unknown","input":[]}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown previous response: status %d, want 400", resp.StatusCode)
	}
}

func TestSideRequestsAreAnsweredWithoutTheScript(t *testing.T) {
	t.Parallel()
	s := fakeopenai.Start(t, func(fakeanthropic.Request) fakeanthropic.Reply {
		t.Error("the script answered a request that offers no tools")
		return fakeanthropic.Reply{}
	})
	// opencode's session title: no tools, streamed.
	events := post(t, s.URL, `{"model":"gpt-5.4-nano","stream":true,"input":[{"role":"developer","content":"You are a title generator."},{"role":"user","content":[{"type":"input_text","text":"hi"}]}]}`)
	if out := completed(t, events)["output"].([]any); len(out) != 1 {
		t.Errorf("side request answer %v", out)
	}
	// Not streamed: one response object.
	resp := do(t, s.URL, `{"model":"m","input":"quota"}`)
	var r struct {
		Object string `json:"object"`
		Output []struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
		Usage map[string]any `json:"usage"`
	}
	err := json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil || r.Object != "response" || len(r.Output) != 1 || r.Output[0].Content[0].Text == "" || r.Usage["input_tokens"] == nil {
		t.Errorf("side request answer %+v, %v", r, err)
	}
	for _, path := range []string{"/models", "/whatever"} {
		resp, err := http.Get(s.URL + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	if n := len(s.Requests()); n != 4 || len(s.Conversations()) != 0 {
		t.Errorf("%d requests, %d conversations recorded", n, len(s.Conversations()))
	}
}

// TestCodeMode turns a call of exec_command into codex's code-mode exec (JavaScript
// calling the tool) when the request offers only that, in its additional_tools item.
func TestCodeMode(t *testing.T) {
	t.Parallel()
	codex := fakeopenai.Tools("codex")
	var got fakeanthropic.Request
	s := fakeopenai.Start(t, func(req fakeanthropic.Request) fakeanthropic.Reply {
		got = req
		return fakeanthropic.Reply{Tools: []fakeanthropic.ToolUse{codex.Bash("ls")}}
	})
	resp := completed(t, post(t, s.URL, `{"model":"gpt-6.1-sol","stream":true,"input":[
		{"type":"additional_tools","role":"developer","tools":[{"type":"namespace","name":"functions","tools":[{"type":"custom","name":"exec"},{"type":"function","name":"wait"}]}]},
		{"role":"user","content":"go"}]}`))
	if strings.Join(got.Tools, " ") != "exec wait" {
		t.Errorf("tools %q", got.Tools)
	}
	call := resp["output"].([]any)[0].(map[string]any)
	if call["type"] != "custom_tool_call" || call["name"] != "exec" || !strings.Contains(call["input"].(string), `await tools.exec_command({"cmd":"ls"})`) {
		t.Errorf("call %v", call)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := fakeopenai.Start(t, func(fakeanthropic.Request) fakeanthropic.Reply { return fakeanthropic.Reply{Text: "ok"} })
	reset := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	faults := []*fakeanthropic.Fault{fakeopenai.UsageLimit(reset), fakeopenai.ServerError(), fakeopenai.Overloaded(), fakeopenai.RateLimit(2 * time.Second)}
	n := 0
	s.SetFaults(func(fakeanthropic.Request) *fakeanthropic.Fault {
		if n < len(faults) {
			n++
			return faults[n-1]
		}
		return nil
	})
	type body struct {
		Error map[string]any `json:"error"`
	}
	read := func() (*http.Response, body) {
		resp := do(t, s.URL, `{"model":"m","input":"hi"}`)
		defer resp.Body.Close()
		var b body
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, b := read()
	if resp.StatusCode != 429 || b.Error["type"] != "usage_limit_reached" || b.Error["resets_at"] != float64(reset.Unix()) ||
		b.Error["plan_type"] != "plus" || resp.Header.Get("x-codex-primary-used-percent") != "100" {
		t.Errorf("usage limit: %d %v %v", resp.StatusCode, b, resp.Header)
	}
	resp, b = read()
	if resp.StatusCode != 500 || b.Error["type"] != "server_error" || b.Error["code"] != nil || b.Error["message"] == "" {
		t.Errorf("server error: %d %v", resp.StatusCode, b)
	}
	resp, b = read()
	if resp.StatusCode != 503 || b.Error["code"] != "server_is_overloaded" {
		t.Errorf("overloaded: %d %v", resp.StatusCode, b)
	}
	resp, b = read()
	if resp.StatusCode != 429 || b.Error["code"] != "rate_limit_exceeded" || !strings.Contains(b.Error["message"].(string), "Please try again in 2s.") ||
		resp.Header.Get("x-ratelimit-reset-tokens") != "2s" {
		t.Errorf("rate limit: %d %v %v", resp.StatusCode, b, resp.Header)
	}
	if events := post(t, s.URL, `{"model":"m","stream":true,"input":"hi"}`); len(events) == 0 {
		t.Error("no answer after the faults")
	}
	if f := s.Faulted(); f[429] != 2 || f[500] != 1 || f[503] != 1 {
		t.Errorf("faulted %v", f)
	}
}
