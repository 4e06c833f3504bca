package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Pause states: a provider's pause waits for its until, then one agent probes it.
const (
	PausePaused  = "paused"
	PauseProbing = "probing"
)

// Pause is one provider's pause for a team: nothing is launched into a known limit.
type Pause struct {
	Team     string
	Provider string // the key agents of one provider share (preset, base URL, credentials)
	Label    string // how a person names it: "claude", "codex", ...
	Kind     string // what it waits on: limit, overload, network
	Why      string // the provider's own words
	Until    time.Time
	Level    int    // backoffs in a row (the next one waits twice as long)
	State    string // PausePaused, PauseProbing
	Probe    string // the agent relaunched to try the provider (PauseProbing)
	Since    time.Time
}

const pauseCols = `team, provider, label, kind, why, until, level, state, probe, since`

func scanPause(sc scanner) (Pause, error) {
	var p Pause
	var until, since int64
	err := sc.Scan(&p.Team, &p.Provider, &p.Label, &p.Kind, &p.Why, &until, &p.Level, &p.State, &p.Probe, &since)
	p.Until, p.Since = fromNanos(until), fromNanos(since)
	return p, err
}

func pauseWhat(team, provider string) string {
	return fmt.Sprintf("pause of provider %q in team %q", provider, team)
}

// Pauses lists the team's pauses, oldest first.
func (s *Store) Pauses(ctx context.Context, team string) ([]Pause, error) {
	ps, err := list(ctx, s.db, scanPause, `SELECT `+pauseCols+` FROM pauses WHERE team = ? ORDER BY since, provider`, team)
	if err != nil {
		return nil, fmt.Errorf("list pauses of team %q: %w", team, err)
	}
	return ps, nil
}

// Pause reads one provider's pause; ErrNotFound when it is not paused.
func (s *Store) Pause(ctx context.Context, team, provider string) (Pause, error) {
	return one(ctx, s.db, scanPause, pauseWhat(team, provider),
		`SELECT `+pauseCols+` FROM pauses WHERE team = ? AND provider = ?`, team, provider)
}

// SetPause creates or changes a provider's pause with fn, which gets the pause as it is
// (ok false: there is none yet; Team and Provider are set) and says whether to keep the
// change. Journals "provider.limited" when the pause is made or made longer (data:
// provider, label, kind, until, why, level).
func (s *Store) SetPause(ctx context.Context, team, provider string, fn func(p *Pause, ok bool) bool) (Pause, error) {
	var out Pause
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := one(ctx, tx, scanPause, pauseWhat(team, provider),
			`SELECT `+pauseCols+` FROM pauses WHERE team = ? AND provider = ?`, team, provider)
		ok := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if !ok {
			if _, err := readTeam(ctx, tx, team); err != nil {
				return err
			}
			old = Pause{Team: team, Provider: provider, State: PausePaused, Since: now()}
		}
		p := old
		if !fn(&p, ok) {
			out = old
			return nil
		}
		p.Team, p.Provider = team, provider
		if p.State == "" {
			p.State = PausePaused
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pauses (`+pauseCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (team, provider) DO UPDATE SET label = excluded.label, kind = excluded.kind,
			why = excluded.why, until = excluded.until, level = excluded.level, state = excluded.state,
			probe = excluded.probe, since = excluded.since`,
			p.Team, p.Provider, p.Label, p.Kind, p.Why, toNanos(p.Until), p.Level, p.State, p.Probe,
			toNanos(p.Since))
		if err != nil {
			return err
		}
		out = p
		// Journalled: a new pause, a longer one, a probe that met the limit again; not the
		// start of a probe.
		if p.State != PausePaused || ok && old.State == PausePaused && !p.Until.After(old.Until) {
			return nil
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: now(), Kind: "provider.limited", Data: mustJSON(struct {
			Provider string `json:"provider"`
			Label    string `json:"label"`
			Kind     string `json:"kind"`
			Until    string `json:"until"`
			Why      string `json:"why"`
			Level    int    `json:"level"`
		}{p.Provider, p.Label, p.Kind, p.Until.UTC().Format(time.RFC3339), p.Why, p.Level})})
		return err
	})
	return out, wrapOp(err, "set %s", pauseWhat(team, provider))
}

// EndPause removes a provider's pause (nothing if there is none) and journals
// "provider.resumed" with how long it lasted.
func (s *Store) EndPause(ctx context.Context, team, provider, why string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := one(ctx, tx, scanPause, pauseWhat(team, provider),
			`SELECT `+pauseCols+` FROM pauses WHERE team = ? AND provider = ?`, team, provider)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pauses WHERE team = ? AND provider = ?`, team, provider); err != nil {
			return err
		}
		at := now()
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "provider.resumed", Data: mustJSON(struct {
			Provider string  `json:"provider"`
			Label    string  `json:"label"`
			Seconds  float64 `json:"seconds"`
			Why      string  `json:"why"`
		}{p.Provider, p.Label, at.Sub(p.Since).Round(time.Second).Seconds(), why})})
		return err
	})
	return wrapOp(err, "end %s", pauseWhat(team, provider))
}
