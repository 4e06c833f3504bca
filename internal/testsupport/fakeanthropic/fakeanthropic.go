// Package fakeanthropic is a scripted fake of the Anthropic Messages API on loopback, so
// tests can drive real agent CLIs (Claude Code, pi) that run real tools with no network.
//
// A Script decides each answer from the WHOLE conversation a request carries, never from
// its last message alone: a CLI resumed with --resume sends the earlier turns back, and a
// fake that only looked at the last message would answer a resumed session as if it were
// new (and, with tool results, loop forever).
package fakeanthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Server is a running fake. URL is what ANTHROPIC_BASE_URL should be set to.
type Server struct {
	URL string

	Log // its requests, ids and faults

	script Script
	srv    *http.Server
	ln     net.Listener
}

// Script answers one conversation request (a request that offers tools: the agent's own
// loop). Side requests a CLI makes for itself (session titles, quota probes) carry no
// tools and are answered with a short text by the server, not the script.
type Script func(req Request) Reply

// Reply is one assistant turn: some text, then tool calls. No tool calls ends the turn
// (stop_reason end_turn); with tool calls the CLI runs them and calls again.
type Reply struct {
	Text  string
	Tools []ToolUse
}

// ToolUse is one tool call in a reply.
type ToolUse struct {
	Name  string         // "Bash", "Write", ... as the request's tools name them
	Input map[string]any // the tool's arguments
}

// Bash is a call of Claude Code's Bash tool.
func Bash(command string) ToolUse {
	return ToolUse{Name: "Bash", Input: map[string]any{"command": command, "description": "run " + firstWord(command)}}
}

// Write is a call of Claude Code's Write tool; path must be absolute.
func Write(path, content string) ToolUse {
	return ToolUse{Name: "Write", Input: map[string]any{"file_path": path, "content": content}}
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// Request is one request the fake received, decoded.
type Request struct {
	Method, Path string
	APIKey       string // x-api-key (or the bearer token): lets one server tell agents apart
	Model        string
	System       string // the system prompt's text blocks, joined
	Messages     []Message
	Tools        []string // tool names offered
	Stream       bool
	Body         []byte
}

// Message is one message of the conversation a request carries.
type Message struct {
	Role    string
	Content []Block
}

// Block is one content block. Content is a tool_result's text.
type Block struct {
	Type      string         `json:"type"`
	Text      string         `json:"text,omitempty"`
	ID        string         `json:"id,omitempty"`
	Name      string         `json:"name,omitempty"`
	Input     map[string]any `json:"input,omitempty"`
	ToolUseID string         `json:"tool_use_id,omitempty"`
	Content   string         `json:"-"`
	IsError   bool           `json:"is_error,omitempty"`
}

// Conversation reports whether this request is the agent's own loop (it offers tools).
func (r Request) Conversation() bool { return len(r.Tools) > 0 }

// Turns is how many assistant turns the history already holds: a script of fixed steps
// answers with step Turns().
func (r Request) Turns() int {
	n := 0
	for _, m := range r.Messages {
		if m.Role == "assistant" {
			n++
		}
	}
	return n
}

// SincePrompt is how many assistant turns came after the newest prompt (a user message
// with text): 0 means the prompt of this launch was just given. A script that answers from
// the whole history tells by it where a resumed session is in its newest launch.
func (r Request) SincePrompt() int {
	n := 0
	for _, m := range r.Messages {
		switch {
		case m.Role == "assistant":
			n++
		case m.Role == "user":
			for _, b := range m.Content {
				if b.Type == "text" {
					n = 0
				}
			}
		}
	}
	return n
}

// ToolResults is every tool_result in the history, in order.
func (r Request) ToolResults() []Block {
	var out []Block
	for _, m := range r.Messages {
		for _, b := range m.Content {
			if b.Type == "tool_result" {
				out = append(out, b)
			}
		}
	}
	return out
}

// UserTexts is the text of every user message that is not only tool results: the prompts
// the conversation was given, the first launch's and every resume's.
func (r Request) UserTexts() []string {
	var out []string
	for _, m := range r.Messages {
		if m.Role != "user" {
			continue
		}
		var texts []string
		for _, b := range m.Content {
			if b.Type == "text" {
				texts = append(texts, b.Text)
			}
		}
		if len(texts) > 0 {
			out = append(out, strings.Join(texts, "\n"))
		}
	}
	return out
}

// workingDir finds the line that states the agent's directory: Claude Code's "Primary
// working directory: /path", pi's "Current working directory: /path", the Gemini CLI's
// "- **Workspace Directories:**\n  - /path" (in its first user message), codex's
// "<cwd>/path</cwd>" (in its environment_context user message).
var workingDir = regexp.MustCompile(`(?m)(?:(?:Primary working directory|Current working directory|Working directory):|\*\*Workspace Directories:\*\*\s*\n\s*-|<cwd>)\s*(/[^\s"<]+)`)

// WorkingDir is the agent's working directory as its prompt states it, or "".
func (r Request) WorkingDir() string {
	if m := workingDir.FindStringSubmatch(r.System); m != nil {
		return m[1]
	}
	// Claude Code 2.1.330 sends its environment section as a message of role "system"
	// inside messages, not in the system prompt.
	for _, m := range r.Messages {
		for _, b := range m.Content {
			if mm := workingDir.FindStringSubmatch(b.Text); mm != nil {
				return mm[1]
			}
		}
	}
	return ""
}

// Steps is a Script of fixed turns: the n-th assistant turn of the conversation (counted
// over the whole history, so a resumed session continues where it stopped) is steps[n];
// past the end it answers with last's text. dir is the agent's working directory, for
// steps that need absolute paths.
func Steps(last string, steps ...func(dir string) Reply) Script {
	return func(req Request) Reply {
		n := req.Turns()
		if n < len(steps) {
			return steps[n](req.WorkingDir())
		}
		return Reply{Text: last}
	}
}

// Start serves script on 127.0.0.1 on a free port until the test ends.
func Start(t testing.TB, script Script) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakeanthropic: listen: %v", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), script: script, ln: ln}
	s.srv = &http.Server{Handler: s}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Body: body, APIKey: r.Header.Get("x-api-key")}
	if req.APIKey == "" {
		req.APIKey = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if r.Method == http.MethodPost && len(body) > 0 {
		if err := decodeRequest(body, &req); err != nil {
			s.Record(req)
			apiError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
			return
		}
	}
	s.Record(req)
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/messages/count_tokens"):
		writeJSON(w, map[string]any{"input_tokens": tokens(body)})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/messages"):
		if s.fault(w, req) {
			return
		}
		reply := Reply{Text: "ok"}
		if req.Conversation() {
			reply = s.script(req)
		}
		s.answer(w, req, reply)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v1/models"):
		writeJSON(w, map[string]any{"data": []any{map[string]any{"id": "claude-fake", "type": "model", "display_name": "Fake"}}, "has_more": false})
	default:
		// Anything else a CLI probes (feature flags, telemetry, account endpoints): an empty
		// JSON object lets it carry on as it does when such a service is down.
		writeJSON(w, map[string]any{})
	}
}

// decodeRequest reads the Messages API body. content may be a string or a list of blocks;
// a tool_result's content may be a string or a list of text blocks; system likewise.
func decodeRequest(body []byte, req *Request) error {
	var raw struct {
		Model    string          `json:"model"`
		System   json.RawMessage `json:"system"`
		Stream   bool            `json:"stream"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	req.Model, req.Stream = raw.Model, raw.Stream
	req.System = TextOf(raw.System)
	for _, t := range raw.Tools {
		req.Tools = append(req.Tools, t.Name)
	}
	for _, m := range raw.Messages {
		msg := Message{Role: m.Role}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			msg.Content = []Block{{Type: "text", Text: s}}
		} else {
			var blocks []struct {
				Block
				RawContent json.RawMessage `json:"content"`
			}
			if err := json.Unmarshal(m.Content, &blocks); err != nil {
				return fmt.Errorf("decode message content: %w", err)
			}
			for _, b := range blocks {
				b.Block.Content = TextOf(b.RawContent)
				msg.Content = append(msg.Content, b.Block)
			}
		}
		req.Messages = append(req.Messages, msg)
	}
	return nil
}

// TextOf is the text of content that is a string or a list of blocks ({type, text}): of
// those blocks whose type is one of types ("text" when none is given), joined by lines.
func TextOf(raw json.RawMessage, types ...string) string {
	if len(types) == 0 {
		types = []string{"text"}
	}
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return ""
	}
	var texts []string
	for _, b := range blocks {
		if slices.Contains(types, b.Type) {
			texts = append(texts, b.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// tokens is a stable stand-in for a token count: about four bytes a token.
func tokens(b []byte) int { return len(b)/4 + 1 }

// answer writes reply as the real API would: a stream of server-sent events when the
// request asked for one, else one JSON message.
func (s *Server) answer(w http.ResponseWriter, req Request, reply Reply) {
	msgID := s.NextID("msg_fake")
	var content []map[string]any
	if reply.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": reply.Text})
	}
	for _, tu := range reply.Tools {
		content = append(content, map[string]any{"type": "tool_use", "id": s.NextID("toolu_fake"), "name": tu.Name, "input": tu.Input})
	}
	stop := "end_turn"
	if len(reply.Tools) > 0 {
		stop = "tool_use"
	}
	in, out := tokens(req.Body), 0
	for _, c := range content {
		b, _ := json.Marshal(c)
		out += tokens(b)
	}
	model := req.Model
	if model == "" {
		model = "claude-fake"
	}
	if !req.Stream {
		writeJSON(w, map[string]any{
			"id": msgID, "type": "message", "role": "assistant", "model": model, "content": content,
			"stop_reason": stop, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": in, "output_tokens": out, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("request-id", s.NextID("req_fake"))
	w.WriteHeader(http.StatusOK)
	ev := func(name string, data map[string]any) {
		data["type"] = name
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	ev("message_start", map[string]any{"message": map[string]any{
		"id": msgID, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
	}})
	ev("ping", map[string]any{})
	for i, c := range content {
		switch c["type"] {
		case "text":
			ev("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			// Two deltas, as the real API splits text: a client that keeps only the last
			// delta would show half the text.
			text := c["text"].(string)
			half := len(text) / 2
			for _, part := range []string{text[:half], text[half:]} {
				ev("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "text_delta", "text": part}})
			}
		case "tool_use":
			ev("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "tool_use", "id": c["id"], "name": c["name"], "input": map[string]any{}}})
			js, _ := json.Marshal(c["input"])
			half := len(js) / 2
			for _, part := range [][]byte{js[:half], js[half:]} {
				ev("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": string(part)}})
			}
		}
		ev("content_block_stop", map[string]any{"index": i})
	}
	ev("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": out}})
	ev("message_stop", map[string]any{})
}

func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

func apiError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	w.Write(b)
}

// Toolset is how one CLI's tools are called: their names and input shapes differ.
type Toolset struct {
	// Write writes content to rel under the agent's working directory dir.
	Write func(dir, rel, content string) ToolUse
	// Bash runs a shell command in the agent's working directory.
	Bash func(command string) ToolUse
}

// Tools returns the toolset of a CLI that speaks the Messages API: "claude" (Claude
// Code: Write wants an absolute file_path and refuses unknown keys), "pi" (lowercase
// tools, paths relative to its working directory) or "opencode" (lowercase tools, an
// absolute filePath, a description with each command).
func Tools(cli string) Toolset {
	switch cli {
	case "opencode":
		return Toolset{
			Write: func(dir, rel, content string) ToolUse {
				return ToolUse{Name: "write", Input: map[string]any{"filePath": dir + "/" + rel, "content": content}}
			},
			Bash: func(command string) ToolUse {
				return ToolUse{Name: "bash", Input: map[string]any{"command": command, "description": "run " + firstWord(command)}}
			},
		}
	case "pi":
		return Toolset{
			Write: func(_, rel, content string) ToolUse {
				return ToolUse{Name: "write", Input: map[string]any{"path": rel, "content": content}}
			},
			Bash: func(command string) ToolUse { return ToolUse{Name: "bash", Input: map[string]any{"command": command}} },
		}
	}
	return Toolset{
		Write: func(dir, rel, content string) ToolUse { return Write(dir+"/"+rel, content) },
		Bash:  Bash,
	}
}
