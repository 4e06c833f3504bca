package agentproc_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
)

// The follower returns the conversation as the log grows, line by line, each part once:
// what it read in pieces is the render of the whole log.
func TestTranscriptReaderFollowsTheLog(t *testing.T) {
	whole, err := os.ReadFile(filepath.Join("testdata", "claude.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(whole, []byte("\n"))
	path := filepath.Join(t.TempDir(), "alice.log")
	r := agentproc.NewTranscriptReader("claude", path)
	var got bytes.Buffer
	readAll := func() {
		t.Helper()
		buf := make([]byte, 100) // small reads: the rest waits for the next one
		for {
			n, err := r.Read(buf)
			got.Write(buf[:n])
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	readAll() // no log yet: nothing, no error
	if got.Len() != 0 {
		t.Fatalf("before any launch: %q", got.String())
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.Write(l); err != nil {
			t.Fatal(err)
		}
		readAll()
	}
	var want bytes.Buffer
	tr := readFixture(t, "claude")
	if err := tr.Render(&want, agentproc.RenderOptions{Live: true}); err != nil {
		t.Fatal(err)
	}
	// Read a line at a time, it is the live render of the whole log, nothing twice.
	if got.String() != want.String() {
		t.Errorf("followed:\n%s\nwant:\n%s", got.String(), want.String())
	}
	for _, s := range []string{"launch 1", "launch 2", "▸ Bash", "done 1", "All done.", "$0.1015"} {
		if !strings.Contains(got.String(), s) {
			t.Errorf("%q not shown", s)
		}
	}
	readAll() // nothing new
	n := got.Len()
	readAll()
	if got.Len() != n {
		t.Errorf("a read with no new output returned %q", got.String()[n:])
	}
}
