package store

import (
	"reflect"
	"testing"
)

func TestWarnings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	kinds := func() []string {
		t.Helper()
		evs, err := s.EventsOfKinds(ctx, "paste", []string{"conflict.warning", "conflict.cleared"}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.Kind+" "+e.Agent)
		}
		return out
	}
	ab := Warning{A: "alice", B: "bob", Files: []string{"a.go"}}
	lead := Warning{A: "bob", Files: []string{"go.mod"}}
	fresh, err := s.SetWarnings(ctx, "paste", []Warning{ab, lead})
	if err != nil || len(fresh) != 2 {
		t.Fatalf("first set: fresh %+v, %v; want both", fresh, err)
	}
	// The same set again: nothing new, nothing journalled, the first time kept.
	first, _ := s.Warnings(ctx, "paste")
	if fresh, err = s.SetWarnings(ctx, "paste", []Warning{lead, ab}); err != nil || len(fresh) != 0 {
		t.Errorf("same set: fresh %+v, %v; want none", fresh, err)
	}
	again, _ := s.Warnings(ctx, "paste")
	if !reflect.DeepEqual(first, again) || len(again) != 2 || again[0].A != "alice" || again[0].B != "bob" || again[1].B != "" {
		t.Errorf("Warnings = %+v, then %+v", first, again)
	}
	// alice–bob now also conflicts in b.go: new again; bob alone is gone: cleared.
	ab.Files = []string{"a.go", "b.go"}
	if fresh, err = s.SetWarnings(ctx, "paste", []Warning{ab}); err != nil || len(fresh) != 1 || !reflect.DeepEqual(fresh[0].Files, ab.Files) {
		t.Errorf("changed files: fresh %+v, %v", fresh, err)
	}
	if _, err := s.SetWarnings(ctx, "paste", nil); err != nil {
		t.Fatal(err)
	}
	if ws, err := s.Warnings(ctx, "paste"); err != nil || len(ws) != 0 {
		t.Errorf("after clearing: %+v, %v", ws, err)
	}
	want := []string{"conflict.warning alice", "conflict.warning bob", "conflict.warning alice", "conflict.cleared bob", "conflict.cleared alice"}
	if got := kinds(); !reflect.DeepEqual(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
}
