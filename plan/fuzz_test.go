package plan_test

import (
	"errors"
	"testing"

	"github.com/teamctl/teamctl/plan"
)

// FuzzParse checks that no input crashes the parser and that every failure is the
// located, ErrInvalid-matching Errors the CLI prints and maps to exit code 2.
func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte(head + alice))
	f.Add([]byte(""))
	f.Add([]byte("version: 1\nteam: t\nagents: [{name: a, command: [x], tasks: [{id: a, prompt: p, after: [a]}]}]\n"))
	f.Add([]byte("a: &x [*x, *x]\nb: {<<: *x}\n---\nc: 1\n"))
	f.Add([]byte("version: 1\nteam: t\ndefaults: {command: [\"{{\"], timeout: -1s, nudge: {idle: x}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := plan.Parse("fuzz.yaml", data)
		if err == nil {
			if p == nil || p.Version != 1 || !plan.ValidName(p.Team) || p.Leader.Env == nil {
				t.Fatalf("a valid plan must be complete: %+v", p)
			}
			return
		}
		if !errors.Is(err, plan.ErrInvalid) {
			t.Fatalf("error does not match ErrInvalid: %v", err)
		}
		var es plan.Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is %T, want non-empty plan.Errors", err)
		}
		for _, e := range es {
			if e.Line < 1 || e.Col < 1 || e.File != "fuzz.yaml" || e.Msg == "" {
				t.Fatalf("badly located error: %+v", e)
			}
		}
	})
}
