package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// PollEvery is how often the dashboard asks its Source whether the team changed, and how
// often an open conversation is read for more.
const PollEvery = 250 * time.Millisecond

// Options configure a dashboard model.
type Options struct {
	Source  Source
	Actions Actions
	// Renderer decides the colours: lipgloss.NewRenderer(stdout) gives colour only on a
	// terminal that has it and none under NO_COLOR. nil: no colour.
	Renderer *lipgloss.Renderer
	Now      func() time.Time // the clock of "time in state"; default time.Now
	Location *time.Location   // of the feed's times; default time.Local
	Every    time.Duration    // poll period; default PollEvery
}

type mode int

const (
	modeMain mode = iota
	modeConversation
	modeReview
)

// Model is the dashboard as a bubbletea model: a state machine from messages (keys, window
// sizes, snapshots, conversation text, action results) to a view.
type Model struct {
	ctx   context.Context
	src   Source
	act   Actions
	st    styles
	now   func() time.Time
	loc   *time.Location
	every time.Duration

	width, height int
	snap          Snapshot
	loaded        bool
	pollErr       error

	mode mode
	sel  int // selected agent
	top  int // first agent row shown

	// The text box, while one is open: what Enter does with its text.
	typing   bool
	question string // what the box answers, shown above it
	in       input
	onSubmit func(text string) tea.Cmd

	pager pager  // the conversation or the review
	title string // of the pager
	agent string // whose conversation is open
	conv  io.ReadCloser
	gen   int // which conversation messages belong to: older ones are dropped

	flash    string // the outcome of the last action
	flashErr bool

	// after makes the timers (next poll, next read of a conversation): tea.Tick, unless a
	// test drives time itself.
	after func(time.Duration, func(time.Time) tea.Msg) tea.Cmd
}

// Messages the model receives from its commands.
type (
	pollMsg     struct{}
	snapshotMsg struct {
		snap    Snapshot
		changed bool
		err     error
	}
	convOpenedMsg struct {
		gen int
		r   io.ReadCloser
		err error
	}
	convReadMsg struct {
		gen  int
		data []byte
		err  error
	}
	convTickMsg struct{ gen int }
	reviewMsg   struct {
		text string
		err  error
	}
	doneMsg struct {
		what string // what was done, said on success
		try  string // what was tried, said with the error
		err  error
	}
)

// New returns the dashboard model; ctx bounds every call to the Source and Actions.
func New(ctx context.Context, opts Options) Model {
	m := Model{ctx: ctx, src: opts.Source, act: opts.Actions, now: opts.Now, loc: opts.Location, every: opts.Every, after: tea.Tick}
	if m.now == nil {
		m.now = time.Now
	}
	if m.loc == nil {
		m.loc = time.Local
	}
	if m.every <= 0 {
		m.every = PollEvery
	}
	r := opts.Renderer
	if r == nil {
		r = lipgloss.NewRenderer(io.Discard) // not a terminal: no colour
	}
	m.st = newStyles(r)
	return m
}

// Init implements tea.Model: the first poll, at once.
func (m Model) Init() tea.Cmd { return m.poll() }

func (m Model) poll() tea.Cmd {
	src, ctx := m.src, m.ctx
	return func() tea.Msg {
		snap, changed, err := src.Poll(ctx)
		return snapshotMsg{snap: snap, changed: changed, err: err}
	}
}

// clockEvery is how often the view is redrawn when the team does not change, for its
// "time in state" column.
const clockEvery = time.Second

// pollUntilChange polls every m.every and reports the first snapshot that changed, or
// after clockEvery the same one: the model hears of a quiet team once a second, not four
// times, and the view is not redrawn for nothing.
func (m Model) pollUntilChange(time.Time) tea.Msg {
	start := time.Now()
	for {
		snap, changed, err := m.src.Poll(m.ctx)
		if changed || err != nil || time.Since(start) >= clockEvery {
			return snapshotMsg{snap: snap, changed: changed, err: err}
		}
		select {
		case <-m.ctx.Done():
			return nil
		case <-time.After(m.every):
		}
	}
}

// Update implements tea.Model.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.pager.wrap(m.width)
		m.keepSelectionVisible()
		return m, nil
	case pollMsg: // a test's way to make time pass
		return m, m.poll()
	case snapshotMsg:
		m.pollErr = msg.err
		if msg.err == nil && (msg.changed || !m.loaded) {
			m.snap, m.loaded = msg.snap, true
			m.sel = min(m.sel, max(len(m.snap.Agents)-1, 0))
			m.keepSelectionVisible()
		}
		return m, m.after(m.every, m.pollUntilChange)
	case convOpenedMsg:
		if msg.gen != m.gen || m.mode != modeConversation {
			if msg.r != nil {
				msg.r.Close()
			}
			return m, nil
		}
		if msg.err != nil {
			m.pager.setText("cannot open the conversation: " + msg.err.Error())
			return m, nil
		}
		m.conv = msg.r
		return m, m.read()
	case convReadMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if len(msg.data) > 0 {
			m.pager.write(msg.data)
		}
		switch {
		case msg.err == nil:
			return m, m.read()
		case errors.Is(msg.err, io.EOF):
			gen := m.gen
			return m, m.after(m.every, func(time.Time) tea.Msg { return convTickMsg{gen: gen} })
		}
		m.setFlash(fmt.Errorf("reading the conversation: %w", msg.err))
		return m, nil
	case convTickMsg:
		if msg.gen != m.gen || m.conv == nil {
			return m, nil
		}
		return m, m.read()
	case reviewMsg:
		if m.mode != modeReview {
			return m, nil
		}
		if msg.err != nil {
			m.pager.setText("cannot read the review: " + msg.err.Error())
		} else {
			m.pager.setText(msg.text)
		}
		return m, nil
	case doneMsg:
		if msg.err != nil {
			m.setFlash(fmt.Errorf("cannot %s: %w", msg.try, msg.err))
		} else {
			m.flash, m.flashErr = msg.what, false
		}
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m *Model) setFlash(err error) { m.flash, m.flashErr = err.Error(), true }

func (m Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.Type == tea.KeyCtrlC {
		return m.quit()
	}
	if m.typing {
		switch k.Type {
		case tea.KeyEsc:
			m.typing, m.onSubmit = false, nil
			m.flash = ""
			return m, nil
		case tea.KeyEnter:
			text := m.in.value()
			if text == "" {
				return m, nil // nothing to send; Esc closes the box
			}
			cmd := m.onSubmit(text)
			m.typing, m.onSubmit = false, nil
			return m, cmd
		}
		m.in.key(k)
		return m, nil
	}
	m.flash = ""
	switch k.String() {
	case "q":
		return m.quit()
	case "a":
		return m.answer()
	case "m":
		return m.message()
	case "n":
		return m.nudge()
	}
	if m.mode != modeMain {
		return m.pagerKey(k)
	}
	switch k.String() {
	case "up", "k":
		m.moveSelection(-1)
	case "down", "j":
		m.moveSelection(1)
	case "pgup":
		m.moveSelection(-max(m.layout().agentRows, 1))
	case "pgdown":
		m.moveSelection(max(m.layout().agentRows, 1))
	case "home", "g":
		m.moveSelection(-len(m.snap.Agents))
	case "end", "G":
		m.moveSelection(len(m.snap.Agents))
	case "enter":
		return m.openConversation()
	case "r":
		m.mode, m.pager, m.title = modeReview, newPager(false), "REVIEW of team "+m.snap.Team+": what has merged"
		m.pager.wrap(m.width)
		m.pager.setText("reading the review…")
		act, ctx := m.act, m.ctx
		return m, func() tea.Msg {
			text, err := act.Review(ctx)
			return reviewMsg{text: text, err: err}
		}
	}
	return m, nil
}

// pagerKey is a key in the conversation or the review.
func (m Model) pagerKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	body := m.pagerHeight()
	switch k.String() {
	case "esc":
		m.closeConversation()
		m.mode = modeMain
	case "up", "k":
		m.pager.scroll(-1, body)
	case "down", "j":
		m.pager.scroll(1, body)
	case "pgup", "b":
		m.pager.scroll(-max(body-1, 1), body)
	case "pgdown", " ", "f":
		m.pager.scroll(max(body-1, 1), body)
	case "home", "g":
		m.pager.home()
	case "end", "G":
		m.pager.end()
	}
	return m, nil
}

func (m Model) quit() (tea.Model, tea.Cmd) {
	m.closeConversation()
	return m, tea.Quit
}

func (m *Model) moveSelection(d int) {
	m.sel = min(max(m.sel+d, 0), max(len(m.snap.Agents)-1, 0))
	m.keepSelectionVisible()
}

// keepSelectionVisible scrolls the agents so the selected one is on screen.
func (m *Model) keepSelectionVisible() {
	rows := m.layout().agentRows
	if rows <= 0 {
		m.top = 0
		return
	}
	if m.sel < m.top {
		m.top = m.sel
	}
	if m.sel >= m.top+rows {
		m.top = m.sel - rows + 1
	}
	m.top = min(m.top, max(len(m.snap.Agents)-rows, 0))
	m.top = max(m.top, 0)
}

// selected is the agent the keys act on: the one whose conversation is open, else the
// selected row.
func (m Model) selected() (string, bool) {
	if m.mode == modeConversation {
		return m.agent, true
	}
	if m.sel < len(m.snap.Agents) {
		return m.snap.Agents[m.sel].Name, true
	}
	return "", false
}

func (m Model) openConversation() (tea.Model, tea.Cmd) {
	agent, ok := m.selected()
	if !ok {
		return m, nil
	}
	m.gen++
	m.mode, m.agent, m.pager = modeConversation, agent, newPager(true)
	m.pager.wrap(m.width)
	m.title = "CONVERSATION of " + agent
	act, ctx, gen := m.act, m.ctx, m.gen
	return m, func() tea.Msg {
		r, err := act.Conversation(ctx, agent)
		return convOpenedMsg{gen: gen, r: r, err: err}
	}
}

func (m *Model) closeConversation() {
	m.gen++ // what is still in flight for it is dropped when it arrives
	if m.conv != nil {
		m.conv.Close()
		m.conv = nil
	}
	m.agent = ""
}

// read reads what the conversation has next; io.EOF is "nothing more yet".
func (m Model) read() tea.Cmd {
	r, gen := m.conv, m.gen
	return func() tea.Msg {
		buf := make([]byte, 32<<10)
		n, err := r.Read(buf)
		return convReadMsg{gen: gen, data: buf[:n], err: err}
	}
}

// blocker is the blocker `a` answers: the selected agent's, else the first one waiting on
// the human, else the first one.
func (m Model) blocker() (Blocker, bool) {
	agent, _ := m.selected()
	for _, b := range m.snap.Blockers {
		if b.Agent == agent {
			return b, true
		}
	}
	if len(m.snap.Blockers) > 0 {
		return m.snap.Blockers[0], true // those waiting on the human come first
	}
	return Blocker{}, false
}

func (m Model) answer() (tea.Model, tea.Cmd) {
	b, ok := m.blocker()
	if !ok {
		m.flash, m.flashErr = "no open blocker to answer", true
		return m, nil
	}
	act, ctx := m.act, m.ctx
	q := fmt.Sprintf("%s asks (blocker #%d", b.Agent, b.ID)
	if b.Task != "" {
		q += ", task " + b.Task
	}
	q += "): " + b.Text
	return m.ask(q, fmt.Sprintf("answer #%d> ", b.ID), func(text string) tea.Cmd {
		return func() tea.Msg {
			return doneMsg{what: fmt.Sprintf("answered blocker #%d of %s", b.ID, b.Agent),
				try: fmt.Sprintf("answer blocker #%d of %s", b.ID, b.Agent), err: act.Answer(ctx, b.ID, text)}
		}
	})
}

func (m Model) message() (tea.Model, tea.Cmd) {
	agent, ok := m.selected()
	if !ok {
		return m, nil
	}
	act, ctx := m.act, m.ctx
	return m.ask("", "message to "+agent+"> ", func(text string) tea.Cmd {
		return func() tea.Msg {
			return doneMsg{what: "message sent to " + agent, try: "send the message to " + agent, err: act.Send(ctx, agent, text)}
		}
	})
}

func (m Model) nudge() (tea.Model, tea.Cmd) {
	agent, ok := m.selected()
	if !ok {
		return m, nil
	}
	act, ctx := m.act, m.ctx
	return m, func() tea.Msg {
		return doneMsg{what: "nudged " + agent + " (a message asking it to commit and carry on)", try: "nudge " + agent, err: act.Nudge(ctx, agent)}
	}
}

// ask opens the text box under question; submit makes the command that uses its text.
func (m Model) ask(question, prompt string, submit func(string) tea.Cmd) (tea.Model, tea.Cmd) {
	m.typing, m.question, m.in, m.onSubmit = true, question, input{prompt: prompt}, submit
	m.keepSelectionVisible() // the box takes rows from the agents
	return m, nil
}
