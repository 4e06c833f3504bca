package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const mergeCols = `id, team, task, agent, branch, branch_head, before_head, merge_commit, outcome,
	test_runs, output, started, ended`

func scanMerge(sc scanner) (Merge, error) {
	var m Merge
	var started, ended int64
	err := sc.Scan(&m.ID, &m.Team, &m.Task, &m.Agent, &m.Branch, &m.BranchHead, &m.Before, &m.Commit,
		&m.Outcome, &m.TestRuns, &m.Output, &started, &ended)
	m.Started, m.Ended = fromNanos(started), fromNanos(ended)
	return m, err
}

// RecordMerge inserts m (ID assigned) and journals "merge"; returns the ID.
// ErrNotFound if m's team does not exist.
func (s *Store) RecordMerge(ctx context.Context, m Merge) (int64, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := readTeam(ctx, tx, m.Team); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO merges (team, task, agent, branch, branch_head,
			before_head, merge_commit, outcome, test_runs, output, started, ended)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			m.Team, m.Task, m.Agent, m.Branch, m.BranchHead, m.Before, m.Commit, m.Outcome, m.TestRuns,
			m.Output, toNanos(m.Started), toNanos(m.Ended))
		if err != nil {
			return err
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, Event{Team: m.Team, Kind: "merge", Agent: m.Agent, Task: m.Task,
			Data: mustJSON(struct {
				Outcome  string `json:"outcome"`
				Branch   string `json:"branch"`
				Commit   string `json:"commit"`
				TestRuns int    `json:"test_runs"`
			}{m.Outcome, m.Branch, m.Commit, m.TestRuns})})
		return err
	})
	if err != nil {
		return 0, wrapOp(err, "record merge of task %q of team %q", m.Task, m.Team)
	}
	return m.ID, nil
}

// Merges lists the team's merges, oldest first.
func (s *Store) Merges(ctx context.Context, team string) ([]Merge, error) {
	merges, err := list(ctx, s.db, scanMerge, `SELECT `+mergeCols+` FROM merges WHERE team = ? ORDER BY id`, team)
	if err != nil {
		return nil, fmt.Errorf("list merges of team %q: %w", team, err)
	}
	return merges, nil
}

const eventCols = `id, team, at, kind, agent, task, data`

func scanEvent(sc scanner) (Event, error) {
	var e Event
	var at int64
	err := sc.Scan(&e.ID, &e.Team, &at, &e.Kind, &e.Agent, &e.Task, &e.Data)
	e.At = fromNanos(at)
	return e, err
}

// AppendEvent journals e (ID and At assigned when zero).
//
// The journal assigns every ID, in increasing order; a non-zero e.ID is ignored. Data
// defaults to "{}". ErrNotFound if e's team does not exist.
func (s *Store) AppendEvent(ctx context.Context, e Event) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := readTeam(ctx, tx, e.Team); err != nil {
			return err
		}
		var err error
		id, err = appendEvent(ctx, tx, e)
		return err
	})
	if err != nil {
		return 0, wrapOp(err, "journal %q of team %q", e.Kind, e.Team)
	}
	return id, nil
}

// appendEvent journals e in tx: the one place events are written.
func appendEvent(ctx context.Context, tx *sql.Tx, e Event) (int64, error) {
	if e.At.IsZero() {
		e.At = now()
	}
	if e.Data == "" {
		e.Data = "{}"
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO events (team, at, kind, agent, task, data)
		VALUES (?,?,?,?,?,?)`, e.Team, toNanos(e.At), e.Kind, e.Agent, e.Task, e.Data)
	if err != nil {
		return 0, fmt.Errorf("journal %q: %w", e.Kind, err)
	}
	return res.LastInsertId()
}

// stateData is the data of a "*.state" event.
func stateData(from, to, reason, detail string) string {
	return mustJSON(struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason,omitempty"`
		Detail string `json:"detail,omitempty"`
	}{from, to, reason, detail})
}

// Events lists the team's events with ID > after, oldest first, at most limit (0 = all).
func (s *Store) Events(ctx context.Context, team string, after int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	events, err := list(ctx, s.db, scanEvent, `SELECT `+eventCols+` FROM events
		WHERE team = ? AND id > ? ORDER BY id LIMIT ?`, team, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list events of team %q: %w", team, err)
	}
	return events, nil
}

// LastEventID is the id of the team's newest event (0 when it has none): Events after it
// are what happens from now on.
func (s *Store) LastEventID(ctx context.Context, team string) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM events WHERE team = ?`, team).Scan(&id); err != nil {
		return 0, fmt.Errorf("newest event of team %q: %w", team, err)
	}
	return id, nil
}

// LastActs is when each participant of the team last did something the journal records
// (sent, read, reserved, raised, reported...), by name.
func (s *Store) LastActs(ctx context.Context, team string) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT agent, MAX(at) FROM events WHERE team = ? AND agent != '' GROUP BY agent`, team)
	if err != nil {
		return nil, fmt.Errorf("read the last acts of team %q: %w", team, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at int64
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("read the last acts of team %q: %w", team, err)
		}
		out[name] = fromNanos(at)
	}
	return out, rows.Err()
}
