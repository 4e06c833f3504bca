package agentproc

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A launch can end because of the agent's provider rather than the agent: the model API
// said "limit", was overloaded past the CLI's own retries, refused the credentials, or
// could not be reached (DESIGN.md §10). Each parser notes what its CLI's stream says of
// it (builder.fault); a failed launch whose stream said nothing is read once more for the
// words CLIs print (classifyText), and the plan's own patterns (Limits) come first.

// FaultKind is what kind of provider error ended a launch.
type FaultKind string

const (
	FaultLimit    FaultKind = "limit"    // a rate or usage limit: wait until it resets
	FaultOverload FaultKind = "overload" // overloaded or a server error past the CLI's retries: wait a little
	FaultAuth     FaultKind = "auth"     // the credentials were refused: only a person can fix it
	FaultNetwork  FaultKind = "network"  // the API could not be reached: wait a little
)

// Fault is the provider error a launch ended on.
type Fault struct {
	Kind   FaultKind `json:"kind"`
	Status int       `json:"status,omitempty"` // the HTTP status, when the CLI says it
	Text   string    `json:"text"`             // the CLI's own words for it
	// Until is when the provider said the limit resets, when it said (zero otherwise).
	Until time.Time `json:"until,omitzero"`
}

// Words is how a person reads the kind: "usage limit", "overload", ...
func (k FaultKind) Words() string {
	switch k {
	case FaultLimit:
		return "usage limit"
	case FaultOverload:
		return "provider overloaded"
	case FaultAuth:
		return "authentication refused"
	case FaultNetwork:
		return "provider unreachable"
	}
	return string(k)
}

// Waits reports whether a launch that ended on this kind waits for the provider (paused)
// rather than for a person.
func (k FaultKind) Waits() bool { return k == FaultLimit || k == FaultOverload || k == FaultNetwork }

func (f *Fault) String() string {
	s := f.Kind.Words()
	if f.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", f.Status)
	}
	if f.Text != "" {
		s += ": " + f.Text
	}
	return s
}

// Limits are the plan's own words for a provider's errors (`limits:`), for a CLI teamctl
// has no preset for, or words a preset does not know.
type Limits struct {
	Patterns []LimitPattern
}

// LimitPattern is one regular expression over the lines of a failed launch; a match means
// Kind. A named group `until` captures the reset time (a Unix time, an RFC 3339 time, a
// clock time like "3am" or "15:00", or a duration like "5m" or "300s").
type LimitPattern struct {
	Match *regexp.Regexp
	Kind  FaultKind
}

// statusKind is what an HTTP status of a model API means.
func statusKind(status int) (FaultKind, bool) {
	switch {
	case status == 429:
		return FaultLimit, true
	case status == 401 || status == 403:
		return FaultAuth, true
	case status == 529 || status >= 500 && status <= 599:
		return FaultOverload, true
	}
	return "", false
}

// lazyRegexp compiles expr on its first use: an agent's launch runs teamctl's binary (to be
// confined) and should not pay for compiling what it never matches.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var (
	limitWords    = lazyRegexp(`(?i)\b429\b|rate[ _-]?limit|usage limit|hit your (\S+ )?limit|limit reached|quota exceeded|exceeded your( current)? quota|exhausted your (\S+ )?quota|RESOURCE_EXHAUSTED|too many requests`)
	authWords     = lazyRegexp(`(?i)\b40[13]\b|authentication|invalid (x-)?api[ _-]?key|api key not valid|UNAUTHENTICATED|unauthori[sz]ed|please run /login|not logged in|permission_error|forbidden|credit balance is too low`)
	overloadWords = lazyRegexp(`(?i)\b5(29|0[0234])\b|overloaded|internal server error|server_error|service unavailable|bad gateway|UNAVAILABLE|high demand|at capacity`)
	networkWords  = lazyRegexp(`(?i)ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|connection refused|fetch failed|network (error|is unreachable)|unable to connect|could not resolve host|stream disconnected`)
)

// classifyText reads the kind of provider error in a CLI's error text, if it names one.
// Authentication is looked for first: "401 ... rate limit docs" is still a refusal.
func classifyText(text string) (FaultKind, bool) {
	switch {
	case authWords().MatchString(text):
		return FaultAuth, true
	case limitWords().MatchString(text):
		return FaultLimit, true
	case overloadWords().MatchString(text):
		return FaultOverload, true
	case networkWords().MatchString(text):
		return FaultNetwork, true
	}
	return "", false
}

// resetWords finds a reset time in a limit message: claude.ai's "resets 1:39am (UTC)" or
// "resets Dec 5, 11:01pm (UTC)", codex's "try again at Dec 2nd, 2026 1:57 AM", the older
// "usage limit reached|1767243600", "try again in 5.892s", gemini's "retry after 30s".
var (
	resetUnix  = lazyRegexp(`(?i)(?:limit reached|reset[s]?(?: at)?)\s*[|:]?\s*(\d{10})\b`)
	resetClock = lazyRegexp(`(?i)(?:resets?|try again)\s+(?:at\s+)?` +
		`(?:([A-Z][a-z]{2,8})\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4})\s+)?)?` + // a date: Dec 5, / Dec 2nd, 2026
		`(\d{1,2}:\d{2}\s*(?:am|pm)?|\d{1,2}\s*(?:am|pm))\b` + // a time of day, with minutes or am/pm
		`(?:\s*\(([A-Za-z_]+(?:/[A-Za-z_]+)*)\))?`) // the zone
	resetDuration = lazyRegexp(`(?i)(?:try again in|retry after|retry in|retryDelay"?\s*[:=]\s*"?)\s*(\d+(?:\.\d+)?\s*(?:h|m|s|ms|seconds?|minutes?|hours?)(?:\s*\d+(?:\.\d+)?\s*(?:m|s|ms|seconds?|minutes?))*)`)
)

// ParseReset reads when a limit resets from text, relative to now; zero when it does not say.
func ParseReset(text string, now time.Time) time.Time {
	if m := resetUnix().FindStringSubmatch(text); m != nil {
		if sec, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			return time.Unix(sec, 0)
		}
	}
	if m := resetDuration().FindStringSubmatch(text); m != nil {
		if d, ok := parseLooseDuration(m[1]); ok && d > 0 {
			return now.Add(d)
		}
	}
	if m := resetClock().FindStringSubmatch(text); m != nil {
		return clockAt(m[1], m[2], m[3], m[4], m[5], now)
	}
	return time.Time{}
}

// clockAt is the time a message names: on the date month day [year] at clock, in zone,
// or (no date) the next time of day clock after now.
func clockAt(month, day, year, clock, zone string, now time.Time) time.Time {
	next := clockAfter(clock, zone, now)
	if month == "" || next.IsZero() {
		return next
	}
	mon, err := time.Parse("Jan", month[:3])
	d, err2 := strconv.Atoi(day)
	if err != nil || err2 != nil {
		return next
	}
	y := next.Year()
	if year != "" {
		y, _ = strconv.Atoi(year)
	}
	t := time.Date(y, mon.Month(), d, next.Hour(), next.Minute(), 0, 0, next.Location())
	if year == "" && t.Before(now.AddDate(0, 0, -1)) {
		t = t.AddDate(1, 0, 0) // "Jan 2" said in December
	}
	return t
}

var durationPart = lazyRegexp(`(\d+(?:\.\d+)?)\s*([a-z]+)`)

// parseLooseDuration reads "5m30s", "300 seconds", "1.5s", "2 hours".
func parseLooseDuration(s string) (time.Duration, bool) {
	unit := map[string]string{"seconds": "s", "second": "s", "minutes": "m", "minute": "m", "hours": "h", "hour": "h"}
	var b strings.Builder
	for _, f := range durationPart().FindAllStringSubmatch(strings.ToLower(s), -1) {
		u := f[2]
		if v, ok := unit[u]; ok {
			u = v
		}
		b.WriteString(f[1] + u)
	}
	d, err := time.ParseDuration(b.String())
	return d, err == nil
}

// clockAfter is the next time of day clock ("3am", "15:00", "3:30 pm") after now, in zone
// (an IANA name; the local zone when empty or unknown).
func clockAfter(clock, zone string, now time.Time) time.Time {
	loc := time.Local
	if zone != "" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	c := strings.ToLower(strings.ReplaceAll(clock, " ", ""))
	var h, m int
	pm, am := strings.HasSuffix(c, "pm"), strings.HasSuffix(c, "am")
	c = strings.TrimSuffix(strings.TrimSuffix(c, "pm"), "am")
	hh, mm, _ := strings.Cut(c, ":")
	h, err := strconv.Atoi(hh)
	if err != nil {
		return time.Time{}
	}
	if mm != "" {
		if m, err = strconv.Atoi(mm); err != nil {
			return time.Time{}
		}
	}
	switch {
	case pm && h < 12:
		h += 12
	case am && h == 12:
		h = 0
	}
	if h > 23 || m > 59 {
		return time.Time{}
	}
	local := now.In(loc)
	t := time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, loc)
	switch {
	case t.After(now):
	case now.Sub(t) < time.Minute:
		// The minute now is in: a reset seconds away, said to the minute ("try again at
		// 7:44 PM" at 7:44:30), is at the end of that minute, not tomorrow.
		t = t.Add(time.Minute)
	default:
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// fault notes what the stream said of a provider error on this launch. A later, more
// precise report (a status, a reset time) fills in what an earlier one lacked.
func (b *builder) fault(kind FaultKind, status int, text string) {
	b.faultUntil(kind, status, text, time.Time{})
}

// faultUntil is fault with the reset time the stream gave as a time (zero: read it from text).
func (b *builder) faultUntil(kind FaultKind, status int, text string, until time.Time) {
	text = strings.TrimSpace(text)
	if k, ok := statusKind(status); ok {
		kind = k
	}
	if kind == "" {
		return // an error of the request itself (a 400): the agent's, not the provider's
	}
	f := b.cur.Fault
	if f == nil {
		f = &Fault{Kind: kind}
		b.cur.Fault = f
	}
	if status != 0 {
		f.Status, f.Kind = status, kind
	}
	if text != "" && (f.Text == "" || len(text) > len(f.Text)) {
		f.Text = text
	}
	if f.Until.IsZero() {
		f.Until = until
	}
	if f.Until.IsZero() {
		f.Until = ParseReset(text, b.now)
	}
}

// settleFault decides the provider error of a launch that failed: what its stream said;
// else the plan's patterns, then the words CLIs print, over its error lines. A launch
// that did not fail, or that the agent itself ended (a blocker), has none.
func (b *builder) settleFault(l *LaunchLog) {
	if l.Status != StatusError {
		l.Fault = nil
		return
	}
	for _, p := range b.limits.Patterns {
		for _, e := range l.Entries {
			if e.Kind != KindError && e.Kind != KindOutput && e.Kind != KindText {
				continue
			}
			m := p.Match.FindStringSubmatch(e.Text)
			if m == nil {
				continue
			}
			f := &Fault{Kind: p.Kind, Text: e.Text}
			if i := p.Match.SubexpIndex("until"); i > 0 && m[i] != "" {
				f.Until = parseUntil(m[i], b.now)
			}
			l.Fault = f
			return
		}
	}
	if l.Fault != nil || b.plain {
		return
	}
	for i := len(l.Entries) - 1; i >= 0; i-- {
		e := l.Entries[i]
		if e.Kind != KindError {
			continue
		}
		if kind, ok := classifyText(e.Text); ok {
			l.Fault = &Fault{Kind: kind, Text: e.Text, Until: ParseReset(e.Text, b.now)}
			return
		}
	}
}

// parseUntil reads a reset time a plan pattern captured.
func parseUntil(s string, now time.Time) time.Time {
	s = strings.TrimSpace(s)
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil && sec > 1e9 {
		return time.Unix(sec, 0)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if d, ok := parseLooseDuration(s); ok {
		return now.Add(d)
	}
	return clockAfter(s, "", now)
}
