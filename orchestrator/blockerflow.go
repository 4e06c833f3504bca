package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// escalateTimeout bounds the plan's escalate: command (a notifier, a webhook script).
const escalateTimeout = time.Minute

// coordinate hands blockers on and delivers their answers; it runs on every turn of the
// loop, so a blocker raised or answered from another process is picked up within pollEvery.
// A blocker for the leader becomes a task of the leader agent; one for a person is shown
// and passed to the plan's escalate: command. An answer relaunches the blocked agent.
func (s *supervisor) coordinate(ctx context.Context) error {
	// First: a blocker it raises or passes on is handed on below in the same turn, before
	// the loop can find only work that waits on a person and end the run.
	if err := s.everyWaitAsked(ctx); err != nil {
		return err
	}
	open, err := s.ws.store.OpenBlockers(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, b := range open {
		if !b.Notified.IsZero() {
			continue
		}
		if b.Human || !s.p.Leader.IsAgent() {
			s.toHuman(ctx, b)
			if err := s.waitsOnPerson(ctx, b); err != nil {
				return err
			}
		} else if err := s.addLeaderTask(ctx, plan.LeaderBlockerPrefix+strconv.FormatInt(b.ID, 10), blockerPrompt(b)); err != nil {
			return err
		}
		if err := s.ws.store.MarkBlockerNotified(ctx, s.team.Name, b.ID); err != nil {
			return err
		}
	}
	answered, err := s.ws.store.AnsweredBlockers(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, b := range answered {
		if r, busy := s.procs[b.Agent]; busy {
			if r.interactive && r.task == b.Task && r.said == "" {
				if err := s.deliverTyped(ctx, b); err != nil {
					return err
				}
			}
			continue // a headless agent gets it when its launch ends (onExit)
		}
		if err := s.deliver(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// everyWaitAsked makes sure every task that waits on someone has someone asked (askAbout),
// whenever the journal has moved (every change of a task or a blocker is in it). Entering a
// waiting state asks at once (taskstate.go); this catches what changed since — a leader
// that left a blocker unanswered — and what a supervisor killed between a move and its ask
// left undone (on resume's first turn).
func (s *supervisor) everyWaitAsked(ctx context.Context) error {
	newest, err := s.ws.store.LastEventID(ctx, s.team.Name)
	if err != nil || newest == s.askedAt {
		return err
	}
	s.askedAt = newest
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	seen := &waits{}
	for _, t := range tasks {
		if stateOf(t).WaitsOnHuman() {
			if err := s.askAbout(ctx, t, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// waits is what askAbout reads of the team, read once on first need when it looks at
// several tasks in a row.
type waits struct {
	blockers []store.Blocker
	events   []store.Event // the journal's task.state and blocker.delivered events
	read     bool
	// fresh: the task has just entered its state, so no answer of an earlier round can be
	// waiting for its relaunch (and the journal need not be read to find out).
	fresh bool
}

// askAbout makes sure task t, which waits on someone, has someone asked. A blocker the
// leader agent's task for it (lead-blocker-N) ended without answering goes on to a person;
// so does a task the leader was to land (lead-fix-ID) once that task ended without landing
// it. A task with no blocker waiting for it gets one (or, a conflict with a leader agent,
// a lead-fix task); a task whose answer was delivered but whose relaunch was cut off is
// relaunched with it.
func (s *supervisor) askAbout(ctx context.Context, t store.Task, seen *waits) error {
	if !seen.read {
		var err error
		if seen.blockers, err = s.ws.store.Blockers(ctx, s.team.Name); err != nil {
			return err
		}
		seen.read = true
	}
	var last *store.Blocker
	for i, b := range seen.blockers {
		if b.Agent == t.Agent && b.Task == t.ID {
			last = &seen.blockers[i] // listed by id: the newest wins
		}
	}
	switch {
	case last != nil && last.State == store.BlockerOpen && !last.Human && !last.Notified.IsZero():
		return s.leaderLeft(ctx, *last)
	case last != nil && (last.State != store.BlockerAnswered || last.Delivered.IsZero()):
		return nil // waits for its answer, or for the answer to be delivered (coordinate)
	}
	return s.askFor(ctx, t, last, seen)
}

// askFor asks someone about task t, which waits with no blocker waiting for it (last is
// its newest blocker, answered and delivered, or nil).
func (s *supervisor) askFor(ctx context.Context, t store.Task, last *store.Blocker, seen *waits) error {
	toPerson := false
	if st := stateOf(t); (st == Conflict || st == TestsFailed) && s.p.Leader.IsAgent() && !s.isLeader(t.Agent) {
		fix, err := s.ws.store.Task(ctx, s.team.Name, plan.LeaderFixPrefix+t.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The leader is asked before a person: it lands the branch on its own.
			return s.addLeaderTask(ctx, plan.LeaderFixPrefix+t.ID, fixPrompt(t, BranchName(s.team.Name, t.Agent), t.Detail, s.p.Test))
		case err != nil:
			return err
		case !stateOf(fix).Finished() && !stateOf(fix).WaitsOnHuman():
			return nil // the leader is on it
		}
		toPerson = true // the leader tried and did not land it
	}
	if last != nil && !toPerson && !seen.fresh {
		if seen.events == nil {
			var err error
			if seen.events, err = s.ws.store.EventsOfKinds(ctx, s.team.Name, []string{"task.state", "blocker.delivered"}, 0); err != nil {
				return err
			}
		}
		if deliveredLast(seen.events, t.ID) {
			s.log().Info("answer delivered but its relaunch was cut off: relaunching", "agent", t.Agent, "task", t.ID, "blocker", last.ID)
			return s.relaunchAnswered(ctx, t, *last)
		}
	}
	detail := t.Detail
	if detail == "" {
		detail = "its supervisor stopped before it went on"
	}
	return s.raiseStuck(ctx, t, detail, toPerson)
}

// deliveredLast reports whether an answer's delivery to task is journalled after the task
// last changed state: its agent was to be relaunched with the answer and was not. (Task
// ids are unique in a team; the delivery is of its newest blocker, as blockers of a task
// are answered one after another.)
func deliveredLast(events []store.Event, task string) bool {
	delivered := false
	for _, e := range events {
		if e.Task == task {
			delivered = e.Kind == "blocker.delivered"
		}
	}
	return delivered
}

// leaderLeft passes blocker b, which waits on the leader agent, on to a person when the
// leader's task for it ended (done, or failed for good) without answering or escalating
// it: the blocked agent would otherwise wait on a leader that has moved on.
func (s *supervisor) leaderLeft(ctx context.Context, b store.Blocker) error {
	if !s.p.Leader.IsAgent() {
		return nil
	}
	t, err := s.ws.store.Task(ctx, s.team.Name, plan.LeaderBlockerPrefix+strconv.FormatInt(b.ID, 10))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || !(stateOf(t).Finished() || stateOf(t).WaitsOnHuman()) {
		return err
	}
	s.log().Warn("the leader's task for a blocker ended without an answer: passing it to a person",
		"blocker", b.ID, "agent", b.Agent, "leader task", t.ID, "state", t.State)
	_, err = s.ws.store.EscalateBlocker(ctx, s.team.Name, b.ID, System)
	if errors.Is(err, store.ErrAnswered) {
		return nil // answered meanwhile: delivered on the next turn
	}
	return err
}

// waitsOnPerson updates the why of a task blocked on b once b goes to a person (the
// leader escalated it): status no longer says it waits on the leader.
func (s *supervisor) waitsOnPerson(ctx context.Context, b store.Blocker) error {
	t, err := s.ws.store.Task(ctx, s.team.Name, b.Task)
	if err != nil || stateOf(t) != Blocked || !strings.HasPrefix(t.Detail, fmt.Sprintf("blocker %d waits on the leader", b.ID)) {
		return nil
	}
	_, err = s.move(ctx, t.ID, Blocked, fmt.Sprintf("blocker %d waits on a person (escalated): %s", b.ID, b.Text), nil)
	return err
}

// deliver relaunches a blocked agent with the answer to its blocker; a task that had
// ended failed or unmerged (see stuck) gets its retries and fix rounds again.
func (s *supervisor) deliver(ctx context.Context, b store.Blocker) error {
	t, err := s.ws.store.Task(ctx, s.team.Name, b.Task)
	if err != nil || !stateOf(t).WaitsOnHuman() {
		// Nothing waits for it any more (the task moved on, or was never blocked on it).
		return s.ws.store.MarkBlockerDelivered(ctx, s.team.Name, b.ID)
	}
	s.log().Info("blocker answered: relaunching", "agent", b.Agent, "task", b.Task, "blocker", b.ID, "by", b.AnsweredBy)
	if err := s.ws.store.MarkBlockerDelivered(ctx, s.team.Name, b.ID); err != nil {
		return err
	}
	return s.relaunchAnswered(ctx, t, b)
}

// relaunchAnswered launches the agent of task t with the answer to its blocker b.
func (s *supervisor) relaunchAnswered(ctx context.Context, t store.Task, b store.Blocker) error {
	extra := fmt.Sprintf("Your blocker %d was answered by %s.\nYou asked: %s\nThe answer: %s", b.ID, b.AnsweredBy, b.Text, b.Answer)
	if strings.HasPrefix(b.Text, stuckPrefix) {
		extra = fmt.Sprintf("Your task had stopped and blocker %d was raised for you; it was answered by %s.\nWhat had happened: %s\nThe answer: %s",
			b.ID, b.AnsweredBy, b.Text, b.Answer)
	}
	return s.launch(ctx, t, agentproc.ReasonAnswer, extra, func(t *store.Task) { t.Failures, t.Rounds = 0, 0 })
}

// raiseStuck raises the blocker of stuck task t unless one is open: for the leader agent,
// or for a person when toPerson, when there is no leader agent, or when t is the leader's.
func (s *supervisor) raiseStuck(ctx context.Context, t store.Task, detail string, toPerson bool) error {
	if _, open, err := s.openBlocker(ctx, t.Agent, t.ID); err != nil || open {
		return err
	}
	text := fmt.Sprintf("%stask %s of %s is %s: %s. Answer with what %s should do: the answer relaunches it on the task.",
		stuckPrefix, t.ID, t.Agent, t.State, shorten.FirstLine(detail), t.Agent)
	b, err := s.ws.store.RaiseBlocker(ctx, store.Blocker{Team: s.team.Name, Agent: t.Agent, Task: t.ID,
		Text: text, Human: toPerson || !s.p.Leader.IsAgent() || s.isLeader(t.Agent)})
	if err != nil {
		return err
	}
	s.log().Warn("task stuck: blocker raised for it", "agent", t.Agent, "task", t.ID, "state", t.State, "blocker", b.ID)
	return nil
}

// stuckPrefix starts the text of a blocker teamctl raised for a stuck task.
const stuckPrefix = "teamctl: "

// openBlocker is the agent's blocker on task that still waits for an answer, if any.
func (s *supervisor) openBlocker(ctx context.Context, agent, task string) (store.Blocker, bool, error) {
	bs, err := s.ws.store.Blockers(ctx, s.team.Name)
	if err != nil {
		return store.Blocker{}, false, err
	}
	var found store.Blocker
	ok := false
	for _, b := range bs {
		if b.Agent == agent && b.Task == task && (b.State != store.BlockerAnswered || b.Delivered.IsZero()) {
			found, ok = b, true // the newest wins: blockers are listed by id
		}
	}
	return found, ok, nil
}

// toHuman shows a blocker to the person running the team and runs the plan's escalate:
// command with it in its environment. A failing notifier is logged, never fatal.
func (s *supervisor) toHuman(ctx context.Context, b store.Blocker) {
	fmt.Fprintf(s.ws.env.out(), "BLOCKER %d from %s (task %s) waits for you: %s\n  answer it with: teamctl answer %d \"...\"\n",
		b.ID, b.Agent, b.Task, b.Text, b.ID)
	s.log().Warn("blocker for a person", "id", b.ID, "agent", b.Agent, "task", b.Task)
	s.notify(ctx, blockerNotice(b))
	s.escalate(ctx, []string{
		"TEAMCTL_TEAM=" + s.team.Name, "TEAMCTL_BLOCKER_ID=" + strconv.FormatInt(b.ID, 10),
		"TEAMCTL_BLOCKER_AGENT=" + b.Agent, "TEAMCTL_BLOCKER_TASK=" + b.Task, "TEAMCTL_BLOCKER_TEXT=" + b.Text,
	})
}

// escalate runs the plan's escalate: command with env added to its environment.
func (s *supervisor) escalate(ctx context.Context, env []string) {
	if len(s.p.Escalate) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, escalateTimeout)
	defer cancel()
	if _, err := s.ws.env.Runner.Run(cctx, s.ws.repo.Root, env, s.p.Escalate...); err != nil {
		s.log().Error("escalate command failed", "command", strings.Join(s.p.Escalate, " "), "err", err)
	}
}

func blockerPrompt(b store.Blocker) string {
	return fmt.Sprintf(`Agent %s is blocked on its task %s and asks you (blocker %d):

%s

If you can answer it, run: teamctl answer %d "<your answer>"
If only a person can answer it, run: teamctl escalate %d
Then exit 0.`, b.Agent, b.Task, b.ID, b.Text, b.ID, b.ID)
}

// addLeaderTask gives the leader agent a task (once: an id already there is left as it is).
func (s *supervisor) addLeaderTask(ctx context.Context, id, prompt string) error {
	if _, err := s.ws.store.Task(ctx, s.team.Name, id); err == nil {
		return nil
	}
	s.log().Info("leader task", "task", id)
	return s.ws.store.AddTask(ctx, store.Task{Team: s.team.Name, ID: id, Agent: s.p.Leader.Name, Prompt: prompt, State: string(Pending)})
}

// isLeader reports whether agent is the team's leader.
func (s *supervisor) isLeader(agent string) bool { return agent == s.p.Leader.Name }

// leaderBusy reports whether the leader agent works in the leader worktree right now: the
// merge queue then waits, as the leader waits for a merge batch.
func (s *supervisor) leaderBusy() bool {
	_, busy := s.procs[s.p.Leader.Name]
	return busy
}

// startTask is the leader's first task, when the plan gives the leader a program and a goal.
const startTask = plan.LeaderStartTask

// startPrompt is the leader's first task: the team's goal and the plan.
func startPrompt(p *plan.Plan) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(p.Leader.Prompt))
	b.WriteString("\n\nYou lead this team. Its dev agents and their tasks:\n")
	for _, a := range p.Agents {
		fmt.Fprintf(&b, "- %s:", a.Name)
		for _, t := range a.Tasks {
			fmt.Fprintf(&b, " %s", t.ID)
		}
		b.WriteString("\n")
	}
	b.WriteString(`
Delegate more work with: teamctl task add --agent NAME --id ID "what to do"
Tell agents what they need with: teamctl msg send --to NAME "..." (or teamctl msg broadcast "...")
Their branches are merged into your branch, with the tests run, as they finish. Exit 0 when you have delegated.`)
	return b.String()
}

// fixPrompt asks the leader to land a dev's branch its agent could not fix.
func fixPrompt(t store.Task, branch, detail, test string) string {
	return fmt.Sprintf(`Task %s of agent %s could not be merged (%s) after its agent's fix rounds:

%s

Merge its branch into yours and make it pass: git merge %s, resolve what conflicts, run the test (%s),
commit. teamctl tests your branch's tip again when you exit 0; the task counts as merged once its
branch is part of a tested tip. If it cannot be done, raise a blocker for a person: teamctl blocker --human "..."`,
		t.ID, t.Agent, t.State, detail, branch, orNone(test))
}

func orNone(s string) string {
	if s == "" {
		return "none configured"
	}
	return s
}

// reviewPrompt is the leader's last task.
const reviewPrompt = `Every task of the team is merged or done. Review the merged result on your branch
(git log and git diff against the base branch), then write the summary a person reads before
accepting it: teamctl done --summary - with the headings Summary, Files Changed, Validation, Notes.
Do not change the code now. Exit 0.`
