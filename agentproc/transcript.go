package agentproc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Status is what an agent is doing, read from its own stream rather than from screen text.
type Status string

const (
	StatusNone    Status = ""        // never launched
	StatusWorking Status = "working" // its launch runs and has not given its final result
	StatusWaiting Status = "waiting" // it ended its turn waiting on someone: it raised a blocker
	StatusDone    Status = "done"    // its last launch ended with a successful result
	StatusError   Status = "error"   // its last launch failed: an error result, or an exit with none
)

// Entry kinds of a transcript.
const (
	KindPrompt = "prompt" // what the agent was asked
	KindText   = "text"   // the assistant's words
	KindTool   = "tool"   // a tool call, with its result once it came
	KindError  = "error"  // an error the CLI reported
	KindResult = "result" // the final result of a launch, with its cost
	KindOutput = "output" // a line that is not part of the CLI's JSON stream (stderr, plain text)
	KindNote   = "note"   // a line teamctl wrote (launch end)
)

// Transcript is an agent's log read as a conversation, launch by launch.
type Transcript struct {
	Preset    string      `json:"preset"`
	SessionID string      `json:"session_id,omitempty"` // the session of the latest launch that named one
	Status    Status      `json:"status"`
	Usage     Usage       `json:"usage"` // every launch's, each counted once
	Launches  []LaunchLog `json:"launches"`
}

// LaunchLog is one launch in a transcript: from a "=== teamctl ... launch" header to the next.
type LaunchLog struct {
	Header    string `json:"header,omitempty"` // the header line, without "=== "
	SessionID string `json:"session_id,omitempty"`
	Status    Status `json:"status"`
	Usage     Usage  `json:"usage"`
	Ended     string `json:"ended,omitempty"` // how the process ended, as teamctl noted it
	Setup     bool   `json:"setup,omitempty"` // the plan's setup: command, not the agent
	// Fault is the provider error a failed launch ended on (a limit, an overload, refused
	// credentials); nil when it failed, or ended, for any other reason.
	Fault   *Fault  `json:"fault,omitempty"`
	Entries []Entry `json:"entries"`
}

// Entry is one step of the conversation.
type Entry struct {
	Kind    string    `json:"kind"`
	Text    string    `json:"text,omitempty"`
	Tool    *ToolCall `json:"tool,omitempty"`
	IsError bool      `json:"is_error,omitempty"`
}

// ToolCall is one tool the agent ran, with its result once it came back.
type ToolCall struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name"`
	Input   string `json:"input"` // compact JSON, or the command line
	Output  string `json:"output,omitempty"`
	Done    bool   `json:"done"`
	IsError bool   `json:"is_error,omitempty"`
}

// Usage is what launches cost, from the figures the CLI itself reports.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"` // cache reads and writes included
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"` // the CLI's figure; an estimate from its tokens where it gives none (Estimated)
	// Estimated says some of CostUSD was priced from token counts (a launch still running,
	// or cut off before the CLI gave its own figure, or a CLI that gives none).
	Estimated bool `json:"estimated,omitempty"`
}

// Tokens is input and output tokens together, what a token budget counts.
func (u Usage) Tokens() int64 { return u.InputTokens + u.OutputTokens }

// Add returns the sum of two usages.
func (u Usage) Add(v Usage) Usage {
	return Usage{InputTokens: u.InputTokens + v.InputTokens, OutputTokens: u.OutputTokens + v.OutputTokens,
		CostUSD: u.CostUSD + v.CostUSD, Estimated: u.Estimated || v.Estimated}
}

// ErrUnknownPreset is a transcript asked for a preset teamctl does not know.
var ErrUnknownPreset = errors.New("unknown preset")

// headerPrefix starts every line teamctl writes into an agent's log.
const headerPrefix = "=== teamctl"

// maxLine bounds one line of a log: a tool result can be large, but a log is not a
// place for a 64 MiB line; longer ones are cut.
const maxLine = 8 << 20

// ParseTranscript reads an agent's log (its output appended across launches, with a
// "=== teamctl" header line per launch) as the conversation of a CLI of preset. A preset
// of "" or a custom command reads every line as plain output.
func ParseTranscript(preset string, log io.Reader) (Transcript, error) {
	return ParseLog(preset, log, Options{})
}

// Options are what a plan adds to reading a log: its words for provider errors, and prices
// for a CLI that reports no cost.
type Options struct {
	Limits Limits
	Prices Prices    // per model; nil: the preset's own table
	Now    time.Time // what a reset time "in 5m" or "at 3am" counts from; zero: time.Now()
}

// ParseLog is ParseTranscript with the plan's options.
func ParseLog(preset string, log io.Reader, opts Options) (Transcript, error) {
	stream := "text"
	if preset != "" && preset != "text" {
		p, ok := PresetNamed(preset)
		if !ok {
			return Transcript{}, fmt.Errorf("%w %q", ErrUnknownPreset, preset)
		}
		stream = p.Stream
	}
	parse := parsers[stream]
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Prices == nil {
		opts.Prices = presetPrices(preset)
	}
	b := &builder{t: Transcript{Preset: preset}, totals: map[string]float64{}, plain: stream == "text",
		limits: opts.Limits, prices: opts.Prices, now: opts.Now}
	r := bufio.NewReaderSize(log, 64<<10)
	for {
		line, err := readLine(r)
		if len(line) > 0 || err == nil {
			b.line(parse, line)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return b.done(), fmt.Errorf("read agent log: %w", err)
		}
	}
	return b.done(), nil
}

// readLine reads one line without its newline, cutting lines past maxLine.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if len(line) < maxLine {
			line = append(line, chunk...)
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return line, nil
			}
			return line, err
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// A parser reads one line of a CLI's stream into the builder; it returns false for a
// line that is not part of the stream (it then shows as plain output).
type parser func(b *builder, line []byte) bool

var parsers = map[string]parser{
	"claude":   parseClaude,
	"codex":    parseCodex,
	"gemini":   parseGemini,
	"opencode": parseOpencode,
	"pi":       parsePi,
	"text":     parseText,
}

// builder accumulates a transcript.
type builder struct {
	t       Transcript
	cur     *LaunchLog
	tools   map[string]*ToolCall  // this launch's calls by id, for their results
	msgs    map[string]Usage      // this launch's API calls by message id, until a result gives the total
	result  bool                  // this launch gave its final usage
	totals  map[string]float64    // claude: the session's cumulative cost at its last result
	plain   bool                  // no JSON stream: exit 0 is all the agent says
	threads map[string]codexUsage // codex: each thread's usage at its last turn
	// lastError is this launch's last error event (gemini: a result that failed without
	// saying why refers to it).
	lastError string
	limits    Limits
	prices    Prices
	now       time.Time
}

var exitNote = lazyRegexp(`agent (exited with code (-?\d+)|timed out|stopped|killed by a signal)`)

func (b *builder) line(parse parser, line []byte) {
	text := strings.TrimRight(string(line), "\r")
	if strings.HasPrefix(text, headerPrefix) {
		note := strings.TrimPrefix(text, "=== ")
		if strings.Contains(text, ": setup agent=") {
			// RunSetup's output gets a section of its own, before the launch it prepares.
			b.launch(note)
			b.cur.Setup = true
			return
		}
		if b.cur != nil && b.cur.Setup && strings.Contains(text, ": setup ") {
			b.add(Entry{Kind: KindNote, Text: note})
			b.cur.Ended = "setup"
			b.cur.Status = StatusDone
			if strings.Contains(text, ": setup failed") {
				b.cur.Status = StatusError
			}
			return
		}
		if strings.Contains(text, ": launch") {
			header, prompt := splitHeader(note)
			b.launch(header)
			b.text(KindPrompt, prompt)
			return
		}
		b.launchOrCurrent()
		b.add(Entry{Kind: KindNote, Text: note})
		switch m := exitNote().FindStringSubmatch(text); {
		case m != nil:
			b.cur.Ended = m[1]
		case strings.Contains(text, "cannot start"):
			b.cur.Ended = "cannot start"
		}
		return
	}
	if strings.TrimSpace(text) == "" {
		return
	}
	b.launchOrCurrent()
	if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && trimmed[0] == '{' && parse(b, trimmed) {
		return
	}
	if u, ok := aiderUsage(text); ok {
		b.apiCall("", u)
	}
	b.add(Entry{Kind: KindOutput, Text: text})
}

// splitHeader takes the launch's argv (and its prompt) out of a header line: the
// header stays short to read, the prompt becomes the launch's first entry. The prompt is
// the header's prompt="..." when teamctl wrote one, else the longest argument of argv
// that holds a space.
func splitHeader(header string) (short, prompt string) {
	short = header
	if i := strings.Index(header, " prompt="); i >= 0 {
		if q, err := strconv.QuotedPrefix(header[i+len(" prompt="):]); err == nil {
			prompt, _ = strconv.Unquote(q)
			short = header[:i] + header[i+len(" prompt=")+len(q):]
		}
	}
	i := strings.Index(short, " argv=[")
	if i < 0 {
		return short, prompt
	}
	rest := short[i+len(" argv=["):]
	var argv []string
	for {
		rest = strings.TrimLeft(rest, " ")
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			break
		}
		a, _ := strconv.Unquote(q)
		argv = append(argv, a)
		rest = rest[len(q):]
	}
	if !strings.HasPrefix(rest, "]") {
		return short, prompt // not an argv teamctl wrote: leave the line as it is
	}
	short = short[:i] + rest[1:]
	if prompt == "" {
		// The prompt is words; a session id or a path next to it is one long word.
		for _, a := range argv[min(1, len(argv)):] {
			if !strings.HasPrefix(a, "-") && strings.ContainsAny(a, " \n") && len(a) > len(prompt) {
				prompt = a
			}
		}
	}
	return strings.TrimSpace(short), prompt
}

func (b *builder) launch(header string) {
	b.finish()
	b.t.Launches = append(b.t.Launches, LaunchLog{Header: header, Status: StatusWorking})
	b.cur = &b.t.Launches[len(b.t.Launches)-1]
	b.tools = map[string]*ToolCall{}
	b.msgs = map[string]Usage{}
	b.result = false
	b.lastError = ""
}

// launchOrCurrent opens a launch for output that came before any header (a log written
// by hand, or by an older teamctl).
func (b *builder) launchOrCurrent() {
	if b.cur == nil {
		b.launch("")
	}
}

func (b *builder) add(e Entry) {
	b.cur.Entries = append(b.cur.Entries, e)
}

func (b *builder) text(kind, s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if kind == KindPrompt {
		// The header gave the prompt already; a CLI that echoes it (pi, gemini) says it again.
		for _, e := range b.cur.Entries {
			if e.Kind == KindPrompt && e.Text == s {
				return
			}
		}
	}
	b.add(Entry{Kind: kind, Text: s})
}

func (b *builder) session(id string) {
	if id != "" {
		b.cur.SessionID = id
	}
}

// toolUse records a call; toolResult completes it by id.
func (b *builder) toolUse(id, name string, input any) {
	tc := &ToolCall{ID: id, Name: name, Input: compact(input)}
	b.add(Entry{Kind: KindTool, Tool: tc})
	if id != "" {
		b.tools[id] = tc
	}
}

func (b *builder) toolResult(id, output string, isError bool) {
	tc, ok := b.tools[id]
	if !ok {
		// A result whose call this log does not hold (it was cut): show it on its own.
		tc = &ToolCall{ID: id, Name: "?"}
		b.add(Entry{Kind: KindTool, Tool: tc})
	}
	tc.Output, tc.Done, tc.IsError = strings.TrimRight(output, "\n"), true, isError
}

// apiCall counts one model call's usage until the launch's own total replaces them
// (an assistant message split over several stream lines carries the same id).
func (b *builder) apiCall(id string, u Usage) {
	if b.result {
		return
	}
	if id == "" {
		id = strconv.Itoa(len(b.msgs))
	}
	b.msgs[id] = u
	var sum Usage
	for _, m := range b.msgs {
		sum = sum.Add(m)
	}
	b.cur.Usage = sum
}

// end records the launch's final result: its status, and its whole usage when the CLI
// gives one (u nil keeps what the model calls added up to).
func (b *builder) end(st Status, text string, u *Usage) {
	if u != nil {
		b.result = true
		b.cur.Usage = *u
	}
	b.cur.Status = st
	kind := KindResult
	if st == StatusError {
		kind = KindError
	}
	b.add(Entry{Kind: kind, Text: strings.TrimSpace(text), IsError: st == StatusError})
}

// step adds the usage of one step (a codex turn, an opencode step) to the launch's.
func (b *builder) step(u Usage) {
	if !b.result {
		b.cur.Usage = Usage{}
	}
	b.result = true
	b.cur.Usage = b.cur.Usage.Add(u)
}

// finish settles the status of the launch that ends: one that exited without giving a
// result failed; one whose last call raised a blocker waits.
func (b *builder) finish() {
	l := b.cur
	if l == nil {
		return
	}
	if l.Status == StatusWorking && l.Ended != "" {
		if l.Ended == "exited with code 0" && b.plain {
			l.Status = StatusDone // no stream to say more: exit 0 is the agent's word
		} else {
			l.Status = StatusError
		}
	}
	if l.Status == StatusDone && raisedBlocker(l) {
		l.Status = StatusWaiting
	}
	b.settleFault(l)
	b.t.Usage = b.t.Usage.Add(l.Usage)
	if l.SessionID != "" {
		b.t.SessionID = l.SessionID
	}
}

var blockerCall = lazyRegexp(`(^|[\s;&|("'])teamctl\s+blocker\b`)

// raisedBlocker reports whether the launch's last tool call ran `teamctl blocker`.
func raisedBlocker(l *LaunchLog) bool {
	for i := len(l.Entries) - 1; i >= 0; i-- {
		if tc := l.Entries[i].Tool; tc != nil {
			return blockerCall().MatchString(tc.Input) && !tc.IsError
		}
	}
	return false
}

func (b *builder) done() Transcript {
	b.finish()
	b.cur = nil
	if n := len(b.t.Launches); n > 0 {
		b.t.Status = b.t.Launches[n-1].Status
	}
	if b.t.Launches == nil {
		b.t.Launches = []LaunchLog{}
	}
	return b.t
}

// compact renders a tool input: a command line as it is, anything else as compact JSON.
func compact(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.RawMessage:
		var buf bytes.Buffer
		if json.Compact(&buf, x) == nil {
			return buf.String()
		}
		return string(x)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(out)
}

// textOf reads content that is a string or a list of {type: text, text} blocks.
func textOf(raw json.RawMessage) string {
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
		return string(raw)
	}
	var parts []string
	for _, bl := range blocks {
		if bl.Text != "" {
			parts = append(parts, bl.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// parseText is for CLIs with no JSON stream (aider, a custom command): every line is
// output, and aider's own cost lines count as usage.
func parseText(b *builder, line []byte) bool { return false }

// aiderCost is aider's report after each message: "Tokens: 2.1k sent, 320 received.
// Cost: $0.01 message, $0.05 session."
var aiderCost = lazyRegexp(`Tokens: ([\d.]+)(k?) sent, ([\d.]+)(k?) received\.\s+Cost: \$([\d.]+) message`)

func aiderUsage(line string) (Usage, bool) {
	m := aiderCost().FindStringSubmatch(line)
	if m == nil {
		return Usage{}, false
	}
	num := func(v, k string) int64 {
		f, _ := strconv.ParseFloat(v, 64)
		if k == "k" {
			f *= 1000
		}
		return int64(f)
	}
	cost, _ := strconv.ParseFloat(m[5], 64)
	return Usage{InputTokens: num(m[1], m[2]), OutputTokens: num(m[3], m[4]), CostUSD: cost}, true
}

// headerField reads key=value from a launch header ("" when absent).
func headerField(header, key string) string {
	for _, f := range strings.Fields(header) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// Task is the task id the launch's header names.
func (l LaunchLog) Task() string { return headerField(l.Header, "task") }

// TaskSession is the session the agent's latest launch for task ran in: what a relaunch
// of that task (nudge, fix, answer, resume) continues with the preset's Resume. "" when
// no launch of the task named one; a new task starts a session of its own.
func (t Transcript) TaskSession(task string) string {
	for i := len(t.Launches) - 1; i >= 0; i-- {
		if l := t.Launches[i]; l.Task() == task && l.SessionID != "" {
			return l.SessionID
		}
	}
	return ""
}

// Answered reports whether the model answered in this launch: the assistant said
// something or called a tool. A launch whose first call met a provider error did not: its
// CLI may have kept no session to resume (gemini saves one after its first turn).
func (l LaunchLog) Answered() bool {
	for _, e := range l.Entries {
		if e.Kind == KindText || e.Kind == KindTool {
			return true
		}
	}
	return false
}

// TaskAnswered reports whether any launch for task in session had the model answer.
func (t Transcript) TaskAnswered(task, session string) bool {
	for _, l := range t.Launches {
		if l.Task() == task && l.SessionID == session && l.Answered() {
			return true
		}
	}
	return false
}

// TaskUsage is what the agent's launches for task used, for `review`'s per-task cost.
func (t Transcript) TaskUsage(task string) Usage {
	var u Usage
	for _, l := range t.Launches {
		if l.Task() == task {
			u = u.Add(l.Usage)
		}
	}
	return u
}
