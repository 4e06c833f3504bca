package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Intent is what an agent says it is about to do: a record for the others, granting nothing.
type Intent struct {
	ID    int64     `json:"id"`
	Team  string    `json:"team"`
	Agent string    `json:"agent"`
	Task  string    `json:"task,omitempty"`
	Text  string    `json:"text"`
	Files []string  `json:"files,omitempty"` // repo-relative
	At    time.Time `json:"at"`
}

const intentCols = `id, team, agent, task, text, files, at`

func scanIntent(sc scanner) (Intent, error) {
	var in Intent
	var files string
	var at int64
	if err := sc.Scan(&in.ID, &in.Team, &in.Agent, &in.Task, &in.Text, &files, &at); err != nil {
		return Intent{}, err
	}
	in.At = fromNanos(at)
	if err := json.Unmarshal([]byte(files), &in.Files); err != nil {
		return Intent{}, fmt.Errorf("decode files of intent %d: %w", in.ID, err)
	}
	if len(in.Files) == 0 {
		in.Files = nil
	}
	return in, nil
}

// RecordIntent stores in (ID and At assigned) and journals "intent"; it returns the stored
// intent. ErrNotFound if the team does not exist.
func (s *Store) RecordIntent(ctx context.Context, in Intent) (Intent, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := readTeam(ctx, tx, in.Team); err != nil {
			return err
		}
		in.At = now()
		res, err := tx.ExecContext(ctx, `INSERT INTO intents (team, agent, task, text, files, at) VALUES (?,?,?,?,?,?)`,
			in.Team, in.Agent, in.Task, in.Text, encodeAfter(in.Files), toNanos(in.At))
		if err != nil {
			return err
		}
		if in.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, Event{Team: in.Team, At: in.At, Kind: "intent", Agent: in.Agent, Task: in.Task,
			Data: mustJSON(struct {
				ID    int64    `json:"id"`
				Text  string   `json:"text"`
				Files []string `json:"files,omitempty"`
			}{in.ID, in.Text, in.Files})})
		return err
	})
	if err != nil {
		return Intent{}, wrapOp(err, "record intent of %s", agentWhat(in.Team, in.Agent))
	}
	return in, nil
}

// Intents lists the team's newest limit intents, oldest first (limit <= 0: all).
func (s *Store) Intents(ctx context.Context, team string, limit int) ([]Intent, error) {
	if limit <= 0 {
		limit = -1
	}
	ins, err := list(ctx, s.db, scanIntent, `SELECT * FROM (SELECT `+intentCols+` FROM intents
		WHERE team = ? ORDER BY id DESC LIMIT ?) ORDER BY id`, team, limit)
	if err != nil {
		return nil, fmt.Errorf("list intents of team %q: %w", team, err)
	}
	return ins, nil
}

// ReportDone stores an agent's own report on its task (teamctl done --summary) as the
// task's Summary and journals "task.reported"; the task's state is left to the supervisor.
// An empty summary keeps the one stored before. ErrNotFound if there is no such task.
func (s *Store) ReportDone(ctx context.Context, team, task, agent, summary string) (Task, error) {
	var t Task
	err := s.update(ctx, taskWhat(team, task), func(tx *sql.Tx, at time.Time) error {
		var err error
		if t, err = readTask(ctx, tx, team, task); err != nil {
			return err
		}
		if summary != "" {
			t.Summary = summary
		}
		// updated is left alone: it orders the merge queue and says since when the task is
		// in its state, and a report changes neither.
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET summary = ? WHERE team = ? AND id = ?`,
			t.Summary, team, task); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "task.reported", Agent: agent, Task: task,
			Data: mustJSON(struct {
				Summary string `json:"summary,omitempty"`
			}{summary})})
		return err
	})
	return t, err
}
