package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

const taskCols = `team, id, agent, prompt, after_ids, seq, state, attempt, nudges, failures, rounds,
	reason, detail, summary, merge_commit, updated, until, held_reason, held_extra, cancel, session`

func scanTask(sc scanner) (Task, error) {
	var t Task
	var after string
	var updated, until int64
	err := sc.Scan(&t.Team, &t.ID, &t.Agent, &t.Prompt, &after, &t.Seq, &t.State, &t.Attempt,
		&t.Nudges, &t.Failures, &t.Rounds, &t.Reason, &t.Detail, &t.Summary, &t.MergeCommit, &updated,
		&until, &t.HeldReason, &t.HeldExtra, &t.Cancel, &t.Session)
	if err != nil {
		return Task{}, err
	}
	t.Updated, t.Until = fromNanos(updated), fromNanos(until)
	if err := json.Unmarshal([]byte(after), &t.After); err != nil {
		return Task{}, fmt.Errorf("decode after of %s: %w", taskWhat(t.Team, t.ID), err)
	}
	if len(t.After) == 0 {
		t.After = nil
	}
	return t, nil
}

func insertTask(ctx context.Context, tx *sql.Tx, t Task) error {
	if t.State == "" {
		t.State = "pending"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tasks (`+taskCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		t.Team, t.ID, t.Agent, t.Prompt, encodeAfter(t.After), t.Seq, t.State, t.Attempt, t.Nudges,
		t.Failures, t.Rounds, t.Reason, t.Detail, t.Summary, t.MergeCommit, toNanos(t.Updated),
		toNanos(t.Until), t.HeldReason, t.HeldExtra, t.Cancel, t.Session)
	if isDuplicate(err) {
		return fmt.Errorf("%s: %w", taskWhat(t.Team, t.ID), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert %s: %w", taskWhat(t.Team, t.ID), err)
	}
	return nil
}

// encodeAfter is the JSON array of after, "[]" when empty.
func encodeAfter(after []string) string {
	if after == nil {
		after = []string{}
	}
	return mustJSON(after)
}

// Task reads one task; ErrNotFound if the team has none of that id.
func (s *Store) Task(ctx context.Context, team, id string) (Task, error) {
	return readTask(ctx, s.db, team, id)
}

func readTask(ctx context.Context, q queryer, team, id string) (Task, error) {
	return one(ctx, q, scanTask, taskWhat(team, id),
		`SELECT `+taskCols+` FROM tasks WHERE team = ? AND id = ?`, team, id)
}

// Tasks lists the team's tasks by Seq. The list is read again only when a task of the team
// changed since the last read (the count task_changes keeps, one row); otherwise it is a copy
// of that read. A supervisor asks several times a turn, most turns nothing changed.
func (s *Store) Tasks(ctx context.Context, team string) ([]Task, error) {
	// The count is read before the list: a change in between leaves a list newer than its
	// count, read once more next time, never an old list under a new count.
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT n FROM task_changes WHERE team = ?`, team).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list tasks of team %q: %w", team, err)
	}
	s.tasksMu.Lock()
	c, ok := s.tasks[team]
	s.tasksMu.Unlock()
	if ok && c.n == n {
		return cloneTasks(c.tasks), nil
	}
	tasks, err := list(ctx, s.db, scanTask, `SELECT `+taskCols+` FROM tasks WHERE team = ?
		ORDER BY seq, id`, team)
	if err != nil {
		return nil, fmt.Errorf("list tasks of team %q: %w", team, err)
	}
	s.tasksMu.Lock()
	if s.tasks == nil {
		s.tasks = map[string]taskList{}
	}
	s.tasks[team] = taskList{n: n, tasks: tasks}
	s.tasksMu.Unlock()
	return cloneTasks(tasks), nil
}

// taskList is a team's tasks as read when its change count was n.
type taskList struct {
	n     int64
	tasks []Task
}

// cloneTasks copies a cached list for a caller free to change it.
func cloneTasks(tasks []Task) []Task {
	out := slices.Clone(tasks)
	for i := range out {
		out[i].After = slices.Clone(out[i].After)
	}
	return out
}

// AddTask appends a task (Seq = last + 1) and journals "task.added". ErrExists on a duplicate id.
//
// ErrNotFound if the team, or the agent t names, does not exist. An empty State is "pending".
func (s *Store) AddTask(ctx context.Context, t Task) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := readTeam(ctx, tx, t.Team); err != nil {
			return err
		}
		if _, err := readAgent(ctx, tx, t.Team, t.Agent); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks WHERE team = ?`,
			t.Team).Scan(&t.Seq); err != nil {
			return err
		}
		t.Updated = now()
		if err := insertTask(ctx, tx, t); err != nil {
			return err
		}
		_, err := appendEvent(ctx, tx, Event{Team: t.Team, At: t.Updated, Kind: "task.added",
			Agent: t.Agent, Task: t.ID, Data: mustJSON(struct {
				Seq   int      `json:"seq"`
				After []string `json:"after,omitempty"`
			}{t.Seq, t.After})})
		return err
	})
	return wrapOp(err, "add task %q to team %q", t.ID, t.Team)
}

// UpdateTask is UpdateTeam for a task; journals "task.state" (data: from, to, reason, detail)
// when State changed.
//
// fn cannot move or rename the task: changes to Team and ID are ignored.
func (s *Store) UpdateTask(ctx context.Context, team, id string, fn func(*Task) error) error {
	return s.update(ctx, taskWhat(team, id), func(tx *sql.Tx, at time.Time) error {
		old, err := readTask(ctx, tx, team, id)
		if err != nil {
			return err
		}
		t := old
		// fn gets its own After, so that appending to it cannot reach old's.
		t.After = append([]string(nil), old.After...)
		if err := fn(&t); err != nil {
			return errAborted{err}
		}
		t.Team, t.ID = old.Team, old.ID
		// updated is when the task entered its state: it orders the merge queue (a queued
		// task whose why changes keeps its place) and says how long a task has waited.
		if t.State != old.State || t.Attempt != old.Attempt {
			t.Updated = at
		}
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET agent = ?, prompt = ?, after_ids = ?, seq = ?,
			state = ?, attempt = ?, nudges = ?, failures = ?, rounds = ?, reason = ?, detail = ?,
			summary = ?, merge_commit = ?, updated = ?, until = ?, held_reason = ?, held_extra = ?,
			cancel = ?, session = ? WHERE team = ? AND id = ?`,
			t.Agent, t.Prompt, encodeAfter(t.After), t.Seq, t.State, t.Attempt, t.Nudges, t.Failures,
			t.Rounds, t.Reason, t.Detail, t.Summary, t.MergeCommit, toNanos(t.Updated),
			toNanos(t.Until), t.HeldReason, t.HeldExtra, t.Cancel, t.Session, t.Team, t.ID)
		if err != nil {
			return err
		}
		if t.State == old.State {
			return nil
		}
		_, err = appendEvent(ctx, tx, Event{Team: t.Team, At: at, Kind: "task.state", Agent: t.Agent,
			Task: t.ID, Data: stateData(old.State, t.State, t.Reason, t.Detail)})
		return err
	})
}
