package orchestrator_test

import (
	"os"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/orchestrator"
)

// TestReadmeShowsTheLifecycle keeps the README's "How a task moves" table the lifecycle's
// own (orchestrator/taskstate.go): change one, and this says what the other must read.
func TestReadmeShowsTheLifecycle(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- lifecycle: written by UPDATE_README=1 go test -run TestReadmeShowsTheLifecycle ./orchestrator -->\n", "<!-- end of lifecycle -->"
	before, rest, ok := strings.Cut(string(readme), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README.md has no lifecycle table between %q and %q", begin, end)
	}
	want := before + begin + orchestrator.LifecycleTable() + end + after
	if want == string(readme) {
		return
	}
	if os.Getenv("UPDATE_README") != "" {
		if err := os.WriteFile("../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's lifecycle table differs from orchestrator's (taskstate.go): UPDATE_README=1 go test -run TestReadmeShowsTheLifecycle ./orchestrator rewrites it")
}
