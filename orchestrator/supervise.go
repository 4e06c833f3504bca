package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// stopGrace is how long a stopped agent gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// pollEvery is how often a supervisor looks at the store for work a person or an agent made
// possible from another process (an answer, an added task), and at idle agents.
const pollEvery = time.Second

type exitEvent struct {
	agent, task string
	result      agentproc.Result
}

// mergeEvent is the end of a merge batch, or of a test run of the leader branch's tip after
// the leader agent committed there (tipTask set).
type mergeEvent struct {
	reqs []merge.Request
	br   merge.BatchResult
	err  error

	into string // the branch merged into when not the leader branch: a spawner's

	tipTask string // the leader task whose commits were tested
	tip     string // the tip tested
	passed  bool
	output  string
}

// running is one agent launch the supervisor watches.
type running struct {
	proc *agentproc.Proc
	task string

	// An agent in tmux (interactive) does not exit when it is done: it says so with
	// teamctl done, and the supervisor ends its session (see interactive.go).
	interactive bool
	seen        int64     // the newest journal event looked at for it
	said        string    // the journal's word for what it said (its end then counts as exit 0)
	started     time.Time // when it was launched
	checked     time.Time // when it was last looked at for idleness
	files       string    // its uncommitted files then
	filesAt     time.Time // when they last changed
	nudged      time.Time // when an idle nudge was last typed in
	held        bool      // stopped because its provider paused: its end pauses its task
	overBudget  bool      // stopped because it spent past its budget
	cancelled   bool      // stopped because apply removed its task
	dialog      string    // the first-run dialog an interactive agent was seen stopped at
	looked      time.Time // when its screen was last looked at for one
}

// supervisor runs one team: one goroutine (loop) owns every decision; agent processes and
// the merger report back on channels.
type supervisor struct {
	ws     *Workspace
	p      *plan.Plan
	team   store.Team
	merger *merge.Merger
	opts   RunOptions

	procs         map[string]*running // live launches by agent name
	notifier      *notifier           // nil: the plan notifies nowhere
	repeatChecked time.Time           // when repeatBlockers last looked
	// stopping is set while shutdown stops the agents: the relay says so to a call it
	// cannot name.
	stopping atomic.Bool
	exits    chan exitEvent
	merges   chan mergeEvent
	quit     chan struct{} // closed when the supervisor returns: watchers stop reporting
	merging  bool
	// incidentsSeen is the newest incident told to the person; -1 until the first guard,
	// which takes the journal's newest as seen (a resume does not tell them again).
	incidentsSeen int64
	refsSeen      map[string]int // reflog entries of each guarded ref looked at (guardRefs)
	// leaderTampered counts the agents' moves of the leader branch guard found; a batch that
	// fails after one (batchTampered is the count when it began) is queued again.
	leaderTampered, batchTampered int
	pending                       []exitEvent // launches that ended while no supervisor watched (found by resume)
	lastWait                      string
	askedAt                       int64 // the newest journal event when every wait was last checked (everyWaitAsked)

	released       map[string]time.Time // provider key → when a task paused on it was last relaunched
	mayBePaused    bool                 // a task may be paused (true until tendPauses finds none)
	spent          map[string]spent     // what each agent's log said it spent, by agent
	anyAgentBudget bool                 // some agent has a budget of its own
	planChanged    bool                 // apply changed the plan: the merger takes it up when no batch runs
	lastWarn       time.Time            // when live branches were last checked for conflicts coming
	perRun         time.Duration        // how long the last batch's test runs took, each (merge.AutoSettle)
	wake           *time.Timer          // wakes the loop when a batch has settled (startMerge)
	pairs          *merge.PairChecker
	tmux           *agentproc.Tmux // the team's tmux server, for agents in mode: tmux
	confined       bool            // agents run confined, their teamctl commands relayed (confine.go)
	reported       map[string]bool // workers' tasks whose end their spawner was told (reportSpawns)
	// inTheWay holds merges into a spawner's branch: its worktree as it was when its own
	// uncommitted work stopped a landing (holdLanding), until it changes.
	inTheWay map[string][2]FileStamp

	// life is how long agents' processes are watched: as long as the supervisor, not only
	// its run's ctx (a stop cancels that first, and shutdown still waits for every agent).
	life    context.Context
	endLife context.CancelFunc
}

func (w *Workspace) newSupervisor(ctx context.Context, p *plan.Plan, team store.Team, opts RunOptions) *supervisor {
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	return &supervisor{
		ws: w, p: p, team: team, opts: opts, life: life, endLife: endLife, tmux: w.Tmux(team.Name),
		procs: map[string]*running{}, wake: stoppedTimer(), released: map[string]time.Time{}, spent: map[string]spent{}, mayBePaused: true, incidentsSeen: -1,
		anyAgentBudget: slices.ContainsFunc(p.Members(), func(a plan.Agent) bool { return !a.Budget.IsZero() }),
		exits:          make(chan exitEvent, len(p.Agents)+2),
		merges:         make(chan mergeEvent, 1),
		quit:           make(chan struct{}),
		merger: &merge.Merger{
			Repo: w.repo, Run: w.env.Runner, Dir: team.LeaderWorktree, Branch: team.LeaderBranch,
			Test: p.Test, TestTimeout: p.TestTimeout, Env: identity(team.Name, p.Leader.Name),
			Batch: p.Merge.Batch, TestRetries: p.Merge.TestRetries,
		},
	}
}

// RunDir is where a team's launches leave their pid and exit files.
func RunDir(commonDir, team string) string {
	return filepath.Join(commonDir, "teamctl", "run", team)
}

func (s *supervisor) files(agent string) agentproc.Files {
	return agentproc.FilesIn(RunDir(s.ws.repo.CommonDir, s.team.Name), agent)
}

func (s *supervisor) logPath(agent string) string {
	return LogPath(s.ws.repo.CommonDir, s.team.Name, agent)
}

func (s *supervisor) log() *log.Logger { return s.ws.env.logger() }

// loop supervises until every task is merged or done, only work that waits on a human is
// left (with ExitWhenBlocked), or ctx ends.
func (s *supervisor) loop(ctx context.Context) (err error) {
	defer s.endLife()
	defer close(s.quit)
	defer func() {
		if err != nil && ctx.Err() == nil {
			s.shutdown(ctx, "error: "+err.Error())
		}
	}()
	how, warn, err := s.ws.sandboxed(s.p)
	if err != nil {
		return err
	}
	if warn != "" {
		s.log().Warn(warn)
	} else if how.Confined {
		s.log().Info("agents confined", "by", how.How)
	}
	if data, err := json.Marshal(how); err == nil {
		if _, err := s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: confinementKind, Data: string(data)}); err != nil {
			return err
		}
	}
	if s.p.Notify.Any() {
		s.notifier = newNotifier(s.p.Notify, s.log())
		defer s.notifier.close(30 * time.Second)
	}
	if how.Confined {
		if err := s.startRelay(); err != nil {
			return err
		}
		defer s.forgetTempDirs()
		s.confined = true
	}
	if err := s.setTeamState(ctx, TeamRunning, ""); err != nil {
		return err
	}
	s.checkpoint(ctx)
	defer s.checkpoint(context.WithoutCancel(ctx))
	if _, err := s.guard(ctx); err != nil {
		return err
	}
	if err := s.prepareWorktrees(ctx); err != nil {
		return err
	}
	for _, ev := range s.pending {
		if err := s.onExit(ctx, ev); err != nil {
			return err
		}
	}
	s.pending = nil
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return s.shutdown(ctx, "interrupted")
		}
		if err := s.followPlan(ctx); err != nil {
			return s.failed(ctx, err)
		}
		if err := s.coordinate(ctx); err != nil {
			return s.failed(ctx, err)
		}
		if err := s.schedule(ctx); err != nil {
			return s.failed(ctx, err)
		}
		if err := s.startMerge(ctx); err != nil {
			return s.failed(ctx, err)
		}
		if err := s.tendPauses(ctx); err != nil {
			return s.failed(ctx, err)
		}
		if err := s.reportSpawns(ctx); err != nil {
			return s.failed(ctx, err)
		}
		s.enforceBudgets(ctx)
		s.warnConflicts(ctx)
		if s.notifier != nil && time.Since(s.repeatChecked) >= repeatCheckEvery(s.p.Notify.Repeat) {
			s.repeatChecked = time.Now()
			s.repeatBlockers(ctx)
		}
		if err := s.watchInteractive(ctx); err != nil {
			return s.failed(ctx, err)
		}
		if len(s.procs) == 0 && !s.merging {
			tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
			if err != nil {
				return s.failed(ctx, err)
			}
			if allFinished(tasks) && s.p.Leader.IsAgent() && !hasTask(tasks, reviewTask) {
				// The leader reviews the merged result last; the team finishes after it.
				if err := s.addLeaderTask(ctx, reviewTask, reviewPrompt); err != nil {
					return s.failed(ctx, err)
				}
				continue
			}
			if allFinished(tasks) {
				if _, err := s.ws.store.SetWarnings(ctx, s.team.Name, nil); err != nil {
					return s.failed(ctx, err)
				}
				fmt.Fprintf(s.ws.env.out(), "team %s: every task is merged or done; review it with: teamctl review %s\n", s.team.Name, s.team.Name)
				s.notify(ctx, Notice{Kind: "finished", Title: "teamctl: team " + s.team.Name + " finished",
					Text: fmt.Sprintf("every task is merged or done: review it (teamctl review %s), then accept it", s.team.Name)})
				return s.setTeamState(ctx, TeamFinished, "all tasks merged or done")
			}
			if !anyQueued(tasks) && !anyStartable(tasks) && !anyPaused(tasks) {
				if err := s.waiting(ctx, tasks); err != nil {
					return s.failed(ctx, err)
				}
			}
		}
		select {
		case ev := <-s.exits:
			if err := s.onExit(ctx, ev); err != nil {
				return s.failed(ctx, err)
			}
			// Launches that ended together are handled together, before the queue turns:
			// agents that finish at once are merged in one batch.
			if err := s.moreExits(ctx); err != nil {
				return s.failed(ctx, err)
			}
		case <-s.wake.C:
		case ev := <-s.merges:
			s.merging = false
			if err := s.onMerge(ctx, ev); err != nil {
				return s.failed(ctx, err)
			}
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// moreExits handles the launches whose end is already reported, without waiting for more.
func (s *supervisor) moreExits(ctx context.Context) error {
	for {
		select {
		case ev := <-s.exits:
			if err := s.onExit(ctx, ev); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// failed is how the loop ends on err: an error that only says the run was interrupted
// (a stop arrived while a step ran) ends it as a stop does.
func (s *supervisor) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return s.shutdown(ctx, "interrupted")
	}
	return err
}

// waiting is reached when nothing runs and nothing can start: every unfinished task waits
// on a human. It says what waits (once per change) and, with ExitWhenBlocked, ends the run.
func (s *supervisor) waiting(ctx context.Context, tasks []store.Task) error {
	var lines []string
	for _, t := range tasks {
		if stateOf(t).WaitsOnHuman() {
			lines = append(lines, fmt.Sprintf("  %s (%s) %s: %s", t.ID, t.Agent, t.State, shorten.FirstLine(t.Detail)))
		}
	}
	text := strings.Join(lines, "\n")
	if text != s.lastWait {
		s.lastWait = text
		fmt.Fprintf(s.ws.env.out(), "team %s waits on a human:\n%s\n", s.team.Name, text)
		if !s.opts.ExitWhenBlocked {
			fmt.Fprintf(s.ws.env.out(), "(teamctl status %s shows why; the team goes on once they are dealt with, or Ctrl-C stops it)\n", s.team.Name)
		}
		if err := s.setTeamState(ctx, TeamWaiting, ""); err != nil {
			return err
		}
	}
	if s.opts.ExitWhenBlocked {
		s.shutdown(ctx, "waits on a human")
		return Errorf(ErrWaiting, "%d task(s) wait on a person; see teamctl status %s", len(lines), s.team.Name)
	}
	return nil
}

func (s *supervisor) setTeamState(ctx context.Context, state TeamState, why string) error {
	if why != "" {
		s.log().Info("team "+state.String(), "team", s.team.Name, "why", why)
	}
	return s.ws.setTeamState(ctx, s.team.Name, state)
}

// shutdown stops every agent gracefully and records the team as stopped, so resume can
// continue it. Tasks keep their state: a task whose agent was stopped is relaunched (with
// reason resume) when the team resumes; a merge cut off is queued again.
func (s *supervisor) shutdown(ctx context.Context, why string) error {
	uctx := context.WithoutCancel(ctx)
	s.stopping.Store(true)
	defer s.stopping.Store(false)
	// Every agent at once: each gets its grace period, not the sum of everyone's.
	var wg sync.WaitGroup
	for name, r := range s.procs {
		s.log().Info("stopping agent", "agent", name)
		// Recorded before the signal: if this supervisor dies while stopping, resume still
		// knows the agent's end was ours, not the agent's word.
		_ = s.ws.setAgentState(uctx, s.team.Name, name, AgentStopped, keepProcess)
		wg.Add(1)
		go func(r *running) {
			defer wg.Done()
			r.proc.Stop(stopGrace)
		}(r)
	}
	wg.Wait()
	for name := range s.procs {
		_ = s.ws.setAgentState(uctx, s.team.Name, name, AgentStopped, noProcess)
		delete(s.procs, name)
	}
	if s.merging {
		// The merge queue restores the leader worktree before it returns; what landed is
		// recorded, the rest queued again.
		ev := <-s.merges
		s.merging = false
		_ = s.onMerge(ctx, ev)
	}
	if t, err := s.ws.store.Team(uctx, s.team.Name); err == nil && TeamState(t.State) != TeamFinished && TeamState(t.State) != TeamWaiting {
		_ = s.setTeamState(uctx, TeamStopped, why)
	}
	if ctx.Err() == nil {
		return nil
	}
	// A stop is not a failure: it says whether a person is awaited, and how to go on.
	if tasks, err := s.ws.store.Tasks(uctx, s.team.Name); err == nil {
		if n := waitOnHuman(tasks); n > 0 {
			return Errorf(ErrWaiting, "team %s stopped with %d task(s) waiting on a person (teamctl status %s says why); teamctl resume %s continues it",
				s.team.Name, n, s.team.Name, s.team.Name)
		}
	}
	return Errorf(ErrStopped, "team %s stopped before it finished: teamctl resume %s continues it", s.team.Name, s.team.Name)
}

// watch reports the end of a launch to the loop.
func (s *supervisor) watch(agent, task string, proc *agentproc.Proc) {
	s.procs[agent] = &running{proc: proc, task: task}
	go func() {
		ev := exitEvent{agent: agent, task: task, result: proc.Result()}
		select {
		case s.exits <- ev:
		case <-s.quit:
		}
	}()
}

// reviewTask is the leader's last task: the summary of what the team merged.
const reviewTask = plan.LeaderReviewTask

func hasTask(tasks []store.Task, id string) bool {
	for _, t := range tasks {
		if t.ID == id {
			return true
		}
	}
	return false
}

// waitOnHuman counts the tasks that wait on someone's answer.
func waitOnHuman(tasks []store.Task) int {
	n := 0
	for _, t := range tasks {
		if stateOf(t).WaitsOnHuman() {
			n++
		}
	}
	return n
}

func allFinished(tasks []store.Task) bool {
	for _, t := range tasks {
		if !stateOf(t).Finished() {
			return false
		}
	}
	return true
}

func anyQueued(tasks []store.Task) bool {
	for _, t := range tasks {
		if st := stateOf(t); st == Queued || st == Merging {
			return true
		}
	}
	return false
}

// anyStartable reports whether a pending task may still start without a person's help. A
// pending task is stuck when a task it comes after is stuck or waits on a human, or when an
// earlier task of its agent does (an agent's tasks run one after another on one branch).
func anyStartable(tasks []store.Task) bool {
	stuck := map[string]bool{}
	for _, t := range tasks {
		if stateOf(t).WaitsOnHuman() {
			stuck[t.ID] = true
		}
	}
	for changed := true; changed; {
		changed = false
		agentStuck := map[string]bool{}
		for _, t := range tasks { // in plan order: an agent's earlier tasks come first
			if stateOf(t) == Pending && !stuck[t.ID] {
				s := agentStuck[t.Agent]
				for _, dep := range t.After {
					s = s || stuck[dep]
				}
				if s {
					stuck[t.ID], changed = true, true
				}
			}
			if stuck[t.ID] {
				agentStuck[t.Agent] = true
			}
		}
	}
	for _, t := range tasks {
		if stateOf(t) == Pending && !stuck[t.ID] {
			return true
		}
	}
	return false
}

// checkpoint copies the store's write-ahead log into its main file at a quiet point (the
// team made or resumed, a landing recorded, the supervisor ending), so that a log lost with
// a crash costs little. A failure is logged; it never stops the team.
func (s *supervisor) checkpoint(ctx context.Context) {
	if err := s.ws.store.Checkpoint(ctx); err != nil {
		s.log().Warn("store checkpoint failed", "err", err)
	}
}
