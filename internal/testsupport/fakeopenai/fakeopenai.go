// Package fakeopenai is a scripted fake of the OpenAI Responses API (POST /v1/responses,
// streamed as server-sent events) on loopback, so tests can drive real agent CLIs that
// speak it (Codex CLI, opencode's openai provider) with no network.
//
// It keeps no conversation model of its own: each request is decoded into a
// fakeanthropic.Request (input items become user and assistant messages with text,
// tool_use and tool_result blocks) and answered by a fakeanthropic.Script, so the same
// scripts, Steps and Request helpers serve both fakes. As there, a script answers from
// the WHOLE history a request carries: a resumed session sends its earlier turns back.
package fakeopenai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

// Server is a running fake. URL is the API's base URL including /v1
// (http://127.0.0.1:PORT/v1), as codex's model_providers.<id>.base_url and opencode's
// provider.openai.options.baseURL want it: they append /responses. (Codex 0.169 does not
// read OPENAI_BASE_URL; see the tests for its config.toml.)
type Server struct {
	URL string

	fakeanthropic.Log // its requests, ids and faults

	script fakeanthropic.Script
	srv    *http.Server

	mu sync.Mutex // over what follows
	// Every output item served, by id, for input items of type item_reference (a client
	// with store=true sends those instead of the items), and every response's whole
	// conversation (input and output items), for previous_response_id.
	items     map[string]json.RawMessage
	responses map[string][]json.RawMessage
	bodies    [][]byte // earlier request bodies, for the cached-token count
}

// Start serves script on 127.0.0.1 on a free port until the test ends.
func Start(t testing.TB, script fakeanthropic.Script) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakeopenai: listen: %v", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String() + "/v1", script: script,
		items: map[string]json.RawMessage{}, responses: map[string][]json.RawMessage{}}
	s.srv = &http.Server{Handler: s}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := fakeanthropic.Request{Method: r.Method, Path: r.URL.Path, Body: body,
		APIKey: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/responses"):
		d, err := s.decode(body, &req)
		s.Record(req)
		if err != nil {
			apiError(w, &fakeanthropic.Fault{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: err.Error()})
			return
		}
		if s.fault(w, req) {
			return
		}
		reply := fakeanthropic.Reply{Text: "ok"}
		if req.Conversation() {
			reply = s.script(req)
		}
		s.answer(w, req, d, reply)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		s.Record(req)
		writeJSON(w, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "gpt-5.5", "object": "model", "created": 1700000000, "owned_by": "openai"}}})
	default:
		// Anything else a CLI probes (telemetry, account endpoints): an empty JSON object
		// lets it carry on as it does when such a service is down.
		s.Record(req)
		writeJSON(w, map[string]any{})
	}
}

// offered is one tool a request offers: its wire type ("function", "custom", ...) and
// the namespace it is in, if any.
type offered struct{ typ, namespace string }

// decoded is what answering a request needs beyond the fakeanthropic.Request.
type decoded struct {
	tools map[string]offered
	items []json.RawMessage // the whole conversation: previous response's, then input
}

type rawTool struct {
	Type  string    `json:"type"`
	Name  string    `json:"name"`
	Tools []rawTool `json:"tools"` // a namespace's
}

type rawItem struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Input     string          `json:"input"`
	Output    json.RawMessage `json:"output"`
	Tools     []rawTool       `json:"tools"`  // additional_tools
	Action    json.RawMessage `json:"action"` // local_shell_call
}

// decode reads a Responses API body into req: developer and system messages (and
// instructions) are its System; user and assistant messages, function and custom tool
// calls and their outputs its Messages, an assistant turn's text and calls in one
// message; tools (namespaces flattened, codex's additional_tools input items included)
// its Tools.
func (s *Server) decode(body []byte, req *fakeanthropic.Request) (decoded, error) {
	d := decoded{tools: map[string]offered{}}
	var raw struct {
		Model        string          `json:"model"`
		Instructions string          `json:"instructions"`
		Stream       bool            `json:"stream"`
		Input        json.RawMessage `json:"input"`
		Tools        []rawTool       `json:"tools"`
		Previous     string          `json:"previous_response_id"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return d, fmt.Errorf("decode request body: %w", err)
	}
	req.Model, req.Stream = raw.Model, raw.Stream
	var system []string
	if raw.Instructions != "" {
		system = append(system, raw.Instructions)
	}
	addTools := func(ts []rawTool) {
		var walk func(ts []rawTool, ns string)
		walk = func(ts []rawTool, ns string) {
			for _, t := range ts {
				if t.Type == "namespace" {
					walk(t.Tools, t.Name)
					continue
				}
				name := t.Name
				if name == "" {
					name = t.Type // web_search, tool_search, ...
				}
				if _, seen := d.tools[name]; !seen {
					req.Tools = append(req.Tools, name)
				}
				d.tools[name] = offered{typ: t.Type, namespace: ns}
			}
		}
		walk(ts, "")
	}
	addTools(raw.Tools)

	var input []json.RawMessage
	var text string
	if json.Unmarshal(raw.Input, &text) == nil {
		b, _ := json.Marshal(map[string]any{"type": "message", "role": "user", "content": text})
		input = []json.RawMessage{b}
	} else if len(raw.Input) > 0 {
		if err := json.Unmarshal(raw.Input, &input); err != nil {
			return d, fmt.Errorf("decode input: %w", err)
		}
	}
	s.mu.Lock()
	if raw.Previous != "" {
		prev, ok := s.responses[raw.Previous]
		if !ok {
			s.mu.Unlock()
			return d, fmt.Errorf("previous response %q not found", raw.Previous)
		}
		d.items = append(d.items, prev...)
	}
	for _, it := range input {
		var ref struct{ Type, ID string }
		_ = json.Unmarshal(it, &ref)
		if ref.Type == "item_reference" {
			stored, ok := s.items[ref.ID]
			if !ok {
				s.mu.Unlock()
				return d, fmt.Errorf("item %q not found", ref.ID)
			}
			it = stored
		}
		d.items = append(d.items, it)
	}
	s.mu.Unlock()

	last := func(role string) *fakeanthropic.Message {
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == role {
			return &req.Messages[n-1]
		}
		req.Messages = append(req.Messages, fakeanthropic.Message{Role: role})
		return &req.Messages[len(req.Messages)-1]
	}
	// A tool's output joins the user message before it only if that holds outputs alone.
	results := func() *fakeanthropic.Message {
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == "user" {
			only := true
			for _, b := range req.Messages[n-1].Content {
				only = only && b.Type == "tool_result"
			}
			if only {
				return &req.Messages[n-1]
			}
		}
		req.Messages = append(req.Messages, fakeanthropic.Message{Role: "user"})
		return &req.Messages[len(req.Messages)-1]
	}
	for _, b := range d.items {
		var it rawItem
		if err := json.Unmarshal(b, &it); err != nil {
			return d, fmt.Errorf("decode input item: %w", err)
		}
		if it.Type == "" && it.Role != "" {
			it.Type = "message"
		}
		switch it.Type {
		case "message":
			t := textOf(it.Content)
			switch it.Role {
			case "system", "developer":
				if t != "" {
					system = append(system, t)
				}
			case "user":
				req.Messages = append(req.Messages, fakeanthropic.Message{Role: "user", Content: []fakeanthropic.Block{{Type: "text", Text: t}}})
			case "assistant":
				m := last("assistant")
				m.Content = append(m.Content, fakeanthropic.Block{Type: "text", Text: t})
			}
		case "function_call":
			var in map[string]any
			if err := json.Unmarshal([]byte(it.Arguments), &in); err != nil && it.Arguments != "" {
				in = map[string]any{"arguments": it.Arguments}
			}
			m := last("assistant")
			m.Content = append(m.Content, fakeanthropic.Block{Type: "tool_use", ID: it.CallID, Name: it.Name, Input: in})
		case "custom_tool_call":
			m := last("assistant")
			m.Content = append(m.Content, fakeanthropic.Block{Type: "tool_use", ID: it.CallID, Name: it.Name, Input: map[string]any{"input": it.Input}})
		case "local_shell_call":
			var action map[string]any
			_ = json.Unmarshal(it.Action, &action)
			m := last("assistant")
			m.Content = append(m.Content, fakeanthropic.Block{Type: "tool_use", ID: it.CallID, Name: "local_shell", Input: action})
		case "function_call_output", "custom_tool_call_output", "local_shell_call_output":
			out := textOf(it.Output)
			m := results()
			m.Content = append(m.Content, fakeanthropic.Block{Type: "tool_result", ToolUseID: it.CallID, Content: out, IsError: failed(out)})
		case "additional_tools":
			addTools(it.Tools)
		}
		// reasoning, web_search_call, compaction and the like carry nothing a script reads.
	}
	req.System = strings.Join(system, "\n")
	return d, nil
}

// exitCode is how codex reports the end of a command (exec_command) or a patch
// (apply_patch) in its output: in text, or in code mode as the JSON exec_command returns.
var exitCode = regexp.MustCompile(`(?m)(?:^Process exited with code |^Exit code: |"exit_code":)(\d+)`)

// failed reports whether a tool output says its command failed: the Responses API has
// no error flag on an output, but codex's exec_command states the exit code.
func failed(out string) bool {
	m := exitCode.FindStringSubmatch(out)
	return m != nil && m[1] != "0"
}

// textOf is the text of a string or of a list of content parts (input_text,
// output_text, text, summary_text).
func textOf(raw json.RawMessage) string {
	return fakeanthropic.TextOf(raw, "input_text", "output_text", "text", "summary_text")
}

// tokens is a stable stand-in for a token count: about four bytes a token.
func tokens(n int) int { return n/4 + 1 }

// usage counts a request's tokens: cached are those of the longest prefix it shares
// with an earlier request, as the real API's prompt cache would have them.
func (s *Server) usage(body []byte, out int) map[string]any {
	s.mu.Lock()
	common := 0
	for _, b := range s.bodies {
		n := 0
		for n < len(b) && n < len(body) && b[n] == body[n] {
			n++
		}
		common = max(common, n)
	}
	s.bodies = append(s.bodies, body)
	s.mu.Unlock()
	in := tokens(len(body))
	cached := min(common/4, in)
	return map[string]any{
		"input_tokens": in, "input_tokens_details": map[string]any{"cached_tokens": cached},
		"output_tokens": out, "output_tokens_details": map[string]any{"reasoning_tokens": 0},
		"total_tokens": in + out,
	}
}

// answer writes reply as the real API would: a stream of server-sent events when the
// request asked for one, else one response object. A tool the request offers as a
// custom (freeform) tool is called with a custom_tool_call whose input is the
// ToolUse's Input["input"]; any other with a function_call of JSON arguments.
func (s *Server) answer(w http.ResponseWriter, req fakeanthropic.Request, d decoded, reply fakeanthropic.Reply) {
	respID := s.NextID("resp_fake")
	var output []map[string]any
	if reply.Text != "" {
		output = append(output, map[string]any{"id": s.NextID("msg_fake"), "type": "message", "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": reply.Text, "annotations": []any{}, "logprobs": []any{}}}})
	}
	for _, tu := range reply.Tools {
		tu = adapt(tu, d.tools)
		o := d.tools[tu.Name]
		callID := s.NextID("call_fake")
		if o.typ == "custom" {
			in, _ := tu.Input["input"].(string)
			output = append(output, map[string]any{"id": s.NextID("ctc_fake"), "type": "custom_tool_call", "status": "completed", "call_id": callID, "name": tu.Name, "input": in})
			continue
		}
		args, _ := json.Marshal(tu.Input)
		item := map[string]any{"id": s.NextID("fc_fake"), "type": "function_call", "status": "completed", "call_id": callID, "name": tu.Name, "arguments": string(args)}
		if o.namespace != "" {
			item["namespace"] = o.namespace
		}
		output = append(output, item)
	}
	out := 0
	var outRaw []json.RawMessage
	for _, it := range output {
		b, _ := json.Marshal(it)
		out += tokens(len(b))
		outRaw = append(outRaw, b)
	}
	s.mu.Lock()
	for i, it := range output {
		s.items[it["id"].(string)] = outRaw[i]
	}
	s.responses[respID] = append(append([]json.RawMessage(nil), d.items...), outRaw...)
	s.mu.Unlock()
	model := req.Model
	if model == "" {
		model = "gpt-5.5"
	}
	created := time.Now().Unix()
	response := func(status string, output []map[string]any, usage any) map[string]any {
		if output == nil {
			output = []map[string]any{}
		}
		return map[string]any{"id": respID, "object": "response", "created_at": created, "status": status, "model": model,
			"output": output, "usage": usage, "error": nil, "incomplete_details": nil, "parallel_tool_calls": true,
			"tool_choice": "auto", "tools": []any{}, "store": false}
	}
	usage := s.usage(req.Body, out)
	if !req.Stream {
		writeJSON(w, response("completed", output, usage))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("x-request-id", s.NextID("req_fake"))
	w.WriteHeader(http.StatusOK)
	seq := 0
	ev := func(name string, data map[string]any) {
		data["type"] = name
		data["sequence_number"] = seq
		seq++
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	// Two deltas, as the real API splits text: a client that keeps only the last delta
	// would show half of it.
	halves := func(s string) []string { return []string{s[:len(s)/2], s[len(s)/2:]} }
	ev("response.created", map[string]any{"response": response("in_progress", nil, nil)})
	ev("response.in_progress", map[string]any{"response": response("in_progress", nil, nil)})
	for i, it := range output {
		id := it["id"].(string)
		added := map[string]any{}
		for k, v := range it {
			added[k] = v
		}
		added["status"] = "in_progress"
		switch it["type"] {
		case "message":
			added["content"] = []any{}
			text := reply.Text
			ev("response.output_item.added", map[string]any{"output_index": i, "item": added})
			ev("response.content_part.added", map[string]any{"item_id": id, "output_index": i, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}, "logprobs": []any{}}})
			for _, part := range halves(text) {
				ev("response.output_text.delta", map[string]any{"item_id": id, "output_index": i, "content_index": 0, "delta": part, "logprobs": []any{}})
			}
			ev("response.output_text.done", map[string]any{"item_id": id, "output_index": i, "content_index": 0, "text": text, "logprobs": []any{}})
			ev("response.content_part.done", map[string]any{"item_id": id, "output_index": i, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": text, "annotations": []any{}, "logprobs": []any{}}})
		case "function_call":
			args := it["arguments"].(string)
			added["arguments"] = ""
			ev("response.output_item.added", map[string]any{"output_index": i, "item": added})
			for _, part := range halves(args) {
				ev("response.function_call_arguments.delta", map[string]any{"item_id": id, "output_index": i, "delta": part})
			}
			ev("response.function_call_arguments.done", map[string]any{"item_id": id, "output_index": i, "arguments": args})
		case "custom_tool_call":
			in := it["input"].(string)
			added["input"] = ""
			ev("response.output_item.added", map[string]any{"output_index": i, "item": added})
			for _, part := range halves(in) {
				ev("response.custom_tool_call_input.delta", map[string]any{"item_id": id, "output_index": i, "delta": part})
			}
			ev("response.custom_tool_call_input.done", map[string]any{"item_id": id, "output_index": i, "input": in})
		}
		ev("response.output_item.done", map[string]any{"output_index": i, "item": it})
	}
	ev("response.completed", map[string]any{"response": response("completed", output, usage)})
}

func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}
