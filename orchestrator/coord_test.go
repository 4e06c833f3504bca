package orchestrator_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// coordTeam records team "t" of a real repository in its store, without launching anything:
// a leader (with a program when leader is set) and the named dev agents, each with one
// pending task "task-NAME" and a worktree path (created only by the tests that need one).
// It returns the workspace and the repository.
func coordTeam(t testing.TB, leader bool, devs ...string) (*orchestrator.Workspace, string) {
	t.Helper()
	repo := testsupport.NewRepo(t)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nteam: t\nrepo: %s\ndefaults: {command: [\"true\"]}\n", repo)
	if leader {
		b.WriteString("leader: {command: [\"true\"]}\n")
	}
	b.WriteString("agents:\n")
	for _, d := range devs {
		fmt.Fprintf(&b, "  - {name: %s, tasks: [{id: task-%s, prompt: p}]}\n", d, d)
	}
	p, err := plan.Parse(filepath.Join(repo, "team.yaml"), []byte(b.String()))
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, b.String())
	}
	pj, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := orchestrator.Open(t.Context(), orchestrator.Env{Runner: worktree.ExecRunner{}}, repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	root := filepath.Join(filepath.Dir(repo), "wt")
	agents := []store.Agent{{Name: "lead", Role: "leader", Branch: "teamctl/t/lead/work", Worktree: filepath.Join(root, "lead")}}
	var tasks []store.Task
	for _, d := range devs {
		agents = append(agents, store.Agent{Name: d, Role: "dev", Branch: "teamctl/t/" + d + "/work", Worktree: filepath.Join(root, d)})
		tasks = append(tasks, store.Task{ID: "task-" + d, Agent: d, Prompt: "p"})
	}
	team := store.Team{Name: "t", PlanJSON: string(pj), Repo: repo, Base: "main", LeaderBranch: "teamctl/t/lead/work",
		LeaderWorktree: agents[0].Worktree, State: string(orchestrator.TeamRunning)}
	if err := ws.TestStore().CreateTeam(t.Context(), team, agents, tasks); err != nil {
		t.Fatal(err)
	}
	return ws, repo
}

func as(name string) orchestrator.Caller { return orchestrator.Caller{Team: "t", As: name} }

func TestRepoPaths(t *testing.T) {
	t.Parallel()
	ws, repo := coordTeam(t, false, "alice")
	wt := filepath.Join(filepath.Dir(repo), "wt", "alice")
	testsupport.Git(t, repo, "worktree", "add", "-q", "-b", "teamctl/t/alice/work", wt)
	for _, d := range []string{filepath.Join(repo, "src", "lex"), filepath.Join(wt, "docs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir, path string
		want      string // "" = refused with ErrUsage
	}{
		{repo, "src/a.go", "src/a.go"},
		{repo, "./src//lex/", "src/lex/"},
		{repo, "src", "src/"},        // a directory there: its prefix
		{repo, "newfile", "newfile"}, // nothing there yet: the exact path
		{filepath.Join(repo, "src", "lex"), "lex.go", "src/lex/lex.go"},
		{filepath.Join(repo, "src", "lex"), "../", "src/"},
		{filepath.Join(repo, "src", "lex"), ".", "src/lex/"},
		{filepath.Join(repo, "src", "lex"), "../../README.md", "README.md"},
		{filepath.Join(wt, "docs"), "guide.md", "docs/guide.md"},
		{wt, "docs/", "docs/"},
		{filepath.Join(repo, "src", "lex"), "../../../x", ""},
		{repo, "../x", ""},
		{repo, "/etc/passwd", ""},
		{repo, filepath.Join(repo, "README.md"), ""},
		{repo, "./", ""},
		{repo, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"|"+tt.path, func(t *testing.T) {
			t.Parallel()
			c := as("alice")
			c.Dir = tt.dir
			in, err := ws.As(c).Intent(t.Context(), "look", []string{tt.path})
			if tt.want == "" {
				if !errors.Is(err, orchestrator.ErrUsage) {
					t.Errorf("path %q from %s: %v, %v; want ErrUsage", tt.path, tt.dir, in.Files, err)
				}
				return
			}
			if err != nil || len(in.Files) != 1 || in.Files[0] != tt.want {
				t.Errorf("path %q from %s = %v, %v; want %s", tt.path, tt.dir, in.Files, err, tt.want)
			}
		})
	}
}

func TestReservedConflict(t *testing.T) {
	t.Parallel()
	res := []store.Reservation{
		{Agent: "alice", Path: "src/", Reason: "parser", Token: 3},
		{Agent: "bob", Path: "docs/api.md", Token: 4},
	}
	tests := []struct {
		files []string
		agent string
		want  string
	}{
		{[]string{"src/a.go"}, "alice", ""},
		{[]string{"README.md", "src/lex/lex.go"}, "bob", `changes src/lex/lex.go, which alice has reserved (src/: "parser", token 3)`},
		{[]string{"docs/api.md"}, "alice", "changes docs/api.md, which bob has reserved (docs/api.md, token 4)"},
		{[]string{"docs/api.md.orig", "srcs/x"}, "carol", ""},
		{nil, "carol", ""},
	}
	for _, tt := range tests {
		if got := orchestrator.ReservedConflict(tt.files, tt.agent, res); got != tt.want {
			t.Errorf("ReservedConflict(%v, %s) = %q, want %q", tt.files, tt.agent, got, tt.want)
		}
	}
}

// TestCoordinationRules drives the rules of DESIGN.md §6 through the Workspace: each case
// is one call and the error it must give.
func TestCoordinationRules(t *testing.T) {
	t.Parallel()
	ws, _ := coordTeam(t, true, "alice", "bob", "carol")
	ctx := t.Context()
	if err := ws.TestStore().UpdateTask(ctx, "t", "task-carol", func(k *store.Task) error { k.State = string(orchestrator.Merged); return nil }); err != nil {
		t.Fatal(err)
	}
	b, err := ws.As(as("alice")).RaiseBlocker(ctx, "which db?", false)
	if err != nil || b.Human || b.Task != "task-alice" {
		t.Fatalf("RaiseBlocker = %+v, %v; want a blocker for the leader on task-alice", b, err)
	}
	lb, err := ws.As(as("lead")).RaiseBlocker(ctx, "budget?", false)
	if err != nil || !lb.Human {
		t.Fatalf("the leader's blocker = %+v, %v; want one for a person", lb, err)
	}
	tests := []struct {
		name string
		call func() error
		want error // nil: succeeds
	}{
		{"send", func() error { _, err := ws.As(as("alice")).Send(ctx, "bob", "hi"); return err }, nil},
		{"send to the human", func() error { _, err := ws.As(as("alice")).Send(ctx, orchestrator.Human, "hi"); return err }, nil},
		{"send to the leader agent", func() error { _, err := ws.As(as("alice")).Send(ctx, "lead", "hi"); return err }, nil},
		{"send to oneself", func() error { _, err := ws.As(as("alice")).Send(ctx, "alice", "hi"); return err }, orchestrator.ErrUsage},
		{"send to a finished agent", func() error { _, err := ws.As(as("alice")).Send(ctx, "carol", "hi"); return err }, orchestrator.ErrUsage},
		{"send to an unknown agent", func() error { _, err := ws.As(as("alice")).Send(ctx, "zed", "hi"); return err }, orchestrator.ErrNoTeam},
		{"send an empty text", func() error { _, err := ws.As(as("alice")).Send(ctx, "bob", " \n"); return err }, orchestrator.ErrUsage},
		{"send as an unknown agent", func() error { _, err := ws.As(as("zed")).Send(ctx, "bob", "hi"); return err }, orchestrator.ErrNoTeam},
		{"send in an unknown team", func() error {
			_, err := ws.As(orchestrator.Caller{Team: "nope", As: "alice"}).Send(ctx, "bob", "hi")
			return err
		}, orchestrator.ErrNoTeam},
		{"feed limit too large", func() error { _, err := ws.As(as("alice")).Feed(ctx, 401); return err }, orchestrator.ErrUsage},
		{"thread with oneself", func() error { _, err := ws.As(as("alice")).Thread(ctx, "alice", 0); return err }, orchestrator.ErrUsage},
		{"thread with no one", func() error { _, err := ws.As(as("alice")).Thread(ctx, "", 0); return err }, orchestrator.ErrUsage},
		{"the human raises a blocker", func() error { _, err := ws.As(as(orchestrator.Human)).RaiseBlocker(ctx, "x", false); return err }, orchestrator.ErrUsage},
		{"a dev answers", func() error { _, err := ws.As(as("bob")).Answer(ctx, b.ID, "x"); return err }, orchestrator.ErrUsage},
		{"the leader answers a person's blocker", func() error { _, err := ws.As(as("lead")).Answer(ctx, lb.ID, "x"); return err }, orchestrator.ErrUsage},
		{"answer no blocker", func() error { _, err := ws.As(as("lead")).Answer(ctx, 999, "x"); return err }, orchestrator.ErrNoTeam},
		{"a dev escalates", func() error { _, err := ws.As(as("alice")).Escalate(ctx, b.ID); return err }, orchestrator.ErrUsage},
		{"escalate a person's blocker", func() error { _, err := ws.As(as("lead")).Escalate(ctx, lb.ID); return err }, orchestrator.ErrUsage},
		{"the human reports done", func() error { _, err := ws.As(as(orchestrator.Human)).ReportDone(ctx, "x"); return err }, orchestrator.ErrUsage},
		{"a dev adds a task", func() error {
			_, err := ws.As(as("bob")).AddTask(ctx, orchestrator.AddTaskOptions{Agent: "bob", ID: "x", Prompt: "p"})
			return err
		}, orchestrator.ErrUsage},
		{"a task for an unknown agent", func() error {
			_, err := ws.As(as("lead")).AddTask(ctx, orchestrator.AddTaskOptions{Agent: "zed", ID: "x", Prompt: "p"})
			return err
		}, orchestrator.ErrNoTeam},
		{"a task with a duplicate id", func() error {
			_, err := ws.As(as("lead")).AddTask(ctx, orchestrator.AddTaskOptions{Agent: "bob", ID: "task-alice", Prompt: "p"})
			return err
		}, orchestrator.ErrUsage},
		{"a reservation that escapes", func() error { _, err := ws.As(as("alice")).Reserve(ctx, []string{"../x"}, ""); return err }, orchestrator.ErrUsage},
		{"release what one does not hold", func() error { _, err := ws.As(as("alice")).Release(ctx, []string{"x"}); return err }, orchestrator.ErrUsage},
	}
	for _, tt := range tests {
		err := tt.call()
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: %v, want success", tt.name, err)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}

	// The leader escalates, the person answers; the answer waits durably for the supervisor.
	if _, err := ws.As(as("lead")).Escalate(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.As(as(orchestrator.Human)).Answer(ctx, b.ID, "postgres"); err != nil {
		t.Fatal(err)
	}
	pending, err := ws.TestStore().AnsweredBlockers(ctx, "t")
	if err != nil || len(pending) != 1 || pending[0].Answer != "postgres" || pending[0].Agent != "alice" {
		t.Errorf("AnsweredBlockers = %+v, %v", pending, err)
	}

	// A delegated task is pending for its agent, and puts a finished agent back to work.
	k, err := ws.As(as("lead")).AddTask(ctx, orchestrator.AddTaskOptions{Agent: "carol", ID: "more", Prompt: "more", After: []string{"task-alice"}})
	if err != nil || k.State != string(orchestrator.Pending) || k.Agent != "carol" {
		t.Fatalf("AddTask = %+v, %v", k, err)
	}
	if _, err := ws.As(as("alice")).Send(ctx, "carol", "welcome back"); err != nil {
		t.Errorf("send to carol with a new task: %v", err)
	}
}

func TestBroadcastAndFeed(t *testing.T) {
	t.Parallel()
	ws, _ := coordTeam(t, false, "alice", "bob")
	ctx := t.Context()
	ms, err := ws.As(as("alice")).Broadcast(ctx, "freeze")
	if err != nil || len(ms) != 1 || ms[0].To != "bob" {
		t.Fatalf("Broadcast = %+v, %v; want bob only (the leader has no program)", ms, err)
	}
	if err := ws.TestStore().UpdateTask(ctx, "t", "task-bob", func(k *store.Task) error { k.State = string(orchestrator.Done); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.As(as("alice")).Broadcast(ctx, "anyone?"); !errors.Is(err, orchestrator.ErrUsage) {
		t.Errorf("Broadcast with no other active agent = %v, want ErrUsage", err)
	}
	if _, err := ws.As(as(orchestrator.Human)).Send(ctx, "lead", "x"); !errors.Is(err, orchestrator.ErrUsage) {
		t.Errorf("send to a leader with no program = %v, want ErrUsage", err)
	}
	if _, err := ws.As(as("alice")).Intent(ctx, "refactor the lexer", []string{"src/lex/"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.As(as("alice")).Reserve(ctx, []string{"src/lex/"}, "lexer"); err != nil {
		t.Fatal(err)
	}
	feed, err := ws.As(as("bob")).Feed(ctx, 2)
	if err != nil || len(feed) != 2 {
		t.Fatalf("Feed(2) = %+v, %v", feed, err)
	}
	if feed[0].Kind != "intent" || feed[0].Files[0] != "src/lex/" || feed[1].Kind != "reserve" || feed[1].Text != "reserved src/lex/: lexer" {
		t.Errorf("feed = %+v", feed)
	}
}

// TestAgentGroupLease: a reservation made by a command running inside an agent's process
// group is leased to the agent process even before the supervisor recorded it, and ends
// when that process is gone.
func TestAgentGroupLease(t *testing.T) {
	t.Parallel()
	if os.Getenv(helperMode) != "" {
		t.Skip("in a helper process")
	}
	ws, repo := coordTeam(t, false, "alice", "bob")
	// The "agent": a process group led by sh with TEAMCTL_AGENT=alice, as agentproc starts
	// one; inside it, this test binary reserves as alice through TEAMCTL_AGENT.
	proc, err := agentproc.Start(t.Context(), agentproc.Launch{
		Team: "t", Agent: "alice", TaskID: "task-alice", Worktree: repo, Timeout: 0,
		Command: []string{os.Args[0], "-test.run=^TestCoordHelper$", "-test.count=1"},
		Env:     map[string]string{helperMode: "reserve-and-wait", helperRepo: repo, helperPaths: "src/", helperAgent: "alice"},
		// Its records where a team's launches keep them: that is how teamctl knows a launch
		// of this repository's from one of another's.
		LogPath: filepath.Join(t.TempDir(), "alice.log"), Files: agentproc.FilesIn(orchestrator.RunDir(filepath.Join(repo, ".git"), "t"), "alice"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(0)
	ctx := t.Context()
	testsupport.Eventually(t, helperDeadline, "alice's reservation", func() bool {
		rs, err := ws.Reservations(ctx, as("bob"))
		return err == nil && len(rs) == 1
	})
	rs, _ := ws.Reservations(ctx, as("bob"))
	if rs[0].PID != proc.Pid {
		t.Fatalf("reservation leased to pid %d, want the agent's group leader %d", rs[0].PID, proc.Pid)
	}
	if _, err := ws.As(as("bob")).Reserve(ctx, []string{"src/a.go"}, ""); !errors.Is(err, orchestrator.ErrReserved) {
		t.Fatalf("bob's reserve while alice runs = %v, want ErrReserved", err)
	}
	proc.Stop(0)
	proc.Result()
	if _, err := ws.As(as("bob")).Reserve(ctx, []string{"src/a.go"}, ""); err != nil {
		t.Errorf("bob's reserve once alice's process is gone = %v, want granted", err)
	}
}
