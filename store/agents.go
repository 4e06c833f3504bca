package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const agentCols = `team, name, role, branch, worktree, state, task, pid, proc_start, updated`

func scanAgent(sc scanner) (Agent, error) {
	var a Agent
	var updated int64
	err := sc.Scan(&a.Team, &a.Name, &a.Role, &a.Branch, &a.Worktree, &a.State, &a.Task, &a.PID,
		&a.ProcStart, &updated)
	a.Updated = fromNanos(updated)
	return a, err
}

// insertAgent inserts a as the ord-th agent of its team.
func insertAgent(ctx context.Context, tx *sql.Tx, a Agent, ord int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO agents (`+agentCols+`, ord) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		a.Team, a.Name, a.Role, a.Branch, a.Worktree, a.State, a.Task, a.PID, a.ProcStart,
		toNanos(a.Updated), ord)
	if isDuplicate(err) {
		return fmt.Errorf("%s: %w", agentWhat(a.Team, a.Name), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert %s: %w", agentWhat(a.Team, a.Name), err)
	}
	return nil
}

// TeamsOfAgent lists the teams that have an agent called name, by name.
func (s *Store) TeamsOfAgent(ctx context.Context, name string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT team FROM agents WHERE name = ? ORDER BY team`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Agent reads one agent; ErrNotFound if the team has none of that name.
func (s *Store) Agent(ctx context.Context, team, name string) (Agent, error) {
	return readAgent(ctx, s.db, team, name)
}

func readAgent(ctx context.Context, q queryer, team, name string) (Agent, error) {
	return one(ctx, q, scanAgent, agentWhat(team, name),
		`SELECT `+agentCols+` FROM agents WHERE team = ? AND name = ?`, team, name)
}

// Agents lists the team's agents, the leader first, then in plan order.
func (s *Store) Agents(ctx context.Context, team string) ([]Agent, error) {
	agents, err := list(ctx, s.db, scanAgent, `SELECT `+agentCols+` FROM agents WHERE team = ?
		ORDER BY role = 'leader' DESC, ord`, team)
	if err != nil {
		return nil, fmt.Errorf("list agents of team %q: %w", team, err)
	}
	return agents, nil
}

// UpdateAgent is UpdateTeam for an agent; journals "agent.state" when State changed.
//
// fn cannot move or rename the agent: changes to Team and Name are ignored.
func (s *Store) UpdateAgent(ctx context.Context, team, name string, fn func(*Agent) error) error {
	return s.update(ctx, agentWhat(team, name), func(tx *sql.Tx, at time.Time) error {
		old, err := readAgent(ctx, tx, team, name)
		if err != nil {
			return err
		}
		a := old
		if err := fn(&a); err != nil {
			return errAborted{err}
		}
		a.Team, a.Name, a.Updated = old.Team, old.Name, at
		_, err = tx.ExecContext(ctx, `UPDATE agents SET role = ?, branch = ?, worktree = ?, state = ?,
			task = ?, pid = ?, proc_start = ?, updated = ? WHERE team = ? AND name = ?`,
			a.Role, a.Branch, a.Worktree, a.State, a.Task, a.PID, a.ProcStart, toNanos(a.Updated),
			a.Team, a.Name)
		if err != nil {
			return err
		}
		if a.State == old.State {
			return nil
		}
		_, err = appendEvent(ctx, tx, Event{Team: a.Team, At: at, Kind: "agent.state", Agent: a.Name,
			Task: a.Task, Data: stateData(old.State, a.State, "", "")})
		return err
	})
}
