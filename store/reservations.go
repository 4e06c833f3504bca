package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrReserved is a path reserved by another agent: the reservation asked for is refused.
var ErrReserved = errors.New("reserved by another agent")

// ErrNotHeld is a release of a path the agent holds no reservation on.
var ErrNotHeld = errors.New("no such reservation")

// Reservation is one grant of a path to an agent: a lease that lasts until it is released,
// its task ends, or the process that held it (PID, ProcStart) is gone.
type Reservation struct {
	ID    int64  `json:"-"`
	Team  string `json:"team"`
	Agent string `json:"agent"`
	Task  string `json:"task,omitempty"` // the agent's task when granted
	// Path is repo-relative; with a trailing "/" it reserves everything under it (Prefix).
	Path   string `json:"path"`
	Prefix bool   `json:"prefix"`
	Reason string `json:"reason,omitempty"`
	// Token is the grant's fencing token: it only grows across the whole store, so of two
	// grants of one path the later one has the larger token.
	Token      int64     `json:"token"`
	PID        int       `json:"pid,omitempty"` // the holding process; 0: none (the human, or an agent not running)
	ProcStart  int64     `json:"-"`
	Granted    time.Time `json:"granted_at"`
	Released   time.Time `json:"released_at,omitzero"`
	ReleaseWhy string    `json:"release_why,omitempty"`
}

// Alive reports whether the process pid that started at start (clock ticks since boot)
// still runs. The store cannot tell by itself: its caller knows processes.
type Alive func(pid int, start int64) bool

// Overlaps reports whether two reservation paths conflict: the same path, or one a
// directory prefix ("dir/") that covers the other.
func Overlaps(a, b string) bool {
	switch {
	case a == b:
		return true
	case strings.HasSuffix(a, "/") && strings.HasPrefix(b, a):
		return true
	case strings.HasSuffix(b, "/") && strings.HasPrefix(a, b):
		return true
	}
	return false
}

// Conflict is one requested path and the reservation of another agent in its way.
type Conflict struct {
	Path string      `json:"path"`
	Held Reservation `json:"held"`
}

// ReservedError is a reservation refused because other agents hold overlapping paths.
// errors.Is(err, ErrReserved) holds.
type ReservedError struct{ Conflicts []Conflict }

func (e *ReservedError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("%s is reserved by %s as %s", c.Path, c.Held.Agent, c.Held.Path)
		if c.Held.Reason != "" {
			parts[i] += fmt.Sprintf(" (%q)", c.Held.Reason)
		}
	}
	return strings.Join(parts, "; ")
}

func (e *ReservedError) Is(target error) bool { return target == ErrReserved }

// FirstConflict is the first of files (repo-relative paths) covered by a reservation of
// an agent other than agent, and that reservation; ok is false when there is none.
func FirstConflict(files []string, agent string, res []Reservation) (file string, held Reservation, ok bool) {
	for _, f := range files {
		for _, r := range res {
			if r.Agent != agent && Overlaps(r.Path, f) {
				return f, r, true
			}
		}
	}
	return "", Reservation{}, false
}

const reservationCols = `id, team, agent, task, path, is_prefix, reason, token, pid, proc_start,
	granted_at, released_at, release_why`

func scanReservation(sc scanner) (Reservation, error) {
	var r Reservation
	var granted, released int64
	err := sc.Scan(&r.ID, &r.Team, &r.Agent, &r.Task, &r.Path, &r.Prefix, &r.Reason, &r.Token, &r.PID,
		&r.ProcStart, &granted, &released, &r.ReleaseWhy)
	r.Granted, r.Released = fromNanos(granted), fromNanos(released)
	return r, err
}

func activeReservations(ctx context.Context, q queryer, team string) ([]Reservation, error) {
	return list(ctx, q, scanReservation, `SELECT `+reservationCols+` FROM reservations
		WHERE team = ? AND released_at = 0 ORDER BY path, token`, team)
}

// ReserveRequest is one all-or-nothing reservation of paths by an agent.
type ReserveRequest struct {
	Team, Agent string
	// Paths are repo-relative and normalised; a trailing "/" reserves a directory prefix.
	Paths  []string
	Reason string
	// Alive tells a live holder from a dead one; nil takes every holder as alive.
	Alive Alive
	// PID and ProcStart name the process to lease the grant to when the store has no live
	// process recorded for the agent (it was just launched and the supervisor has not
	// recorded it yet); 0: none.
	PID       int
	ProcStart int64
}

// leaseState is what a transaction knows about the team's agents: the process and the
// task each one runs now.
type leaseState struct {
	agents map[string]Agent
	alive  Alive
}

func readLeaseState(ctx context.Context, tx *sql.Tx, team string, alive Alive) (leaseState, error) {
	agents, err := list(ctx, tx, scanAgent, `SELECT `+agentCols+` FROM agents WHERE team = ?`, team)
	if err != nil {
		return leaseState{}, err
	}
	ls := leaseState{agents: map[string]Agent{}, alive: alive}
	for _, a := range agents {
		ls.agents[a.Name] = a
	}
	return ls, nil
}

// ended says why r's lease is over ("" while it lasts): its process is gone, or its agent
// has moved on to another task.
func (ls leaseState) ended(r Reservation) string {
	if r.PID > 0 && ls.alive != nil && !ls.alive(r.PID, r.ProcStart) {
		return fmt.Sprintf("holder gone: process %d of %s ended", r.PID, r.Agent)
	}
	if a, ok := ls.agents[r.Agent]; ok && r.Task != "" && a.Task != "" && a.Task != r.Task {
		return fmt.Sprintf("task ended: %s moved from task %s to %s", r.Agent, r.Task, a.Task)
	}
	return ""
}

// holder is the process a new grant of req is leased to: the agent's recorded process
// while it lives, else the one the request names while it lives, else none (pid 0).
func (ls leaseState) holder(req ReserveRequest) (pid int, start int64, task string) {
	a, ok := ls.agents[req.Agent]
	if !ok {
		return 0, 0, ""
	}
	if a.PID > 0 && (ls.alive == nil || ls.alive(a.PID, a.ProcStart)) {
		return a.PID, a.ProcStart, a.Task
	}
	if req.PID > 0 && (ls.alive == nil || ls.alive(req.PID, req.ProcStart)) {
		return req.PID, req.ProcStart, a.Task
	}
	return 0, 0, a.Task
}

type tokenRecord struct {
	Path  string `json:"path"`
	Token int64  `json:"token"`
}

func tokenRecords(rs []Reservation) []tokenRecord {
	out := make([]tokenRecord, len(rs))
	for i, r := range rs {
		out[i] = tokenRecord{r.Path, r.Token}
	}
	return out
}

// releaseIn ends the reservations rs in tx and journals one "release" event for them.
func releaseIn(ctx context.Context, tx *sql.Tx, at time.Time, team, by, why string, rs []Reservation) error {
	if len(rs) == 0 {
		return nil
	}
	for _, r := range rs {
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET released_at = ?, release_why = ?
			WHERE id = ?`, toNanos(at), why, r.ID); err != nil {
			return err
		}
	}
	_, err := appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "release", Agent: rs[0].Agent, Data: mustJSON(struct {
		By    string        `json:"by"`
		Why   string        `json:"why"`
		Paths []tokenRecord `json:"paths"`
	}{by, why, tokenRecords(rs)})})
	return err
}

// expireIn ends, in tx, every lease among rs that is over and returns the ones that last.
func expireIn(ctx context.Context, tx *sql.Tx, at time.Time, team string, ls leaseState, rs []Reservation) ([]Reservation, error) {
	var live []Reservation
	for _, r := range rs {
		why := ls.ended(r)
		if why == "" {
			live = append(live, r)
			continue
		}
		if err := releaseIn(ctx, tx, at, team, "teamctl", why, []Reservation{r}); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// Reserve grants req.Paths to req.Agent in one transaction, or nothing: a *ReservedError
// (errors.Is ErrReserved) naming every conflicting reservation of another agent whose lease
// lasts. Leases found over on the way (holder process gone, task moved on) are released
// first. A path the agent already holds is kept as it is (its reason updated when one is
// given); every new grant gets the next fencing token. It returns the agent's reservations
// of req.Paths, in their order. Journals "reserve" (and "release" for ended leases).
//
// ErrNotFound if the team does not exist.
func (s *Store) Reserve(ctx context.Context, req ReserveRequest) ([]Reservation, error) {
	var out []Reservation
	err := s.update(ctx, fmt.Sprintf("reservations of team %q", req.Team), func(tx *sql.Tx, at time.Time) error {
		out = nil
		if _, err := readTeam(ctx, tx, req.Team); err != nil {
			return err
		}
		ls, err := readLeaseState(ctx, tx, req.Team, req.Alive)
		if err != nil {
			return err
		}
		active, err := activeReservations(ctx, tx, req.Team)
		if err != nil {
			return err
		}
		// Only leases in the way are checked: a dead holder elsewhere is no one's business here.
		var inWay, mine []Reservation
		for _, r := range active {
			switch {
			case r.Agent == req.Agent:
				mine = append(mine, r)
			case overlapsAny(r.Path, req.Paths):
				inWay = append(inWay, r)
			}
		}
		inWay, err = expireIn(ctx, tx, at, req.Team, ls, inWay)
		if err != nil {
			return err
		}
		var conflicts []Conflict
		for _, p := range req.Paths {
			for _, r := range inWay {
				if Overlaps(p, r.Path) {
					conflicts = append(conflicts, Conflict{Path: p, Held: r})
				}
			}
		}
		if len(conflicts) > 0 {
			return errAborted{&ReservedError{Conflicts: conflicts}}
		}

		pid, start, task := ls.holder(req)
		held := map[string]Reservation{}
		var renewed []Reservation
		for _, r := range mine {
			// A grant of the agent's own that an earlier process of it holds is taken over by
			// the new grant rather than kept: a lease belongs to one process.
			if r.PID != pid || r.ProcStart != start || ls.ended(r) != "" {
				if containsString(req.Paths, r.Path) {
					renewed = append(renewed, r)
				}
				continue
			}
			held[r.Path] = r
		}
		if err := releaseIn(ctx, tx, at, req.Team, req.Agent, "renewed by a new grant", renewed); err != nil {
			return err
		}
		var granted, kept []Reservation
		for _, p := range req.Paths {
			if r, ok := held[p]; ok {
				if req.Reason != "" && req.Reason != r.Reason {
					if _, err := tx.ExecContext(ctx, `UPDATE reservations SET reason = ? WHERE id = ?`, req.Reason, r.ID); err != nil {
						return err
					}
					r.Reason = req.Reason
				}
				kept = append(kept, r)
				out = append(out, r)
				continue
			}
			r := Reservation{Team: req.Team, Agent: req.Agent, Task: task, Path: p, Prefix: strings.HasSuffix(p, "/"),
				Reason: req.Reason, PID: pid, ProcStart: start, Granted: at}
			// The token is the row's id: AUTOINCREMENT never hands out an id twice, not even
			// after the newest rows went with a deleted team, so tokens only grow.
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence
				WHERE name = 'reservations'), 0) + 1`).Scan(&r.Token); err != nil {
				return err
			}
			r.ID = r.Token
			if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (`+reservationCols+`)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, r.ID, r.Team, r.Agent, r.Task, r.Path, r.Prefix, r.Reason,
				r.Token, r.PID, r.ProcStart, toNanos(r.Granted), 0, ""); err != nil {
				return err
			}
			held[p] = r
			granted = append(granted, r)
			out = append(out, r)
		}
		_, err = appendEvent(ctx, tx, Event{Team: req.Team, At: at, Kind: "reserve", Agent: req.Agent, Task: task,
			Data: mustJSON(struct {
				Granted []tokenRecord `json:"granted"`
				Kept    []tokenRecord `json:"kept,omitempty"`
				Reason  string        `json:"reason,omitempty"`
				PID     int           `json:"pid,omitempty"`
			}{tokenRecords(granted), tokenRecords(kept), req.Reason, pid})})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func overlapsAny(p string, paths []string) bool {
	for _, q := range paths {
		if Overlaps(p, q) {
			return true
		}
	}
	return false
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Release ends the agent's reservations of paths (exactly as reserved), or all of them when
// paths is empty, for the reason why, and returns what it released. Nothing is released
// when one of paths is not the agent's: an error wrapping ErrNotHeld. Journals "release".
func (s *Store) Release(ctx context.Context, team, agent string, paths []string, why string) ([]Reservation, error) {
	var out []Reservation
	err := s.update(ctx, fmt.Sprintf("reservations of %s", agentWhat(team, agent)), func(tx *sql.Tx, at time.Time) error {
		out = nil
		if _, err := readTeam(ctx, tx, team); err != nil {
			return err
		}
		mine, err := list(ctx, tx, scanReservation, `SELECT `+reservationCols+` FROM reservations
			WHERE team = ? AND agent = ? AND released_at = 0 ORDER BY path, token`, team, agent)
		if err != nil {
			return err
		}
		if len(paths) == 0 {
			out = mine
		} else {
			byPath := map[string]Reservation{}
			for _, r := range mine {
				byPath[r.Path] = r
			}
			var missing []string
			for _, p := range paths {
				r, ok := byPath[p]
				if !ok {
					missing = append(missing, p)
					continue
				}
				delete(byPath, p) // a path named twice is released once
				out = append(out, r)
			}
			if len(missing) > 0 {
				held := make([]string, len(mine))
				for i, r := range mine {
					held[i] = r.Path
				}
				return errAborted{fmt.Errorf("%w: %s holds no reservation on %s (it holds: %s)", ErrNotHeld, agent,
					strings.Join(missing, ", "), orNone(held))}
			}
		}
		for i := range out {
			out[i].Released, out[i].ReleaseWhy = at, why
		}
		return releaseIn(ctx, tx, at, team, agent, why, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ReleaseAll ends every reservation the agent holds (when its task ends) and returns them.
func (s *Store) ReleaseAll(ctx context.Context, team, agent, why string) ([]Reservation, error) {
	return s.Release(ctx, team, agent, nil, why)
}

// Reservations lists the team's active reservations, by path: leases found over (alive
// says which holders are gone) are released on the way and left out.
func (s *Store) Reservations(ctx context.Context, team string, alive Alive) ([]Reservation, error) {
	if _, err := s.Team(ctx, team); err != nil {
		return nil, err
	}
	// A read first: the lease check is a write only when a lease has ended, so the pre-commit
	// hook of every agent does not queue for the write lock at each commit.
	active, err := activeReservations(ctx, s.db, team)
	if err != nil {
		return nil, fmt.Errorf("list reservations of team %q: %w", team, err)
	}
	agents, err := s.Agents(ctx, team)
	if err != nil {
		return nil, err
	}
	ls := leaseState{agents: map[string]Agent{}, alive: alive}
	for _, a := range agents {
		ls.agents[a.Name] = a
	}
	over := false
	for _, r := range active {
		if ls.ended(r) != "" {
			over = true
			break
		}
	}
	if !over {
		return active, nil
	}
	var live []Reservation
	err = s.update(ctx, fmt.Sprintf("reservations of team %q", team), func(tx *sql.Tx, at time.Time) error {
		ls, err := readLeaseState(ctx, tx, team, alive)
		if err != nil {
			return err
		}
		active, err := activeReservations(ctx, tx, team)
		if err != nil {
			return err
		}
		live, err = expireIn(ctx, tx, at, team, ls, active)
		return err
	})
	return live, err
}

// ReservationHistory lists every reservation the team ever had, active or not, by token.
func (s *Store) ReservationHistory(ctx context.Context, team string) ([]Reservation, error) {
	rs, err := list(ctx, s.db, scanReservation, `SELECT `+reservationCols+` FROM reservations
		WHERE team = ? ORDER BY token`, team)
	if err != nil {
		return nil, fmt.Errorf("list reservation history of team %q: %w", team, err)
	}
	return rs, nil
}

// LatestToken is the largest fencing token granted so far in the store (0: none yet).
func (s *Store) LatestToken(ctx context.Context) (int64, error) {
	var t int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence
		WHERE name = 'reservations'), 0)`).Scan(&t)
	if err != nil {
		return 0, fmt.Errorf("read latest reservation token: %w", err)
	}
	return t, nil
}
