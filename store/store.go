// Package store owns teamctl's durable state: one embedded SQLite file per repository holding
// teams, agents, tasks, merges, the append-only event journal, messages, reservations and
// blockers. It is the only place state lives; every change is one transaction.
package store

import (
	"context"
	"errors"
	"time"
)

var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Path is where the store of the repository whose git common dir is commonDir lives.
func Path(commonDir string) string { panic("todo") }

// Store is an open store. Safe for concurrent use, and by several processes at once.
type Store struct{}

// Open opens (creating it and its directory if needed) the store at path: WAL mode, a busy
// timeout, foreign keys on, schema migrated to the latest version.
func Open(path string) (*Store, error) { panic("todo") }

func (s *Store) Close() error { panic("todo") }

// Team is one team run from a plan.
type Team struct {
	Name           string
	PlanFile       string
	PlanJSON       string // the plan as the supervisor ran it (JSON of plan.Plan)
	Repo           string // main worktree root
	Base           string // base branch
	BaseHead       string // base's commit when the team was created
	LeaderBranch   string
	LeaderWorktree string
	TestedHead     string // the newest leader-branch commit that passed the test command
	State          string // "running", "stopped", "waiting", "finished"
	SupervisorPID  int
	Created        time.Time
	Updated        time.Time
}

// Agent is one agent of a team (the leader included, even without a program).
type Agent struct {
	Team, Name, Role string
	Branch, Worktree string
	State            string // "idle", "running", "stopped", "done"
	Task             string // task being worked on, "" when none
	PID              int    // process (group leader) while running, else 0
	ProcStart        int64  // the process's start time (clock ticks since boot), against PID reuse
	Updated          time.Time
}

// Task is one task of a team.
type Task struct {
	Team, ID, Agent string
	Prompt          string
	After           []string
	Seq             int    // order in the plan (then order added)
	State           string // pending running nudging queued merging merged done conflict tests-failed blocked failed
	Attempt         int    // launches for this task so far
	Nudges          int    // nudge relaunches so far
	Failures        int    // failed exits so far
	Rounds          int    // fix-conflict / fix-tests rounds so far
	Reason          string // the launch reason of the current/next launch, or why the task waits
	Detail          string // human-readable why (refusal reason, failing test tail, error)
	Summary         string // the agent's own report (teamctl done --summary)
	MergeCommit     string
	Updated         time.Time
}

// Merge is one merge attempt of a task's branch into the leader branch.
type Merge struct {
	ID         int64
	Team       string
	Task       string
	Agent      string
	Branch     string
	BranchHead string
	Before     string // leader tip before
	Commit     string // merge commit ("" unless merged)
	Outcome    string // "merged", "conflict", "tests-failed", "refused", "flaky"
	TestRuns   int
	Output     string // test output tail, conflict files, or refusal reason
	Started    time.Time
	Ended      time.Time
}

// Event is one entry of the append-only journal.
type Event struct {
	ID    int64
	Team  string
	At    time.Time
	Kind  string // e.g. "team.created", "task.state", "agent.state", "merge", "commit.auto"
	Agent string
	Task  string
	Data  string // JSON
}

// CreateTeam inserts a team with its agents and tasks in one transaction and journals
// "team.created". ErrExists if the team exists.
func (s *Store) CreateTeam(ctx context.Context, t Team, agents []Agent, tasks []Task) error {
	panic("todo")
}

// DeleteTeam removes every row of the team (agents, tasks, merges, events, messages,
// reservations, blockers). ErrNotFound if none.
func (s *Store) DeleteTeam(ctx context.Context, name string) error { panic("todo") }

func (s *Store) Team(ctx context.Context, name string) (Team, error) { panic("todo") }
func (s *Store) Teams(ctx context.Context) ([]Team, error)          { panic("todo") }

// UpdateTeam reads the team, applies fn and writes it back in one transaction, journalling
// "team.state" when State changed. fn returning an error aborts the transaction.
func (s *Store) UpdateTeam(ctx context.Context, name string, fn func(*Team) error) error {
	panic("todo")
}

func (s *Store) Agent(ctx context.Context, team, name string) (Agent, error) { panic("todo") }

// Agents lists the team's agents, the leader first, then in plan order.
func (s *Store) Agents(ctx context.Context, team string) ([]Agent, error) { panic("todo") }

// UpdateAgent is UpdateTeam for an agent; journals "agent.state" when State changed.
func (s *Store) UpdateAgent(ctx context.Context, team, name string, fn func(*Agent) error) error {
	panic("todo")
}

func (s *Store) Task(ctx context.Context, team, id string) (Task, error) { panic("todo") }

// Tasks lists the team's tasks by Seq.
func (s *Store) Tasks(ctx context.Context, team string) ([]Task, error) { panic("todo") }

// AddTask appends a task (Seq = last + 1) and journals "task.added". ErrExists on a duplicate id.
func (s *Store) AddTask(ctx context.Context, t Task) error { panic("todo") }

// UpdateTask is UpdateTeam for a task; journals "task.state" (data: from, to, reason, detail)
// when State changed.
func (s *Store) UpdateTask(ctx context.Context, team, id string, fn func(*Task) error) error {
	panic("todo")
}

// RecordMerge inserts m (ID assigned) and journals "merge"; returns the ID.
func (s *Store) RecordMerge(ctx context.Context, m Merge) (int64, error) { panic("todo") }

// Merges lists the team's merges, oldest first.
func (s *Store) Merges(ctx context.Context, team string) ([]Merge, error) { panic("todo") }

// AppendEvent journals e (ID and At assigned when zero).
func (s *Store) AppendEvent(ctx context.Context, e Event) (int64, error) { panic("todo") }

// Events lists the team's events with ID > after, oldest first, at most limit (0 = all).
func (s *Store) Events(ctx context.Context, team string, after int64, limit int) ([]Event, error) {
	panic("todo")
}
