package dashboard

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// maxLines is how many lines a pager keeps: a conversation followed for hours drops its
// oldest lines rather than grow without end (the whole log stays on disk).
const maxLines = 10000

// pager is a scrollable text: a conversation that grows while it is read (following its
// end unless the person scrolled up), or the review. Lines are wrapped to the width in
// Update, when text arrives or the terminal resizes, so View only slices.
type pager struct {
	lines   []string // complete lines, sanitized
	partial string   // the line still being written, raw
	follow  bool     // keep the end in view
	top     int      // first row shown when not following
	width   int      // rows are wrapped to this
	rows    []string // lines wrapped to width
	wrapped int      // lines[:wrapped] are in rows
}

func newPager(follow bool) pager { return pager{follow: follow} }

// write appends output as it arrives: it may end in the middle of a line.
func (p *pager) write(b []byte) {
	s := p.partial + string(b)
	parts := strings.Split(s, "\n")
	p.partial = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		p.lines = append(p.lines, sanitize(l))
	}
	if len(p.lines) > maxLines+maxLines/5 {
		// Drop in batches: every drop rewraps everything.
		p.lines = append([]string(nil), p.lines[len(p.lines)-maxLines:]...)
		p.rows, p.wrapped = nil, 0
	}
	p.wrap(p.width)
}

// setText replaces the whole text.
func (p *pager) setText(s string) {
	p.lines, p.partial, p.rows, p.wrapped, p.top = nil, "", nil, 0, 0
	p.write([]byte(strings.TrimRight(s, "\n") + "\n"))
}

// wrap brings rows up to date for width w: only new lines, unless w changed.
func (p *pager) wrap(w int) {
	if w <= 0 {
		return
	}
	if w != p.width {
		p.width, p.rows, p.wrapped = w, nil, 0
	}
	for _, l := range p.lines[p.wrapped:] {
		p.rows = append(p.rows, wrapLine(l, w)...)
	}
	p.wrapped = len(p.lines)
}

func wrapLine(l string, w int) []string {
	if width(l) <= w {
		return []string{l}
	}
	return strings.Split(ansi.Hardwrap(l, w, true), "\n")
}

// all is every row, the partial line's included.
func (p *pager) all() []string {
	if p.partial == "" || p.width <= 0 {
		return p.rows
	}
	return append(p.rows[:len(p.rows):len(p.rows)], wrapLine(sanitize(p.partial), p.width)...)
}

// window is the first row to show and the rows, for a body of height rows.
func (p *pager) window(height int) (int, []string) {
	rows := p.all()
	top := p.top
	if p.follow || top > len(rows)-height {
		top = len(rows) - height
	}
	top = max(top, 0)
	return top, rows[top:min(top+height, len(rows))]
}

// scroll moves by delta rows (negative: up). Scrolling up stops following; reaching the
// end starts again.
func (p *pager) scroll(delta, height int) {
	top, _ := p.window(height)
	top += delta
	end := max(len(p.all())-height, 0)
	p.top = min(max(top, 0), end)
	p.follow = p.top == end && delta > 0
	if delta < 0 {
		p.follow = false
	}
}

func (p *pager) home() { p.top, p.follow = 0, false }
func (p *pager) end()  { p.follow = true }
