package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A damaged store is moved aside whole (never deleted) and a new one made in its place,
// which says where the old one went and why.
func TestDamagedStoreIsMovedAside(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		why    string
		open   func(string) (*Store, error) // a garbled page takes the check to find
	}{
		{"emptied", func(t *testing.T, path string) { truncate(t, path, 0) }, "empty", Open},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 1000)), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a database", Open},
		{"a page garbled", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Page 3 onwards holds the tables' b-trees; page 1 (the header) is left whole.
			if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", 3*4096)), 2*4096); err != nil {
				t.Fatal(err)
			}
		}, "", OpenChecked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := Path(t.TempDir())
			withTeam(t, path, 300)
			c.damage(t, path)
			damagedBytes, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			d, moved := s.MovedAside()
			if !moved || !strings.Contains(d.Why, c.why) {
				t.Fatalf("MovedAside = %+v, %v; want the store moved aside because %q", d, moved, c.why)
			}
			if kept, err := os.ReadFile(d.Path); err != nil || string(kept) != string(damagedBytes) {
				t.Errorf("the damaged store is not kept whole at %s (%v)", d.Path, err)
			}
			// The new store works, and holds no team.
			if teams, err := s.Teams(context.Background()); err != nil || len(teams) != 0 {
				t.Errorf("new store: teams %v, %v", teams, err)
			}
			team, agents, tasks := sampleTeam("again")
			if err := s.CreateTeam(context.Background(), team, agents, tasks); err != nil {
				t.Errorf("new store: %v", err)
			}
			// And it is not moved aside again.
			if again := openAt(t, path); func() bool { _, m := again.MovedAside(); return m }() {
				t.Error("a sound store was moved aside")
			}
		})
	}
}

// What a supervisor wrote before its last checkpoint survives the loss of the WAL (a kill
// -9, then the -wal file deleted or garbled): the main file holds it.
func TestCheckpointSurvivesALostWAL(t *testing.T) {
	t.Parallel()
	for _, checkpoint := range []bool{true, false} {
		t.Run(fmt.Sprintf("checkpoint=%v", checkpoint), func(t *testing.T) {
			t.Parallel()
			path := Path(t.TempDir())
			s := openAt(t, path)
			ctx := context.Background()
			team, agents, tasks := sampleTeam("t")
			if err := s.CreateTeam(ctx, team, agents, tasks); err != nil {
				t.Fatal(err)
			}
			if checkpoint {
				if err := s.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// The main file as a kill leaves it, without its WAL.
			copied := Path(t.TempDir())
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(copied), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copied, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = openAt(t, copied).Team(ctx, "t")
			if checkpoint && err != nil {
				t.Errorf("after a checkpoint, the team is lost with the WAL: %v", err)
			}
			if !checkpoint && !errors.Is(err, ErrNotFound) {
				t.Errorf("without a checkpoint the team is found without its WAL (%v): this test checks nothing", err)
			}
		})
	}
}

// withTeam makes a store at path holding one team and n journal entries, and closes it.
func withTeam(t *testing.T, path string, n int) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	team, agents, tasks := sampleTeam("t")
	if err := s.CreateTeam(ctx, team, agents, tasks); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := s.AppendEvent(ctx, Event{Team: "t", Kind: "test", Data: fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", 100))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}
