package dashboard

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/teamctl/teamctl/internal/testsupport"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the views the tests see")

// t0 is the fixtures' clock: the model's "now".
var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func ago0(d time.Duration) time.Time { return t0.Add(-d) }

// stub is the Source and Actions of the model tests: a fixed snapshot, recorded actions,
// and a conversation the test writes to while the model follows it.
type stub struct {
	snap    Snapshot
	mu      sync.Mutex
	calls   []string
	err     error // what the actions return
	conv    *growing
	review  string
	pollErr error
}

func (s *stub) Poll(context.Context) (Snapshot, bool, error) { return s.snap, true, s.pollErr }

func (s *stub) record(format string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
	return s.err
}

func (s *stub) Answer(_ context.Context, id int64, text string) error {
	return s.record("answer %d %q", id, text)
}
func (s *stub) Send(_ context.Context, agent, text string) error {
	return s.record("send %s %q", agent, text)
}
func (s *stub) Nudge(_ context.Context, agent string) error { return s.record("nudge %s", agent) }
func (s *stub) Conversation(_ context.Context, agent string) (io.ReadCloser, error) {
	if err := s.record("conversation %s", agent); err != nil {
		return nil, err
	}
	return s.conv, nil
}
func (s *stub) Review(context.Context) (string, error) { return s.review, s.record("review") }

// growing is a text that grows while it is read, like a log being written: Read returns
// io.EOF when it has caught up.
type growing struct {
	mu     sync.Mutex
	b      bytes.Buffer
	closed bool
}

func (g *growing) write(s string) { g.mu.Lock(); defer g.mu.Unlock(); g.b.WriteString(s) }
func (g *growing) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, os.ErrClosed
	}
	if g.b.Len() == 0 {
		return 0, io.EOF
	}
	return g.b.Read(p)
}
func (g *growing) Close() error { g.mu.Lock(); defer g.mu.Unlock(); g.closed = true; return nil }

// harness drives a model the way bubbletea does: it runs the commands an update returns
// (except timers, whose messages the test sends itself) and feeds their messages back.
type harness struct {
	t *testing.T
	m Model
	s *stub
}

func newHarness(t *testing.T, snap Snapshot, w, h int) *harness {
	t.Helper()
	s := &stub{snap: snap, conv: &growing{}}
	m := New(context.Background(), Options{Source: s, Actions: s, Now: func() time.Time { return t0 }, Location: time.UTC})
	m.after = func(_ time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		return func() tea.Msg { return timer{} }
	}
	hs := &harness{t: t, m: m, s: s}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init()) // the first poll
	return hs
}

// send updates the model with msg and runs what it asks for.
func (h *harness) send(msg tea.Msg) tea.Cmd {
	h.t.Helper()
	next, cmd := h.m.Update(msg)
	h.m = next.(Model)
	return cmd
}

// timer is what a timer of the model's makes in the tests: nothing. The test sends the
// message a timer would have sent when it wants time to pass.
type timer struct{}

// run runs cmd and feeds back its message, and so on.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	for cmd != nil {
		switch msg := cmd().(type) {
		case nil, timer, tea.QuitMsg:
			return
		default:
			cmd = h.send(msg)
		}
	}
}

// keys types keys: named ones ("enter", "esc", "up") or runes.
func (h *harness) keys(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.run(h.send(keyMsg(k)))
	}
}

func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func (h *harness) view() string {
	h.t.Helper()
	v := h.m.View()
	checkBounds(h.t, v, h.m.width, h.m.height)
	return v
}

// checkBounds fails when a line is wider than the terminal or there are more lines than it
// has: the two ways a view wrecks the screen.
func checkBounds(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) > h {
		t.Errorf("%d lines in a terminal of %d", len(lines), h)
	}
	for i, l := range lines {
		if width(l) > w {
			t.Errorf("line %d is %d cells wide in a terminal of %d: %q", i+1, width(l), w, l)
		}
	}
}

// golden compares view with testdata/name.golden; -update rewrites it.
func golden(t *testing.T, name, view string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(view+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./dashboard -run %s -update writes it)", err, t.Name())
	}
	if got := view + "\n"; got != string(want) {
		t.Errorf("view differs from %s (go test ./dashboard -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var unavailable = map[Part]error{
	PartMessages: fmt.Errorf("messages: %w", ErrNotAvailable),
	PartWarnings: fmt.Errorf("conflict warnings: %w", ErrNotAvailable),
	PartCosts:    fmt.Errorf("costs: %w", ErrNotAvailable),
}

// The teams of the golden views, one per interesting state.
func runningTeam() Snapshot {
	return Snapshot{
		Team: "paste", State: "running", Supervised: true, Base: "main", LeaderBranch: "teamctl/paste/lead/work",
		Tasks: 5, Finished: 1,
		Agents: []Agent{
			{Name: "lead", Role: "leader", State: "idle", Since: ago0(9 * time.Minute), Ahead: 3, Dirty: 0, CostUSD: Unknown},
			{Name: "alice", Role: "dev", State: "running", Running: true, Task: "parser", Since: ago0(2*time.Minute + 5*time.Second),
				Ahead: 2, Dirty: 3, CostUSD: Unknown, Last: "Writing internal/paste/parser.go: the tokenizer handles quoted strings now"},
			{Name: "bob", Role: "dev", State: "nudging", Running: true, Task: "api", Since: ago0(40 * time.Second),
				Ahead: 0, Dirty: 5, CostUSD: Unknown, Last: "[teamctl] launch agent=bob task=api attempt=2 reason=nudge"},
			{Name: "carol", Role: "dev", State: "queued", Task: "docs", Since: ago0(3 * time.Second), Ahead: 1, Dirty: 0, CostUSD: Unknown,
				Last: "carol: docs done"},
			{Name: "dave", Role: "dev", State: "pending", Task: "cli", Ahead: Unknown, Dirty: Unknown, CostUSD: Unknown},
		},
		Queue: Queue{
			Ready:  []QueueItem{{Task: "docs", Agent: "carol", At: ago0(3 * time.Second)}},
			Merged: []QueueItem{{Task: "schema", Agent: "alice", At: ago0(5 * time.Minute)}},
		},
		Feed: []FeedItem{
			{At: ago0(5 * time.Minute), Text: "merge of schema (alice): merged"},
			{At: ago0(2 * time.Minute), Text: "task parser (alice): pending → running"},
			{At: ago0(40 * time.Second), Text: "task api (bob): running → nudging (nudge)"},
			{At: ago0(3 * time.Second), Text: "task docs (carol): running → queued"},
		},
		Gaps: unavailable,
	}
}

func blockedTeam() Snapshot {
	s := runningTeam()
	s.State = "waiting"
	s.Agents[2].State, s.Agents[2].Running, s.Agents[2].Since = "blocked", false, ago0(7*time.Minute)
	s.Agents[2].Detail = "waits on the human: blocker #7"
	for i := range s.Agents {
		s.Agents[i].CostUSD = float64(i) * 0.37
	}
	s.Blockers = []Blocker{
		{ID: 7, Agent: "bob", Task: "api", Human: true, State: "open",
			Text: "Which database should the paste store use: SQLite (simple, one file) or Postgres (the ops team runs one)?"},
		{ID: 9, Agent: "alice", Task: "parser", Human: false, State: "open", Text: "May I change the schema?"},
	}
	s.Feed = append(s.Feed,
		FeedItem{At: ago0(6 * time.Minute), From: "lead", To: "alice", Text: "parser: keep the public API as in the issue"},
		FeedItem{At: ago0(7 * time.Minute), From: "bob", To: "*", Text: "I reserved internal/paste/store/ for the storage work"})
	s.Gaps = map[Part]error{PartWarnings: fmt.Errorf("conflict warnings: %w", ErrNotAvailable)}
	return s
}

func mergingTeam() Snapshot {
	s := runningTeam()
	s.Agents[2].State, s.Agents[2].Running = "merging", false
	s.Agents[3].State, s.Agents[3].Detail = "failed", "refused: changes README.md outside its owns: docs/"
	s.Queue = Queue{
		Testing: []QueueItem{{Task: "api", Agent: "bob", At: ago0(20 * time.Second)}},
		Ready:   []QueueItem{{Task: "parser", Agent: "alice"}},
		Merged:  []QueueItem{{Task: "schema", Agent: "alice"}},
		Refused: []QueueItem{
			{Task: "docs", Agent: "carol", Why: "refused: changes README.md outside its owns: docs/"},
			{Task: "cli", Agent: "dave", Why: "tests-failed: --- FAIL: TestParse (0.00s)\n    parse_test.go:12: got 3 tokens, want 4"},
			{Task: "lint", Agent: "dave", Why: "conflict: conflicts in go.mod"},
		},
		Flaky: []QueueItem{{Task: "schema", Agent: "alice", Why: "TestTimeout passed on a rerun"}},
	}
	s.Warnings = []Warning{{Agents: []string{"alice", "bob"}, Files: []string{"internal/paste/store.go", "go.mod"}}}
	s.Gaps = map[Part]error{PartMessages: fmt.Errorf("messages: %w", ErrNotAvailable), PartCosts: fmt.Errorf("costs: %w", ErrNotAvailable)}
	return s
}

func finishedTeam() Snapshot {
	s := runningTeam()
	s.State, s.Supervised, s.Finished = "finished", false, 5
	for i := range s.Agents[1:] {
		a := &s.Agents[i+1]
		a.State, a.Running, a.Ahead, a.Dirty, a.Since = "merged", false, 0, 0, ago0(time.Duration(i+1)*26*time.Hour)
	}
	s.Agents[0].Ahead = 11
	s.Queue = Queue{Merged: []QueueItem{{Task: "schema", Agent: "alice"}, {Task: "parser", Agent: "alice"},
		{Task: "api", Agent: "bob"}, {Task: "docs", Agent: "carol"}, {Task: "cli", Agent: "dave"}}}
	s.Feed = append(s.Feed, FeedItem{At: ago0(time.Second), Text: "team: running → finished"})
	return s
}

func manyAgents(n int) Snapshot {
	s := runningTeam()
	s.Agents = s.Agents[:1]
	for i := 1; i < n; i++ {
		s.Agents = append(s.Agents, Agent{Name: fmt.Sprintf("dev-%02d", i), Role: "dev", State: "running", Running: true,
			Task: fmt.Sprintf("task-%02d", i), Since: ago0(time.Duration(i) * time.Minute), Ahead: i % 3, Dirty: i % 5,
			CostUSD: Unknown, Last: fmt.Sprintf("step %d of the plan", i)})
	}
	return s
}

// pausedTeam waits on its provider's usage limit: two agents paused until 03:00, one of
// another provider still working (its cost an estimate).
func pausedTeam() Snapshot {
	s := runningTeam()
	s.Pauses = []Pause{{Provider: "claude", Kind: "limit", Until: time.Date(2026, 12, 2, 3, 0, 0, 0, time.Local), Agents: 2}}
	s.Agents[1].State, s.Agents[1].Running = "paused", false
	s.Agents[2].State, s.Agents[2].Running = "paused", false
	s.Agents[3].CostUSD, s.Agents[3].CostEstimated = 0.04, true
	// An act for no one in particular has no arrow; a blocker names whom it is for.
	s.Feed = append(s.Feed, FeedItem{At: ago0(2 * time.Second), From: "carol", Text: "reserve: reserved docs/"},
		FeedItem{At: ago0(time.Second), From: "dave", To: "lead", Text: "blocker.raised: blocker 3: which CLI flags?"})
	s.Gaps = nil
	return s
}

func TestGoldenViews(t *testing.T) {
	t.Parallel()
	sizes := []struct{ w, h int }{{80, 24}, {140, 40}}
	for _, tc := range []struct {
		name string
		snap Snapshot
		keys []string
	}{
		{"running", runningTeam(), nil},
		{"blocked", blockedTeam(), nil},
		{"merging", mergingTeam(), []string{"j", "j", "j"}},
		{"finished", finishedTeam(), nil},
		{"paused", pausedTeam(), nil},
	} {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s_%dx%d", tc.name, sz.w, sz.h)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, tc.snap, sz.w, sz.h)
				h.keys(tc.keys...)
				golden(t, name, h.view())
			})
		}
	}
}

// A view must never be wider or taller than the terminal, however small or odd.
func TestViewFitsAnySize(t *testing.T) {
	t.Parallel()
	for _, snap := range []Snapshot{runningTeam(), blockedTeam(), mergingTeam(), finishedTeam(), pausedTeam(), manyAgents(64), {}} {
		for _, sz := range []struct{ w, h int }{{80, 24}, {20, 5}, {1, 1}, {300, 3}, {45, 60}, {100, 30}} {
			h := newHarness(t, snap, sz.w, sz.h)
			h.view()
			h.keys("j", "enter")
			h.s.conv.write(strings.Repeat("a very long line of output ", 30) + "\n")
			h.send(convTickMsg{gen: h.m.gen})
			h.view()
			h.keys("esc", "a", "x")
			h.view()
		}
	}
}

func TestSelectionScrollsThroughManyAgents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, manyAgents(64), 80, 24)
	for range 40 {
		h.keys("j")
	}
	v := h.view()
	if !strings.Contains(v, "> dev-40") {
		t.Errorf("the 41st agent is selected but not shown selected:\n%s", v)
	}
	if strings.Contains(v, "dev-01 ") {
		t.Errorf("the first agents are still shown after scrolling down 40:\n%s", v)
	}
	golden(t, "many_80x24", v)
	h.keys("G")
	if v := h.view(); !strings.Contains(v, "> dev-63") || !strings.Contains(v, "of 64") {
		t.Errorf("G does not select the last agent:\n%s", v)
	}
	h.keys("g", "k")
	if v := h.view(); !strings.Contains(v, "> lead") {
		t.Errorf("g then k does not stay on the first agent:\n%s", v)
	}
	// A smaller terminal keeps the selection on screen.
	h.keys("G")
	h.send(tea.WindowSizeMsg{Width: 80, Height: 12})
	if v := h.view(); !strings.Contains(v, "> dev-63") {
		t.Errorf("after a resize the selected agent is off screen:\n%s", v)
	}
}

func TestConversationFollowsLive(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runningTeam(), 80, 24)
	h.s.conv.write("=== teamctl 2026-01-02T09:58:00Z: launch agent=alice task=parser attempt=1 reason=task argv=[\"./alice.sh\"]\n" +
		"\x1b[32mgreen text\x1b[0m and\ta tab\n" +
		"progress 10%\rprogress 50%\rprogress 100%\n" +
		strings.Repeat("long ", 30) + "\n" +
		"half a li")
	h.keys("j", "enter") // alice
	if got := h.s.calls; len(got) != 1 || got[0] != "conversation alice" {
		t.Fatalf("actions: %q, want the conversation of alice", got)
	}
	v := h.view()
	for _, want := range []string{"CONVERSATION of alice · task parser · running · following", "green text and    a tab", "half a li"} {
		if !strings.Contains(v, want) {
			t.Errorf("conversation view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "\x1b") || strings.Contains(v, "progress 10%") {
		t.Errorf("escape sequences or overdrawn progress leaked into the view:\n%q", v)
	}
	golden(t, "conversation_80x24", v)

	// More output arrives; the next read (timer) shows it.
	h.s.conv.write("ne, then the rest\nalice: parser done\n")
	h.run(h.send(convTickMsg{gen: h.m.gen}))
	if v := h.view(); !strings.Contains(v, "half a line, then the rest") || !strings.Contains(v, "alice: parser done") {
		t.Errorf("the conversation did not follow what was written:\n%s", v)
	}
	// Scrolling up stops following; G follows again.
	h.keys("k")
	if v := h.view(); !strings.Contains(v, "paused") {
		t.Errorf("scrolling up does not pause following:\n%s", v)
	}
	h.keys("G")
	if v := h.view(); !strings.Contains(v, "following") {
		t.Errorf("G does not follow again:\n%s", v)
	}
	// Esc goes back and closes the conversation; what was in flight for it is dropped.
	gen := h.m.gen
	h.keys("esc")
	if v := h.view(); !strings.HasPrefix(v, "team paste · ") {
		t.Errorf("esc does not go back to the team:\n%s", v)
	}
	if !h.s.conv.closed {
		t.Error("esc leaves the conversation open")
	}
	h.send(convReadMsg{gen: gen, data: []byte("late\n")})
	if strings.Contains(strings.Join(h.m.pager.lines, "\n"), "late") {
		t.Error("text of a closed conversation reached the pager")
	}
}

func TestConversationError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runningTeam(), 80, 24)
	h.s.err = errors.New("agent alice has not been launched yet: no log at /x/alice.log")
	h.keys("j", "enter")
	if v := h.view(); !strings.Contains(v, "cannot open the conversation: agent alice has not been launched yet") {
		t.Errorf("the error opening a conversation is not shown:\n%s", v)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		snap  Snapshot
		keys  []string
		err   error
		calls []string
		shows string
	}{
		{"answer the human's blocker", blockedTeam(), []string{"a", "Use", " ", "SQLite", "enter"}, nil,
			[]string{`answer 7 "Use SQLite"`}, "answered blocker #7 of bob"},
		{"answer the selected agent's blocker", blockedTeam(), []string{"j", "a", "yes", "enter"}, nil,
			[]string{`answer 9 "yes"`}, "answered blocker #9 of alice"},
		{"editing the answer", blockedTeam(), []string{"a", "nope", "backspace", "backspace", "backspace", "backspace", "ok", "enter"}, nil,
			[]string{`answer 7 "ok"`}, "answered blocker #7"},
		{"an answer cancelled", blockedTeam(), []string{"a", "never mind", "esc"}, nil, nil, "team paste · waiting"},
		{"an empty answer is not sent", blockedTeam(), []string{"a", "enter"}, nil, nil, "answer #7> "},
		{"no blocker to answer", runningTeam(), []string{"a"}, nil, nil, "no open blocker to answer"},
		{"message", runningTeam(), []string{"j", "j", "m", "rebase on main", "enter"}, nil,
			[]string{`send bob "rebase on main"`}, "message sent to bob"},
		{"q in a message is text", runningTeam(), []string{"m", "q", "enter"}, nil, []string{`send lead "q"`}, "message sent to lead"},
		{"nudge", runningTeam(), []string{"j", "n"}, nil, []string{"nudge alice"}, "nudged alice"},
		{"nudge not available", runningTeam(), []string{"n"}, fmt.Errorf("nudging from the dashboard: %w", ErrNotAvailable),
			[]string{"nudge lead"}, "cannot nudge lead: nudging from the dashboard: not available yet"},
		{"message from a conversation", runningTeam(), []string{"j", "enter", "m", "hi", "enter"}, nil,
			[]string{"conversation alice", `send alice "hi"`}, "message sent to alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.snap, 80, 24)
			h.s.err = tc.err
			h.keys(tc.keys...)
			if fmt.Sprint(h.s.calls) != fmt.Sprint(tc.calls) {
				t.Errorf("actions: %q, want %q", h.s.calls, tc.calls)
			}
			if v := h.view(); !strings.Contains(v, tc.shows) {
				t.Errorf("view lacks %q:\n%s", tc.shows, v)
			}
		})
	}
}

func TestAnswerBoxGolden(t *testing.T) {
	t.Parallel()
	h := newHarness(t, blockedTeam(), 80, 24)
	h.keys("a", "Use SQLite: one file next to the binary, and a migration per release")
	golden(t, "answer_80x24", h.view())
}

func TestReview(t *testing.T) {
	t.Parallel()
	h := newHarness(t, finishedTeam(), 80, 24)
	h.s.review = "# Review of team `paste`\n\n- Tests: `go test ./...` **passed** on the tip\n" + strings.Repeat("- a line\n", 40) + "- the end\n"
	h.keys("r")
	v := h.view()
	if !strings.Contains(v, "REVIEW of team paste") || !strings.Contains(v, "# Review of team `paste`") {
		t.Errorf("r does not show the review:\n%s", v)
	}
	golden(t, "review_80x24", v)
	h.keys("G")
	if v := h.view(); !strings.Contains(v, "- the end") {
		t.Errorf("G does not reach the end of the review:\n%s", v)
	}
	h.keys("esc")
	if v := h.view(); !strings.Contains(v, "AGENTS") {
		t.Errorf("esc does not leave the review:\n%s", v)
	}
}

func TestQuit(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"q", "ctrl+c"} {
		h := newHarness(t, runningTeam(), 80, 24)
		h.keys("enter")
		cmd := h.send(keyMsg(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
		if !h.s.conv.closed {
			t.Errorf("%s leaves the conversation open", k)
		}
	}
}

func TestPollError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runningTeam(), 80, 24)
	h.s.pollErr = errors.New("database is locked")
	h.run(h.send(pollMsg{}))
	v := h.view()
	if !strings.Contains(v, "refresh failed: database is locked") {
		t.Errorf("a failed refresh is not shown:\n%s", v)
	}
	if !strings.Contains(v, "alice") {
		t.Errorf("a failed refresh dropped the last snapshot:\n%s", v)
	}
}

// Colour only on a terminal, and never under NO_COLOR.
func TestColour(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   []termenv.OutputOption
		colour bool
	}{
		{"not a terminal", []termenv.OutputOption{termenv.WithEnvironment(env{"TERM": "xterm-256color"})}, false},
		{"a terminal", []termenv.OutputOption{termenv.WithTTY(true), termenv.WithEnvironment(env{"TERM": "xterm-256color"})}, true},
		{"NO_COLOR", []termenv.OutputOption{termenv.WithTTY(true), termenv.WithEnvironment(env{"TERM": "xterm-256color", "NO_COLOR": "1"})}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := lipgloss.NewRenderer(io.Discard, tc.opts...)
			s := &stub{snap: blockedTeam()}
			m := New(context.Background(), Options{Source: s, Actions: s, Renderer: r, Now: func() time.Time { return t0 }})
			next, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
			next, _ = next.Update(snapshotMsg{snap: s.snap, changed: true})
			v := next.View()
			if got := strings.Contains(v, "\x1b["); got != tc.colour {
				t.Errorf("escape sequences in the view: %v, want %v", got, tc.colour)
			}
			checkBounds(t, v, 80, 24)
		})
	}
}

// env is a termenv environment of the test's making, not the process's.
type env map[string]string

func (e env) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}
func (e env) Getenv(k string) string { return e[k] }

func TestSanitize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":                        "plain",
		"\x1b[1;31mred\x1b[0m":         "red",
		"a\tb":                         "a    b",
		"10%\r20%\r30%":                "30%",
		"crlf\r":                       "crlf",
		"bell\a and \x00nul":           "bell and nul",
		"\x1b]0;title\x07visible":      "visible",
		"bad \xff utf-8":               "bad ? utf-8",
		"wide 日本語":                     "wide 日本語",
		"\x1b[2K\x1b[1Gcleared prompt": "cleared prompt",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 42 * time.Second: "42s", 12 * time.Minute: "12m", 3*time.Hour + 5*time.Minute: "3h5m",
		50 * time.Hour: "2d2h", 200 * 24 * time.Hour: ">99d",
	} {
		if got := ago(d); got != want || width(got) > 5 {
			t.Errorf("ago(%s) = %q, want %q (at most 5 cells)", d, got, want)
		}
	}
}
