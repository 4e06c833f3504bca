package store

import (
	"context"
	"database/sql"
)

// PlanChange is an edited plan applied to a team (apply): all of it or nothing.
type PlanChange struct {
	From     string // the plan the change was made from: ErrStale when the team's is another now ("": any)
	PlanJSON string
	Agents   []Agent           // new agents, in plan order after the team's
	Tasks    []Task            // new tasks, appended in order (Seq is set)
	Cancel   map[string]string // task id → why it is to be cancelled
	Prompts  map[string]string // task id → its new prompt
	After    map[string][]string
	Diff     string // what changes, as apply printed it: the journal's record
}

// ApplyPlan records an edited plan for team in one transaction and journals "plan.applied"
// (data: the diff). The supervisor picks the plan up and cancels what Cancel names: no task
// changes state here.
func (s *Store) ApplyPlan(ctx context.Context, team string, c PlanChange) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		t, err := readTeam(ctx, tx, team)
		if err != nil {
			return err
		}
		if c.From != "" && t.PlanJSON != c.From {
			return ErrStale
		}
		at := now()
		if _, err := tx.ExecContext(ctx, `UPDATE teams SET plan_json = ?, updated = ? WHERE name = ?`, c.PlanJSON, toNanos(at), team); err != nil {
			return err
		}
		var ord int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(ord), -1) + 1 FROM agents WHERE team = ?`, team).Scan(&ord); err != nil {
			return err
		}
		for i, a := range c.Agents {
			a.Team, a.Updated = team, at
			if err := insertAgent(ctx, tx, a, ord+i); err != nil {
				return err
			}
		}
		var seq int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks WHERE team = ?`, team).Scan(&seq); err != nil {
			return err
		}
		for i, t := range c.Tasks {
			t.Team, t.Seq, t.Updated = team, seq+i, at
			if err := insertTask(ctx, tx, t); err != nil {
				return err
			}
		}
		for id, why := range c.Cancel {
			if err := setTaskField(ctx, tx, team, id, "cancel", why); err != nil {
				return err
			}
		}
		for id, prompt := range c.Prompts {
			if err := setTaskField(ctx, tx, team, id, "prompt", prompt); err != nil {
				return err
			}
		}
		for id, after := range c.After {
			if err := setTaskField(ctx, tx, team, id, "after_ids", encodeAfter(after)); err != nil {
				return err
			}
		}
		_, err = appendEvent(ctx, tx, Event{Team: team, At: at, Kind: "plan.applied", Data: mustJSON(struct {
			Diff string `json:"diff"`
		}{c.Diff})})
		return err
	})
	return wrapOp(err, "apply a plan to team %q", team)
}

// setTaskField sets one column of a task that is not its state (a task's state has one
// writer: the supervisor, through UpdateTask).
func setTaskField(ctx context.Context, tx *sql.Tx, team, id, col, value string) error {
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET `+col+` = ? WHERE team = ? AND id = ?`, value, team, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(taskWhat(team, id))
	}
	return nil
}
