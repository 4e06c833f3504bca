package orchestrator_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/plan"
)

// TestSandboxModes: a supervisor that cannot confine its agents (here: one given no relay,
// as on a kernel without Landlock) says so at the start of the run unless the plan says
// sandbox: {mode: off}; with mode: landlock it refuses to start, at the plan's position,
// and makes nothing. The confined runs themselves are cmd/teamctl's tests (confined.txtar).
func TestSandboxModes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, sandbox, warn, how string }{
		{"default", "", "agents are NOT confined", "no relay"},
		{"off", "sandbox: {mode: off}\n", "", "the plan says sandbox: {mode: off}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			a := f.agent("a", `echo a > src/a.txt && git add -A && git commit -qm a`)
			if err := f.run(f.load(header + c.sandbox + fmt.Sprintf("agents:\n  - {name: a, command: ['%s'], tasks: [{id: a, prompt: p}]}\n", a))); err != nil {
				t.Fatalf("run: %v\n%s", err, f.logs.String())
			}
			if got := strings.Contains(f.logs.String(), "agents are NOT confined"); got != (c.warn != "") {
				t.Errorf("warned: %v, want %v; log:\n%s", got, c.warn != "", f.logs.String())
			}
			// status says how they ran.
			st, err := f.workspace().Status(t.Context(), "t")
			if err != nil {
				t.Fatal(err)
			}
			if st.Confinement == nil || st.Confinement.Confined || !strings.Contains(st.Confinement.How, c.how) {
				t.Errorf("status's confinement = %+v, want not confined, %q", st.Confinement, c.how)
			}
		})
	}
	t.Run("landlock", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		err := f.run(f.load(header + "sandbox: {mode: landlock}\nagents:\n  - {name: a, command: [x], tasks: [{id: a, prompt: p}]}\n"))
		if !errors.Is(err, plan.ErrInvalid) || !strings.Contains(err.Error(), "team.yaml:7:") || !strings.Contains(err.Error(), "sandbox.mode is landlock, but") {
			t.Fatalf("run with mode: landlock and no confinement = %v, want the plan's error at sandbox.mode", err)
		}
		if got := f.git("for-each-ref", "refs/heads/teamctl"); got != "" {
			t.Errorf("branches made: %s", got)
		}
		if _, err := f.workspace().Status(t.Context(), "t"); err == nil {
			t.Error("a team was recorded")
		}
	})
}
