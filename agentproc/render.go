package agentproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/teamctl/teamctl/internal/shorten"
)

// RenderOptions shape the text form of a transcript.
type RenderOptions struct {
	// MaxOutputLines cuts each tool result to its first lines (0: 12); the log has it whole.
	MaxOutputLines int
	// Live renders a log still being written so that more output only adds lines at the
	// end: a launch's session and figures once it has ended, no closing status line, no "running"
	// mark under a tool call (its result follows when it comes).
	Live bool
}

// Render writes the transcript as a person reads it: launch by launch, the prompt, the
// assistant's words, each tool call with its input and result, errors, the result and
// its cost.
func (t Transcript) Render(w io.Writer, opts RenderOptions) error {
	if opts.MaxOutputLines <= 0 {
		opts.MaxOutputLines = 12
	}
	ew := &errWriter{w: w}
	n := 0
	for _, l := range t.Launches {
		head := "── setup"
		if !l.Setup {
			n++
			head = fmt.Sprintf("── launch %d", n)
		}
		if l.Header != "" {
			head += ": " + l.Header
		}
		ew.printf("%s\n", head)
		if l.SessionID != "" && !opts.Live {
			ew.printf("   session %s\n", l.SessionID)
		}
		for _, e := range l.Entries {
			renderEntry(ew, e, opts)
		}
		if opts.Live && l.Ended == "" {
			continue // its session and figures come with its end
		}
		if l.SessionID != "" && opts.Live {
			ew.printf("   session %s\n", l.SessionID)
		}
		ew.printf("   [%s%s]\n\n", l.Status.String(), usageText(l.Usage))
	}
	if opts.Live {
		return ew.err
	}
	total := fmt.Sprintf("status: %s", t.Status.String())
	if n > 1 {
		total += fmt.Sprintf(" · %d launches", n)
	}
	ew.printf("%s%s\n", total, usageText(t.Usage))
	return ew.err
}

func renderEntry(ew *errWriter, e Entry, opts RenderOptions) {
	switch e.Kind {
	case KindPrompt:
		ew.printf("%s\n", indent("> ", firstLines(e.Text, 6)))
	case KindText:
		ew.printf("%s\n", indent("  ", e.Text))
	case KindTool:
		tc := e.Tool
		ew.printf("  ▸ %s %s\n", tc.Name, shorten.Line(toolSummary(tc.Input), 200))
		switch {
		case !tc.Done && opts.Live:
		case !tc.Done:
			ew.printf("    … running\n")
		case tc.Output != "":
			mark := "    "
			if tc.IsError {
				mark = "  ✗ "
			}
			ew.printf("%s\n", indent(mark, firstLines(tc.Output, opts.MaxOutputLines)))
		case tc.IsError:
			ew.printf("  ✗ failed\n")
		}
	case KindError:
		ew.printf("  ✗ %s\n", e.Text)
	case KindResult:
		if e.Text != "" {
			ew.printf("%s\n", indent("  = ", e.Text))
		}
	case KindOutput:
		ew.printf("  | %s\n", e.Text)
	case KindNote:
		ew.printf("   %s\n", e.Text)
	}
}

func (s Status) String() string {
	if s == StatusNone {
		return "not launched"
	}
	return string(s)
}

func usageText(u Usage) string {
	if u == (Usage{}) {
		return ""
	}
	s := fmt.Sprintf(" · %d tokens in, %d out", u.InputTokens, u.OutputTokens)
	if u.CostUSD > 0 {
		s += fmt.Sprintf(" · $%.4f", u.CostUSD)
	}
	return s
}

// toolSummary is what a person needs of a tool's input: the command a shell tool ran,
// the file a file tool touched; anything else as it came.
func toolSummary(input string) string {
	var m map[string]any
	if json.Unmarshal([]byte(input), &m) != nil {
		return input
	}
	if c, ok := m["command"].(string); ok {
		return c
	}
	for _, k := range []string{"file_path", "filePath", "path"} {
		if p, ok := m[k].(string); ok {
			if c, ok := m["content"].(string); ok {
				return fmt.Sprintf("%s (%d lines)", p, strings.Count(strings.TrimRight(c, "\n"), "\n")+1)
			}
			return p
		}
	}
	return input
}

// firstLines is s's first n lines, saying how many more the log holds.
func firstLines(s string, n int) string {
	head, more := shorten.Lines(s, n)
	if more == 0 {
		return head
	}
	return head + fmt.Sprintf("\n… %d more lines (teamctl logs --raw shows all)", more)
}

// indent puts first before the first line and as many spaces before the others.
func indent(first, s string) string {
	pad := strings.Repeat(" ", len([]rune(first)))
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		if i == 0 {
			lines[i] = first + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// errWriter keeps the first write error, so Render checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// LastWords is what an agent of preset did last, in one line, read from the end of its log
// (tail, whose first line may be cut): the assistant's words, a tool call, an error or the
// result, as `teamctl logs` shows them; "" when the tail holds none of these.
func LastWords(preset string, tail []byte) string {
	if i := bytes.IndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:] // a line cut at the window's start is no JSON
	}
	tr, err := ParseTranscript(preset, bytes.NewReader(tail))
	if err != nil || len(tr.Launches) == 0 {
		return ""
	}
	es := tr.Launches[len(tr.Launches)-1].Entries
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		switch e.Kind {
		case KindText:
			return shorten.Line(e.Text, 200)
		case KindTool:
			return "▸ " + e.Tool.Name + " " + shorten.Line(toolSummary(e.Tool.Input), 200)
		case KindError:
			return "✗ " + shorten.Line(e.Text, 200)
		case KindResult:
			return "= " + shorten.Line(e.Text, 200)
		}
	}
	return ""
}
