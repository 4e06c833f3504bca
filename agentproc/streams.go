package agentproc

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/teamctl/teamctl/internal/shorten"
)

// The parsers of each CLI's JSON stream. Each decodes only the fields it shows; a line
// that is JSON but of an event it does not show is still part of the stream (true).

// parseClaude reads Claude Code's `--output-format stream-json --verbose` (seen with
// 2.1.330): system/init, assistant and user messages, then one result per launch.
func parseClaude(b *builder, line []byte) bool {
	var ev struct {
		Type      string `json:"type"`
		Subtype   string `json:"subtype"`
		SessionID string `json:"session_id"`
		Message   struct {
			ID      string          `json:"id"`
			Model   string          `json:"model"`
			Content json.RawMessage `json:"content"`
			Usage   *claudeUsage    `json:"usage"`
		} `json:"message"`
		// A model call that failed: "error" names its kind (rate_limit, authentication_failed,
		// ...) on the assistant message that carries the CLI's words for it; the result repeats
		// the HTTP status. api_retry lines are the CLI's own retries (error_status).
		Error          string  `json:"error"`
		APIErrorStatus int     `json:"api_error_status"`
		APIErrorType   string  `json:"api_error_type"`
		TerminalReason string  `json:"terminal_reason"`
		Attempt        int     `json:"attempt"`
		MaxRetries     int     `json:"max_retries"`
		RetryDelayMS   float64 `json:"retry_delay_ms"`
		ErrorStatus    int     `json:"error_status"`
		IsError        bool    `json:"is_error"`
		RateLimit      struct {
			Status   string `json:"status"`
			ResetsAt int64  `json:"resetsAt"`
		} `json:"rate_limit_info"`
		Result    string       `json:"result"`
		Errors    []string     `json:"errors"`
		TotalCost *float64     `json:"total_cost_usd"`
		Usage     *claudeUsage `json:"usage"`
		// Per model, what this launch cost. Without it (older versions) total_cost_usd
		// is all there is, and on --resume that total is the whole session's so far.
		SinceLast map[string]struct {
			CostUSD float64 `json:"costUSD"`
		} `json:"model_usage_since_last_result"`
	}
	if json.Unmarshal(line, &ev) != nil || ev.Type == "" {
		return false
	}
	b.session(ev.SessionID)
	switch ev.Type {
	case "assistant", "user":
		var blocks []struct {
			Type      string          `json:"type"`
			Text      string          `json:"text"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
			IsError   bool            `json:"is_error"`
		}
		if json.Unmarshal(ev.Message.Content, &blocks) != nil {
			// A user message may be a plain string: a prompt.
			if ev.Type == "user" {
				b.text(KindPrompt, textOf(ev.Message.Content))
			}
			return true
		}
		for _, bl := range blocks {
			switch bl.Type {
			case "text":
				kind := KindText
				if ev.Type == "user" {
					kind = KindPrompt
				}
				b.text(kind, bl.Text)
			case "tool_use":
				b.toolUse(bl.ID, bl.Name, bl.Input)
			case "tool_result":
				b.toolResult(bl.ToolUseID, textOf(bl.Content), bl.IsError)
			}
		}
		if ev.Type == "assistant" && ev.Error != "" {
			b.fault(claudeErrorKind(ev.Error), ev.APIErrorStatus, textOf(ev.Message.Content))
			return true
		}
		if ev.Type == "assistant" && ev.Message.Usage != nil {
			b.apiCall(ev.Message.ID, ev.Message.Usage.estimated(b.prices, ev.Message.Model))
		}
	case "rate_limit_event":
		// A subscription's limit, with when it resets (the text says it again, less exactly).
		if ev.RateLimit.Status == "rejected" {
			var until time.Time
			if ev.RateLimit.ResetsAt > 0 {
				until = time.Unix(ev.RateLimit.ResetsAt, 0)
			}
			b.faultUntil(FaultLimit, 429, "", until)
		}
	case "system":
		if ev.Subtype == "api_retry" {
			b.add(Entry{Kind: KindOutput, Text: fmt.Sprintf("API call failed (HTTP %d): the CLI retries it (%d of %d) in %.0fs",
				ev.ErrorStatus, ev.Attempt, ev.MaxRetries, ev.RetryDelayMS/1000)})
		}
	case "result":
		var u Usage
		if ev.Usage != nil {
			u = ev.Usage.usage()
		}
		switch {
		case ev.SinceLast != nil:
			for _, m := range ev.SinceLast {
				u.CostUSD += m.CostUSD
			}
		case ev.TotalCost != nil:
			u.CostUSD = *ev.TotalCost - b.totals[ev.SessionID]
		}
		if ev.TotalCost != nil {
			b.totals[ev.SessionID] = *ev.TotalCost
		}
		st, text := StatusDone, ev.Result
		if ev.APIErrorStatus != 0 || ev.TerminalReason == "api_error" {
			kind, _ := statusKind(ev.APIErrorStatus)
			if ev.APIErrorType == "overloaded_error" {
				kind = FaultOverload
			}
			b.fault(kind, ev.APIErrorStatus, ev.Result)
		}
		if ev.IsError || ev.Subtype != "success" {
			st = StatusError
			if text == "" {
				text = strings.Join(append([]string{ev.Subtype}, ev.Errors...), ": ")
			}
		}
		b.end(st, text, &u)
	}
	return true
}

type claudeUsage struct {
	Input         int64 `json:"input_tokens"`
	CacheCreation int64 `json:"cache_creation_input_tokens"`
	CacheRead     int64 `json:"cache_read_input_tokens"`
	Output        int64 `json:"output_tokens"`
}

func (c claudeUsage) usage() Usage {
	return Usage{InputTokens: c.Input + c.CacheCreation + c.CacheRead, OutputTokens: c.Output}
}

// estimated is one model call's usage, priced at ps until the launch's result gives the cost.
func (c claudeUsage) estimated(ps Prices, model string) Usage {
	u := c.usage()
	u.CostUSD, u.Estimated = ps.estimate(model, c.Input, c.CacheRead, c.CacheCreation, c.Output), true
	return u
}

// claudeErrorKind is the kind of the "error" Claude Code puts on a failed call's message.
func claudeErrorKind(e string) FaultKind {
	switch e {
	case "rate_limit":
		return FaultLimit
	case "authentication_failed", "billing_error", "oauth_org_not_allowed":
		return FaultAuth
	case "server_error", "overloaded":
		return FaultOverload
	}
	return "" // invalid_request and the like: the request's own fault, not the provider's
}

// parseCodex reads `codex exec --json` (0.169): thread.started names the session (the
// thread id `codex exec resume` takes), items are messages, commands and file changes,
// turn.completed gives the thread's usage so far (no cost): a resumed thread's counts
// hold its earlier launches', which are not counted again.
func parseCodex(b *builder, line []byte) bool {
	var ev struct {
		Type     string `json:"type"`
		ThreadID string `json:"thread_id"`
		Message  string `json:"message"`
		Error    struct {
			Message string `json:"message"`
		} `json:"error"`
		Usage struct {
			Input  int64 `json:"input_tokens"`
			Cached int64 `json:"cached_input_tokens"`
			Output int64 `json:"output_tokens"`
		} `json:"usage"`
		Item struct {
			ID               string          `json:"id"`
			Type             string          `json:"type"`
			Text             string          `json:"text"`
			Message          string          `json:"message"`
			Command          string          `json:"command"`
			AggregatedOutput string          `json:"aggregated_output"`
			ExitCode         *int            `json:"exit_code"`
			Status           string          `json:"status"`
			Changes          json.RawMessage `json:"changes"`
			Server           string          `json:"server"`
			Tool             string          `json:"tool"`
			Arguments        json.RawMessage `json:"arguments"`
			Result           json.RawMessage `json:"result"`
			Query            string          `json:"query"`
		} `json:"item"`
	}
	if json.Unmarshal(line, &ev) != nil || ev.Type == "" {
		return false
	}
	it := ev.Item
	switch ev.Type {
	case "thread.started":
		b.session(ev.ThreadID)
	case "turn.completed":
		// input_tokens already counts the cached ones (OpenAI's accounting). codex gives no
		// cost and no model name: priced at the preset's default model.
		u := ev.Usage
		if b.threads == nil {
			b.threads = map[string]codexUsage{}
		}
		sid := b.cur.SessionID
		prev := b.threads[sid]
		b.threads[sid] = codexUsage{u.Input, u.Cached, u.Output}
		if u.Input >= prev.input && u.Output >= prev.output && u.Cached >= prev.cached {
			u.Input, u.Cached, u.Output = u.Input-prev.input, u.Cached-prev.cached, u.Output-prev.output
		}
		b.step(Usage{InputTokens: u.Input, OutputTokens: u.Output, Estimated: true,
			CostUSD: b.prices.estimate("", u.Input-u.Cached, u.Cached, 0, u.Output)})
		b.end(StatusDone, "", nil)
	case "turn.failed":
		// The error event before it said the same: said once, as the launch's end.
		if n := len(b.cur.Entries); n > 0 && b.cur.Entries[n-1].Kind == KindError && b.cur.Entries[n-1].Text == strings.TrimSpace(ev.Error.Message) {
			b.cur.Entries = b.cur.Entries[:n-1]
		}
		b.end(StatusError, ev.Error.Message, nil)
	case "error":
		if codexRetry().MatchString(ev.Message) {
			// A call tried again ("Reconnecting... 1/5 (…)"): codex goes on.
			b.text(KindOutput, ev.Message)
			return true
		}
		b.text(KindError, ev.Message)
	case "item.started", "item.updated", "item.completed":
		completed := ev.Type == "item.completed"
		call := func(name string, input any) {
			if _, seen := b.tools[it.ID]; !seen {
				b.toolUse(it.ID, name, input)
			}
		}
		switch it.Type {
		case "agent_message":
			if completed {
				b.text(KindText, it.Text)
			}
		case "error":
			// An error item is a warning codex goes on after (a model it has no metadata
			// for, websockets it fell back from): the turn's end says whether it failed.
			b.text(KindOutput, "warning: "+it.Message)
		case "command_execution":
			call("shell", it.Command)
			if completed {
				b.toolResult(it.ID, it.AggregatedOutput, it.Status == "failed" || it.ExitCode != nil && *it.ExitCode != 0)
			}
		case "file_change":
			call("edit", it.Changes)
			if completed {
				b.toolResult(it.ID, it.Status, it.Status == "failed")
			}
		case "mcp_tool_call":
			call(it.Server+"."+it.Tool, it.Arguments)
			if completed {
				b.toolResult(it.ID, compact(it.Result), it.Status == "failed")
			}
		case "web_search":
			call("web_search", it.Query)
			if completed {
				b.toolResult(it.ID, "", false)
			}
		}
	}
	return true
}

// geminiTokens is a gemini result's token counts (input_tokens counts the cached ones).
type geminiTokens struct {
	Input  int64 `json:"input_tokens"`
	Cached int64 `json:"cached"`
	Output int64 `json:"output_tokens"`
}

// codexUsage is a codex thread's token counts so far.
type codexUsage struct{ input, cached, output int64 }

// codexRetry is codex's notice of a model call it tries again.
var codexRetry = lazyRegexp(`^Reconnecting\.\.\. \d+/\d+`)

// parseGemini reads `gemini --output-format stream-json` (0.61): init, messages (the
// assistant's in deltas), tool_use / tool_result, error, result with token stats (by model:
// the CLI routes a launch's calls to several, "auto" in its init).
func parseGemini(b *builder, line []byte) bool {
	var ev struct {
		Type       string          `json:"type"`
		SessionID  string          `json:"session_id"`
		Role       string          `json:"role"`
		Content    string          `json:"content"`
		Delta      bool            `json:"delta"`
		ToolName   string          `json:"tool_name"`
		ToolID     string          `json:"tool_id"`
		Parameters json.RawMessage `json:"parameters"`
		Status     string          `json:"status"`
		Output     string          `json:"output"`
		Severity   string          `json:"severity"`
		Message    string          `json:"message"`
		Error      *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		Stats struct {
			geminiTokens
			Models map[string]geminiTokens `json:"models"`
		} `json:"stats"`
	}
	if json.Unmarshal(line, &ev) != nil || ev.Type == "" {
		return false
	}
	switch ev.Type {
	case "init":
		b.session(ev.SessionID)
	case "message":
		if ev.Role == "user" {
			b.text(KindPrompt, ev.Content)
			return true
		}
		// Deltas add up to one text until something else comes.
		if n := len(b.cur.Entries); ev.Delta && n > 0 && b.cur.Entries[n-1].Kind == KindText {
			b.cur.Entries[n-1].Text += ev.Content
			return true
		}
		if ev.Content != "" {
			b.add(Entry{Kind: KindText, Text: ev.Content})
		}
	case "tool_use":
		b.toolUse(ev.ToolID, ev.ToolName, ev.Parameters)
	case "tool_result":
		out := ev.Output
		if ev.Error != nil && ev.Error.Message != "" {
			// The error's message names what failed ("File not found: PATH"); the output
			// only that something did.
			out = ev.Error.Message
		}
		b.toolResult(ev.ToolID, out, ev.Status == "error")
	case "error":
		if ev.Severity == "warning" {
			b.text(KindOutput, ev.Message)
		} else {
			b.text(KindError, ev.Message)
			b.lastError = ev.Message
		}
	case "result":
		// gemini gives no cost: each model's tokens priced at its price (the preset's
		// default model's for one the table does not name).
		st := ev.Stats
		u := Usage{InputTokens: st.Input, OutputTokens: st.Output, Estimated: true}
		if len(st.Models) == 0 {
			st.Models = map[string]geminiTokens{"": st.geminiTokens}
		}
		for model, m := range st.Models {
			u.CostUSD += b.prices.estimate(model, m.Input-m.Cached, m.Cached, 0, m.Output)
		}
		if ev.Status == "success" {
			b.end(StatusDone, "", &u)
		} else {
			msg := ev.Status
			if ev.Error != nil {
				msg = ev.Error.Message
			} else if b.lastError != "" {
				msg = b.lastError // a stream that broke: its error event said why
			}
			b.end(StatusError, msg, &u)
		}
	}
	return true
}

// parseOpencode reads `opencode run --format json` (1.18): every event names its
// session; text and tool_use parts come whole; step_finish gives each step's tokens
// and cost, and a step that finished for "stop" ends the run.
func parseOpencode(b *builder, line []byte) bool {
	var ev struct {
		Type      string `json:"type"`
		SessionID string `json:"sessionID"`
		Part      struct {
			Text   string  `json:"text"`
			Tool   string  `json:"tool"`
			CallID string  `json:"callID"`
			Reason string  `json:"reason"`
			Cost   float64 `json:"cost"`
			Tokens struct {
				Input     int64 `json:"input"`
				Output    int64 `json:"output"`
				Reasoning int64 `json:"reasoning"`
				Cache     struct {
					Read  int64 `json:"read"`
					Write int64 `json:"write"`
				} `json:"cache"`
			} `json:"tokens"`
			State struct {
				Status string          `json:"status"`
				Input  json.RawMessage `json:"input"`
				Output string          `json:"output"`
				Error  string          `json:"error"`
			} `json:"state"`
		} `json:"part"`
		Error *struct {
			Name string `json:"name"`
			Data struct {
				Message    string `json:"message"`
				StatusCode int    `json:"statusCode"`
			} `json:"data"`
		} `json:"error"`
	}
	if json.Unmarshal(line, &ev) != nil || ev.Type == "" {
		return false
	}
	b.session(ev.SessionID)
	p := ev.Part
	switch ev.Type {
	case "text":
		b.text(KindText, p.Text)
	case "tool_use":
		b.toolUse(p.CallID, p.Tool, p.State.Input)
		switch p.State.Status {
		case "completed":
			b.toolResult(p.CallID, p.State.Output, false)
		case "error":
			b.toolResult(p.CallID, p.State.Error, true)
		}
	case "step_finish":
		t := p.Tokens
		b.step(Usage{InputTokens: t.Input + t.Cache.Read + t.Cache.Write, OutputTokens: t.Output + t.Reasoning, CostUSD: p.Cost})
		if p.Reason == "stop" {
			b.end(StatusDone, "", nil)
		}
	case "error":
		msg := "error"
		if ev.Error != nil {
			msg = strings.TrimSpace(ev.Error.Name + ": " + ev.Error.Data.Message)
			// The model API's answer, after opencode's own retries: its status says the kind.
			b.fault("", ev.Error.Data.StatusCode, ev.Error.Data.Message)
		}
		b.end(StatusError, msg, nil)
	}
	return true
}

// parsePi reads `pi --mode json` (0.73, seen against the fake Messages API): a session
// header, then events; message_end carries each whole message with its usage and cost.
func parsePi(b *builder, line []byte) bool {
	var ev struct {
		Type    string `json:"type"`
		ID      string `json:"id"`
		Message struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"toolCallId"`
			IsError    bool            `json:"isError"`
			StopReason string          `json:"stopReason"`
			Error      string          `json:"errorMessage"`
			ResponseID string          `json:"responseId"`
			Timestamp  int64           `json:"timestamp"`
			Usage      *struct {
				Input      int64 `json:"input"`
				Output     int64 `json:"output"`
				CacheRead  int64 `json:"cacheRead"`
				CacheWrite int64 `json:"cacheWrite"`
				Cost       struct {
					Total float64 `json:"total"`
				} `json:"cost"`
			} `json:"usage"`
		} `json:"message"`
		Messages []struct {
			Role       string `json:"role"`
			StopReason string `json:"stopReason"`
			Error      string `json:"errorMessage"`
		} `json:"messages"`
		// auto_retry_start: pi retries a failed call itself.
		Attempt      int    `json:"attempt"`
		MaxAttempts  int    `json:"maxAttempts"`
		DelayMS      int64  `json:"delayMs"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(line, &ev) != nil || ev.Type == "" {
		return false
	}
	m := ev.Message
	switch ev.Type {
	case "session":
		b.session(ev.ID)
	case "message_end":
		switch m.Role {
		case "user":
			b.text(KindPrompt, textOf(m.Content))
		case "toolResult":
			b.toolResult(m.ToolCallID, textOf(m.Content), m.IsError)
		case "assistant":
			var blocks []struct {
				Type      string          `json:"type"`
				Text      string          `json:"text"`
				ID        string          `json:"id"`
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"`
			}
			_ = json.Unmarshal(m.Content, &blocks)
			for _, bl := range blocks {
				switch bl.Type {
				case "text":
					b.text(KindText, bl.Text)
				case "toolCall":
					b.toolUse(bl.ID, bl.Name, bl.Arguments)
				}
			}
			if m.Error != "" {
				b.text(KindError, m.Error)
			}
			if m.Usage != nil {
				u := m.Usage
				id := m.ResponseID
				if id == "" {
					id = fmt.Sprint(m.Timestamp)
				}
				b.apiCall(id, Usage{InputTokens: u.Input + u.CacheRead + u.CacheWrite, OutputTokens: u.Output, CostUSD: u.Cost.Total})
			}
		}
	case "auto_retry_start":
		b.add(Entry{Kind: KindOutput, Text: fmt.Sprintf("API call failed (%s): pi retries it (%d of %d) in %.0fs",
			shorten.Line(ev.ErrorMessage, 120), ev.Attempt, ev.MaxAttempts, float64(ev.DelayMS)/1000)})
	case "agent_end":
		st, msg := StatusDone, ""
		for i := len(ev.Messages) - 1; i >= 0; i-- {
			if last := ev.Messages[i]; last.Role == "assistant" {
				if last.StopReason == "error" || last.StopReason == "aborted" {
					st, msg = StatusError, last.Error
					if msg == "" {
						msg = last.StopReason
					}
				}
				break
			}
		}
		b.end(st, msg, nil)
	}
	return true
}
