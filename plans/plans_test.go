package plans

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestStarter(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("starter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := Starter()
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("Starter() is %d bytes, not starter.yaml's %d", len(got), len(want))
	}
	// The caller's own: changing it changes nothing for the next caller.
	got[0] = '!'
	if again := Starter(); !bytes.Equal(again, want) {
		t.Errorf("after changing what Starter() returned, it returns %q…", again[:20])
	}
}

// TestMustReadPanicsOnABrokenBuild checks that a file the go:embed line does not name
// panics, saying which, instead of giving an empty plan as the old ignored error did.
func TestMustReadPanicsOnABrokenBuild(t *testing.T) {
	t.Parallel()
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "missing.yaml is not embedded") {
			t.Errorf("mustRead of a file not embedded: recovered %v, want a panic naming it", r)
		}
	}()
	mustRead("missing.yaml")
	t.Error("mustRead of a file not embedded returned")
}
