package orchestrator

import (
	"fmt"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// The policy of DESIGN.md §4–§5 as pure functions: each takes the facts the supervisor
// gathered and returns a decision, which the supervisor carries out (exit.go, mergeflow.go).
// None of them touches git, the store or a process, so the whole policy is a table test
// (decide_test.go). A decision that needs more facts, or a change to the worktree before
// it can be made (an auto-commit), says so with its step: the supervisor takes that step,
// gathers the facts again and asks again.

// step is what the supervisor does to carry out a decision, besides moving the task.
type step int

const (
	stepMove         step = iota // only move the task (To, Why)
	stepLook                     // read the worktree and the branches, then decide again
	stepAutoCommit               // commit what the agent left, then decide again
	stepBackOnBranch             // bring the agent's commits onto its branch, then decide again
	stepSync                     // merge the leader branch into the agent's, then decide again
	stepRelaunch                 // launch the agent again (Reason, Count); the launch moves the task
	stepDeliver                  // move to blocked, then relaunch with the answer to its blocker
	stepAskPerson                // raise a person's blocker (Why: the budget, refused credentials), then move (To)
	stepPause                    // pause the task (and its provider) on the fault the launch ended on
	stepSetAside                 // keep the leader's untested commits on a branch of their own, reset the leader branch, then move
)

// counter is the task counter a launch counts against.
type counter int

const (
	countNothing counter = iota
	countNudge
	countFailure
	countRound
)

func (c counter) apply(t *store.Task) {
	switch c {
	case countNudge:
		t.Nudges++
	case countFailure:
		t.Failures++
	case countRound:
		t.Rounds++
	}
}

// decision is what happens next to a task.
type decision struct {
	Step   step
	To     TaskState // the state to move to (stepMove, stepAskPerson, stepSetAside, stepDeliver, stepPause)
	Why    string
	Reason string  // stepRelaunch: the launch's reason (agentproc.Reason*)
	Count  counter // the counter this launch or move counts against
}

// exitFacts is what is known of a launch that ended.
type exitFacts struct {
	Agent    string
	Worktree string
	Result   agentproc.Result

	// Blocker is the agent's blocker on the task that still waits (for its answer, or for
	// the answer to be delivered); nil when there is none. WaitsOn names who answers it.
	Blocker *store.Blocker
	WaitsOn string

	OverBudget string // why the agent or the team is past its budget; "" when it is not

	// Fault is the provider error the launch ended on, whatever its exit code (nil: none).
	// Held says teamctl stopped it because another agent of its provider met one.
	Fault *agentproc.Fault
	Held  bool

	Cancel string // why apply removed the task from the plan; "" when it did not

	Failures, Retries int // failed launches so far, and how many relaunches the plan allows
	Nudges, NudgeMax  int
	AutoCommit        bool

	// Looked says the worktree facts below were read (stepLook).
	Looked    bool
	Changes   []worktree.Change // uncommitted in the agent's worktree
	InMerge   bool              // a merge in progress there
	Committed bool              // teamctl auto-committed in this decision already
	OffBranch offBranch         // where the worktree's HEAD stands against the agent's branch
	OffWhy    string            // offDiverged: what a person has to sort out
	Moved     bool              // teamctl brought the commits onto the branch in this decision already
	head      headAt            // what OffBranch was read from, for backOnBranch (not a fact decideExit reads)
	Leader    bool              // the agent is the team's leader (it commits on the leader branch)
	TipTested bool              // Leader: the leader branch's tip is its tested head
	Ahead     int               // commits the agent's branch has that the leader branch lacks
}

// offBranch is where an agent left its worktree's HEAD, against its branch.
type offBranch int

const (
	onBranch    offBranch = iota
	offAhead              // a detached HEAD or another branch, ahead of (or behind) its branch: moved back
	offDiverged           // commits that are not on its branch and cannot be fast-forwarded onto it
)

// decideExit applies DESIGN.md §4 to a launch that ended.
func decideExit(f exitFacts) decision {
	if f.Cancel != "" {
		// Removed from the plan while it ran: what it left uncommitted is committed onto
		// its branch first, so its work stays there (review says so).
		switch {
		case !f.Looked:
			return decision{Step: stepLook}
		case len(f.Changes) > 0 && !f.Committed && len(unmergedPaths(f.Changes)) == 0:
			return decision{Step: stepAutoCommit}
		}
		return decision{To: Cancelled, Why: f.Cancel}
	}
	if f.Blocker != nil {
		// It raised a blocker: it waits for the answer, whatever its exit status, with no
		// nudge and no merge. Answered already (while it ran): relaunched with it now.
		if f.Blocker.State == store.BlockerAnswered {
			return decision{Step: stepDeliver, To: Blocked}
		}
		return decision{To: Blocked, Why: fmt.Sprintf("blocker %d waits on %s: %s", f.Blocker.ID, f.WaitsOn, f.Blocker.Text)}
	}
	if f.OverBudget != "" {
		return decision{Step: stepAskPerson, To: Blocked, Why: f.OverBudget}
	}
	switch {
	case f.Fault != nil && !f.Fault.Kind.Waits():
		// Refused credentials: relaunching cannot help, and a loop of refused calls is noise.
		return decision{Step: stepAskPerson, To: Blocked, Why: fmt.Sprintf("the agent's provider refused it (%s): fix its credentials (its log: teamctl logs %s), then answer this blocker", f.Fault, f.Agent)}
	case f.Fault != nil:
		// Not the agent's failure: no retry is spent.
		return decision{Step: stepPause, To: Paused, Why: f.Fault.String()}
	case f.Held && !f.Result.OK():
		return decision{Step: stepPause, To: Paused}
	}
	if !f.Result.OK() {
		if f.Failures < f.Retries {
			return decision{Step: stepRelaunch, Count: countFailure}
		}
		return decision{To: Failed, Count: countFailure,
			Why: fmt.Sprintf("agent %s on its last launch (%d launches failed); its log: teamctl logs %s", f.Result, f.Failures+1, f.Agent)}
	}
	if !f.Looked {
		return decision{Step: stepLook}
	}
	if len(f.Changes) > 0 || f.InMerge {
		switch unmerged := unmergedPaths(f.Changes); {
		case f.Nudges < f.NudgeMax:
			return decision{Step: stepRelaunch, Reason: agentproc.ReasonNudge, Count: countNudge}
		case len(unmerged) > 0:
			return decision{To: Conflict, Why: "the agent left unresolved conflicts in " + strings.Join(unmerged, ", ")}
		case !f.AutoCommit:
			return decision{To: Blocked, Why: fmt.Sprintf("the agent left %d uncommitted file(s) and auto_commit is off: commit or discard them in %s", len(f.Changes), f.Worktree)}
		case f.Committed:
			return decision{To: Blocked, Why: fmt.Sprintf("%d file(s) are still uncommitted after teamctl's auto-commit: commit or discard them in %s", len(f.Changes), f.Worktree)}
		}
		return decision{Step: stepAutoCommit}
	}
	switch {
	case f.OffBranch == offDiverged:
		return decision{To: Blocked, Why: f.OffWhy}
	case f.OffBranch == offAhead && !f.Moved:
		return decision{Step: stepBackOnBranch}
	case f.OffBranch == offAhead:
		return decision{To: Blocked, Why: "the agent's worktree is still off its branch after teamctl checked its branch out again"}
	}
	if f.Leader {
		// The leader commits on the leader branch itself: its tip is tested (queued) before
		// it counts as tested, like a merge.
		if f.TipTested {
			return decision{To: Done}
		}
		return decision{To: Queued, Why: "its commits on the leader branch wait for the tests"}
	}
	if f.Ahead == 0 {
		return decision{To: Done, Why: "no commits to merge"}
	}
	return decision{To: Queued}
}

// mergeFacts is what is known of one task of a merge batch that returned.
type mergeFacts struct {
	Result   merge.Result
	BatchErr error // the batch stopped on this error (git, the store), not on a branch
	Stopping bool  // the team is stopping: what was not landed waits for resume
	Rounds   int   // fix rounds the agent had so far
	Retries  int
	// Synced is set once the leader branch was merged into the agent's branch (stepSync):
	// SyncConflict lists the files that conflicted there, SyncErr a failure to do it.
	Synced       bool
	SyncConflict []string
	SyncErr      error
}

// decideMerge applies DESIGN.md §5 to one task of a merge batch: merged; queued again when
// the batch did not get to it; back to its agent to fix while it has rounds left; else
// conflict or tests-failed, for the leader agent (or a person) to land it (see askAbout).
func decideMerge(f mergeFacts) decision {
	res := f.Result
	switch {
	case res.Outcome == merge.Merged:
		return decision{To: Merged}
	case res.Outcome == merge.NotAttempted && (f.BatchErr == nil || f.Stopping):
		return decision{To: Queued}
	case res.Outcome == merge.NotAttempted:
		return decision{To: Failed, Why: "merge failed: " + f.BatchErr.Error()}
	case f.Stopping:
		return decision{To: Queued}
	case res.Outcome == merge.Refused:
		return decision{To: Failed, Why: "refused: " + res.Output}
	}
	final, why := TestsFailed, res.Output
	if res.Outcome == merge.Conflict {
		final, why = Conflict, "conflicts with the leader branch in "+strings.Join(res.Conflicts, ", ")
	}
	switch {
	case f.Rounds >= f.Retries:
		return decision{To: final, Why: why}
	case res.Outcome == merge.TestsFailed:
		return decision{Step: stepRelaunch, Reason: agentproc.ReasonFixTests, Count: countRound}
	case !f.Synced:
		// Bring the conflict into the agent's own worktree so the agent resolves it there.
		return decision{Step: stepSync}
	case len(f.SyncConflict) > 0:
		return decision{Step: stepRelaunch, Reason: agentproc.ReasonFixConflict, Count: countRound}
	case f.SyncErr != nil:
		return decision{To: Conflict, Why: why + "; bringing the leader branch into its branch failed: " + f.SyncErr.Error()}
	}
	// The leader branch merged cleanly into the agent's: the conflict was with work merged
	// since; queue again.
	return decision{To: Queued}
}

// tipFacts is what is known once the leader branch's tip, which the leader agent committed
// to, was tested.
type tipFacts struct {
	Stopping bool
	Err      error // the test could not be run
	Passed   bool
	Rounds   int
	Retries  int
}

// decideTip moves a leader task on after its commits were tested: passed, it is done (and
// the dev tasks the tip holds are landed); failed, the leader fixes it while it has rounds
// left, else its commits are set aside and the leader branch goes back to its tested head.
func decideTip(f tipFacts) decision {
	switch {
	case f.Stopping:
		return decision{To: Queued}
	case f.Err != nil:
		return decision{To: Failed, Why: "testing the leader's commits failed: " + f.Err.Error()}
	case f.Passed:
		return decision{To: Done}
	case f.Rounds < f.Retries:
		return decision{Step: stepRelaunch, Reason: agentproc.ReasonFixTests, Count: countRound}
	}
	return decision{Step: stepSetAside, To: TestsFailed}
}
