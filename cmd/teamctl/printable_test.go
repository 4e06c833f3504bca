package main

import (
	"bytes"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text\nand a tab\t", "plain text\nand a tab\t"},
		{"red \x1b[31mtext\x1b[0m", `red \x1b[31mtext\x1b[0m`},
		{"title \x1b]0;pwned\x07 bell", `title \x1b]0;pwned\x07 bell`},
		{"over\rwrite", `over\x0dwrite`},
		{"c1 \u009b31m csi", `c1 \x9b31m csi`},
		{"ünïcödé — fine", "ünïcödé — fine"},
		{"bad utf-8 \xff kept", "bad utf-8 \xff kept"},
	} {
		var b bytes.Buffer
		n, err := printable(&b).Write([]byte(c.in))
		if err != nil || n != len(c.in) || b.String() != c.want {
			t.Errorf("printable(%q) wrote %q (n %d, err %v), want %q", c.in, b.String(), n, err, c.want)
		}
	}
}
