package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A pause is made once and journalled; made longer, journalled again; its probe's start
// is not; its end is journalled with how long it lasted; and it goes with its team.
func TestPauses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	seed(t, s, "t")
	until := now().Add(time.Minute)
	set := func(change func(p *Pause, ok bool) bool) Pause {
		t.Helper()
		p, err := s.SetPause(ctx, "t", "claude:abc", change)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	limited := func() int {
		ev, err := s.EventsOfKinds(ctx, "t", []string{"provider.limited"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	p := set(func(p *Pause, ok bool) bool {
		if ok {
			t.Error("a pause before any was set")
		}
		p.Label, p.Kind, p.Why, p.Until = "claude", "limit", "429", until
		return true
	})
	if p.State != PausePaused || !p.Until.Equal(until) || limited() != 1 {
		t.Fatalf("made %+v, %d journalled: want paused until %v, once", p, limited(), until)
	}
	set(func(p *Pause, ok bool) bool { return false }) // kept as it is
	set(func(p *Pause, ok bool) bool { p.Why = "again"; return true })
	if limited() != 1 {
		t.Errorf("a pause neither longer nor new was journalled")
	}
	set(func(p *Pause, ok bool) bool { p.State, p.Probe = PauseProbing, "alice"; return true })
	if limited() != 1 {
		t.Errorf("a probe's start was journalled as a limit")
	}
	p = set(func(p *Pause, ok bool) bool {
		p.State, p.Probe, p.Until, p.Level = PausePaused, "", until.Add(time.Hour), 1
		return true
	})
	if limited() != 2 || p.Level != 1 {
		t.Errorf("the probe met the limit again: %d journalled, level %d; want 2, 1", limited(), p.Level)
	}
	ps, err := s.Pauses(ctx, "t")
	if err != nil || len(ps) != 1 || ps[0].Why != "again" || !ps[0].Until.Equal(until.Add(time.Hour)) {
		t.Fatalf("pauses %+v, %v", ps, err)
	}
	if err := s.EndPause(ctx, "t", "claude:abc", "the probe's calls go through"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pause(ctx, "t", "claude:abc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after its end: %v, want ErrNotFound", err)
	}
	ev, _ := s.EventsOfKinds(ctx, "t", []string{"provider.resumed"}, 0)
	if len(ev) != 1 || !strings.Contains(ev[0].Data, `"label":"claude"`) || !strings.Contains(ev[0].Data, "go through") {
		t.Errorf("resumed events %+v", ev)
	}
	if err := s.EndPause(ctx, "t", "claude:abc", "twice"); err != nil {
		t.Errorf("ending a pause that is not there: %v", err)
	}
	set(func(p *Pause, ok bool) bool { p.Until = until; return true })
	if err := s.DeleteTeam(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.Pauses(ctx, "t"); len(ps) != 0 {
		t.Errorf("pauses outlived their team: %+v", ps)
	}
	if _, err := s.SetPause(ctx, "nope", "x", func(*Pause, bool) bool { return true }); !errors.Is(err, ErrNotFound) {
		t.Errorf("a pause for no team: %v", err)
	}
}

// ApplyPlan records a plan change whole or not at all.
func TestApplyPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	seed(t, s, "t")
	err := s.ApplyPlan(ctx, "t", PlanChange{PlanJSON: `{"new":1}`,
		Agents:  []Agent{{Name: "carol", Role: "dev", Branch: "teamctl/t/carol/work", Worktree: "/wt/carol", State: "idle"}},
		Tasks:   []Task{{ID: "ui", Agent: "carol", Prompt: "Write the UI."}},
		Cancel:  map[string]string{"cli": "removed"},
		Prompts: map[string]string{"parser": "Write a better parser."},
		After:   map[string][]string{"docs": {"parser"}},
		Diff:    "+ task ui (carol)"})
	if err != nil {
		t.Fatal(err)
	}
	team, _ := s.Team(ctx, "t")
	ui, err1 := s.Task(ctx, "t", "ui")
	cli, _ := s.Task(ctx, "t", "cli")
	parser, _ := s.Task(ctx, "t", "parser")
	docs, _ := s.Task(ctx, "t", "docs")
	_, err2 := s.Agent(ctx, "t", "carol")
	if team.PlanJSON != `{"new":1}` || err1 != nil || err2 != nil || ui.State != "pending" || ui.Seq <= docs.Seq ||
		cli.Cancel != "removed" || cli.State != "pending" || parser.Prompt != "Write a better parser." || len(docs.After) != 1 {
		t.Errorf("after apply: plan %s, ui %+v (%v), carol %v, cli %+v, parser %q, docs after %v", team.PlanJSON, ui, err1, err2, cli, parser.Prompt, docs.After)
	}
	if ev, _ := s.EventsOfKinds(ctx, "t", []string{"plan.applied"}, 0); len(ev) != 1 || !strings.Contains(ev[0].Data, "task ui") {
		t.Errorf("journal: %+v", ev)
	}
	// A change with a duplicate task fails and leaves everything as it was.
	err = s.ApplyPlan(ctx, "t", PlanChange{PlanJSON: `{"newer":1}`,
		Agents: []Agent{{Name: "dave", Role: "dev"}}, Tasks: []Task{{ID: "ui", Agent: "dave"}}})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate task: %v, want ErrExists", err)
	}
	team, _ = s.Team(ctx, "t")
	if _, err := s.Agent(ctx, "t", "dave"); !errors.Is(err, ErrNotFound) || team.PlanJSON != `{"new":1}` {
		t.Errorf("a failed apply left dave (%v) or its plan (%s)", err, team.PlanJSON)
	}
}
