package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const teamCols = `name, plan_file, plan_json, repo, base, base_head, leader_branch, leader_worktree,
	tested_head, state, supervisor_pid, created, updated`

func scanTeam(sc scanner) (Team, error) {
	var t Team
	var created, updated int64
	err := sc.Scan(&t.Name, &t.PlanFile, &t.PlanJSON, &t.Repo, &t.Base, &t.BaseHead, &t.LeaderBranch,
		&t.LeaderWorktree, &t.TestedHead, &t.State, &t.SupervisorPID, &created, &updated)
	t.Created, t.Updated = fromNanos(created), fromNanos(updated)
	return t, err
}

// CreateTeam inserts a team with its agents and tasks in one transaction and journals
// "team.created". ErrExists if the team exists.
//
// Every agent's and task's Team is set to t.Name. Empty states default to "running",
// "idle" and "pending"; a zero Created to now. A task's Seq is its given Seq, or its
// position in tasks (from 1) when zero.
func (s *Store) CreateTeam(ctx context.Context, t Team, agents []Agent, tasks []Task) error {
	if t.State == "" {
		t.State = "running"
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		at := now()
		if t.Created.IsZero() {
			t.Created = at
		}
		t.Updated = at
		_, err := tx.ExecContext(ctx, `INSERT INTO teams (`+teamCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			t.Name, t.PlanFile, t.PlanJSON, t.Repo, t.Base, t.BaseHead, t.LeaderBranch, t.LeaderWorktree,
			t.TestedHead, t.State, t.SupervisorPID, toNanos(t.Created), toNanos(t.Updated))
		if isDuplicate(err) {
			return fmt.Errorf("%s: %w", teamWhat(t.Name), ErrExists)
		}
		if err != nil {
			return err
		}
		names := make([]string, 0, len(agents))
		for i, a := range agents {
			a.Team, a.Updated = t.Name, at
			if a.State == "" {
				a.State = "idle"
			}
			if err := insertAgent(ctx, tx, a, i+1); err != nil {
				return err
			}
			names = append(names, a.Name)
		}
		ids := make([]string, 0, len(tasks))
		for i, k := range tasks {
			k.Team, k.Updated = t.Name, at
			if k.Seq == 0 {
				k.Seq = i + 1
			}
			if err := insertTask(ctx, tx, k); err != nil {
				return err
			}
			ids = append(ids, k.ID)
		}
		_, err = appendEvent(ctx, tx, Event{Team: t.Name, At: at, Kind: "team.created", Data: mustJSON(struct {
			Base     string   `json:"base"`
			BaseHead string   `json:"base_head"`
			Agents   []string `json:"agents"`
			Tasks    []string `json:"tasks"`
		}{t.Base, t.BaseHead, names, ids})})
		return err
	})
	return wrapOp(err, "create team %q", t.Name)
}

// DeleteTeam removes every row of the team (agents, tasks, merges, events, messages,
// reservations, blockers). ErrNotFound if none.
func (s *Store) DeleteTeam(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The team's rows in every other table go with it: ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound(teamWhat(name))
		}
		return nil
	})
	return wrapOp(err, "delete team %q", name)
}

// Team reads one team; ErrNotFound if there is none of that name.
func (s *Store) Team(ctx context.Context, name string) (Team, error) {
	return readTeam(ctx, s.db, name)
}

func readTeam(ctx context.Context, q queryer, name string) (Team, error) {
	return one(ctx, q, scanTeam, teamWhat(name), `SELECT `+teamCols+` FROM teams WHERE name = ?`, name)
}

// Teams lists every team of the store by name.
func (s *Store) Teams(ctx context.Context) ([]Team, error) {
	teams, err := list(ctx, s.db, scanTeam, `SELECT `+teamCols+` FROM teams ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return teams, nil
}

// UpdateTeam reads the team, applies fn and writes it back in one transaction, journalling
// "team.state" when State changed. fn returning an error aborts the transaction.
//
// fn cannot rename the team: a change to Name is ignored. Updated is set to now.
func (s *Store) UpdateTeam(ctx context.Context, name string, fn func(*Team) error) error {
	return s.update(ctx, teamWhat(name), func(tx *sql.Tx, at time.Time) error {
		old, err := readTeam(ctx, tx, name)
		if err != nil {
			return err
		}
		t := old
		if err := fn(&t); err != nil {
			return errAborted{err}
		}
		t.Name, t.Updated = old.Name, at
		_, err = tx.ExecContext(ctx, `UPDATE teams SET plan_file = ?, plan_json = ?, repo = ?, base = ?,
			base_head = ?, leader_branch = ?, leader_worktree = ?, tested_head = ?, state = ?,
			supervisor_pid = ?, created = ?, updated = ? WHERE name = ?`,
			t.PlanFile, t.PlanJSON, t.Repo, t.Base, t.BaseHead, t.LeaderBranch, t.LeaderWorktree,
			t.TestedHead, t.State, t.SupervisorPID, toNanos(t.Created), toNanos(t.Updated), t.Name)
		if err != nil {
			return err
		}
		if t.State == old.State {
			return nil
		}
		_, err = appendEvent(ctx, tx, Event{Team: t.Name, At: at, Kind: "team.state",
			Data: stateData(old.State, t.State, "", "")})
		return err
	})
}
