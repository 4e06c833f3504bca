package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestBlockers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste") // task docs (bob) is blocked
	b1, err := s.RaiseBlocker(ctx, Blocker{Team: "paste", Agent: "bob", Task: "docs", Text: "which license?"})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := s.RaiseBlocker(ctx, Blocker{Team: "paste", Agent: "alice", Task: "parser", Text: "need an API key", Human: true})
	if err != nil {
		t.Fatal(err)
	}
	if b1.ID == 0 || b2.ID <= b1.ID || b1.State != BlockerOpen || b1.Created.IsZero() {
		t.Errorf("raised %+v, %+v", b1, b2)
	}
	open, err := s.OpenBlockers(ctx, "paste")
	if err != nil || len(open) != 2 || open[0].ID != b2.ID {
		t.Errorf("OpenBlockers = %+v, %v; want both, the human one first", open, err)
	}

	esc, err := s.EscalateBlocker(ctx, "paste", b1.ID, "lead")
	if err != nil || esc.State != BlockerEscalated || !esc.Human || esc.Escalated.IsZero() {
		t.Errorf("EscalateBlocker = %+v, %v", esc, err)
	}
	if err := s.MarkBlockerNotified(ctx, "paste", b1.ID); err != nil {
		t.Fatal(err)
	}
	ans, err := s.AnswerBlocker(ctx, "paste", b1.ID, "human", "MIT")
	if err != nil || ans.State != BlockerAnswered || ans.Answer != "MIT" || ans.AnsweredBy != "human" {
		t.Errorf("AnswerBlocker = %+v, %v", ans, err)
	}
	if _, err := s.AnswerBlocker(ctx, "paste", b1.ID, "human", "GPL"); !errors.Is(err, ErrAnswered) {
		t.Errorf("second answer = %v, want ErrAnswered", err)
	}
	if _, err := s.EscalateBlocker(ctx, "paste", b1.ID, "lead"); !errors.Is(err, ErrAnswered) {
		t.Errorf("escalating an answered blocker = %v, want ErrAnswered", err)
	}
	if _, err := s.AnswerBlocker(ctx, "paste", 999, "human", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("answer to no blocker = %v, want ErrNotFound", err)
	}
	// The blocked task is marked for a relaunch with the answer, durably, with no supervisor.
	if task, err := s.Task(ctx, "paste", "docs"); err != nil || task.Reason != "answer" || task.State != "blocked" {
		t.Errorf("task docs after the answer = %+v, %v", task, err)
	}
	pending, err := s.AnsweredBlockers(ctx, "paste")
	if err != nil || len(pending) != 1 || pending[0].ID != b1.ID {
		t.Fatalf("AnsweredBlockers = %+v, %v", pending, err)
	}
	if err := s.MarkBlockerDelivered(ctx, "paste", b1.ID); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.AnsweredBlockers(ctx, "paste"); err != nil || len(pending) != 0 {
		t.Errorf("AnsweredBlockers after delivery = %+v, %v", pending, err)
	}
	got, err := s.Blocker(ctx, "paste", b1.ID)
	if err != nil || got.Notified.IsZero() || got.Delivered.IsZero() {
		t.Errorf("Blocker = %+v, %v", got, err)
	}
	var kinds []string
	events, _ := s.EventsOfKinds(ctx, "paste", []string{"blocker.raised", "blocker.escalated", "blocker.answered", "blocker.notified", "blocker.delivered"}, 0)
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"blocker.raised", "blocker.raised", "blocker.escalated", "blocker.notified", "blocker.answered", "blocker.delivered"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("journal = %v, want %v", kinds, want)
	}
}

func TestIntentsAndReports(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	for _, in := range []Intent{
		{Team: "paste", Agent: "alice", Task: "parser", Text: "split the lexer", Files: []string{"src/lex.go"}},
		{Team: "paste", Agent: "bob", Text: "read the docs"},
	} {
		if _, err := s.RecordIntent(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	ins, err := s.Intents(ctx, "paste", 0)
	if err != nil || len(ins) != 2 || !reflect.DeepEqual(ins[0].Files, []string{"src/lex.go"}) || ins[1].Files != nil {
		t.Errorf("Intents = %+v, %v", ins, err)
	}
	before, err := s.Task(ctx, "paste", "parser")
	if err != nil {
		t.Fatal(err)
	}
	task, err := s.ReportDone(ctx, "paste", "parser", "alice", "## Summary\nparser done")
	if err != nil || task.Summary != "## Summary\nparser done" {
		t.Errorf("ReportDone = %+v, %v", task, err)
	}
	after, err := s.Task(ctx, "paste", "parser")
	if err != nil || after.Summary != task.Summary || !after.Updated.Equal(before.Updated) || after.State != before.State {
		t.Errorf("task after the report = %+v; want the summary, state and updated time unchanged", after)
	}
	if _, err := s.ReportDone(ctx, "paste", "nope", "alice", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReportDone on no task = %v, want ErrNotFound", err)
	}
}
