package orchestrator

import (
	"slices"
	"testing"

	"github.com/teamctl/teamctl/plan"
)

// settingsDiff names every changed setting by its plan key, with its values, except an
// env: value, which may be a credential.
func TestSettingsDiff(t *testing.T) {
	t.Parallel()
	parse := func(yaml string) *plan.Plan {
		t.Helper()
		p, err := plan.Parse("plan.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := parse(`version: 1
team: t
test: go test ./...
defaults: {command: [dev], env: {ANTHROPIC_API_KEY: sk-old, KEEP: same}}
agents:
  - {name: alice, budget: {usd: 1}, tasks: [{id: a, prompt: p}]}
`)
	edited := parse(`version: 1
team: t
test: go test -race ./...
merge: {batch: 4}
limits: {stagger: 5s}
defaults: {command: [dev], env: {ANTHROPIC_API_KEY: sk-new, KEEP: same, NEW: x}, retries: 0}
agents:
  - {name: alice, budget: {usd: 5}, tasks: [{id: a, prompt: p}]}
`)
	got := settingsDiff(old, edited)
	want := []string{
		"~ agents.alice.budget.usd: 1 → 5",
		"~ agents.alice.env.ANTHROPIC_API_KEY: changed",
		"~ agents.alice.env.NEW: set",
		"~ agents.alice.retries: 1 → 0",
		"~ limits.stagger: 2s → 5s",
		"~ merge.batch: 8 → 4",
		`~ test: "go test ./..." → "go test -race ./..."`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%q\nwant:\n%q", got, want)
	}
	if d := settingsDiff(old, old); len(d) != 0 {
		t.Errorf("a plan against itself: %q", d)
	}
}
