// Package store owns teamctl's durable state: one embedded SQLite file per repository holding
// teams, agents, tasks, merges, the append-only event journal, messages, reservations and
// blockers. It is the only place state lives; every change is one transaction.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrStale is a write made from what was read, which changed before it was written.
	ErrStale = errors.New("changed since it was read")
)

// Path is where the store of the repository whose git common dir is commonDir lives.
func Path(commonDir string) string { return filepath.Join(commonDir, "teamctl", "teamctl.db") }

// Store is an open store. Safe for concurrent use, and by several processes at once.
type Store struct {
	db *sql.DB
	// wsem lets one of this process's goroutines at a time into a write transaction. SQLite
	// admits one writer per file anyway; queueing here rather than in SQLite's busy handler,
	// which polls with sleeps of up to 100ms, keeps in-process writers fast and leaves the
	// busy timeout for writers in other processes.
	wsem    chan struct{}
	damaged Damaged // the store Open moved aside to make this one

	tasksMu sync.Mutex
	tasks   map[string]taskList // each team's tasks as last read (Tasks)
}

// pragmas is the DSN query every connection opens with. modernc runs busy_timeout first,
// before any pragma that may need a lock. _txlock=immediate makes every read-write
// transaction of database/sql start with BEGIN IMMEDIATE: it takes the write lock up front
// (waiting under busy_timeout) instead of upgrading a read lock at the first write, which
// in WAL mode fails at once with SQLITE_BUSY, whatever the timeout, whenever another
// connection wrote in between. Read-only transactions (sql.TxOptions{ReadOnly: true}) stay
// deferred.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Open opens (creating it and its directory if needed) the store at path: WAL mode, a busy
// timeout, foreign keys on, schema migrated to the latest version. A damaged store (see
// damage.go) is moved aside and a new one made: MovedAside says so.
func Open(path string) (*Store, error) { return openStore(path, false) }

// OpenChecked is Open that also runs PRAGMA quick_check, which reads the whole file (17 ms
// for a 3 MB journal here): for a supervisor starting, not for every command.
func OpenChecked(path string) (*Store, error) { return openStore(path, true) }

func openStore(path string, check bool) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// The fast path: a store with content that opens and checks well.
	if fi, err := os.Stat(abs); err == nil && fi.Size() > 0 {
		if s, why, err := open(abs, check); why == "" {
			return s, err
		}
	}
	// Making a new store, or moving a damaged one aside: one process at a time, so that a
	// store another process is making (an empty file for a moment) is not taken for damage.
	unlock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	defer unlock()
	s, why, err := open(abs, check)
	if why == "" {
		return s, err
	}
	aside, err := moveAside(abs)
	if err != nil {
		return nil, fmt.Errorf("open store %s: it is damaged (%s) and %w", path, why, err)
	}
	if s, _, err = open(abs, false); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.damaged = Damaged{Why: why, Path: aside}
	return s, nil
}

// open opens the store at abs. why says what is damaged about it, if anything (s and err
// are nil then).
func open(abs string, check bool) (s *Store, why string, err error) {
	if emptyWithoutWAL(abs) {
		return nil, "its file is empty and there is no write-ahead log beside it", nil
	}
	// A file: URI with the path escaped, so that a '?' or '%' in a directory name is taken
	// as part of the path rather than as the start of the query.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() + "?" + pragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, "", fmt.Errorf("open store %s: %w", abs, err)
	}
	s = &Store{db: db, wsem: make(chan struct{}, 1)}
	// A connection's first statement runs the pragmas; journal_mode(WAL) on a database
	// another process is creating fails at once with SQLITE_BUSY (no busy handler for a
	// journal mode change): try again a few times, as begin does.
	for attempt := 1; ; attempt++ {
		err = s.migrate(context.Background())
		if err == nil {
			break
		}
		if isDamage(err) {
			db.Close()
			return nil, err.Error(), nil
		}
		if !isBusy(err) || attempt == beginAttempts {
			db.Close()
			return nil, "", fmt.Errorf("open store %s: %w", abs, err)
		}
		time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
	}
	if !check {
		return s, "", nil
	}
	found, err := quickCheck(context.Background(), db)
	if err != nil && isDamage(err) {
		found, err = err.Error(), nil
	}
	if err != nil || found != "" {
		db.Close()
		if err != nil {
			return nil, "", fmt.Errorf("check store %s: %w", abs, err)
		}
		return nil, "quick_check: " + found, nil
	}
	return s, "", nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

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
	Updated         time.Time // when it entered its state (or was launched again): the merge queue's order
	// A paused task waits on its agent's provider until Until; HeldReason and HeldExtra are
	// the launch the pause held back (its reason, the extra of its prompt), "" for a launch
	// the provider cut off, which resumes its session.
	Until      time.Time
	HeldReason string
	HeldExtra  string
	Cancel     string // why apply removed it from the plan; the supervisor cancels it
	Session    string // the session id teamctl chose for its agent's CLI; "" when the CLI chose
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

// write runs fn in one read-write transaction (BEGIN IMMEDIATE, see pragmas) and commits it
// when fn returns nil. fn runs exactly once: only beginning is retried.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()

	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// beginAttempts bounds how often BEGIN IMMEDIATE is retried after SQLITE_BUSY. Each attempt
// already waits up to busy_timeout for the write lock; a retry covers the few busy cases
// SQLite reports without calling the busy handler (e.g. while another process recovers the WAL).
const beginAttempts = 5

func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	for attempt := 1; ; attempt++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err == nil {
			return tx, nil
		}
		if !isBusy(err) || attempt == beginAttempts {
			return nil, fmt.Errorf("begin transaction: %w", err)
		}
		select {
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("begin transaction: %w", ctx.Err())
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, extended codes included.
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isDuplicate reports whether err is a primary key or unique constraint violation.
func isDuplicate(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) &&
		(e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE)
}

// Times are stored as UTC unix nanoseconds, the zero time as 0.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// now is the store's clock, truncated to what the database keeps and in UTC, so that what
// a method sets in memory equals what it reads back.
func now() time.Time { return time.Now().UTC().Round(0) }

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// notFound says what was missing.
func notFound(what string) error { return fmt.Errorf("%s: %w", what, ErrNotFound) }

func teamWhat(team string) string        { return fmt.Sprintf("team %q", team) }
func agentWhat(team, name string) string { return fmt.Sprintf("agent %q of team %q", name, team) }
func taskWhat(team, id string) string    { return fmt.Sprintf("task %q of team %q", id, team) }

// update runs one read-modify-write f in a write transaction, at the time now() gives inside
// it. f wraps the error of the caller's fn in errAborted: that one comes back as it is; any
// other goes through wrapOp.
func (s *Store) update(ctx context.Context, what string, f func(tx *sql.Tx, at time.Time) error) error {
	err := s.write(ctx, func(tx *sql.Tx) error { return f(tx, now()) })
	if aborted, ok := errors.AsType[errAborted](err); ok {
		return aborted.err
	}
	return wrapOp(err, "update %s", what)
}

// wrapOp says what was being done when err happened, unless err already says what was
// missing or in the way (ErrNotFound, ErrExists): then it is returned as it is.
func wrapOp(err error, format string, args ...any) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// errAborted carries the error of an update's fn through the transaction untouched.
type errAborted struct{ err error }

func (e errAborted) Error() string { return e.err.Error() }

// one runs a query for the one row of what; ErrNotFound, saying what, when there is none.
func one[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), what, query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	var zero T
	if errors.Is(err, sql.ErrNoRows) {
		return zero, notFound(what)
	}
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", what, err)
	}
	return v, nil
}

// list runs a query and scans every row.
func list[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// mustJSON encodes v, a value of this package's own making that always encodes.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return string(b)
}
