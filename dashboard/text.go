package dashboard

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/teamctl/teamctl/internal/shorten"
)

// sanitize makes one line of an agent's output safe to draw inside the dashboard: an
// agent's output holds colours, cursor moves and progress bars redrawn with \r, any of which
// would wreck the screen around it. Escape sequences go, a line overdrawn with \r keeps what
// a terminal would show last, tabs become spaces, other control characters go.
func sanitize(s string) string {
	s = ansi.Strip(strings.ToValidUTF8(s, "?"))
	s = strings.TrimRight(s, "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case isControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError
}

// width is how many terminal cells s takes (escape sequences take none).
func width(s string) int { return ansi.StringWidth(s) }

// clip cuts s to at most w cells, marking the cut with "…".
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// fit is s clipped and padded to exactly w cells.
func fit(s string, w int) string {
	s = clip(s, w)
	if pad := w - width(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// fitRight is s clipped and padded on the left to exactly w cells (numbers).
func fitRight(s string, w int) string {
	s = clip(s, w)
	if pad := w - width(s); pad > 0 {
		s = strings.Repeat(" ", pad) + s
	}
	return s
}

// oneLine folds s (a blocker's text, a refusal's reason) onto one line, sanitized first:
// its lines are drawn beside others, so nothing in it may move the cursor. It is not cut:
// fit and clip cut it to the cells it gets.
func oneLine(s string) string { return shorten.Fold(sanitizeAll(s)) }

// sanitizeAll sanitizes every line of s and joins them with newlines.
func sanitizeAll(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = sanitize(l)
	}
	return strings.Join(lines, "\n")
}

// ago is a short duration for a column of at most 5 cells: 42s, 12m, 3h5m, 2d4h.
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	case d < 100*24*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
	return ">99d"
}

// count is a count for a column: "-" when unknown.
func count(n int) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// cost is an agent's cost for a column: "~$0.04" when some of it is an estimate.
func cost(usd float64, estimated bool) string {
	switch {
	case usd < 0:
		return "-"
	case estimated:
		return fmt.Sprintf("~$%.2f", usd)
	}
	return fmt.Sprintf("$%.2f", usd)
}
