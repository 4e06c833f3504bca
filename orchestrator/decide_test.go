package orchestrator

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// The policy of DESIGN.md §4–§5, with no git and no processes: each case is the facts of a
// launch's end or a merge's, and what must happen next. Every move a decision makes must be
// an edge of the lifecycle, and every edge out of running, nudging and merging must be made
// by some case (TestDecisionsCoverTheLifecycle).

// exited is the facts of a clean exit 0 of a dev agent whose worktree was looked at: clean,
// on its branch, one commit ahead, with retries and nudges left.
func exited(change func(*exitFacts)) exitFacts {
	f := exitFacts{Agent: "alice", Worktree: "/wt/alice", Retries: 1, NudgeMax: 1, AutoCommit: true, Looked: true, Ahead: 1}
	if change != nil {
		change(&f)
	}
	return f
}

var dirty = []worktree.Change{{Code: "?", Path: "new.txt"}}

var exitCases = []struct {
	name  string
	facts exitFacts
	want  decision
}{
	{"commits ahead: queued", exited(nil), decision{To: Queued}},
	{"nothing to merge: done", exited(func(f *exitFacts) { f.Ahead = 0 }), decision{To: Done, Why: "no commits to merge"}},
	{"not looked at yet", exited(func(f *exitFacts) { f.Looked = false }), decision{Step: stepLook}},
	{"open blocker: blocked, no nudge, no merge", exited(func(f *exitFacts) {
		f.Blocker, f.WaitsOn, f.Changes = &store.Blocker{ID: 3, Text: "which db?", State: store.BlockerOpen}, "the leader", dirty
		f.Result.ExitCode = 1
	}), decision{To: Blocked, Why: "blocker 3 waits on the leader: which db?"}},
	{"blocker answered while it ran: relaunched with the answer", exited(func(f *exitFacts) {
		f.Blocker = &store.Blocker{ID: 3, State: store.BlockerAnswered}
	}), decision{Step: stepDeliver, To: Blocked}},
	{"over budget: a person decides", exited(func(f *exitFacts) { f.OverBudget = "agent alice spent $2.00 of $1.00" }),
		decision{Step: stepAskPerson, To: Blocked, Why: "agent alice spent $2.00 of $1.00"}},
	{"removed from the plan (apply --force), work left: committed first", exited(func(f *exitFacts) {
		f.Cancel, f.Result.Stopped, f.Changes = "removed by apply", true, dirty
	}), decision{Step: stepAutoCommit}},
	{"removed from the plan (apply --force): cancelled", exited(func(f *exitFacts) {
		f.Cancel, f.Result.Stopped, f.Committed = "removed by apply", true, true
	}), decision{To: Cancelled, Why: "removed by apply"}},
	{"usage limit: paused, no retry spent", exited(func(f *exitFacts) {
		f.Result.ExitCode, f.Failures = 1, 1
		f.Fault = &agentproc.Fault{Kind: agentproc.FaultLimit, Status: 429, Text: "API Error: Request rejected (429)"}
	}), decision{Step: stepPause, To: Paused, Why: "usage limit (HTTP 429): API Error: Request rejected (429)"}},
	{"overload past the CLI's retries: paused", exited(func(f *exitFacts) {
		f.Result.ExitCode = 1
		f.Fault = &agentproc.Fault{Kind: agentproc.FaultOverload, Status: 529}
	}), decision{Step: stepPause, To: Paused, Why: "provider overloaded (HTTP 529)"}},
	{"credentials refused: a person, at once", exited(func(f *exitFacts) {
		f.Result.ExitCode = 1
		f.Fault = &agentproc.Fault{Kind: agentproc.FaultAuth, Status: 401, Text: "invalid x-api-key"}
	}), decision{Step: stepAskPerson, To: Blocked, Why: "the agent's provider refused it (authentication refused (HTTP 401): invalid x-api-key): fix its credentials (its log: teamctl logs alice), then answer this blocker"}},
	{"stopped because its provider paused: paused", exited(func(f *exitFacts) {
		f.Result.Stopped, f.Held = true, true
	}), decision{Step: stepPause, To: Paused}},
	{"a blocker raised before the limit: blocked", exited(func(f *exitFacts) {
		f.Blocker, f.WaitsOn = &store.Blocker{ID: 4, Text: "api?", State: store.BlockerOpen}, "a person"
		f.Result.ExitCode, f.Fault = 1, &agentproc.Fault{Kind: agentproc.FaultLimit}
	}), decision{To: Blocked, Why: "blocker 4 waits on a person: api?"}},
	{"over budget and limited: the budget is the person's", exited(func(f *exitFacts) {
		f.OverBudget, f.Result.ExitCode, f.Fault = "spent $1", 1, &agentproc.Fault{Kind: agentproc.FaultLimit}
	}), decision{Step: stepAskPerson, To: Blocked, Why: "spent $1"}},
	{"failed with retries left: relaunched", exited(func(f *exitFacts) { f.Result.ExitCode = 7 }),
		decision{Step: stepRelaunch, Count: countFailure}},
	{"timed out with retries left: relaunched", exited(func(f *exitFacts) { f.Result.TimedOut = true }),
		decision{Step: stepRelaunch, Count: countFailure}},
	{"failed on its last retry: failed", exited(func(f *exitFacts) { f.Result.ExitCode = 7; f.Failures = 1 }),
		decision{To: Failed, Count: countFailure, Why: "agent exited with code 7 on its last launch (2 launches failed); its log: teamctl logs alice"}},
	{"dirty with nudges left: nudged", exited(func(f *exitFacts) { f.Changes = dirty }),
		decision{Step: stepRelaunch, Reason: agentproc.ReasonNudge, Count: countNudge}},
	{"a merge in progress counts as dirty", exited(func(f *exitFacts) { f.InMerge = true }),
		decision{Step: stepRelaunch, Reason: agentproc.ReasonNudge, Count: countNudge}},
	{"dirty, nudges spent: auto-committed", exited(func(f *exitFacts) { f.Changes, f.Nudges = dirty, 1 }),
		decision{Step: stepAutoCommit}},
	{"still dirty after the auto-commit: blocked", exited(func(f *exitFacts) { f.Changes, f.Nudges, f.Committed = dirty, 1, true }),
		decision{To: Blocked, Why: "1 file(s) are still uncommitted after teamctl's auto-commit: commit or discard them in /wt/alice"}},
	{"dirty, auto_commit off: blocked", exited(func(f *exitFacts) { f.Changes, f.Nudges, f.AutoCommit = dirty, 1, false }),
		decision{To: Blocked, Why: "the agent left 1 uncommitted file(s) and auto_commit is off: commit or discard them in /wt/alice"}},
	{"unresolved conflicts, nudges spent: conflict", exited(func(f *exitFacts) {
		f.Changes, f.Nudges, f.InMerge = []worktree.Change{{Code: "U", Path: "a.go"}}, 1, true
	}), decision{To: Conflict, Why: "the agent left unresolved conflicts in a.go"}},
	{"committed off its branch: brought back", exited(func(f *exitFacts) { f.OffBranch = offAhead }), decision{Step: stepBackOnBranch}},
	{"off its branch after bringing it back: blocked", exited(func(f *exitFacts) { f.OffBranch, f.Moved = offAhead, true }),
		decision{To: Blocked, Why: "the agent's worktree is still off its branch after teamctl checked its branch out again"}},
	{"diverged from its branch: blocked", exited(func(f *exitFacts) { f.OffBranch, f.OffWhy = offDiverged, "bring them there" }),
		decision{To: Blocked, Why: "bring them there"}},
	{"leader with untested commits: queued for the tests", exited(func(f *exitFacts) { f.Leader = true }),
		decision{To: Queued, Why: "its commits on the leader branch wait for the tests"}},
	{"leader whose tip is tested: done", exited(func(f *exitFacts) { f.Leader, f.TipTested = true, true }), decision{To: Done}},
}

func TestDecideExit(t *testing.T) {
	t.Parallel()
	for _, c := range exitCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := decideExit(c.facts)
			if got != c.want {
				t.Errorf("decideExit = %+v\nwant          %+v", got, c.want)
			}
			for _, from := range []TaskState{Running, Nudging} {
				if to := decidedState(got, from); to != "" && !canMove(from, to) {
					t.Errorf("decided %s -> %s, which the lifecycle lacks", from, to)
				}
			}
		})
	}
}

// merged is the facts of one task of a batch: its outcome, one fix round left.
func merged(outcome string, change func(*mergeFacts)) mergeFacts {
	f := mergeFacts{Result: merge.Result{Outcome: outcome, Output: "FAIL x", Conflicts: []string{"a.go"}}, Retries: 1}
	if change != nil {
		change(&f)
	}
	return f
}

var mergeCases = []struct {
	name  string
	facts mergeFacts
	want  decision
}{
	{"landed: merged", merged(merge.Merged, nil), decision{To: Merged}},
	{"landed while stopping: merged", merged(merge.Merged, func(f *mergeFacts) { f.Stopping = true }), decision{To: Merged}},
	{"not reached: queued again", merged(merge.NotAttempted, nil), decision{To: Queued}},
	{"batch failed before it: failed", merged(merge.NotAttempted, func(f *mergeFacts) { f.BatchErr = errors.New("disk full") }),
		decision{To: Failed, Why: "merge failed: disk full"}},
	{"batch failed on a stop: queued again", merged(merge.NotAttempted, func(f *mergeFacts) { f.BatchErr, f.Stopping = errors.New("killed"), true }),
		decision{To: Queued}},
	{"tests failed while stopping: queued again", merged(merge.TestsFailed, func(f *mergeFacts) { f.Stopping = true }), decision{To: Queued}},
	{"refused: failed", merged(merge.Refused, func(f *mergeFacts) { f.Result.Output = "changes x outside its owns" }),
		decision{To: Failed, Why: "refused: changes x outside its owns"}},
	{"tests failed, rounds left: relaunched to fix them", merged(merge.TestsFailed, nil),
		decision{Step: stepRelaunch, Reason: agentproc.ReasonFixTests, Count: countRound}},
	{"tests failed, rounds spent: tests-failed", merged(merge.TestsFailed, func(f *mergeFacts) { f.Rounds = 1 }),
		decision{To: TestsFailed, Why: "FAIL x"}},
	{"conflict, rounds left: the leader branch merged into the agent's", merged(merge.Conflict, nil), decision{Step: stepSync}},
	{"conflict brought into its worktree: relaunched to fix it", merged(merge.Conflict, func(f *mergeFacts) { f.Synced, f.SyncConflict = true, []string{"a.go"} }),
		decision{Step: stepRelaunch, Reason: agentproc.ReasonFixConflict, Count: countRound}},
	{"conflict gone on syncing: queued again", merged(merge.Conflict, func(f *mergeFacts) { f.Synced = true }), decision{To: Queued}},
	{"syncing failed: conflict", merged(merge.Conflict, func(f *mergeFacts) { f.Synced, f.SyncErr = true, errors.New("dirty") }),
		decision{To: Conflict, Why: "conflicts with the leader branch in a.go; bringing the leader branch into its branch failed: dirty"}},
	{"conflict, rounds spent: conflict", merged(merge.Conflict, func(f *mergeFacts) { f.Rounds = 1 }),
		decision{To: Conflict, Why: "conflicts with the leader branch in a.go"}},
}

func TestDecideMerge(t *testing.T) {
	t.Parallel()
	for _, c := range mergeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := decideMerge(c.facts)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("decideMerge = %+v\nwant           %+v", got, c.want)
			}
			if to := decidedState(got, Merging); to != "" && !canMove(Merging, to) {
				t.Errorf("decided merging -> %s, which the lifecycle lacks", to)
			}
		})
	}
}

var tipCases = []struct {
	name  string
	facts tipFacts
	want  decision
}{
	{"passed: done", tipFacts{Passed: true, Retries: 1}, decision{To: Done}},
	{"stopping: queued again", tipFacts{Stopping: true, Passed: true}, decision{To: Queued}},
	{"could not test: failed", tipFacts{Err: errors.New("no worktree")}, decision{To: Failed, Why: "testing the leader's commits failed: no worktree"}},
	{"failed, rounds left: the leader fixes it", tipFacts{Retries: 1}, decision{Step: stepRelaunch, Reason: agentproc.ReasonFixTests, Count: countRound}},
	{"failed, rounds spent: set aside", tipFacts{Rounds: 1, Retries: 1}, decision{Step: stepSetAside, To: TestsFailed}},
}

func TestDecideTip(t *testing.T) {
	t.Parallel()
	for _, c := range tipCases {
		if got := decideTip(c.facts); got != c.want {
			t.Errorf("%s: decideTip = %+v, want %+v", c.name, got, c.want)
		}
		if to := decidedState(decideTip(c.facts), Merging); to != "" && !canMove(Merging, to) {
			t.Errorf("%s: decided merging -> %s, which the lifecycle lacks", c.name, to)
		}
	}
}

// decidedState is the state a task in from ends in when d is carried out: a relaunch
// moves it to running (nudging for a nudge); "" when d only gathers facts or changes the
// worktree first.
func decidedState(d decision, from TaskState) TaskState {
	switch d.Step {
	case stepLook, stepAutoCommit, stepBackOnBranch, stepSync:
		return ""
	case stepRelaunch:
		if d.Reason == agentproc.ReasonNudge || (d.Reason == "" && from == Nudging) {
			return Nudging // a retry keeps the launch's reason
		}
		return Running
	}
	return d.To
}

// TestDecisionsCoverTheLifecycle: every edge out of the states a decision moves a task
// from is made by some case above; edges from elsewhere (pending, queued, the waiting
// states) are made by the supervisor's loop, resume and answers, and the integration tests
// check each journalled move against the table (checkJournal).
func TestDecisionsCoverTheLifecycle(t *testing.T) {
	t.Parallel()
	made := map[string]bool{}
	for _, c := range exitCases {
		for _, from := range []TaskState{Running, Nudging} {
			made[string(from)+" -> "+string(decidedState(decideExit(c.facts), from))] = true
		}
	}
	for _, c := range mergeCases {
		made["merging -> "+string(decidedState(decideMerge(c.facts), Merging))] = true
	}
	for _, c := range tipCases {
		made["merging -> "+string(decidedState(decideTip(c.facts), Merging))] = true
	}
	// Not a decision's: resume relaunches a stopped or vanished launch with reason resume;
	// a relaunch to fix a merge that would go into a paused provider is held (launch).
	made["nudging -> running"] = true
	made["merging -> paused"] = true
	// Nor is a merge resume finds landed while the store had lost the task's record (adoptLanded).
	made["running -> merged"] = true
	made["nudging -> merged"] = true
	for _, e := range edges {
		move := string(e.from) + " -> " + string(e.to)
		if (e.from == Running || e.from == Nudging || e.from == Merging) && !made[move] {
			t.Errorf("no decision case makes %s (%s)", move, e.by)
		}
	}
}

// TestLifecycleTable: the table has no edge twice, every state but merged, done and
// cancelled has a way out, those have none, and every state is reachable from pending.
func TestLifecycleTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	out := map[TaskState]int{}
	for _, e := range edges {
		move := string(e.from) + " -> " + string(e.to)
		if seen[move] {
			t.Errorf("%s is in the table twice", move)
		}
		seen[move] = true
		out[e.from]++
		if strings.TrimSpace(e.by) == "" {
			t.Errorf("%s says nothing of what makes it", move)
		}
	}
	all := []TaskState{Pending, Running, Nudging, Paused, Queued, Merging, Merged, Done, Conflict, TestsFailed, Blocked, Failed, Cancelled}
	reached := map[TaskState]bool{Pending: true}
	for changed := true; changed; {
		changed = false
		for _, e := range edges {
			if reached[e.from] && !reached[e.to] {
				reached[e.to], changed = true, true
			}
		}
	}
	for _, s := range all {
		if s.Finished() != (out[s] == 0) {
			t.Errorf("%s: %d moves out; want none exactly when the task is finished", s, out[s])
		}
		if !reached[s] {
			t.Errorf("%s cannot be reached from pending", s)
		}
	}
}

// A branch is checked for conflicts coming while its agent works on it or it waits to
// merge, not while its agent fixes the conflict it was told of, nor once it is over.
func TestWarnable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		state  TaskState
		reason string
		want   bool
	}{
		{Running, agentproc.ReasonTask, true},
		{Nudging, agentproc.ReasonNudge, true},
		{Queued, agentproc.ReasonTask, true},
		{Running, agentproc.ReasonFixConflict, false},
		{Running, agentproc.ReasonFixTests, true},
		{Conflict, "", false},
		{Merged, "", false},
		{Paused, "", false},
	} {
		if got := warnable(store.Task{State: string(c.state), Reason: c.reason}); got != c.want {
			t.Errorf("%s (%s): warnable %v, want %v", c.state, c.reason, got, c.want)
		}
	}
}
