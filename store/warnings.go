package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Warning is an early conflict warning: merging both A's and B's branches into the leader
// branch would conflict in Files (B is "" when A's branch conflicts with the leader branch
// alone). At is when it was first seen.
type Warning struct {
	Team  string    `json:"team"`
	A     string    `json:"a"`
	B     string    `json:"b,omitempty"`
	Files []string  `json:"files"`
	At    time.Time `json:"at"`
}

func scanWarning(sc scanner) (Warning, error) {
	var w Warning
	var files string
	var at int64
	if err := sc.Scan(&w.Team, &w.A, &w.B, &files, &at); err != nil {
		return w, err
	}
	w.At = fromNanos(at)
	return w, json.Unmarshal([]byte(files), &w.Files)
}

// Warnings lists the team's current early conflict warnings, by A then B.
func (s *Store) Warnings(ctx context.Context, team string) ([]Warning, error) {
	ws, err := list(ctx, s.db, scanWarning, `SELECT team, a, b, files, at FROM warnings WHERE team = ? ORDER BY a, b`, team)
	if err != nil {
		return nil, fmt.Errorf("list warnings of team %q: %w", team, err)
	}
	return ws, nil
}

// SetWarnings replaces the team's warnings with ws and returns the ones that are new, or
// whose files changed, since the last set: those are journalled ("conflict.warning"), and
// are what the agents are told of. A warning that goes away is journalled too
// ("conflict.cleared"). One transaction.
func (s *Store) SetWarnings(ctx context.Context, team string, ws []Warning) ([]Warning, error) {
	var fresh []Warning
	err := s.write(ctx, func(tx *sql.Tx) error {
		fresh = nil
		old, err := list(ctx, tx, scanWarning, `SELECT team, a, b, files, at FROM warnings WHERE team = ?`, team)
		if err != nil {
			return err
		}
		before := map[[2]string]Warning{}
		for _, w := range old {
			before[[2]string{w.A, w.B}] = w
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM warnings WHERE team = ?`, team); err != nil {
			return err
		}
		at := now()
		for _, w := range ws {
			w.Team = team
			prev, seen := before[[2]string{w.A, w.B}]
			delete(before, [2]string{w.A, w.B})
			w.At = at
			if seen && slices.Equal(prev.Files, w.Files) {
				w.At = prev.At
			} else {
				fresh = append(fresh, w)
				if _, err := appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "conflict.warning", Agent: w.A, Data: mustJSON(w)}); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO warnings (team, a, b, files, at) VALUES (?,?,?,?,?)`,
				team, w.A, w.B, mustJSON(w.Files), toNanos(w.At)); err != nil {
				return err
			}
		}
		for _, w := range before {
			if _, err := appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "conflict.cleared", Agent: w.A, Data: mustJSON(w)}); err != nil {
				return err
			}
		}
		return nil
	})
	return fresh, wrapOp(err, "set warnings of team %q", team)
}
