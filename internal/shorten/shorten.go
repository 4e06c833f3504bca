// Package shorten cuts text down to what fits where it is shown: one line of a table, a
// log field, a line of the dashboard. Every cut is by rune, so a cut text stays valid
// UTF-8 whatever language it is in, and is marked with "…".
package shorten

import (
	"strings"
	"unicode/utf8"
)

// ellipsis marks where Text and Line cut. It counts as one rune of their max.
const ellipsis = "…"

// hashLen is how much of a commit hash people are shown: unique in any repository a team
// works on, short enough for a table.
const hashLen = 10

// Text is s cut to at most max runes, the last of them "…" when anything was cut.
// Line breaks stay; max below 1 leaves nothing.
func Text(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max < 1 {
		return ""
	}
	// Slice s after its first max-1 runes rather than going through []rune, so what is
	// kept keeps its bytes (an invalid byte is not turned into U+FFFD).
	end := 0
	for range max - 1 {
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
	}
	return s[:end] + ellipsis
}

// Fold puts s on one line: every run of white space, line breaks included, becomes one
// space, and none is left at either end.
func Fold(s string) string { return strings.Join(strings.Fields(s), " ") }

// Line is s folded onto one line and cut to at most max runes (see Text).
func Line(s string, max int) string { return Text(Fold(s), max) }

// FirstLine is the first line of s with the blank lines and spaces around it trimmed:
// the subject of a commit message, the gist of a test failure.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Lines is the first n lines of s and how many lines it left out (0: s is whole).
func Lines(s string, n int) (head string, more int) {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s, 0
	}
	return strings.Join(lines[:n], "\n"), len(lines) - n
}

// Hash is the short form of a commit hash that teamctl shows everywhere.
func Hash(h string) string {
	if len(h) > hashLen {
		return h[:hashLen]
	}
	return h
}
