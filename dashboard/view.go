package dashboard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/teamctl/teamctl/agentproc"
)

// styles are the dashboard's looks. Every highlight also shows without colour (a marker,
// a word, capitals), since NO_COLOR and pipes get none.
type styles struct {
	plain, title, colHead, selected, blocker, pause, dim, err, ok, key lipgloss.Style
	running, waiting, queued, finished                                 lipgloss.Style
}

// The 16 ANSI colours: the terminal's own palette, so they suit light and dark themes alike
// and no query of the terminal's background is needed.
func newStyles(r *lipgloss.Renderer) styles {
	s := r.NewStyle()
	return styles{
		plain:    s,
		title:    s.Bold(true),
		colHead:  s.Bold(true).Faint(true),
		selected: s.Reverse(true),
		blocker:  s.Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("1")),
		pause:    s.Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("3")),
		dim:      s.Faint(true),
		err:      s.Foreground(lipgloss.Color("1")).Bold(true),
		ok:       s.Foreground(lipgloss.Color("2")),
		key:      s.Bold(true).Foreground(lipgloss.Color("6")),
		running:  s.Foreground(lipgloss.Color("2")),
		waiting:  s.Foreground(lipgloss.Color("1")).Bold(true),
		queued:   s.Foreground(lipgloss.Color("3")),
		finished: s.Faint(true),
	}
}

func (st styles) state(state string) lipgloss.Style {
	switch state {
	case "running", "nudging":
		return st.running
	case "conflict", "tests-failed", "blocked", "failed", "gone", "crashed", "waiting":
		return st.waiting
	case "queued", "merging":
		return st.queued
	case "merged", "done", "finished", "stopped":
		return st.finished
	}
	return st.plain
}

// View implements tea.Model. Every line is at most the terminal's width, and there are at
// most its height of them.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	var lines []string
	switch m.mode {
	case modeMain:
		lines = m.mainView()
	default:
		lines = m.pagerView()
	}
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	for i, l := range lines {
		// Trailing blanks of unstyled text are noise to a terminal and to golden files; a
		// styled line ends in its reset sequence and keeps its padding (a selection bar).
		lines[i] = strings.TrimRight(clip(l, m.width), " ")
	}
	return strings.Join(lines, "\n")
}

// layout is how the main view's height is shared out.
type layout struct {
	pauses    int // lines of providers paused
	blockers  int // lines of blockers waiting on the human
	agentRows int // agents shown
	queue     int // lines of the merge queue
	warnings  int
	feedRows  int // feed items shown
	pad       int // blank lines above the help bar
}

const (
	maxBlockerLines = 3
	maxRefusedLines = 2
	maxPauseLines   = 2
	maxWarningLines = 2
)

func (m Model) humanBlockers() []Blocker {
	var out []Blocker
	for _, b := range m.snap.Blockers {
		if b.Human {
			out = append(out, b)
		}
	}
	return out
}

func (m Model) layout() layout {
	var l layout
	l.blockers = min(len(m.humanBlockers()), maxBlockerLines)
	l.pauses = min(len(m.snap.Pauses), maxPauseLines)
	l.queue = 1 + min(len(m.snap.Queue.Refused), maxRefusedLines)
	l.warnings = 1 + min(len(m.snap.Warnings), maxWarningLines)
	fixed := 1 + l.pauses + l.blockers + l.queue + l.warnings + 1 + len(m.bottom()) // header, ..., help bar
	rest := m.height - fixed
	agentsWant := 2 + max(len(m.snap.Agents), 1) // title, column heads, rows
	feedWant := 1 + max(len(m.snap.Feed), 1)
	if agentsWant+feedWant <= rest {
		l.agentRows, l.feedRows = agentsWant-2, feedWant-1
		l.pad = rest - agentsWant - feedWant
		return l
	}
	feed := min(feedWant, max(2, rest/4))
	l.feedRows = max(feed-1, 0)
	l.agentRows = max(rest-feed-2, 0)
	return l
}

func (m Model) mainView() []string {
	w, l := m.width, m.layout()
	out := []string{m.header()}
	out = append(out, m.pauseLines(l.pauses)...)
	out = append(out, m.blockerLines(l.blockers)...)
	out = append(out, m.agentLines(l.agentRows)...)
	out = append(out, m.queueLines()...)
	out = append(out, m.warningLines()...)
	out = append(out, m.feedLines(l.feedRows)...)
	for range l.pad {
		out = append(out, "")
	}
	out = append(out, m.bottom()...)
	out = append(out, m.help(w, mainKeys))
	return out
}

func (m Model) header() string {
	if !m.loaded {
		return m.st.title.Render(fit("teamctl watch: loading the team…", m.width))
	}
	s := m.snap
	sup := "no supervisor"
	if s.Supervised {
		sup = "supervised"
	}
	text := fmt.Sprintf("team %s · %s · %s · %d/%d finished", s.Team, s.State, sup, s.Finished, s.Tasks)
	if n := len(s.Blockers) - len(m.humanBlockers()); n > 0 {
		text += fmt.Sprintf(" · %d blocker(s) for the leader", n)
	}
	if n := len(s.Incidents); n > 0 {
		text += fmt.Sprintf(" · %d incident(s), last: %s", n, s.Incidents[n-1])
	}
	return m.st.title.Render(fit(text, m.width))
}

// pauseLines say, at the top, which providers the team waits on and until when.
func (m Model) pauseLines(n int) []string {
	var out []string
	for i, p := range m.snap.Pauses {
		if i == n {
			break
		}
		text := fmt.Sprintf("‖ PAUSED on a %s: %d agent(s) of %s, until %s", agentproc.FaultKind(p.Kind).Words(), p.Agents, p.Provider, p.Until.Local().Format("15:04:05"))
		if p.Probe != "" {
			text += " (" + p.Probe + " tries it first)"
		}
		out = append(out, m.st.pause.Render(fit(text, m.width)))
	}
	return out
}

func (m Model) blockerLines(n int) []string {
	bs := m.humanBlockers()
	var out []string
	for i, b := range bs {
		if i == n {
			break
		}
		text := fmt.Sprintf("! BLOCKER #%d from %s", b.ID, b.Agent)
		if b.Task != "" {
			text += " (task " + b.Task + ")"
		}
		text += ": " + oneLine(b.Text)
		if i == n-1 && len(bs) > n {
			text = fmt.Sprintf("! … and %d more blockers wait on you", len(bs)-n+1)
		}
		hint := "  [a] answer"
		room := m.width - width(hint)
		if room < 20 {
			hint, room = "", m.width
		}
		out = append(out, m.st.blocker.Render(fit(text, room)+hint))
	}
	return out
}

// columns of the agents table, sized to the content and the width.
type columns struct {
	name, state, task, last int
	role, git, cost         bool
}

func (m Model) columns() columns {
	c := columns{name: 4, state: 5, task: 4, role: true, git: true, cost: true}
	for _, a := range m.snap.Agents {
		c.name = max(c.name, min(width(a.Name), 12))
		c.state = max(c.state, min(width(a.State), 12))
		c.task = max(c.task, min(width(a.Task), 14))
	}
	// marker, name, role, state, task, for, ahead, dirty, cost, last: one space between.
	fixed := func() int {
		n := 2 + c.name + 1 + c.state + 1 + c.task + 1 + 5 + 1
		if c.role {
			n += 5
		}
		if c.git {
			n += 12
		}
		if c.cost {
			n += 7
		}
		return n
	}
	// The last output matters more than the cost, the git counts and the role, in that
	// order, when the width runs short.
	for _, drop := range []*bool{&c.cost, &c.git, &c.role} {
		if m.width-fixed() >= 16 {
			break
		}
		*drop = false
	}
	c.last = max(m.width-fixed(), 0)
	return c
}

func (c columns) row(marker, name, role, state, task, since, ahead, dirty, cost, last string, st func(string) string) string {
	var b strings.Builder
	b.WriteString(marker + " ")
	b.WriteString(fit(name, c.name) + " ")
	if c.role {
		b.WriteString(fit(role, 4) + " ")
	}
	b.WriteString(st(fit(state, c.state)) + " ")
	b.WriteString(fit(task, c.task) + " ")
	b.WriteString(fitRight(since, 5) + " ")
	if c.git {
		b.WriteString(fitRight(ahead, 5) + " " + fitRight(dirty, 5) + " ")
	}
	if c.cost {
		b.WriteString(fitRight(cost, 6) + " ")
	}
	b.WriteString(fit(last, c.last))
	return b.String()
}

func (m Model) agentLines(rows int) []string {
	c := m.columns()
	title := "AGENTS"
	if n := len(m.snap.Agents); n > rows && rows > 0 {
		title += fmt.Sprintf(" %d–%d of %d", m.top+1, min(m.top+rows, n), n)
	}
	if err := m.snap.Gaps[PartCosts]; err != nil && c.cost {
		title += " · " + gapText(err)
	}
	plain := func(s string) string { return s }
	out := []string{
		m.st.title.Render(fit(title, m.width)),
		m.st.colHead.Render(c.row(" ", "NAME", "ROLE", "STATE", "TASK", "FOR", "AHEAD", "DIRTY", "COST", "LAST OUTPUT", plain)),
	}
	if len(m.snap.Agents) == 0 && rows > 0 {
		return append(out, m.st.dim.Render(fit("  no agents yet", m.width)))
	}
	for i := m.top; i < len(m.snap.Agents) && i < m.top+rows; i++ {
		a := m.snap.Agents[i]
		role := "dev"
		switch {
		case a.Role == "leader":
			role = "lead"
		case a.Spawner != "":
			role = "sub" // a worker of teamctl spawn (its name says whose: alice-sub-1)
		}
		since := "-"
		if !a.Since.IsZero() {
			since = ago(m.now().Sub(a.Since))
		}
		last := a.Last
		if a.Detail != "" {
			last = oneLine(a.Detail) // why it waits says more than its last words
		} else if !a.IdleSince.IsZero() {
			last = "idle " + ago(m.now().Sub(a.IdleSince)) + ", work uncommitted · " + last
		}
		if i == m.sel {
			out = append(out, m.st.selected.Render(c.row(">", a.Name, role, a.State, a.Task, since,
				count(a.Ahead), count(a.Dirty), cost(a.CostUSD, a.CostEstimated), last, plain)))
			continue
		}
		stateStyle := m.st.state(a.State)
		out = append(out, c.row(" ", a.Name, role, a.State, a.Task, since,
			count(a.Ahead), count(a.Dirty), cost(a.CostUSD, a.CostEstimated), last, func(s string) string { return stateStyle.Render(s) }))
	}
	return out
}

func items(q []QueueItem) string {
	parts := make([]string, len(q))
	for i, it := range q {
		parts[i] = it.Task + " (" + it.Agent + ")"
	}
	return strings.Join(parts, ", ")
}

func (m Model) queueLines() []string {
	q := m.snap.Queue
	var parts []string
	if len(q.Testing) > 0 {
		parts = append(parts, "testing: "+items(q.Testing))
	}
	if len(q.Ready) > 0 {
		parts = append(parts, fmt.Sprintf("ready %d: %s", len(q.Ready), items(q.Ready)))
	}
	parts = append(parts, fmt.Sprintf("merged %d", len(q.Merged)), fmt.Sprintf("refused %d", len(q.Refused)))
	if len(q.Flaky) > 0 {
		parts = append(parts, fmt.Sprintf("flaky %d: %s", len(q.Flaky), items(q.Flaky)))
	}
	out := []string{m.st.title.Render("MERGE QUEUE") + "  " + fit(strings.Join(parts, " · "), m.width-13)}
	for i, r := range q.Refused {
		if i == maxRefusedLines {
			break
		}
		text := fmt.Sprintf("  ✗ %s (%s) %s", r.Task, r.Agent, oneLine(r.Why))
		if i == maxRefusedLines-1 && len(q.Refused) > maxRefusedLines {
			text = fmt.Sprintf("  ✗ … and %d more refused: r shows the review", len(q.Refused)-i)
		}
		out = append(out, m.st.err.Render(fit(text, m.width)))
	}
	return out
}

func (m Model) warningLines() []string {
	head := m.st.title.Render("WARNINGS") + "  "
	room := m.width - 10
	if err := m.snap.Gaps[PartWarnings]; err != nil {
		return []string{head + m.st.dim.Render(fit(gapText(err), room))}
	}
	if len(m.snap.Warnings) == 0 {
		return []string{head + m.st.dim.Render(fit("no conflict coming between live branches", room))}
	}
	out := []string{head + fit(fmt.Sprintf("%d conflict(s) coming between live branches", len(m.snap.Warnings)), room)}
	for i, w := range m.snap.Warnings {
		if i == maxWarningLines {
			break
		}
		text := fmt.Sprintf("  ⚠ %s: %s", strings.Join(w.Agents, " × "), strings.Join(w.Files, ", "))
		out = append(out, m.st.queued.Render(fit(text, m.width)))
	}
	return out
}

func (m Model) feedLines(rows int) []string {
	title := "FEED"
	if err := m.snap.Gaps[PartMessages]; err != nil {
		title += " · " + gapText(err) + ": showing the journal"
	}
	out := []string{m.st.title.Render(fit(title, m.width))}
	if rows == 0 {
		return out
	}
	if len(m.snap.Feed) == 0 {
		return append(out, m.st.dim.Render(fit("  nothing yet", m.width)))
	}
	feed := m.snap.Feed[max(len(m.snap.Feed)-rows, 0):]
	for _, f := range feed {
		at := f.At.In(m.loc).Format("15:04:05")
		if f.From == "" {
			out = append(out, m.st.dim.Render(at)+" "+fit(oneLine(f.Text), m.width-9))
			continue
		}
		who := f.From
		switch f.To {
		case "":
		case "*":
			who += " → everyone"
		default:
			who += " → " + f.To
		}
		out = append(out, m.st.dim.Render(at)+" "+fit(fmt.Sprintf("%s: %s", who, oneLine(f.Text)), m.width-9))
	}
	return out
}

// gapText says why a part is missing, briefly.
func gapText(err error) string {
	if errors.Is(err, ErrNotAvailable) {
		return err.Error()
	}
	return oneLine(err.Error())
}

// bottom is what goes above the help bar: the text box (under the question it answers),
// or the outcome of the last action, or a failed refresh; nothing otherwise.
func (m Model) bottom() []string {
	switch {
	case m.typing:
		var out []string
		if m.question != "" {
			rows := strings.Split(ansi.Wrap(oneLine(m.question), max(m.width, 1), ""), "\n")
			if len(rows) > maxQuestionLines {
				rows = rows[:maxQuestionLines]
				rows[len(rows)-1] = clip(rows[len(rows)-1]+"…", m.width)
			}
			for _, r := range rows {
				out = append(out, m.st.title.Render(fit(r, m.width)))
			}
		}
		return append(out, m.in.view(m.width))
	case m.flash != "" && m.flashErr:
		return []string{m.st.err.Render(fit(oneLine(m.flash), m.width))}
	case m.flash != "":
		return []string{m.st.ok.Render(fit(oneLine(m.flash), m.width))}
	case m.pollErr != nil:
		return []string{m.st.err.Render(fit("refresh failed: "+oneLine(m.pollErr.Error()), m.width))}
	}
	return nil
}

// maxQuestionLines is how much of a blocker's question shows above the answer box.
const maxQuestionLines = 4

// key bindings shown in the help bar.
type binding struct{ keys, does string }

var (
	mainKeys = []binding{{"↑↓/jk", "select"}, {"enter", "open"}, {"a", "answer"}, {"m", "message"},
		{"n", "nudge"}, {"r", "review"}, {"q", "quit"}}
	conversationKeys = []binding{{"esc", "back"}, {"↑↓/jk", "scroll"}, {"g/G", "top/end"}, {"m", "message"},
		{"n", "nudge"}, {"a", "answer"}, {"q", "quit"}}
	reviewKeys = []binding{{"esc", "back"}, {"↑↓/jk", "scroll"}, {"pgup/pgdn", "page"}, {"g/G", "top/end"}, {"q", "quit"}}
	typingKeys = []binding{{"enter", "send"}, {"esc", "cancel"}, {"ctrl+u", "clear"}}
)

// help is the help bar: as many bindings as fit the width.
func (m Model) help(w int, keys []binding) string {
	if m.typing {
		keys = typingKeys
	}
	var b strings.Builder
	used := 0
	for i, k := range keys {
		sep := ""
		if i > 0 {
			sep = " · "
		}
		n := width(sep) + width(k.keys) + 1 + width(k.does)
		if used+n > w {
			break
		}
		b.WriteString(sep + m.st.key.Render(k.keys) + " " + k.does)
		used += n
	}
	return b.String()
}

// pagerHeight is the rows of text the conversation or review shows.
func (m Model) pagerHeight() int {
	return max(m.height-2-len(m.bottom()), 0) // title, help bar
}

func (m Model) pagerView() []string {
	title, keys := m.title, reviewKeys
	if m.mode == modeConversation {
		keys = conversationKeys
		for _, a := range m.snap.Agents {
			if a.Name == m.agent {
				if a.Task != "" {
					title += " · task " + a.Task
				}
				title += " · " + a.State
			}
		}
		if m.pager.follow {
			title += " · following"
		} else {
			title += " · paused (G: follow)"
		}
	}
	h := m.pagerHeight()
	out := []string{m.st.title.Render(fit(title, m.width))}
	_, rows := m.pager.window(h)
	for _, r := range rows {
		out = append(out, fit(r, m.width))
	}
	for range h - len(rows) {
		out = append(out, "")
	}
	out = append(out, m.bottom()...)
	return append(out, m.help(m.width, keys))
}
