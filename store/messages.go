package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Message is one message as one recipient has it: a broadcast is one Message per agent it
// reached, each with its own read mark.
type Message struct {
	ID        int64     `json:"id"`
	Team      string    `json:"team"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Broadcast bool      `json:"broadcast,omitempty"`
	Text      string    `json:"text"`
	ReplyTo   int64     `json:"reply_to,omitempty"` // the message this one answers
	At        time.Time `json:"at"`
	ReadAt    time.Time `json:"read_at,omitzero"`
}

// Outgoing is a message to send: from one participant to each of To.
type Outgoing struct {
	From      string
	To        []string
	Broadcast bool
	Text      string
	ReplyTo   int64 // the id of the message it answers; 0 for none
}

const messageCols = `id, team, sender, recipient, broadcast, text, reply_to, at, read_at`

func scanMessage(sc scanner) (Message, error) {
	var m Message
	var at, read int64
	err := sc.Scan(&m.ID, &m.Team, &m.From, &m.To, &m.Broadcast, &m.Text, &m.ReplyTo, &at, &read)
	m.At, m.ReadAt = fromNanos(at), fromNanos(read)
	return m, err
}

// SendMessage stores the message to each of its recipients, in one transaction, and
// journals one "msg" event (data: to, broadcast, text, reply_to, ids). It returns the stored
// messages. Who may write to whom is the caller's rule; the store only keeps it.
//
// ErrNotFound if the team does not exist.
func (s *Store) SendMessage(ctx context.Context, team string, o Outgoing) ([]Message, error) {
	from, to, broadcast, text := o.From, o.To, o.Broadcast, o.Text
	var out []Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = nil
		if _, err := readTeam(ctx, tx, team); err != nil {
			return err
		}
		at := now()
		ids := make([]int64, 0, len(to))
		for _, r := range to {
			res, err := tx.ExecContext(ctx, `INSERT INTO messages (team, sender, recipient, broadcast, text, reply_to, at)
				VALUES (?,?,?,?,?,?,?)`, team, from, r, broadcast, text, o.ReplyTo, toNanos(at))
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			ids = append(ids, id)
			out = append(out, Message{ID: id, Team: team, From: from, To: r, Broadcast: broadcast, Text: text, ReplyTo: o.ReplyTo, At: at})
		}
		_, err := appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "msg", Agent: from, Data: mustJSON(struct {
			To        []string `json:"to"`
			Broadcast bool     `json:"broadcast,omitempty"`
			Text      string   `json:"text"`
			ReplyTo   int64    `json:"reply_to,omitempty"`
			IDs       []int64  `json:"ids"`
		}{to, broadcast, text, o.ReplyTo, ids})})
		return err
	})
	if err != nil {
		return nil, wrapOp(err, "send message from %s to %s in team %q", from, strings.Join(to, ", "), team)
	}
	return out, nil
}

// Message is the team's message id (ErrNotFound if there is none).
func (s *Store) Message(ctx context.Context, team string, id int64) (Message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE team = ? AND id = ?`, team, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("message %d of team %q: %w", id, team, ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("read message %d of team %q: %w", id, team, err)
	}
	return m, nil
}

// ReadInbox returns the recipient's unread messages, oldest first, and marks them read in
// the same statement: of two readers at once, each message goes to exactly one. Journals
// "msg.read" (data: ids) when there were any.
func (s *Store) ReadInbox(ctx context.Context, team, recipient string) ([]Message, error) {
	var out []Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		at := now()
		// UPDATE … RETURNING claims and reads in one statement, under the write lock every
		// read-write transaction takes at BEGIN (see pragmas): nothing can read between.
		ms, err := list(ctx, tx, scanMessage, `UPDATE messages SET read_at = ?
			WHERE team = ? AND recipient = ? AND read_at = 0 RETURNING `+messageCols,
			toNanos(at), team, recipient)
		if err != nil {
			return err
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID }) // RETURNING has no order
		out = ms
		if len(ms) == 0 {
			return nil
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "msg.read", Agent: recipient,
			Data: mustJSON(struct {
				IDs []int64 `json:"ids"`
			}{messageIDs(ms)})})
		return err
	})
	if err != nil {
		return nil, wrapOp(err, "read inbox of %s in team %q", recipient, team)
	}
	return out, nil
}

func messageIDs(ms []Message) []int64 {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// Unread lists the recipient's unread messages, oldest first, without marking them read
// (for a relaunch prompt: MarkRead them once the agent has them).
func (s *Store) Unread(ctx context.Context, team, recipient string) ([]Message, error) {
	ms, err := list(ctx, s.db, scanMessage, `SELECT `+messageCols+` FROM messages
		WHERE team = ? AND recipient = ? AND read_at = 0 ORDER BY id`, team, recipient)
	if err != nil {
		return nil, fmt.Errorf("list unread messages of %s in team %q: %w", recipient, team, err)
	}
	return ms, nil
}

// MarkRead marks the recipient's messages ids read (those already read stay as they were)
// and journals "msg.read" for the ones it marked.
func (s *Store) MarkRead(ctx context.Context, team, recipient string, ids []int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		at := now()
		var marked []int64
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE messages SET read_at = ? WHERE team = ? AND recipient = ?
				AND id = ? AND read_at = 0`, toNanos(at), team, recipient, id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				marked = append(marked, id)
			}
		}
		if len(marked) == 0 {
			return nil
		}
		_, err := appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "msg.read", Agent: recipient,
			Data: mustJSON(struct {
				IDs []int64 `json:"ids"`
			}{marked})})
		return err
	})
	return wrapOp(err, "mark messages of %s in team %q read", recipient, team)
}

// Thread lists the newest limit messages between a and b (either way, broadcasts that
// reached the other included), oldest first. limit <= 0: all.
func (s *Store) Thread(ctx context.Context, team, a, b string, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = -1
	}
	ms, err := list(ctx, s.db, scanMessage, `SELECT * FROM (SELECT `+messageCols+` FROM messages
		WHERE team = ? AND ((sender = ? AND recipient = ?) OR (sender = ? AND recipient = ?))
		ORDER BY id DESC LIMIT ?) ORDER BY id`, team, a, b, b, a, limit)
	if err != nil {
		return nil, fmt.Errorf("list messages between %s and %s in team %q: %w", a, b, team, err)
	}
	return ms, nil
}

// MessagesOf lists the team's newest limit messages agent sent or received, oldest first
// (limit <= 0: all); a broadcast it sent is listed once.
func (s *Store) MessagesOf(ctx context.Context, team, agent string, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = -1
	}
	ms, err := list(ctx, s.db, scanMessage, `SELECT * FROM (SELECT `+messageCols+` FROM messages
		WHERE team = ? AND (recipient = ? OR sender = ? AND (broadcast = 0 OR id IN (
			SELECT MIN(id) FROM messages WHERE team = ? AND sender = ? AND broadcast = 1 GROUP BY text, at)))
		ORDER BY id DESC LIMIT ?) ORDER BY id`, team, agent, agent, team, agent, limit)
	if err != nil {
		return nil, fmt.Errorf("list messages of %s in team %q: %w", agent, team, err)
	}
	return ms, nil
}

// EventsOfKinds lists the team's newest limit events of the given kinds, oldest first
// (limit <= 0: all).
func (s *Store) EventsOfKinds(ctx context.Context, team string, kinds []string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = -1
	}
	args := []any{team}
	marks := make([]string, len(kinds))
	for i, k := range kinds {
		marks[i] = "?"
		args = append(args, k)
	}
	args = append(args, limit)
	events, err := list(ctx, s.db, scanEvent, `SELECT * FROM (SELECT `+eventCols+` FROM events
		WHERE team = ? AND kind IN (`+strings.Join(marks, ",")+`) ORDER BY id DESC LIMIT ?) ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list events of team %q: %w", team, err)
	}
	return events, nil
}
