package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema, one step per version: migrations[i] takes the database from
// version i to i+1, recorded in PRAGMA user_version. Append only; never edit a released step.
//
// Every table is STRICT, every time an INTEGER of UTC unix nanoseconds (0 = unset), every
// team's row in another table is deleted with its team (ON DELETE CASCADE, foreign_keys is
// on for every connection).
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE teams (
	name            TEXT PRIMARY KEY,
	plan_file       TEXT NOT NULL DEFAULT '',
	plan_json       TEXT NOT NULL DEFAULT '',
	repo            TEXT NOT NULL DEFAULT '',
	base            TEXT NOT NULL DEFAULT '',
	base_head       TEXT NOT NULL DEFAULT '',
	leader_branch   TEXT NOT NULL DEFAULT '',
	leader_worktree TEXT NOT NULL DEFAULT '',
	tested_head     TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL DEFAULT '',
	supervisor_pid  INTEGER NOT NULL DEFAULT 0,
	created         INTEGER NOT NULL DEFAULT 0,
	updated         INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE agents (
	team       TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	ord        INTEGER NOT NULL,            -- plan order
	role       TEXT NOT NULL DEFAULT '',
	branch     TEXT NOT NULL DEFAULT '',
	worktree   TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL DEFAULT '',
	task       TEXT NOT NULL DEFAULT '',
	pid        INTEGER NOT NULL DEFAULT 0,
	proc_start INTEGER NOT NULL DEFAULT 0,
	updated    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (team, name)
) STRICT;

CREATE TABLE tasks (
	team         TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	id           TEXT NOT NULL,
	agent        TEXT NOT NULL DEFAULT '',
	prompt       TEXT NOT NULL DEFAULT '',
	after_ids    TEXT NOT NULL DEFAULT '[]', -- JSON array of task ids
	seq          INTEGER NOT NULL,
	state        TEXT NOT NULL DEFAULT '',
	attempt      INTEGER NOT NULL DEFAULT 0,
	nudges       INTEGER NOT NULL DEFAULT 0,
	failures     INTEGER NOT NULL DEFAULT 0,
	rounds       INTEGER NOT NULL DEFAULT 0,
	reason       TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT '',
	summary      TEXT NOT NULL DEFAULT '',
	merge_commit TEXT NOT NULL DEFAULT '',
	updated      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (team, id)
) STRICT;
CREATE INDEX tasks_by_seq ON tasks (team, seq);

CREATE TABLE merges (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	team        TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	task        TEXT NOT NULL DEFAULT '',
	agent       TEXT NOT NULL DEFAULT '',
	branch      TEXT NOT NULL DEFAULT '',
	branch_head TEXT NOT NULL DEFAULT '',
	before_head TEXT NOT NULL DEFAULT '',
	merge_commit TEXT NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL DEFAULT '',
	test_runs   INTEGER NOT NULL DEFAULT 0,
	output      TEXT NOT NULL DEFAULT '',
	started     INTEGER NOT NULL DEFAULT 0,
	ended       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX merges_by_team ON merges (team, id);

-- The journal. AUTOINCREMENT so that an id is never reused, not even after the newest
-- events were deleted with their team: a reader that remembers the last id it saw never
-- mistakes a new event for an old one.
CREATE TABLE events (
	id    INTEGER PRIMARY KEY AUTOINCREMENT,
	team  TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	at    INTEGER NOT NULL,
	kind  TEXT NOT NULL,
	agent TEXT NOT NULL DEFAULT '',
	task  TEXT NOT NULL DEFAULT '',
	data  TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX events_by_team ON events (team, id);

-- One row per recipient, so each has its own read mark; a broadcast is one row per agent
-- it reached, all with broadcast = 1 and the same sender, text and at.
CREATE TABLE messages (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	team      TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	sender    TEXT NOT NULL,
	recipient TEXT NOT NULL,
	broadcast INTEGER NOT NULL DEFAULT 0,
	text      TEXT NOT NULL,
	at        INTEGER NOT NULL,
	read_at   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX messages_by_team ON messages (team, id);
CREATE INDEX messages_by_recipient ON messages (team, recipient, read_at);

-- A reservation is active while released_at = 0. token is a fencing token, increasing
-- across the whole store, so a holder can prove its grant is newer than another's.
CREATE TABLE reservations (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	team        TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	agent       TEXT NOT NULL,
	path        TEXT NOT NULL,
	is_prefix   INTEGER NOT NULL DEFAULT 0,
	reason      TEXT NOT NULL DEFAULT '',
	token       INTEGER NOT NULL UNIQUE,
	granted_at  INTEGER NOT NULL,
	released_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX reservations_active ON reservations (team, path) WHERE released_at = 0;

CREATE TABLE blockers (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	team        TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	agent       TEXT NOT NULL,
	task        TEXT NOT NULL DEFAULT '',
	text        TEXT NOT NULL,
	human       INTEGER NOT NULL DEFAULT 0,
	state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'escalated')),
	answer      TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	answered_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX blockers_by_state ON blockers (team, state);
`,
	// 2: coordination. A reservation is a lease held by its agent's process (pid, proc_start
	// at grant time, 0 = no process: the human, or a person acting as an agent that is not
	// running) for one task; release_why says how it ended. A blocker keeps who answered it
	// and when the supervisor handed it on: notified_at (the leader launched for it, or the
	// plan's escalate: command run; reset on escalation) and delivered_at (the answer given
	// to the blocked agent by relaunching it). intents are what agents say they are about to do.
	`
ALTER TABLE reservations ADD COLUMN task TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN proc_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN release_why TEXT NOT NULL DEFAULT '';
CREATE INDEX reservations_by_agent ON reservations (team, agent) WHERE released_at = 0;

ALTER TABLE blockers ADD COLUMN answered_by TEXT NOT NULL DEFAULT '';
ALTER TABLE blockers ADD COLUMN escalated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blockers ADD COLUMN notified_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blockers ADD COLUMN delivered_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE intents (
	id    INTEGER PRIMARY KEY AUTOINCREMENT,
	team  TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	agent TEXT NOT NULL,
	task  TEXT NOT NULL DEFAULT '',
	text  TEXT NOT NULL,
	files TEXT NOT NULL DEFAULT '[]', -- JSON array of repo-relative paths
	at    INTEGER NOT NULL
) STRICT;
CREATE INDEX intents_by_team ON intents (team, id);
`,
	// 3: early conflict warnings: the pairs of live branches that would conflict once both
	// are merged (b = '' for a branch that conflicts with the leader branch alone). The
	// supervisor replaces the team's set on each check; status and the dashboard read it.
	`
CREATE TABLE warnings (
	team  TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	a     TEXT NOT NULL,
	b     TEXT NOT NULL DEFAULT '',
	files TEXT NOT NULL DEFAULT '[]', -- JSON array of repo-relative paths
	at    INTEGER NOT NULL,
	PRIMARY KEY (team, a, b)
) STRICT;
`,
	// 4: unattended runs. A task an edited plan removed (apply) says why in cancel until the
	// supervisor has cancelled it. A task paused on its agent's provider waits until "until"; what the
	// launch the pause held back was to be (its reason and the extra of its prompt) is kept
	// so that launch happens once the pause ends. A pause is one provider's (preset, base URL
	// and credentials: a key teamctl derives) for the whole team: state "paused" until
	// "until", then "probing" while one agent (probe) tries; once the probe's calls go
	// through the pause ends (its row goes) and the paused tasks come back one by one.
	// level counts the backoffs in a row.
	`
ALTER TABLE tasks ADD COLUMN until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN held_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN held_extra TEXT NOT NULL DEFAULT '';
-- apply removed the task from the plan: why, until the supervisor cancels it.
ALTER TABLE tasks ADD COLUMN cancel TEXT NOT NULL DEFAULT '';
-- the session id teamctl gave the task's first launch (--session-id), which its relaunches
-- continue where the log cannot say (a tmux agent's log is its screen).
ALTER TABLE tasks ADD COLUMN session TEXT NOT NULL DEFAULT '';

CREATE TABLE pauses (
	team        TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	provider    TEXT NOT NULL,
	label       TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL DEFAULT '',
	why         TEXT NOT NULL DEFAULT '',
	until       INTEGER NOT NULL DEFAULT 0,
	level       INTEGER NOT NULL DEFAULT 0,
	state       TEXT NOT NULL DEFAULT 'paused' CHECK (state IN ('paused', 'probing')),
	probe       TEXT NOT NULL DEFAULT '',
	since       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (team, provider)
) STRICT;
`,
	// 5: agents' own view of the team. A message may answer an earlier one (reply_to: its
	// id, 0 for none): msg send --reply-to.
	`
ALTER TABLE messages ADD COLUMN reply_to INTEGER NOT NULL DEFAULT 0;
-- when each participant last acted (teamctl agents' "last seen").
CREATE INDEX events_by_agent ON events (team, agent, at);
`,
	// 6: a count of each team's task changes, kept by triggers on every insert, update and
	// delete (any process's), so a reader tells from one row whether its copy of the task
	// list is current (Store.Tasks). No foreign key: the count outlives a team deleted, so a
	// team made again under its name never counts back to a number a copy was taken at.
	`
CREATE TABLE task_changes (
	team TEXT PRIMARY KEY,
	n    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TRIGGER task_inserted AFTER INSERT ON tasks BEGIN
	INSERT OR IGNORE INTO task_changes (team) VALUES (NEW.team);
	UPDATE task_changes SET n = n + 1 WHERE team = NEW.team;
END;
CREATE TRIGGER task_updated AFTER UPDATE ON tasks BEGIN
	INSERT OR IGNORE INTO task_changes (team) VALUES (NEW.team);
	UPDATE task_changes SET n = n + 1 WHERE team IN (NEW.team, OLD.team);
END;
CREATE TRIGGER task_deleted AFTER DELETE ON tasks BEGIN
	INSERT OR IGNORE INTO task_changes (team) VALUES (OLD.team);
	UPDATE task_changes SET n = n + 1 WHERE team = OLD.team;
END;
`,
}

// migrate brings the schema to the latest version. Several processes may open a new store
// at once: the version is read again inside the write transaction, so only the first one
// migrates and the others find nothing left to do. An up-to-date store is not written to.
func (s *Store) migrate(ctx context.Context) error {
	v, err := userVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if v == len(migrations) {
		return nil
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		v, err := userVersion(ctx, tx)
		if err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this teamctl knows (%d): upgrade teamctl", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no bound parameters; v is an int.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			return fmt.Errorf("set schema version %d: %w", v, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The schema in the main file: a store's main file is never empty (see damage.go).
	return s.Checkpoint(ctx)
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
