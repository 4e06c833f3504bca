package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// printable wraps w so that text agents wrote (commit subjects, messages, blockers, test
// output, their conversation) cannot drive the reader's terminal: control characters other
// than newline and tab are shown as escapes (ESC as \x1b) instead of being sent as they are.
// JSON needs none of it: encoding/json escapes them itself.
func printable(w io.Writer) io.Writer { return printableWriter{w} }

type printableWriter struct{ w io.Writer }

func (p printableWriter) Write(b []byte) (int, error) {
	if !needsEscape(b) {
		return p.w.Write(b)
	}
	n := len(b)
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size == 1:
			sb.WriteByte(b[0]) // not UTF-8: passed on as it is
		case r == '\n' || r == '\t':
			sb.WriteRune(r)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	if _, err := io.WriteString(p.w, sb.String()); err != nil {
		return 0, err
	}
	return n, nil
}

func needsEscape(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c == 0xc2 {
			return true // 0xc2 starts the C1 controls U+0080–U+009F (and other runes: checked above)
		}
	}
	return false
}
