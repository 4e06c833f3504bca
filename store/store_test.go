package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// openTest opens a fresh store in the test's temp dir, closed when the test ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, Path(filepath.Join(t.TempDir(), "git")))
}

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// created is a time with nanoseconds, outside UTC, to check what the store keeps of a time.
var created = time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.FixedZone("CET", 3600))

func sampleTeam(name string) (Team, []Agent, []Task) {
	t := Team{
		Name: name, PlanFile: "/repo/plan.yaml", PlanJSON: `{"team":"` + name + `"}`, Repo: "/repo",
		Base: "main", BaseHead: "b0", LeaderBranch: "teamctl/" + name + "/lead/work",
		LeaderWorktree: "/wt/lead", TestedHead: "b0", State: "running", SupervisorPID: 42, Created: created,
	}
	agents := []Agent{
		{Name: "alice", Role: "dev", Branch: "teamctl/" + name + "/alice/work", Worktree: "/wt/alice"},
		{Name: "lead", Role: "leader", Branch: "teamctl/" + name + "/lead/work", Worktree: "/wt/lead", State: "running", PID: 7, ProcStart: 99},
		{Name: "bob", Role: "dev", Branch: "teamctl/" + name + "/bob/work", Worktree: "/wt/bob"},
	}
	tasks := []Task{
		{ID: "parser", Agent: "alice", Prompt: "Write the parser."},
		{ID: "cli", Agent: "bob", Prompt: "Write the CLI.", After: []string{"parser"}},
		{ID: "docs", Agent: "bob", Prompt: "Document.", After: []string{"parser", "cli"}, Seq: 10, State: "blocked", Reason: "answer"},
	}
	return t, agents, tasks
}

// seed creates the sample team called name.
func seed(t testing.TB, s *Store, name string) {
	t.Helper()
	team, agents, tasks := sampleTeam(name)
	if err := s.CreateTeam(t.Context(), team, agents, tasks); err != nil {
		t.Fatalf("CreateTeam: %v", err)
	}
}

// checkUpdated checks that got was set between before and now, then clears it for comparisons.
func checkUpdated(t *testing.T, what string, got *time.Time, before time.Time) {
	t.Helper()
	if got.Before(before) || got.After(time.Now()) || got.Location() != time.UTC {
		t.Errorf("%s: Updated = %v, want a UTC time after %v", what, *got, before)
	}
	*got = time.Time{}
}

func TestPath(t *testing.T) {
	t.Parallel()
	if got, want := Path("/r/.git"), filepath.FromSlash("/r/.git/teamctl/teamctl.db"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

func TestCreateTeamRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	before := time.Now()
	seed(t, s, "paste")

	team, err := s.Team(ctx, "paste")
	if err != nil {
		t.Fatal(err)
	}
	checkUpdated(t, "team", &team.Updated, before)
	want, _, _ := sampleTeam("paste")
	want.Created = created.UTC()
	if !reflect.DeepEqual(team, want) {
		t.Errorf("Team =\n%+v\nwant\n%+v", team, want)
	}

	agents, err := s.Agents(ctx, "paste")
	if err != nil {
		t.Fatal(err)
	}
	wantAgents := []Agent{
		{Team: "paste", Name: "lead", Role: "leader", Branch: "teamctl/paste/lead/work", Worktree: "/wt/lead", State: "running", PID: 7, ProcStart: 99},
		{Team: "paste", Name: "alice", Role: "dev", Branch: "teamctl/paste/alice/work", Worktree: "/wt/alice", State: "idle"},
		{Team: "paste", Name: "bob", Role: "dev", Branch: "teamctl/paste/bob/work", Worktree: "/wt/bob", State: "idle"},
	}
	for i := range agents {
		checkUpdated(t, agents[i].Name, &agents[i].Updated, before)
	}
	if !reflect.DeepEqual(agents, wantAgents) {
		t.Errorf("Agents =\n%+v\nwant\n%+v", agents, wantAgents)
	}

	tasks, err := s.Tasks(ctx, "paste")
	if err != nil {
		t.Fatal(err)
	}
	wantTasks := []Task{
		{Team: "paste", ID: "parser", Agent: "alice", Prompt: "Write the parser.", Seq: 1, State: "pending"},
		{Team: "paste", ID: "cli", Agent: "bob", Prompt: "Write the CLI.", After: []string{"parser"}, Seq: 2, State: "pending"},
		{Team: "paste", ID: "docs", Agent: "bob", Prompt: "Document.", After: []string{"parser", "cli"}, Seq: 10, State: "blocked", Reason: "answer"},
	}
	for i := range tasks {
		checkUpdated(t, tasks[i].ID, &tasks[i].Updated, before)
	}
	if !reflect.DeepEqual(tasks, wantTasks) {
		t.Errorf("Tasks =\n%+v\nwant\n%+v", tasks, wantTasks)
	}

	teams, err := s.Teams(ctx)
	if err != nil || len(teams) != 1 || teams[0].Name != "paste" {
		t.Errorf("Teams = %+v, %v; want the one team paste", teams, err)
	}
	events, err := s.Events(ctx, "paste", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Kind != "team.created" {
		t.Fatalf("events after CreateTeam = %+v, want one team.created", events)
	}
	var data struct{ Agents, Tasks []string }
	if err := json.Unmarshal([]byte(events[0].Data), &data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(data.Agents, []string{"alice", "lead", "bob"}) || !reflect.DeepEqual(data.Tasks, []string{"parser", "cli", "docs"}) {
		t.Errorf("team.created data = %s", events[0].Data)
	}
}

func TestCreateTeamExists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(s *Store) (Team, []Agent, []Task)
		left    bool // the team exists afterwards
	}{
		{"team exists", func(s *Store) (Team, []Agent, []Task) {
			seed(t, s, "paste")
			return sampleTeam("paste")
		}, true},
		{"duplicate agent", func(*Store) (Team, []Agent, []Task) {
			team, agents, tasks := sampleTeam("paste")
			return team, append(agents, Agent{Name: "bob"}), tasks
		}, false},
		{"duplicate task", func(*Store) (Team, []Agent, []Task) {
			team, agents, tasks := sampleTeam("paste")
			return team, agents, append(tasks, Task{ID: "cli", Agent: "alice"})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openTest(t)
			team, agents, tasks := tt.prepare(s)
			err := s.CreateTeam(t.Context(), team, agents, tasks)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("CreateTeam = %v, want ErrExists", err)
			}
			_, err = s.Team(t.Context(), "paste")
			if exists := err == nil; exists != tt.left {
				t.Errorf("after the failed CreateTeam: Team = %v, want exists=%v", err, tt.left)
			}
			if !tt.left {
				// Nothing of the failed transaction is left, the journal included.
				if n := count(t, s, "events", "paste"); n != 0 {
					t.Errorf("%d events left", n)
				}
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	seed(t, s, "paste")
	noop := func(any) error { return nil }
	tests := []struct {
		name string
		call func(ctx context.Context) error
		want string // the message, when it matters
	}{
		{"team", func(ctx context.Context) error { _, err := s.Team(ctx, "nope"); return err }, `team "nope": not found`},
		{"agent", func(ctx context.Context) error { _, err := s.Agent(ctx, "paste", "carol"); return err }, `agent "carol" of team "paste": not found`},
		{"agent of no team", func(ctx context.Context) error { _, err := s.Agent(ctx, "nope", "alice"); return err }, ""},
		{"task", func(ctx context.Context) error { _, err := s.Task(ctx, "paste", "x"); return err }, `task "x" of team "paste": not found`},
		{"update team", func(ctx context.Context) error {
			return s.UpdateTeam(ctx, "nope", func(t *Team) error { return noop(t) })
		}, `team "nope": not found`},
		{"update agent", func(ctx context.Context) error {
			return s.UpdateAgent(ctx, "paste", "carol", func(a *Agent) error { return noop(a) })
		}, `agent "carol" of team "paste": not found`},
		{"update task", func(ctx context.Context) error {
			return s.UpdateTask(ctx, "paste", "x", func(k *Task) error { return noop(k) })
		}, `task "x" of team "paste": not found`},
		{"delete team", func(ctx context.Context) error { return s.DeleteTeam(ctx, "nope") }, `team "nope": not found`},
		{"add task to no team", func(ctx context.Context) error {
			return s.AddTask(ctx, Task{Team: "nope", ID: "x", Agent: "alice"})
		}, ""},
		{"add task for no agent", func(ctx context.Context) error {
			return s.AddTask(ctx, Task{Team: "paste", ID: "x", Agent: "carol"})
		}, ""},
		{"merge of no team", func(ctx context.Context) error {
			_, err := s.RecordMerge(ctx, Merge{Team: "nope", Task: "x"})
			return err
		}, ""},
		{"event of no team", func(ctx context.Context) error {
			_, err := s.AppendEvent(ctx, Event{Team: "nope", Kind: "x"})
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context())
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("err = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestUpdateRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(t *testing.T, s *Store, before time.Time)
	}{
		{"team", func(t *testing.T, s *Store, before time.Time) {
			want := Team{Name: "paste", PlanFile: "p2", PlanJSON: "{}", Repo: "r2", Base: "dev", BaseHead: "b1",
				LeaderBranch: "lb", LeaderWorktree: "lw", TestedHead: "t1", State: "waiting", SupervisorPID: 9,
				Created: created.UTC().Add(time.Hour)}
			err := s.UpdateTeam(t.Context(), "paste", func(tm *Team) error {
				*tm = want
				tm.Name = "renamed" // ignored
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Team(t.Context(), "paste")
			if err != nil {
				t.Fatal(err)
			}
			checkUpdated(t, "team", &got.Updated, before)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Team =\n%+v\nwant\n%+v", got, want)
			}
		}},
		{"agent", func(t *testing.T, s *Store, before time.Time) {
			want := Agent{Team: "paste", Name: "alice", Role: "dev2", Branch: "b", Worktree: "w", State: "running",
				Task: "parser", PID: 1234, ProcStart: 5678}
			err := s.UpdateAgent(t.Context(), "paste", "alice", func(a *Agent) error {
				*a = want
				a.Team, a.Name = "other", "carol" // ignored
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Agent(t.Context(), "paste", "alice")
			if err != nil {
				t.Fatal(err)
			}
			checkUpdated(t, "agent", &got.Updated, before)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Agent =\n%+v\nwant\n%+v", got, want)
			}
		}},
		{"task", func(t *testing.T, s *Store, before time.Time) {
			want := Task{Team: "paste", ID: "cli", Agent: "alice", Prompt: "p", After: []string{"docs", "parser"},
				Seq: 7, State: "merged", Attempt: 2, Nudges: 1, Failures: 3, Rounds: 4, Reason: "fix-tests",
				Detail: "FAIL x", Summary: "## Summary\ndone", MergeCommit: "abc"}
			err := s.UpdateTask(t.Context(), "paste", "cli", func(k *Task) error {
				*k = want
				k.After = append([]string(nil), want.After...)
				k.Team, k.ID = "other", "renamed" // ignored
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Task(t.Context(), "paste", "cli")
			if err != nil {
				t.Fatal(err)
			}
			checkUpdated(t, "task", &got.Updated, before)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Task =\n%+v\nwant\n%+v", got, want)
			}
		}},
		{"task after cleared", func(t *testing.T, s *Store, before time.Time) {
			if err := s.UpdateTask(t.Context(), "paste", "docs", func(k *Task) error { k.After = nil; return nil }); err != nil {
				t.Fatal(err)
			}
			got, err := s.Task(t.Context(), "paste", "docs")
			if err != nil {
				t.Fatal(err)
			}
			if got.After != nil {
				t.Errorf("After = %q, want nil", got.After)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openTest(t)
			seed(t, s, "paste")
			tt.check(t, s, time.Now())
		})
	}
}

// TestUpdateJournal checks that an update journals a state change exactly when State changes,
// in the same transaction as the row: a failing fn leaves neither.
func TestUpdateJournal(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	type update func(ctx context.Context, s *Store, state string, err error) error
	kinds := []struct {
		kind   string
		from   string
		update update
		read   func(ctx context.Context, s *Store) (state string, err error)
		agent  string
		task   string
		extra  map[string]string // in the event's data besides from and to
	}{
		{"team.state", "running", func(ctx context.Context, s *Store, state string, err error) error {
			return s.UpdateTeam(ctx, "paste", func(t *Team) error { t.State, t.TestedHead = state, "x"; return err })
		}, func(ctx context.Context, s *Store) (string, error) {
			t, err := s.Team(ctx, "paste")
			return t.State + "/" + t.TestedHead, err
		}, "", "", nil},
		{"agent.state", "idle", func(ctx context.Context, s *Store, state string, err error) error {
			return s.UpdateAgent(ctx, "paste", "alice", func(a *Agent) error { a.State, a.Task = state, "parser"; return err })
		}, func(ctx context.Context, s *Store) (string, error) {
			a, err := s.Agent(ctx, "paste", "alice")
			return a.State + "/" + a.Task, err
		}, "alice", "parser", nil},
		{"task.state", "pending", func(ctx context.Context, s *Store, state string, err error) error {
			return s.UpdateTask(ctx, "paste", "parser", func(k *Task) error {
				k.State, k.Reason, k.Detail = state, "task", "first launch"
				return err
			})
		}, func(ctx context.Context, s *Store) (string, error) {
			k, err := s.Task(ctx, "paste", "parser")
			return k.State + "/" + k.Reason, err
		}, "alice", "parser", map[string]string{"reason": "task", "detail": "first launch"}},
	}
	cases := []struct {
		name    string
		same    bool  // fn leaves State as it was
		err     error // fn's error
		journal bool
	}{
		{"state changes", false, nil, true},
		{"state unchanged", true, nil, false},
		{"fn fails", false, errBoom, false},
	}
	for _, k := range kinds {
		for _, c := range cases {
			t.Run(k.kind+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				s := openTest(t)
				seed(t, s, "paste")
				beforeState, err := k.read(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				state := "running2"
				if c.same {
					state = k.from
				}
				err = k.update(ctx, s, state, c.err)
				if err != c.err { // fn's error comes back as it is
					t.Fatalf("update = %v, want %v", err, c.err)
				}
				events, err := s.Events(ctx, "paste", 1, 0) // after team.created
				if err != nil {
					t.Fatal(err)
				}
				afterState, err := k.read(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				if c.err != nil {
					if afterState != beforeState {
						t.Errorf("a failed fn changed the row: %q, was %q", afterState, beforeState)
					}
				} else if afterState == beforeState {
					t.Errorf("row not updated: %q", afterState)
				}
				if !c.journal {
					if len(events) != 0 {
						t.Errorf("journal = %+v, want nothing", events)
					}
					return
				}
				if len(events) != 1 {
					t.Fatalf("journal = %+v, want one %s", events, k.kind)
				}
				e := events[0]
				if e.Kind != k.kind || e.Agent != k.agent || e.Task != k.task || e.Team != "paste" {
					t.Errorf("event = %+v, want kind %s agent %q task %q", e, k.kind, k.agent, k.task)
				}
				var data map[string]string
				if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"from": k.from, "to": state}
				for key, v := range k.extra {
					want[key] = v
				}
				if !reflect.DeepEqual(data, want) {
					t.Errorf("data = %v, want %v", data, want)
				}
			})
		}
	}
}

func TestUpdateTaskAfterIsACopy(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	seed(t, s, "paste")
	// fn changes After in place and then fails: what is stored must not change.
	err := s.UpdateTask(t.Context(), "paste", "docs", func(k *Task) error {
		k.After[0] = "changed"
		return errors.New("no")
	})
	if err == nil {
		t.Fatal("want fn's error")
	}
	k, err := s.Task(t.Context(), "paste", "docs")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(k.After, []string{"parser", "cli"}) {
		t.Errorf("After = %q", k.After)
	}
}

// A task's updated time is when it entered its state: a change of its why alone keeps it,
// so a queued task keeps its place in the merge queue.
func TestUpdateTaskKeepsItsTimeInState(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	seed(t, s, "paste")
	ctx := t.Context()
	set := func(fn func(*Task)) Task {
		t.Helper()
		if err := s.UpdateTask(ctx, "paste", "docs", func(k *Task) error { fn(k); return nil }); err != nil {
			t.Fatal(err)
		}
		k, err := s.Task(ctx, "paste", "docs")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	queued := set(func(k *Task) { k.State = "queued" })
	waiting := set(func(k *Task) { k.Detail = "waits: src/ reserved by alice" })
	if !waiting.Updated.Equal(queued.Updated) {
		t.Errorf("a new why moved updated from %v to %v", queued.Updated, waiting.Updated)
	}
	merging := set(func(k *Task) { k.State = "merging" })
	if !merging.Updated.After(queued.Updated) {
		t.Errorf("a new state kept updated at %v", merging.Updated)
	}
}

func TestAddTask(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	before := time.Now()
	if err := s.AddTask(ctx, Task{Team: "paste", ID: "extra", Agent: "lead", Prompt: "More.", After: []string{"docs"}, Seq: 3}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Task(ctx, "paste", "extra")
	if err != nil {
		t.Fatal(err)
	}
	checkUpdated(t, "task", &got.Updated, before)
	want := Task{Team: "paste", ID: "extra", Agent: "lead", Prompt: "More.", After: []string{"docs"}, Seq: 11, State: "pending"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Task =\n%+v\nwant\n%+v", got, want)
	}
	tasks, err := s.Tasks(ctx, "paste")
	if err != nil {
		t.Fatal(err)
	}
	if last := tasks[len(tasks)-1]; last.ID != "extra" {
		t.Errorf("Tasks ends with %q, want extra", last.ID)
	}
	events, err := s.Events(ctx, "paste", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Kind != "task.added" || events[0].Task != "extra" || events[0].Agent != "lead" ||
		events[0].Data != `{"seq":11,"after":["docs"]}` {
		t.Errorf("journal = %+v, want one task.added", events)
	}

	err = s.AddTask(ctx, Task{Team: "paste", ID: "extra", Agent: "alice"})
	if !errors.Is(err, ErrExists) {
		t.Errorf("AddTask of a duplicate = %v, want ErrExists", err)
	}
	if n := count(t, s, "events", "paste"); n != 2 {
		t.Errorf("%d events after a failed AddTask, want 2", n)
	}
}

func TestDeleteTeam(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	seed(t, s, "other")
	for _, team := range []string{"paste", "other"} {
		if _, err := s.RecordMerge(ctx, Merge{Team: team, Task: "parser", Outcome: "merged"}); err != nil {
			t.Fatal(err)
		}
		// The tables whose API comes later, filled by hand.
		for _, q := range []string{
			`INSERT INTO messages (team, sender, recipient, text, at) VALUES (?, 'alice', 'bob', 'hi', 1)`,
			`INSERT INTO reservations (team, agent, path, token, granted_at) VALUES (?, 'alice', 'a/', (SELECT COALESCE(MAX(token), 0) + 1 FROM reservations), 1)`,
			`INSERT INTO blockers (team, agent, text, created_at) VALUES (?, 'alice', 'why?', 1)`,
		} {
			if _, err := s.db.ExecContext(ctx, q, team); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteTeam(ctx, "paste"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Team(ctx, "paste"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Team after delete = %v, want ErrNotFound", err)
	}
	for _, table := range []string{"teams", "agents", "tasks", "merges", "events", "messages", "reservations", "blockers"} {
		if n := count(t, s, table, "paste"); n != 0 {
			t.Errorf("%d rows of paste left in %s", n, table)
		}
		if n := count(t, s, table, "other"); n == 0 {
			t.Errorf("no rows of other left in %s", table)
		}
	}
	if err := s.DeleteTeam(ctx, "paste"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteTeam = %v, want ErrNotFound", err)
	}
}

// count is the number of rows of team in table.
func count(t testing.TB, s *Store, table, team string) int {
	t.Helper()
	col := "team"
	if table == "teams" {
		col = "name"
	}
	var n int
	if err := s.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table+" WHERE "+col+" = ?", team).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMerges(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	want := []Merge{
		{Team: "paste", Task: "parser", Agent: "alice", Branch: "teamctl/paste/alice/work", BranchHead: "h1", Before: "b0",
			Outcome: "conflict", Output: "CONFLICT a.go", Started: created.UTC(), Ended: created.UTC().Add(time.Second)},
		{Team: "paste", Task: "parser", Agent: "alice", Branch: "teamctl/paste/alice/work", BranchHead: "h2", Before: "b0",
			Commit: "m1", Outcome: "merged", TestRuns: 2, Output: "ok"},
	}
	for i := range want {
		id, err := s.RecordMerge(ctx, want[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i].ID = id
	}
	if want[1].ID <= want[0].ID {
		t.Errorf("IDs %d, %d not increasing", want[0].ID, want[1].ID)
	}
	got, err := s.Merges(ctx, "paste")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merges =\n%+v\nwant\n%+v", got, want)
	}
	events, err := s.Events(ctx, "paste", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[1].Kind != "merge" || events[1].Task != "parser" || events[1].Agent != "alice" ||
		events[1].Data != `{"outcome":"merged","branch":"teamctl/paste/alice/work","commit":"m1","test_runs":2}` {
		t.Errorf("journal = %+v, want two merges", events)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	seed(t, s, "other")
	var ids []int64
	for i, kind := range []string{"commit.auto", "nudge", "note"} {
		e := Event{Team: "paste", Kind: kind, Agent: "bob", Task: "cli", Data: `{"n":1}`}
		if i == 0 {
			e.At = created
			e.ID = 12345 // ignored
		}
		id, err := s.AppendEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	all, err := s.Events(ctx, "paste", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[0].Kind != "team.created" {
		t.Fatalf("Events = %+v, want team.created and 3 more", all)
	}
	if got := all[1]; got.ID != ids[0] || !got.At.Equal(created) || got.At.Location() != time.UTC ||
		got.Kind != "commit.auto" || got.Agent != "bob" || got.Task != "cli" || got.Data != `{"n":1}` {
		t.Errorf("event = %+v", got)
	}
	if all[2].At.IsZero() {
		t.Errorf("At not assigned: %+v", all[2])
	}
	tests := []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 0, []int64{all[0].ID, ids[0], ids[1], ids[2]}},
		{ids[0], 0, ids[1:]},
		{0, 2, []int64{all[0].ID, ids[0]}},
		{ids[0], 1, ids[1:2]},
		{ids[2], 0, nil},
	}
	for _, tt := range tests {
		got, err := s.Events(ctx, "paste", tt.after, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []int64
		for _, e := range got {
			gotIDs = append(gotIDs, e.ID)
		}
		if !reflect.DeepEqual(gotIDs, tt.want) {
			t.Errorf("Events(after %d, limit %d) = %v, want %v", tt.after, tt.limit, gotIDs, tt.want)
		}
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := Path(filepath.Join(t.TempDir(), "dir with ? and %20", ".git"))
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s, "paste")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the store is not where Path says: %v", err)
	}
	s = openAt(t, path)
	if v, err := userVersion(ctx, s.db); err != nil || v != len(migrations) {
		t.Errorf("schema version = %d, %v; want %d", v, err, len(migrations))
	}
	if _, err := s.Team(ctx, "paste"); err != nil {
		t.Errorf("team lost on reopen: %v", err)
	}
	if n := count(t, s, "events", "paste"); n != 1 {
		t.Errorf("%d events after reopen, want 1", n)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	t.Parallel()
	path := Path(t.TempDir())
	s := openAt(t, path)
	if _, err := s.db.ExecContext(t.Context(), "PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(path); err == nil || !strings.Contains(err.Error(), "upgrade teamctl") {
		if err == nil {
			s2.Close()
		}
		t.Errorf("Open of a newer schema = %v, want an error asking for an upgrade", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	path := Path(t.TempDir())
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			s, err := Open(path)
			if err == nil {
				// A store another opener is making is not taken for a damaged one.
				if d, moved := s.MovedAside(); moved {
					err = errors.New("moved a store being made aside: " + d.Why)
				}
				if cerr := s.Close(); err == nil {
					err = cerr
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s := openAt(t, path)
	if v, err := userVersion(t.Context(), s.db); err != nil || v != len(migrations) {
		t.Errorf("schema version = %d, %v; want %d", v, err, len(migrations))
	}
}

// increment adds 1 to the task's Attempt n times, each in its own transaction.
func increment(ctx context.Context, s *Store, team, task string, n int) error {
	for range n {
		if err := s.UpdateTask(ctx, team, task, func(k *Task) error { k.Attempt++; return nil }); err != nil {
			return err
		}
	}
	return nil
}

// TestConcurrentStores has 8 separately opened stores on one file, as 8 processes would,
// increment one counter: no update is lost and none fails with SQLITE_BUSY.
func TestConcurrentStores(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := Path(t.TempDir())
	seed(t, openAt(t, path), "paste")
	const workers, n = 8, 50
	errs := make(chan error, workers)
	for range workers {
		s := openAt(t, path)
		go func() { errs <- increment(ctx, s, "paste", "parser", n) }()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	checkAttempt(t, openAt(t, path), workers*n)
}

func checkAttempt(t *testing.T, s *Store, want int) {
	t.Helper()
	k, err := s.Task(t.Context(), "paste", "parser")
	if err != nil {
		t.Fatal(err)
	}
	if k.Attempt != want {
		t.Errorf("Attempt = %d, want %d", k.Attempt, want)
	}
}

// A read-write transaction begins IMMEDIATE: while it is open, another connection cannot
// begin one, and finds out at BEGIN rather than at its first write.
func TestWriteBeginsImmediate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := Path(t.TempDir())
	a, b := openAt(t, path), openAt(t, path)
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if tx2, err := b.db.BeginTx(short, nil); err == nil {
		tx2.Rollback()
		t.Fatal("a second write transaction began while the first was open")
	}
	// A read-only one still does.
	ro, err := b.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only transaction: %v", err)
	}
	ro.Rollback()
}

func BenchmarkUpdateTask(b *testing.B) {
	s := openTest(b)
	seed(b, s, "paste")
	ctx := b.Context()
	for b.Loop() {
		if err := s.UpdateTask(ctx, "paste", "parser", func(k *Task) error { k.Attempt++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// Tasks serves a copy of its last read until a task changes: a change through this store,
// through another (another process's), by any SQL, a team deleted and made again — each is
// seen at the next call, and a caller changing what it got changes nothing of the next.
func TestTasksCopyIsCurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := Path(filepath.Join(t.TempDir(), "git"))
	s, other := openAt(t, path), openAt(t, path)
	seed(t, s, "paste")
	state := func(what, id, want string) {
		t.Helper()
		tasks, err := s.Tasks(ctx, "paste")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range tasks {
			if k.ID == id {
				if k.State != want {
					t.Errorf("%s: %s is %q, want %q", what, id, k.State, want)
				}
				k.After = append(k.After[:0], "scribbled") // the caller's copy
				return
			}
		}
		t.Errorf("%s: no task %s in %v", what, id, tasks)
	}
	state("first read", "parser", "pending")
	state("read again", "parser", "pending")
	if err := s.UpdateTask(ctx, "paste", "parser", func(k *Task) error { k.State = "running"; return nil }); err != nil {
		t.Fatal(err)
	}
	state("after this store's update", "parser", "running")
	if err := other.UpdateTask(ctx, "paste", "parser", func(k *Task) error { k.State = "queued"; return nil }); err != nil {
		t.Fatal(err)
	}
	state("after another store's update", "parser", "queued")
	if _, err := s.db.ExecContext(ctx, `UPDATE tasks SET state = 'merged' WHERE team = 'paste' AND id = 'parser'`); err != nil {
		t.Fatal(err)
	}
	state("after plain SQL", "parser", "merged")
	if k, err := s.Tasks(ctx, "paste"); err != nil || !reflect.DeepEqual(k[2].After, []string{"parser", "cli"}) {
		t.Errorf("a caller's change reached the store's copy: %v %v", k, err)
	}
	if err := other.AddTask(ctx, Task{Team: "paste", ID: "extra", Agent: "alice", Prompt: "More."}); err != nil {
		t.Fatal(err)
	}
	state("after another store's AddTask", "extra", "pending")
	if err := other.DeleteTeam(ctx, "paste"); err != nil {
		t.Fatal(err)
	}
	if k, err := s.Tasks(ctx, "paste"); err != nil || len(k) != 0 {
		t.Errorf("tasks of a deleted team = %v, %v; want none", k, err)
	}
	seed(t, other, "paste")
	state("the team made again", "parser", "pending")
	if k, _ := s.Tasks(ctx, "paste"); len(k) != 3 {
		t.Errorf("the team made again has %d tasks, want 3", len(k))
	}
}
