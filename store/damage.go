package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A store can be damaged by what happens to its files outside SQLite: a kill -9 followed by
// the WAL being deleted or garbled, a disk filling up, a person's `> teamctl.db`. SQLite drops
// a WAL's bad tail by itself (its frames carry checksums); what is left to find is a main file
// that is not a database, fails quick_check, or is empty while a store made it (a store
// always checkpoints its schema into the main file, so a 0-byte file with no WAL is damage,
// not a new store). A damaged store is moved aside, never deleted, and a new one made in its
// place; MovedAside says where the old one went. The teams it held are rebuilt from git
// (teamctl resume TEAM --rebuild PLAN).

// Damaged describes a store that was moved aside.
type Damaged struct {
	Why  string // what was wrong
	Path string // where the damaged files are now (the main file; -wal and -shm beside it)
}

// MovedAside reports the damaged store Open moved aside to make this one, if it did.
func (s *Store) MovedAside() (Damaged, bool) { return s.damaged, s.damaged.Path != "" }

// Checkpoint copies what the WAL holds into the main file, without waiting for readers
// (PASSIVE). The supervisor calls it at quiet points — after a team is made, after each
// landing, at the team's end — so that a WAL lost after a kill costs at most what followed.
func (s *Store) Checkpoint(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		return fmt.Errorf("checkpoint store: %w", err)
	}
	return nil
}

// emptyWithoutWAL reports whether the main file at path exists, is empty, and has no WAL
// beside it with anything in it.
func emptyWithoutWAL(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 0 {
		return false
	}
	wal, err := os.Stat(path + "-wal")
	return err != nil || wal.Size() == 0
}

// quickCheck runs PRAGMA quick_check and returns what it found wrong, "" when nothing.
func quickCheck(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		if line != "ok" {
			found = append(found, line)
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(found) > 3 {
		found = append(found[:3], fmt.Sprintf("and %d more", len(found)-3))
	}
	return strings.Join(found, "; "), nil
}

// isDamage reports whether err is SQLite saying the file is not a database or is corrupt.
func isDamage(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return true
	}
	return false
}

// lockFile takes an exclusive lock on the file at path (made if needed) and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// moveAside renames the store's files to path.damaged-<UTC time>[-wal|-shm]. The caller
// holds the store's lock.
func moveAside(path string) (string, error) {
	aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("move the damaged store aside: %w", err)
		}
	}
	return aside, nil
}
