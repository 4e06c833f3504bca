package shorten

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"short enough", "hello", 5, "hello"},
		{"cut", "hello world", 6, "hello…"},
		{"empty", "", 3, ""},
		{"max 1 keeps only the mark", "hello", 1, "…"},
		{"max 0 leaves nothing", "hello", 0, ""},
		{"negative max leaves nothing", "hello", -1, ""},
		{"multi-byte fits by runes, not bytes", "ünïcödé", 7, "ünïcödé"},
		{"multi-byte cut on a rune", "ünïcödé", 4, "ünï…"},
		{"three-byte runes", "日本語のテキスト", 4, "日本語…"},
		{"four-byte runes", "🙂🙂🙂🙂", 3, "🙂🙂…"},
		{"line breaks stay", "a\nb\nc\nd", 4, "a\nb…"},
		{"invalid bytes are kept as they are", "\xff\xfeabc", 3, "\xff\xfe…"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Text(c.in, c.max)
			if got != c.want {
				t.Errorf("Text(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if n := utf8.RuneCountInString(got); c.max >= 0 && n > c.max {
				t.Errorf("Text(%q, %d) is %d runes long", c.in, c.max, n)
			}
		})
	}
}

func TestLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100)
	for _, c := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"folds white space", "  a\n\tb   c \r\n", 10, "a b c"},
		{"folds before cutting", "a\n\n\nb\n\n\nc", 5, "a b c"},
		{"cut after folding", "one\ntwo three", 8, "one two…"},
		{"long multi-byte text", long, 70, strings.Repeat("é", 69) + "…"},
		{"mixed widths", "ab — ça va? 日本", 9, "ab — ça …"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Line(c.in, c.max)
			if got != c.want {
				t.Errorf("Line(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Line(%q, %d) = %q: not valid UTF-8", c.in, c.max, got)
			}
		})
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"one", "one"},
		{" a  b\n\nc\t", "a b c"},
		{"ünï\ncödé", "ünï cödé"},
		{strings.Repeat("long ", 100), strings.TrimSpace(strings.Repeat("long ", 100))}, // never cut
	} {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"one line", "one line"},
		{"subject\n\nbody", "subject"},
		{"\n\n  after blank lines\nsecond", "after blank lines"},
		{"FAIL: héllo wörld\n--- more", "FAIL: héllo wörld"},
		{"日本語\n二行目", "日本語"},
	} {
		if got := FirstLine(c.in); got != c.want {
			t.Errorf("FirstLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in       string
		n        int
		want     string
		wantMore int
	}{
		{"a\nb\nc", 3, "a\nb\nc", 0},
		{"a\nb\nc", 5, "a\nb\nc", 0},
		{"a\nb\nc\nd", 2, "a\nb", 2},
		{"ünï\ncödé\n日本", 1, "ünï", 2},
		{"", 1, "", 0},
	} {
		got, more := Lines(c.in, c.n)
		if got != c.want || more != c.wantMore {
			t.Errorf("Lines(%q, %d) = %q, %d; want %q, %d", c.in, c.n, got, more, c.want, c.wantMore)
		}
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"abc123", "abc123"},
		{"0123456789", "0123456789"},
		{"0123456789abcdef0123456789abcdef01234567", "0123456789"},
	} {
		if got := Hash(c.in); got != c.want {
			t.Errorf("Hash(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
