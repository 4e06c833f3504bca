// Package fakegemini is a scripted fake of the Google Gemini API (generativelanguage
// v1beta: generateContent, streamGenerateContent, countTokens, models) on loopback, so
// tests can drive the real Gemini CLI with an API key and no network.
//
// It shares fakeanthropic's conversation model: each wire request is decoded into a
// fakeanthropic.Request (role "model" is "assistant", a functionCall a tool_use block, a
// functionResponse a tool_result block), a fakeanthropic.Script answers the agent's own
// loop from the WHOLE history, and its fakeanthropic.Reply is rendered as a Gemini
// candidate. So fakeanthropic.Steps and the Request helpers work unchanged.
//
// The CLI's own side calls (model routing, next-speaker and loop checks, edit
// correction, compression, session summaries) offer no function declarations; the
// server answers them itself: a JSON object that fits the request's response schema
// when it asks for JSON, else a short text.
package fakegemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

// Server is a running fake. URL is what GOOGLE_GEMINI_BASE_URL should be set to (see
// Env and Settings for the rest the CLI needs).
type Server struct {
	URL string

	fakeanthropic.Log // its requests, ids and faults

	script fakeanthropic.Script
	srv    *http.Server
}

// Start serves script on 127.0.0.1 on a free port until the test ends.
func Start(t testing.TB, script fakeanthropic.Script) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakegemini: listen: %v", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), script: script}
	s.srv = &http.Server{Handler: s}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Env is the environment that points the Gemini CLI at the fake with an API key: the
// key is what Request.APIKey reports, so one server can tell agents apart. The CLI also
// needs Settings in its settings file: with GOOGLE_GEMINI_BASE_URL set and no auth type
// chosen there, it picks the "gateway" auth type and refuses it in headless mode
// ("Invalid auth method selected.", exit 41).
func (s *Server) Env(apiKey string) []string {
	return []string{"GOOGLE_GEMINI_BASE_URL=" + s.URL, "GEMINI_API_KEY=" + apiKey}
}

// Settings is a ~/.gemini/settings.json (or $GEMINI_CLI_HOME/settings.json) for a test:
// API-key auth (so the base URL in the environment is used), no usage statistics or
// telemetry, no update checks, no IDE, no folder trust. maxAttempts is
// general.maxAttempts, how many times the CLI tries a main-model request that fails with
// a 429 or 5xx (1 to 10; 0 leaves the CLI's default, 10, with a backoff of 5 s doubling
// to 30 s, jittered, between tries: about 4 minutes in all).
func Settings(maxAttempts int) []byte {
	general := map[string]any{"enableAutoUpdate": false, "enableAutoUpdateNotification": false}
	if maxAttempts > 0 {
		general["maxAttempts"] = maxAttempts
	}
	b, _ := json.MarshalIndent(map[string]any{
		"security":  map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}, "folderTrust": map[string]any{"enabled": false}},
		"privacy":   map[string]any{"usageStatisticsEnabled": false},
		"telemetry": map[string]any{"enabled": false},
		"general":   general,
		"ide":       map[string]any{"enabled": false},
	}, "", "  ")
	return append(b, '\n')
}

// pathRE splits /v1beta/models/{model}:{method}; the version and a tunedModels
// collection are accepted too.
var pathRE = regexp.MustCompile(`^/(v1[a-z0-9]*)/(?:models|tunedModels)/([^/:]+):([A-Za-z]+)$`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := fakeanthropic.Request{Method: r.Method, Path: r.URL.Path, Body: body, APIKey: r.Header.Get("x-goog-api-key")}
	if req.APIKey == "" {
		req.APIKey = r.URL.Query().Get("key")
	}
	if req.APIKey == "" {
		req.APIKey = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	m := pathRE.FindStringSubmatch(r.URL.Path)
	method := ""
	if m != nil {
		req.Model, method = m[2], m[3]
	}
	req.Stream = method == "streamGenerateContent"
	var gen genConfig
	if r.Method == http.MethodPost && len(body) > 0 && (method == "generateContent" || method == "streamGenerateContent" || method == "countTokens") {
		var err error
		if gen, err = decodeRequest(body, &req); err != nil {
			s.Record(req)
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error(), nil)
			return
		}
		if method == "countTokens" {
			req.Tools = nil // counting a conversation's tokens is not a turn of it
		}
	}
	s.Record(req)
	switch {
	case r.Method == http.MethodPost && (method == "generateContent" || method == "streamGenerateContent"):
		if s.fault(w, req) {
			return
		}
		if req.Conversation() {
			s.answer(w, req, s.script(req))
			return
		}
		s.answer(w, req, fakeanthropic.Reply{Text: sideAnswer(req, gen)})
	case r.Method == http.MethodPost && method == "countTokens":
		writeJSON(w, map[string]any{"totalTokens": tokens(body)})
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		var models []any
		for _, name := range []string{"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3.1-pro-preview", "gemini-3-flash-preview"} {
			models = append(models, modelInfo(name))
		}
		writeJSON(w, map[string]any{"models": models})
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/models/"):
		writeJSON(w, modelInfo(r.URL.Path[strings.Index(r.URL.Path, "/models/")+len("/models/"):]))
	default:
		// Anything else (embeddings, files, caches): an empty object, as a service that
		// has nothing to say.
		writeJSON(w, map[string]any{})
	}
}

// modelInfo is a Model resource of the models list.
func modelInfo(name string) map[string]any {
	return map[string]any{"name": "models/" + name, "displayName": name,
		"supportedGenerationMethods": []string{"generateContent", "countTokens"},
		"inputTokenLimit":            1048576, "outputTokenLimit": 65536}
}

// genConfig is what of generationConfig decides a side request's answer.
type genConfig struct {
	ResponseMimeType   string          `json:"responseMimeType"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
	ResponseSchema     json.RawMessage `json:"responseSchema"`
}

type wirePart struct {
	Text         string `json:"text"`
	Thought      bool   `json:"thought"`
	FunctionCall *struct {
		ID   string         `json:"id"`
		Name string         `json:"name"`
		Args map[string]any `json:"args"`
	} `json:"functionCall"`
	FunctionResponse *struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	} `json:"functionResponse"`
}

type wireContent struct {
	Role  string     `json:"role"`
	Parts []wirePart `json:"parts"`
}

// decodeRequest reads a generateContent body (or a countTokens one, whose contents may sit
// in generateContentRequest) into req.
func decodeRequest(body []byte, req *fakeanthropic.Request) (genConfig, error) {
	var raw struct {
		Contents          []wireContent   `json:"contents"`
		SystemInstruction json.RawMessage `json:"systemInstruction"`
		Tools             []struct {
			FunctionDeclarations []struct {
				Name string `json:"name"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
		GenerationConfig       genConfig       `json:"generationConfig"`
		GenerateContentRequest json.RawMessage `json:"generateContentRequest"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return genConfig{}, fmt.Errorf("decode request body: %w", err)
	}
	if len(raw.Contents) == 0 && len(raw.GenerateContentRequest) > 0 {
		return decodeRequest(raw.GenerateContentRequest, req)
	}
	req.System = systemText(raw.SystemInstruction)
	for _, t := range raw.Tools {
		for _, f := range t.FunctionDeclarations {
			req.Tools = append(req.Tools, f.Name)
		}
	}
	req.Messages = messages(raw.Contents)
	return raw.GenerationConfig, nil
}

// systemText is a systemInstruction's text: a Content ({parts: [{text}]}), a list of
// parts, or a string.
func systemText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var c wireContent
	if json.Unmarshal(raw, &c) != nil || len(c.Parts) == 0 {
		if json.Unmarshal(raw, &c.Parts) != nil {
			return ""
		}
	}
	var texts []string
	for _, p := range c.Parts {
		if p.Text != "" && !p.Thought {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// messages maps contents to the Messages model. A functionCall without an id gets one
// ("call_<message>_<part>"), and a functionResponse without one gets the id of the
// earliest unanswered call of the same name (else the earliest unanswered call), so
// tool_use and tool_result blocks pair up as they do in the Messages API.
func messages(contents []wireContent) []fakeanthropic.Message {
	type call struct{ id, name string }
	var pending []call
	var out []fakeanthropic.Message
	for i, c := range contents {
		role := c.Role
		if role == "model" {
			role = "assistant"
		}
		if role == "" {
			role = "user"
		}
		msg := fakeanthropic.Message{Role: role}
		for j, p := range c.Parts {
			switch {
			case p.FunctionCall != nil:
				id := p.FunctionCall.ID
				if id == "" {
					id = fmt.Sprintf("call_%d_%d", i, j)
				}
				pending = append(pending, call{id, p.FunctionCall.Name})
				msg.Content = append(msg.Content, fakeanthropic.Block{Type: "tool_use", ID: id, Name: p.FunctionCall.Name, Input: p.FunctionCall.Args})
			case p.FunctionResponse != nil:
				id := p.FunctionResponse.ID
				k := -1
				for n, pc := range pending {
					if (id != "" && pc.id == id) || (id == "" && pc.name == p.FunctionResponse.Name) {
						k = n
						break
					}
				}
				if k < 0 && id == "" && len(pending) > 0 {
					k = 0
				}
				if k >= 0 {
					if id == "" {
						id = pending[k].id
					}
					pending = append(pending[:k], pending[k+1:]...)
				}
				if id == "" {
					id = fmt.Sprintf("call_%d_%d", i, j)
				}
				text, isErr := responseText(p.FunctionResponse.Response)
				msg.Content = append(msg.Content, fakeanthropic.Block{Type: "tool_result", ToolUseID: id, Name: p.FunctionResponse.Name, Content: text, IsError: isErr})
			case p.Thought:
				msg.Content = append(msg.Content, fakeanthropic.Block{Type: "thinking", Text: p.Text})
			case p.Text != "":
				msg.Content = append(msg.Content, fakeanthropic.Block{Type: "text", Text: p.Text})
			}
		}
		out = append(out, msg)
	}
	return out
}

// responseText is a functionResponse's output: the CLI sends {"output": text} for a tool
// that ran and {"error": text} for one that failed; anything else is given as JSON.
func responseText(raw json.RawMessage) (string, bool) {
	var r map[string]json.RawMessage
	if json.Unmarshal(raw, &r) != nil {
		return string(raw), false
	}
	str := func(v json.RawMessage) string {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return string(v)
	}
	if v, ok := r["error"]; ok {
		return str(v), true
	}
	if v, ok := r["output"]; ok {
		return str(v), false
	}
	return string(raw), false
}

// sideAnswer is the server's own answer to a request that is not the agent's loop: JSON
// that fits the response schema when JSON is asked for, else a short text.
func sideAnswer(req fakeanthropic.Request, gen genConfig) string {
	schema := gen.ResponseJSONSchema
	if len(schema) == 0 {
		schema = gen.ResponseSchema
	}
	if len(schema) == 0 && gen.ResponseMimeType != "application/json" {
		return "ok"
	}
	var sch map[string]any
	_ = json.Unmarshal(schema, &sch)
	var last string
	if texts := req.UserTexts(); len(texts) > 0 {
		last = texts[len(texts)-1]
	}
	b, _ := json.Marshal(sample(sch, "", last))
	return string(b)
}

// schemaAnswers are the values the CLI's side calls need to carry on as if nothing were
// wrong: the next speaker is the user, nothing loops, and the router's classifier scores
// a task simple, so the CLI (model "auto") picks its flash model, whose retries
// general.maxAttempts bounds (on a pro route it always tries 3 times).
var schemaAnswers = map[string]any{
	"next_speaker":                  "user",
	"unproductive_state_confidence": 0.0,
	"complexity_score":              10,
	"noChangesRequired":             false,
}

// escapingPrompt frames the text the edit corrector asks to fix the escaping of.
var escapingPrompt = regexp.MustCompile("(?s)potentially_problematic_string \\(this text MIGHT have bad escaping, or might be entirely correct\\):\\s*```\\n(.*?)\\n```")

// sample is a value that fits schema (a JSON Schema or the API's OpenAPI subset). name is
// the property it is for; prompt, the side request's text, gives a string property
// named X the text it holds in <X>...</X> (the edit fixer's search and replace).
func sample(schema map[string]any, name, prompt string) any {
	if v, ok := schemaAnswers[name]; ok {
		return v
	}
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	if alts, ok := schema["anyOf"].([]any); ok && len(alts) > 0 {
		if sub, ok := alts[0].(map[string]any); ok {
			return sample(sub, name, prompt)
		}
	}
	typ, _ := schema["type"].(string)
	if list, ok := schema["type"].([]any); ok && len(list) > 0 {
		typ, _ = list[0].(string)
	}
	switch strings.ToLower(typ) {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		for k, v := range props {
			sub, _ := v.(map[string]any)
			out[k] = sample(sub, k, prompt)
		}
		return out
	case "array":
		items, _ := schema["items"].(map[string]any)
		n := 0
		if f, ok := schema["minItems"].(float64); ok {
			n = int(f)
		}
		out := []any{}
		for i := 0; i < n; i++ {
			out = append(out, sample(items, name, prompt))
		}
		return out
	case "integer", "number":
		if f, ok := schema["minimum"].(float64); ok {
			return f
		}
		return 0
	case "boolean":
		return false
	case "string":
		if name == "corrected_string_escaping" {
			if m := escapingPrompt.FindStringSubmatch(prompt); m != nil {
				return m[1]
			}
		}
		if name != "" {
			if m := regexp.MustCompile(`(?s)<` + regexp.QuoteMeta(name) + `>\n?(.*?)\n?</` + regexp.QuoteMeta(name) + `>`).FindStringSubmatch(prompt); m != nil {
				return m[1]
			}
		}
		return "ok"
	}
	return nil
}

// tokens is a stable stand-in for a token count: about four bytes a token.
func tokens(b []byte) int { return len(b)/4 + 1 }

// answer writes reply as the API does: for streamGenerateContent?alt=sse a stream of
// server-sent events, each a whole GenerateContentResponse (the text in two chunks, the
// function calls and finishReason in the last), else one GenerateContentResponse.
func (s *Server) answer(w http.ResponseWriter, req fakeanthropic.Request, reply fakeanthropic.Reply) {
	respID := s.NextID("fakegemini-resp-")
	var calls []map[string]any
	for _, tu := range reply.Tools {
		args := tu.Input
		if args == nil {
			args = map[string]any{}
		}
		calls = append(calls, map[string]any{"functionCall": map[string]any{"name": tu.Name, "args": args}})
	}
	model := req.Model
	if model == "" {
		model = "gemini-fake"
	}
	in := tokens(req.Body)
	out := 0
	if reply.Text != "" {
		out += tokens([]byte(reply.Text))
	}
	for _, c := range calls {
		b, _ := json.Marshal(c)
		out += tokens(b)
	}
	usage := map[string]any{"promptTokenCount": in, "candidatesTokenCount": out, "totalTokenCount": in + out}
	chunk := func(parts []map[string]any, last bool) map[string]any {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		r := map[string]any{"candidates": []any{cand}, "modelVersion": model, "responseId": respID}
		if last {
			cand["finishReason"] = "STOP"
			r["usageMetadata"] = usage
		} else {
			r["usageMetadata"] = map[string]any{"promptTokenCount": in, "totalTokenCount": in}
		}
		return r
	}
	if !req.Stream {
		var parts []map[string]any
		if reply.Text != "" {
			parts = append(parts, map[string]any{"text": reply.Text})
		}
		parts = append(parts, calls...)
		if len(parts) == 0 {
			parts = []map[string]any{{"text": ""}}
		}
		writeJSON(w, chunk(parts, true))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	ev := func(data map[string]any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	// Two text chunks, as the real API splits text: a client that keeps only the last
	// chunk would show half the text.
	var lastParts []map[string]any
	if text := reply.Text; text != "" {
		half := len(text) / 2
		if half > 0 {
			ev(chunk([]map[string]any{{"text": text[:half]}}, false))
		}
		lastParts = append(lastParts, map[string]any{"text": text[half:]})
	}
	lastParts = append(lastParts, calls...)
	if len(lastParts) == 0 {
		lastParts = []map[string]any{{"text": ""}}
	}
	ev(chunk(lastParts, true))
}

func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(b.Bytes())
}

// Tools is how the Gemini CLI's tools are called (0.61, as its functionDeclarations
// state): write_file {file_path, content}, a path absolute or relative to the project
// root, and run_shell_command {command, description} (`bash -c command` in the project
// root). Write with dir "" passes rel as it is, relative to the project root.
func Tools() fakeanthropic.Toolset {
	return fakeanthropic.Toolset{
		Write: func(dir, rel, content string) fakeanthropic.ToolUse {
			path := rel
			if dir != "" {
				path = dir + "/" + rel
			}
			return fakeanthropic.ToolUse{Name: "write_file", Input: map[string]any{"file_path": path, "content": content}}
		},
		Bash: func(command string) fakeanthropic.ToolUse {
			desc := command
			if f := strings.Fields(command); len(f) > 0 {
				desc = f[0]
			}
			return fakeanthropic.ToolUse{Name: "run_shell_command", Input: map[string]any{"command": command, "description": "run " + desc}}
		},
	}
}
