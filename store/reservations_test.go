package store

import (
	"errors"
	"reflect"
	"sync"
	"testing"
)

func TestOverlaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"src/a.go", "src/a.go", true},
		{"src/", "src/a.go", true},
		{"src/a.go", "src/", true},
		{"src/", "src/x/", true},
		{"src/", "src/", true},
		{"src/a.go", "src/b.go", false},
		{"src/", "srcs/a.go", false},
		{"src", "src/a.go", false}, // "src" is the exact path, not the directory
		{"docs/", "src/", false},
		{"src/a.go", "src/a.go.orig", false},
	}
	for _, tt := range tests {
		if got := Overlaps(tt.a, tt.b); got != tt.want {
			t.Errorf("Overlaps(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// procs is a fake process table for the lease checks: pid → alive.
type procs struct {
	mu    sync.Mutex
	alive map[int]bool
}

func (p *procs) check(pid int, _ int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive[pid]
}

func (p *procs) set(pid int, alive bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alive[pid] = alive
}

// running records agent as running task in process pid.
func running(t *testing.T, s *Store, team, agent, task string, pid int) {
	t.Helper()
	if err := s.UpdateAgent(t.Context(), team, agent, func(a *Agent) error {
		a.State, a.Task, a.PID, a.ProcStart = "running", task, pid, int64(pid)*10
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func paths(rs []Reservation) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Path
	}
	return out
}

func TestReserveConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		held      []string // alice's
		want      []string // bob asks
		conflicts []string // the paths refused; none: granted
	}{
		{"disjoint", []string{"src/a.go"}, []string{"src/b.go", "docs/"}, nil},
		{"exact", []string{"src/a.go"}, []string{"src/a.go"}, []string{"src/a.go"}},
		{"held prefix covers", []string{"src/"}, []string{"src/a.go"}, []string{"src/a.go"}},
		{"asked prefix covers", []string{"src/x/a.go"}, []string{"src/"}, []string{"src/"}},
		{"all or nothing", []string{"src/a.go"}, []string{"docs/", "src/a.go"}, []string{"src/a.go"}},
		{"every conflict named", []string{"a", "b"}, []string{"a", "b", "c"}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openTest(t)
			seed(t, s, "paste")
			if _, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "alice", Paths: tt.held, Reason: "parser"}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "bob", Paths: tt.want})
			if tt.conflicts == nil {
				if err != nil || !reflect.DeepEqual(paths(got), tt.want) {
					t.Fatalf("Reserve = %v, %v; want %v granted", paths(got), err, tt.want)
				}
				return
			}
			var re *ReservedError
			if !errors.As(err, &re) || !errors.Is(err, ErrReserved) {
				t.Fatalf("Reserve = %v, %v; want a ReservedError", got, err)
			}
			var refused []string
			for _, c := range re.Conflicts {
				refused = append(refused, c.Path)
				if c.Held.Agent != "alice" || c.Held.Reason != "parser" {
					t.Errorf("conflict %+v: want alice's reservation with its reason", c)
				}
			}
			if !reflect.DeepEqual(refused, tt.conflicts) {
				t.Errorf("refused %v, want %v", refused, tt.conflicts)
			}
			active, err := s.Reservations(ctx, "paste", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range active {
				if r.Agent == "bob" {
					t.Errorf("bob holds %s after a refusal: nothing may be partly granted", r.Path)
				}
			}
		})
	}
}

func TestReserveTokensAndRenewal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	p := &procs{alive: map[int]bool{100: true, 200: true}}
	running(t, s, "paste", "alice", "parser", 100)

	first, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "alice", Paths: []string{"src/", "go.mod"}, Alive: p.check})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Token >= first[1].Token || first[0].PID != 100 || first[0].Task != "parser" || !first[0].Prefix || first[1].Prefix {
		t.Errorf("grants = %+v: want increasing tokens, leased to process 100 for task parser", first)
	}
	// Re-reserving what one holds keeps the grant (and its token); the reason is updated.
	again, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "alice", Paths: []string{"src/"}, Reason: "refactor", Alive: p.check})
	if err != nil || again[0].Token != first[0].Token || again[0].Reason != "refactor" {
		t.Errorf("re-reserve = %+v, %v; want the same token %d with the new reason", again, err, first[0].Token)
	}
	// A new process of alice takes its grant over with a new token.
	running(t, s, "paste", "alice", "parser", 200)
	renewed, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "alice", Paths: []string{"src/"}, Alive: p.check})
	if err != nil || renewed[0].Token <= first[1].Token || renewed[0].PID != 200 {
		t.Errorf("reserve by a new process = %+v, %v; want a new grant with a larger token to process 200", renewed, err)
	}
	active, err := s.Reservations(ctx, "paste", p.check)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(active); !reflect.DeepEqual(got, []string{"go.mod", "src/"}) {
		t.Errorf("active = %v, want go.mod and one src/", got)
	}
	// Tokens keep growing after the team that held the newest is deleted.
	latest, err := s.LatestToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTeam(ctx, "paste"); err != nil {
		t.Fatal(err)
	}
	seed(t, s, "paste")
	next, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "bob", Paths: []string{"x"}})
	if err != nil || next[0].Token <= latest {
		t.Errorf("token after deleting the team = %+v, %v; want > %d", next, err, latest)
	}
}

func TestLeaseEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		end   func(t *testing.T, s *Store, p *procs)
		taken bool // bob gets alice's path afterwards
		why   string
	}{
		{"holder alive", func(*testing.T, *Store, *procs) {}, false, ""},
		{"holder process gone", func(_ *testing.T, _ *Store, p *procs) { p.set(100, false) }, true, "holder gone: process 100 of alice ended"},
		{"holder moved to another task", func(t *testing.T, s *Store, _ *procs) { running(t, s, "paste", "alice", "docs", 100) }, true,
			"task ended: alice moved from task parser to docs"},
		{"released", func(t *testing.T, s *Store, _ *procs) {
			if _, err := s.ReleaseAll(t.Context(), "paste", "alice", "task parser merged"); err != nil {
				t.Fatal(err)
			}
		}, true, "task parser merged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openTest(t)
			seed(t, s, "paste")
			p := &procs{alive: map[int]bool{100: true}}
			running(t, s, "paste", "alice", "parser", 100)
			if _, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "alice", Paths: []string{"src/"}, Alive: p.check}); err != nil {
				t.Fatal(err)
			}
			tt.end(t, s, p)
			_, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "bob", Paths: []string{"src/a.go"}, Alive: p.check})
			if tt.taken != (err == nil) {
				t.Fatalf("bob's Reserve = %v, want granted=%v", err, tt.taken)
			}
			hist, err := s.ReservationHistory(ctx, "paste")
			if err != nil {
				t.Fatal(err)
			}
			if hist[0].Agent != "alice" || hist[0].ReleaseWhy != tt.why || hist[0].Released.IsZero() != (tt.why == "") {
				t.Errorf("alice's reservation afterwards: %+v, want released because %q", hist[0], tt.why)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	if _, err := s.Reserve(ctx, ReserveRequest{Team: "paste", Agent: "alice", Paths: []string{"a", "b/", "c"}}); err != nil {
		t.Fatal(err)
	}
	// Nothing is released when one path is not held.
	if _, err := s.Release(ctx, "paste", "alice", []string{"a", "zzz"}, "done"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Release of a path not held = %v, want ErrNotHeld", err)
	}
	if _, err := s.Release(ctx, "paste", "bob", []string{"a"}, "done"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Release of another agent's path = %v, want ErrNotHeld", err)
	}
	got, err := s.Release(ctx, "paste", "alice", []string{"b/"}, "done")
	if err != nil || !reflect.DeepEqual(paths(got), []string{"b/"}) || got[0].ReleaseWhy != "done" {
		t.Errorf("Release(b/) = %+v, %v", got, err)
	}
	got, err = s.ReleaseAll(ctx, "paste", "alice", "task ended")
	if err != nil || !reflect.DeepEqual(paths(got), []string{"a", "c"}) {
		t.Errorf("ReleaseAll = %v, %v; want a and c", paths(got), err)
	}
	if active, err := s.Reservations(ctx, "paste", nil); err != nil || len(active) != 0 {
		t.Errorf("active after releasing all = %v, %v", active, err)
	}
	kinds := map[string]int{}
	events, err := s.Events(ctx, "paste", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if kinds["reserve"] != 1 || kinds["release"] != 2 {
		t.Errorf("journal kinds = %v, want 1 reserve and 2 release", kinds)
	}
}

func TestFirstConflict(t *testing.T) {
	t.Parallel()
	res := []Reservation{{Agent: "alice", Path: "src/"}, {Agent: "bob", Path: "docs/readme.md", Reason: "rewrite"}}
	tests := []struct {
		files []string
		agent string
		want  string // the file; "" none
	}{
		{[]string{"main.go", "docs/readme.md"}, "alice", "docs/readme.md"},
		{[]string{"src/a.go"}, "alice", ""},
		{[]string{"src/a.go"}, "bob", "src/a.go"},
		{[]string{"docs/other.md"}, "alice", ""},
	}
	for _, tt := range tests {
		f, _, ok := FirstConflict(tt.files, tt.agent, res)
		if f != tt.want || ok != (tt.want != "") {
			t.Errorf("FirstConflict(%v, %s) = %q, %v; want %q", tt.files, tt.agent, f, ok, tt.want)
		}
	}
}
