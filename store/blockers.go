package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Blocker states.
const (
	BlockerOpen      = "open"      // waits for the leader (or, when Human, a person)
	BlockerEscalated = "escalated" // the leader passed it on: waits for a person
	BlockerAnswered  = "answered"
)

// ErrAnswered is an answer or escalation of a blocker that was already answered.
var ErrAnswered = errors.New("blocker already answered")

// Blocker is a question an agent cannot go on without.
type Blocker struct {
	ID    int64  `json:"id"`
	Team  string `json:"team"`
	Agent string `json:"agent"`
	Task  string `json:"task"`
	Text  string `json:"text"`
	// Human: only a person can answer it (raised with --human, escalated, or the team has no
	// leader agent).
	Human      bool      `json:"human"`
	State      string    `json:"state"`
	Answer     string    `json:"answer,omitempty"`
	AnsweredBy string    `json:"answered_by,omitempty"`
	Created    time.Time `json:"created_at"`
	Escalated  time.Time `json:"escalated_at,omitzero"`
	Answered   time.Time `json:"answered_at,omitzero"`
	// Notified is when the supervisor handed the blocker on in its current state (launched
	// the leader for it, or ran the plan's escalate: command); zero: not yet.
	Notified time.Time `json:"notified_at,omitzero"`
	// Delivered is when the answer reached the blocked agent (relaunched with it); zero: not yet.
	Delivered time.Time `json:"delivered_at,omitzero"`
}

const blockerCols = `id, team, agent, task, text, human, state, answer, answered_by, created_at,
	escalated_at, answered_at, notified_at, delivered_at`

func scanBlocker(sc scanner) (Blocker, error) {
	var b Blocker
	var created, escalated, answered, notified, delivered int64
	err := sc.Scan(&b.ID, &b.Team, &b.Agent, &b.Task, &b.Text, &b.Human, &b.State, &b.Answer, &b.AnsweredBy,
		&created, &escalated, &answered, &notified, &delivered)
	b.Created, b.Escalated, b.Answered = fromNanos(created), fromNanos(escalated), fromNanos(answered)
	b.Notified, b.Delivered = fromNanos(notified), fromNanos(delivered)
	return b, err
}

func blockerWhat(team string, id int64) string { return fmt.Sprintf("blocker %d of team %q", id, team) }

func readBlocker(ctx context.Context, q queryer, team string, id int64) (Blocker, error) {
	return one(ctx, q, scanBlocker, blockerWhat(team, id),
		`SELECT `+blockerCols+` FROM blockers WHERE team = ? AND id = ?`, team, id)
}

// readUnanswered reads a blocker that still waits for its answer; ErrAnswered (through
// the transaction untouched) when it has one.
func readUnanswered(ctx context.Context, tx *sql.Tx, team string, id int64) (Blocker, error) {
	b, err := readBlocker(ctx, tx, team, id)
	if err == nil && b.State == BlockerAnswered {
		err = errAborted{fmt.Errorf("%w: blocker %d was answered by %s: %q", ErrAnswered, id, b.AnsweredBy, b.Answer)}
	}
	return b, err
}

// RaiseBlocker records b (ID, State "open" and Created assigned) and journals
// "blocker.raised"; it returns the stored blocker. ErrNotFound if the team does not exist.
func (s *Store) RaiseBlocker(ctx context.Context, b Blocker) (Blocker, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := readTeam(ctx, tx, b.Team); err != nil {
			return err
		}
		b.State, b.Created = BlockerOpen, now()
		res, err := tx.ExecContext(ctx, `INSERT INTO blockers (team, agent, task, text, human, state, created_at)
			VALUES (?,?,?,?,?,?,?)`, b.Team, b.Agent, b.Task, b.Text, b.Human, b.State, toNanos(b.Created))
		if err != nil {
			return err
		}
		if b.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, Event{Team: b.Team, At: b.Created, Kind: "blocker.raised", Agent: b.Agent,
			Task: b.Task, Data: mustJSON(struct {
				ID    int64  `json:"id"`
				Text  string `json:"text"`
				Human bool   `json:"human"`
			}{b.ID, b.Text, b.Human})})
		return err
	})
	if err != nil {
		return Blocker{}, wrapOp(err, "raise blocker of %s", agentWhat(b.Team, b.Agent))
	}
	return b, nil
}

// Blocker reads one blocker of the team; ErrNotFound if the team has none of that id.
// BlockerTeam is the team that holds blocker id (ids are unique across the store);
// ErrNotFound when none does.
func (s *Store) BlockerTeam(ctx context.Context, id int64) (string, error) {
	var team string
	err := s.db.QueryRowContext(ctx, `SELECT team FROM blockers WHERE id = ?`, id).Scan(&team)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound(fmt.Sprintf("blocker %d", id))
	}
	return team, err
}

func (s *Store) Blocker(ctx context.Context, team string, id int64) (Blocker, error) {
	return readBlocker(ctx, s.db, team, id)
}

// Blockers lists every blocker of the team: those for a person first, then by id.
func (s *Store) Blockers(ctx context.Context, team string) ([]Blocker, error) {
	return s.blockers(ctx, team, `1`)
}

// OpenBlockers lists the team's blockers that wait for an answer (open or escalated):
// those for a person first, then by id.
func (s *Store) OpenBlockers(ctx context.Context, team string) ([]Blocker, error) {
	return s.blockers(ctx, team, `state != 'answered'`)
}

// AnsweredBlockers lists the team's answered blockers whose answer has not reached the
// blocked agent yet (the supervisor relaunches it with the answer, then MarkBlockerDelivered).
func (s *Store) AnsweredBlockers(ctx context.Context, team string) ([]Blocker, error) {
	return s.blockers(ctx, team, `state = 'answered' AND delivered_at = 0`)
}

func (s *Store) blockers(ctx context.Context, team, where string) ([]Blocker, error) {
	bs, err := list(ctx, s.db, scanBlocker, `SELECT `+blockerCols+` FROM blockers
		WHERE team = ? AND `+where+` ORDER BY human DESC, id`, team)
	if err != nil {
		return nil, fmt.Errorf("list blockers of team %q: %w", team, err)
	}
	return bs, nil
}

// AnswerBlocker records the answer of by to an open or escalated blocker and journals
// "blocker.answered". When the blocker's task waits in state "blocked", the task's Reason
// becomes "answer" in the same transaction, so a supervisor, or resume, relaunches its
// agent with the answer even if none runs now. ErrNotFound; ErrAnswered if already answered.
func (s *Store) AnswerBlocker(ctx context.Context, team string, id int64, by, answer string) (Blocker, error) {
	var b Blocker
	err := s.update(ctx, blockerWhat(team, id), func(tx *sql.Tx, at time.Time) error {
		var err error
		if b, err = readUnanswered(ctx, tx, team, id); err != nil {
			return err
		}
		b.State, b.Answer, b.AnsweredBy, b.Answered = BlockerAnswered, answer, by, at
		if _, err := tx.ExecContext(ctx, `UPDATE blockers SET state = ?, answer = ?, answered_by = ?, answered_at = ?
			WHERE id = ?`, b.State, b.Answer, b.AnsweredBy, toNanos(at), b.ID); err != nil {
			return err
		}
		if b.Task != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET reason = 'answer'
				WHERE team = ? AND id = ? AND state = 'blocked'`, team, b.Task); err != nil {
				return err
			}
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "blocker.answered", Agent: by, Task: b.Task,
			Data: mustJSON(struct {
				ID      int64  `json:"id"`
				Blocked string `json:"blocked"` // the agent waiting for the answer
				Answer  string `json:"answer"`
			}{b.ID, b.Agent, answer})})
		return err
	})
	return b, err
}

// EscalateBlocker passes an open blocker on to a person (Human, state "escalated",
// Notified cleared so the supervisor runs the escalate: command for it) and journals
// "blocker.escalated". ErrNotFound; ErrAnswered if already answered.
func (s *Store) EscalateBlocker(ctx context.Context, team string, id int64, by string) (Blocker, error) {
	var b Blocker
	err := s.update(ctx, blockerWhat(team, id), func(tx *sql.Tx, at time.Time) error {
		var err error
		if b, err = readUnanswered(ctx, tx, team, id); err != nil {
			return err
		}
		b.State, b.Human, b.Escalated, b.Notified = BlockerEscalated, true, at, time.Time{}
		if _, err := tx.ExecContext(ctx, `UPDATE blockers SET state = ?, human = 1, escalated_at = ?, notified_at = 0
			WHERE id = ?`, b.State, toNanos(at), b.ID); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "blocker.escalated", Agent: by, Task: b.Task,
			Data: mustJSON(struct {
				ID   int64  `json:"id"`
				From string `json:"from"`
				Text string `json:"text"`
			}{b.ID, b.Agent, b.Text})})
		return err
	})
	return b, err
}

// MarkBlockerNotified records that the supervisor handed the blocker on in its current
// state (launched the leader for it, or ran the escalate: command).
func (s *Store) MarkBlockerNotified(ctx context.Context, team string, id int64) error {
	return s.markBlocker(ctx, team, id, "notified_at", "blocker.notified")
}

// MarkBlockerDelivered records that the blocked agent was relaunched with the answer.
func (s *Store) MarkBlockerDelivered(ctx context.Context, team string, id int64) error {
	return s.markBlocker(ctx, team, id, "delivered_at", "blocker.delivered")
}

func (s *Store) markBlocker(ctx context.Context, team string, id int64, col, kind string) error {
	return s.update(ctx, blockerWhat(team, id), func(tx *sql.Tx, at time.Time) error {
		b, err := readBlocker(ctx, tx, team, id)
		if err != nil {
			return err
		}
		// col is one of this file's two column names, never input.
		if _, err := tx.ExecContext(ctx, `UPDATE blockers SET `+col+` = ? WHERE id = ?`, toNanos(at), id); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: kind, Agent: b.Agent, Task: b.Task,
			Data: mustJSON(struct {
				ID int64 `json:"id"`
			}{id})})
		return err
	})
}
