package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/teamctl/teamctl/store"
)

// The task lifecycle (DESIGN.md §9) in one place: the states, the one table of edges
// between them, and the one function every change of a task's state goes through (move).
// The decisions that pick the next state live in decide.go; this file only says which
// moves exist and what entering a state means.

// TaskState is the state of a task (DESIGN.md §7). The store keeps it as its string.
type TaskState string

// Task states.
const (
	Pending     TaskState = "pending"
	Running     TaskState = "running"
	Nudging     TaskState = "nudging"
	Paused      TaskState = "paused" // waits on its agent's provider (a limit), until a time
	Queued      TaskState = "queued"
	Merging     TaskState = "merging"
	Merged      TaskState = "merged"
	Done        TaskState = "done"
	Conflict    TaskState = "conflict"
	TestsFailed TaskState = "tests-failed"
	Blocked     TaskState = "blocked"
	Failed      TaskState = "failed"
	Cancelled   TaskState = "cancelled" // an edited plan dropped it (apply)
)

func (s TaskState) String() string { return string(s) }

// Finished reports whether a task in this state is over and satisfies `after:` (no task of
// a plan comes after a cancelled one: apply checks the plan it leaves).
func (s TaskState) Finished() bool { return s == Merged || s == Done || s == Cancelled }

// WaitsOnHuman reports whether a task in this state moves on only once someone (the leader
// agent or a person) answers the blocker raised for it.
func (s TaskState) WaitsOnHuman() bool {
	switch s {
	case Conflict, TestsFailed, Blocked, Failed:
		return true
	}
	return false
}

// stateOf is the state of a task as the store holds it.
func stateOf(t store.Task) TaskState { return TaskState(t.State) }

// edge is one move the lifecycle allows, with what makes it (for the README's table).
type edge struct {
	from, to TaskState
	by       string
}

// edges is the lifecycle: every move a task can make, and nothing else. A self-edge is a
// change of the task's why (or a relaunch) that keeps its state. README.md's "How a task
// moves" is this table (TestReadmeShowsTheLifecycle keeps the two the same).
var edges = []edge{
	{Pending, Running, "its turn comes: the tasks it comes after are merged or done and its agent is free"},
	{Pending, Failed, "its agent's worktree set-up failed"},
	{Pending, Cancelled, "apply removed it from the plan before it started"},
	{Pending, Merged, "resume finds its merge on the leader branch, its record lost with the store's write-ahead log"},

	{Running, Running, "a failed launch with retries left is relaunched; resume relaunches a launch that was stopped or vanished"},
	{Running, Nudging, "it exits 0 leaving work uncommitted, with nudges left: relaunched with the nudge"},
	{Running, Queued, "it exits 0 with commits the leader branch lacks (a leader task: commits on the leader branch not yet tested)"},
	{Running, Done, "it exits 0 with nothing to merge (a leader task: its commits are already tested)"},
	{Running, Blocked, "it exits with a blocker open, past its budget, leaving work uncommitted with auto_commit off, or with commits off its branch that diverged"},
	{Running, Conflict, "it leaves unresolved conflicts after its nudges"},
	{Running, Failed, "its last retry fails, or its program cannot start"},
	{Running, Paused, "its launch ends on a provider limit, overload or outage (no retry spent), or is stopped because another agent of its provider met one, or a relaunch waits for its provider's pause"},
	{Running, Cancelled, "apply --force removed it from the plan: its agent was stopped, its work stays on its branch"},
	{Running, Merged, "as from pending"},

	{Nudging, Nudging, "it exits 0 still leaving work uncommitted, with nudges left; a failed nudge launch with retries left"},
	{Nudging, Running, "resume relaunches a nudge launch that was stopped or vanished"},
	{Nudging, Queued, "as from running"},
	{Nudging, Done, "as from running"},
	{Nudging, Blocked, "as from running"},
	{Nudging, Conflict, "as from running"},
	{Nudging, Failed, "as from running"},
	{Nudging, Paused, "as from running"},
	{Nudging, Cancelled, "as from running"},
	{Nudging, Merged, "as from pending"},

	{Paused, Paused, "its provider's limit is met again: the pause is made longer"},
	{Paused, Running, "its provider's pause ends (or it is the probe that tries the provider first): relaunched in its own session, or with the launch the pause held back"},
	{Paused, Nudging, "the launch the pause held back was a nudge"},
	{Paused, Cancelled, "apply --force removed it"},

	{Queued, Queued, "its merge waits for another agent's reservation to end"},
	{Queued, Merging, "the merge queue takes it into a batch (a leader task: its tip is tested)"},
	{Queued, Merged, "resume finds its merge already landed on the leader branch"},
	{Queued, Failed, "its agent's worktree had to be made again and its set-up failed"},
	{Queued, Cancelled, "apply --force removed it before its merge"},

	{Merging, Merged, "its batch passed the tests and landed on the leader branch"},
	{Merging, Done, "a leader task: its commits passed the tests"},
	{Merging, Queued, "its batch did not get to it or was cut off (stop, crash), or the leader branch merged cleanly into its branch"},
	{Merging, Running, "its merge conflicted or failed the tests with fix rounds left: relaunched to fix it (fix-conflict, fix-tests)"},
	{Merging, Conflict, "its merge conflicted and its fix rounds are spent, or bringing the leader branch into its branch failed"},
	{Merging, TestsFailed, "its merge failed the tests and its fix rounds are spent"},
	{Merging, Failed, "refused (it changes a path outside its owns), or the merge itself failed"},
	{Merging, Paused, "it is to be relaunched to fix its merge while its provider is paused: the fix waits"},

	{Conflict, Running, "the blocker raised for it is answered: relaunched with the answer and its retries again"},
	{Conflict, Merged, "the leader agent landed its branch in a tested tip"},
	{Conflict, Paused, "the blocker raised for it is answered while its provider is paused: the answer waits"},
	{Conflict, Cancelled, "apply --force removed it"},

	{TestsFailed, Running, "the blocker raised for it is answered"},
	{TestsFailed, Merged, "the leader agent landed its branch in a tested tip"},
	{TestsFailed, Paused, "as from conflict"},
	{TestsFailed, Cancelled, "apply --force removed it"},

	{Blocked, Blocked, "its blocker goes on from the leader to a person"},
	{Blocked, Running, "its blocker is answered: relaunched with the answer"},
	{Blocked, Paused, "as from conflict"},
	{Blocked, Cancelled, "apply --force removed it"},

	{Failed, Running, "the blocker raised for it is answered: relaunched with the answer and its retries again"},
	{Failed, Paused, "as from conflict"},
	{Failed, Cancelled, "apply --force removed it"},
}

// canMove reports whether the lifecycle has the move from → to.
func canMove(from, to TaskState) bool {
	return slices.ContainsFunc(edges, func(e edge) bool { return e.from == from && e.to == to })
}

// transitionError is a move the lifecycle does not have (a bug): refused and journalled,
// it names both ends, as raft's "invalid transition [leader -> candidate]" does.
type transitionError struct {
	task     string
	from, to TaskState
}

func (e *transitionError) Error() string {
	return fmt.Sprintf("task %s: invalid transition [%s -> %s]", e.task, e.from, e.to)
}

// move is the one way a task changes state: it refuses (and journals) a move the table
// lacks, records the new state with why (the store journals from → to), applies change
// (counters, the launch's reason) in the same transaction, and runs what entering the new
// state means. It returns the task as it is now.
func (s *supervisor) move(ctx context.Context, id string, to TaskState, why string, change func(*store.Task)) (store.Task, error) {
	var moved store.Task
	var refused *transitionError
	err := s.ws.store.UpdateTask(ctx, s.team.Name, id, func(t *store.Task) error {
		if from := stateOf(*t); !canMove(from, to) {
			refused = &transitionError{task: id, from: from, to: to}
			return refused
		}
		t.State, t.Detail = string(to), why
		if change != nil {
			change(t)
		}
		moved = *t
		return nil
	})
	if refused != nil {
		s.log().Error("refused a task transition the lifecycle lacks", "task", id, "from", refused.from, "to", refused.to, "why", why)
		_, _ = s.ws.store.AppendEvent(context.WithoutCancel(ctx), store.Event{Team: s.team.Name, Kind: "task.refused", Task: id,
			Data: fmt.Sprintf(`{"from":%q,"to":%q,"why":%q}`, refused.from, refused.to, why)})
		return moved, refused
	}
	if err != nil {
		return moved, err
	}
	return moved, s.entered(ctx, moved)
}

// entered runs what entering its state means for task t: a task that is over releases its
// agent's reservations; one that waits on someone has someone asked (askAbout).
func (s *supervisor) entered(ctx context.Context, t store.Task) error {
	st := stateOf(t)
	if st == Paused {
		s.mayBePaused = true // tendPauses looks at the tasks again
	}
	if st.Finished() || st == Failed {
		if _, err := s.ws.store.ReleaseAll(ctx, s.team.Name, t.Agent, fmt.Sprintf("task %s %s", t.ID, st)); err != nil {
			return err
		}
	}
	if st.WaitsOnHuman() {
		return s.askAbout(ctx, t, &waits{fresh: true})
	}
	return nil
}

// LifecycleTable is the lifecycle as the README shows it: a Markdown table of every move.
func LifecycleTable() string {
	var b strings.Builder
	b.WriteString("| state | moves out when | to |\n| --- | --- | --- |\n")
	for _, e := range edges {
		from := "`" + string(e.from) + "`"
		fmt.Fprintf(&b, "| %s | %s | `%s` |\n", from, e.by, e.to)
	}
	return b.String()
}
