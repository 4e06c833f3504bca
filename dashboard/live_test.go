package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/worktree"
)

// team is a real repository with a team of scripted agents supervised by orchestrator.Run
// in the test process, as `teamctl run` would.
type team struct {
	t      testing.TB
	repo   string
	agents string
	logs   *testsupport.SyncBuffer
	done   chan error
}

const planHeader = `version: 1
team: t
repo: $REPO
base: main
test: ./check.sh
defaults: {timeout: 2m, retries: 0, nudge: {max: 0, auto_commit: true}}
`

// startTeam makes the repository (its test fails when a file under src/ says BROKEN),
// writes the agents' scripts (name → body) and starts the plan whose agents: list is
// agentsYAML ($AGENTS is the scripts' folder). The run is stopped at the end of the test.
func startTeam(t testing.TB, scripts map[string]string, agentsYAML string) *team {
	t.Helper()
	tm := &team{t: t, repo: testsupport.NewRepo(t), agents: t.TempDir(), logs: &testsupport.SyncBuffer{}, done: make(chan error, 1)}
	testsupport.Script(t, tm.repo, "check.sh", "! grep -rq BROKEN src/ 2>/dev/null\n")
	testsupport.WriteFile(t, filepath.Join(tm.repo, "src", "base.txt"), "base\n")
	testsupport.Git(t, tm.repo, "add", "-A")
	testsupport.Git(t, tm.repo, "commit", "-qm", "project with a test")
	for name, body := range scripts {
		testsupport.Script(t, tm.agents, name+".sh", body)
	}
	yaml := strings.NewReplacer("$REPO", tm.repo, "$AGENTS", tm.agents).Replace(planHeader + agentsYAML)
	path := filepath.Join(tm.agents, "team.yaml")
	testsupport.WriteFile(t, path, yaml)
	p, err := plan.Load(path)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(tm.logs)}
	go func() { tm.done <- orchestrator.Run(ctx, env, p, orchestrator.RunOptions{ExitWhenBlocked: true}) }()
	t.Cleanup(func() {
		cancel()
		<-tm.done
	})
	return tm
}

// wait waits for the run to end and returns its error.
func (tm *team) wait() error {
	tm.t.Helper()
	select {
	case err := <-tm.done:
		tm.done <- err // for the cleanup
		return err
	case <-time.After(2 * time.Minute):
		tm.t.Fatalf("the run did not end\nlog:\n%s", tm.logs.String())
		return nil
	}
}

// live opens the workspace and the dashboard's Live over team t.
func (tm *team) live(hooks Hooks) *Live {
	tm.t.Helper()
	ws, err := orchestrator.Open(context.Background(), orchestrator.Env{Runner: worktree.ExecRunner{}}, tm.repo)
	if err != nil {
		tm.t.Fatal(err)
	}
	tm.t.Cleanup(func() { ws.Close() })
	l, err := NewLive(context.Background(), ws, worktree.ExecRunner{}, "t", hooks)
	if err != nil {
		tm.t.Fatal(err)
	}
	return l
}

// until polls l until cond holds on a snapshot (a poll error is a team not created yet).
func (tm *team) until(l *Live, what string, cond func(Snapshot) bool) Snapshot {
	tm.t.Helper()
	var last Snapshot
	var lastErr error
	err := testsupport.Poll(context.Background(), time.Minute, func() bool {
		snap, _, err := l.Poll(context.Background())
		last, lastErr = snap, err
		return err == nil && cond(snap)
	})
	if err != nil {
		tm.t.Fatalf("%s: not within a minute (last poll error: %v)\nsnapshot: %+v\nlog:\n%s", what, lastErr, last, tm.logs.String())
	}
	return last
}

func agentOf(s Snapshot, name string) Agent {
	for _, a := range s.Agents {
		if a.Name == name {
			return a
		}
	}
	return Agent{}
}

// readAvailable reads r until it has nothing more for now (io.EOF).
func readAvailable(t *testing.T, r io.Reader) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLiveFollowsATeam(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "gate")
	tm := startTeam(t, map[string]string{
		// alice commits one file, leaves another uncommitted, says so and waits for the test.
		"alice": `echo a > src/a.txt && git add -A && git commit -qm "a: add a.txt"
echo wip > src/wip.txt
echo "alice is thinking"
while [ ! -f ` + gate + ` ]; do sleep 0.05; done
git add -A && git commit -qm "a: wip" && echo "alice: done"`,
		// bob changes a file outside what he owns: refused.
		"bob": `echo b > other.txt && git add -A && git commit -qm "b: other"`,
		// carol breaks the test: tests-failed.
		"carol": `echo BROKEN > src/c.txt && git add -A && git commit -qm "c: broken"`,
	}, `agents:
  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: a, prompt: p}]}
  - {name: bob, command: [$AGENTS/bob.sh], owns: [src/], tasks: [{id: b, prompt: p}]}
  - {name: carol, command: [$AGENTS/carol.sh], tasks: [{id: c, prompt: p}]}
`)
	l := tm.live(Hooks{})

	snap := tm.until(l, "alice running with a commit ahead, a file uncommitted and her last words", func(s Snapshot) bool {
		a := agentOf(s, "alice")
		return a.State == "running" && a.Running && a.Ahead == 1 && a.Dirty == 1 && a.Last == "alice is thinking"
	})
	if snap.Team != "t" || snap.Tasks != 3 || len(snap.Agents) != 4 || snap.Agents[0].Role != "leader" {
		t.Errorf("snapshot: team %q, %d tasks, agents %+v", snap.Team, snap.Tasks, snap.Agents)
	}
	for _, part := range []Part{PartMessages, PartWarnings, PartCosts} {
		if !errors.Is(snap.Gaps[part], ErrNotAvailable) {
			t.Errorf("gap of %s: %v, want ErrNotAvailable", part, snap.Gaps[part])
		}
	}
	// The refusal is recorded (the queue's) before bob's task moves on (the lifecycle's):
	// wait for both.
	snap = tm.until(l, "bob refused and failed, carol's tests failing in the merge queue", func(s Snapshot) bool {
		return len(s.Queue.Refused) == 2 && agentOf(s, "bob").State == string(orchestrator.Failed)
	})
	whys := map[string]string{}
	for _, r := range snap.Queue.Refused {
		whys[r.Agent] = r.Why
	}
	if !strings.Contains(whys["bob"], "refused: changes other.txt outside its owns: src/") || !strings.HasPrefix(whys["carol"], "tests-failed") {
		t.Errorf("refused: %+v", snap.Queue.Refused)
	}
	if a := agentOf(snap, "bob"); a.State != string(orchestrator.Failed) || !strings.Contains(a.Detail, "outside its owns") {
		t.Errorf("bob: %+v, want failed with why", a)
	}

	// alice's conversation (her log) now, and then as it grows.
	r, err := l.Conversation(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readAvailable(t, r); !strings.Contains(got, "alice is thinking") || !strings.Contains(got, "launch agent=alice") {
		t.Errorf("alice's conversation: %q", got)
	}

	testsupport.WriteFile(t, gate, "go")
	snap = tm.until(l, "alice merged", func(s Snapshot) bool {
		a := agentOf(s, "alice")
		return a.State == string(orchestrator.Merged) && a.Ahead == 0 && a.Dirty == 0 && a.Last != "alice is thinking"
	})
	if lead := agentOf(snap, "lead"); lead.Ahead != 3 { // alice's two commits and the merge
		t.Errorf("lead: %d commits ahead of base, want 3", lead.Ahead)
	}
	if len(snap.Queue.Merged) != 1 || snap.Queue.Merged[0].Task != "a" || snap.Finished != 1 {
		t.Errorf("queue: %+v, finished %d", snap.Queue, snap.Finished)
	}
	if got := readAvailable(t, r); !strings.Contains(got, "alice: done") {
		t.Errorf("the conversation did not follow the log: %q", got)
	}
	if err := tm.wait(); !errors.Is(err, orchestrator.ErrWaiting) {
		t.Fatalf("run: %v, want ErrWaiting (bob and carol wait on a human)", err)
	}
	var feed []string
	tm.until(l, "the team's wait in the feed", func(s Snapshot) bool {
		feed = feed[:0]
		for _, f := range s.Feed {
			feed = append(feed, f.Text)
		}
		return strings.Contains(strings.Join(feed, "\n"), "team: running → waiting")
	})
	for _, want := range []string{"merge of a (alice): merged", "task b (bob): merging → failed: refused: changes other.txt", "team: running → waiting"} {
		if !strings.Contains(strings.Join(feed, "\n"), want) {
			t.Errorf("feed lacks %q:\n%s", want, strings.Join(feed, "\n"))
		}
	}

	// Once nothing happens, a poll says so: that is what keeps the dashboard from redrawing.
	tm.until(l, "a poll that finds nothing new", func(Snapshot) bool {
		_, changed, err := l.Poll(context.Background())
		return err == nil && !changed
	})
	for range 3 {
		if _, changed, err := l.Poll(context.Background()); err != nil || changed {
			t.Fatalf("a quiet team's poll: changed %v, err %v", changed, err)
		}
	}

	// The actions coordination will provide are not available yet, and say so.
	for name, err := range map[string]error{
		"answer": l.Answer(context.Background(), 1, "yes"),
		"send":   l.Send(context.Background(), "alice", "hi"),
		"nudge":  l.Nudge(context.Background(), "alice"),
	} {
		if !errors.Is(err, ErrNotAvailable) {
			t.Errorf("%s: %v, want ErrNotAvailable", name, err)
		}
	}
	text, err := l.Review(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Review of team `t`", "### alice", "`src/a.txt` +1 −0", "**refused**", "**tests-failed**"} {
		if !strings.Contains(text, want) {
			t.Errorf("review lacks %q:\n%s", want, text)
		}
	}
	if _, err := l.Conversation(context.Background(), "nobody"); !errors.Is(err, orchestrator.ErrNoTeam) {
		t.Errorf("conversation of an unknown agent: %v, want ErrNoTeam", err)
	}
	if _, err := l.Conversation(context.Background(), "lead"); err == nil || !strings.Contains(err.Error(), "has not been launched yet") {
		t.Errorf("conversation of the leader, who has no program: %v", err)
	}
}

// The hooks the lead wires once coordination and the merge queue land fill their parts.
func TestLiveHooks(t *testing.T) {
	t.Parallel()
	tm := startTeam(t, map[string]string{"alice": `echo a > src/a.txt && git add -A && git commit -qm a`},
		"agents:\n  - {name: alice, command: [$AGENTS/alice.sh], tasks: [{id: a, prompt: p}]}\n")
	if err := tm.wait(); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, tm.logs.String())
	}
	var calls []string
	at := time.Now()
	transcript := "alice: I read the task\nalice: committing\n"
	l := tm.live(Hooks{
		Messages: func(_ context.Context, team string, limit int) ([]FeedItem, error) {
			return []FeedItem{{At: at, From: "lead", To: "alice", Text: "thanks"}}, nil
		},
		Warnings: func(context.Context, string) ([]Warning, error) {
			return []Warning{{Agents: []string{"alice", "bob"}, Files: []string{"go.mod"}}}, nil
		},
		Costs: func(context.Context, string) (map[string]Cost, error) {
			return map[string]Cost{"alice": {USD: 0.25, Estimated: true}}, nil
		},
		Answer: func(_ context.Context, team string, id int64, text string) error {
			calls = append(calls, fmt.Sprintf("answer %s %d %s", team, id, text))
			return nil
		},
		Send: func(_ context.Context, team, agent, text string) error {
			calls = append(calls, fmt.Sprintf("send %s %s %s", team, agent, text))
			return nil
		},
		Nudge: func(_ context.Context, team, agent string) error {
			calls = append(calls, fmt.Sprintf("nudge %s %s", team, agent))
			return nil
		},
		Transcript: func(_ context.Context, team, agent string) (io.ReadCloser, error) {
			if agent == "alice" {
				return io.NopCloser(strings.NewReader(transcript)), nil
			}
			return nil, fmt.Errorf("transcript of %s: %w", agent, ErrNotAvailable)
		},
	})
	snap, _, err := l.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Gaps) != 0 {
		t.Errorf("gaps with every hook wired: %v", snap.Gaps)
	}
	if a := agentOf(snap, "alice"); a.CostUSD != 0.25 || !a.CostEstimated || cost(a.CostUSD, a.CostEstimated) != "~$0.25" {
		t.Errorf("alice's cost: %v (estimated %v): want ~$0.25", a.CostUSD, a.CostEstimated)
	}
	if len(snap.Warnings) != 1 || snap.Feed[len(snap.Feed)-1].Text != "thanks" {
		t.Errorf("warnings %+v, feed %+v", snap.Warnings, snap.Feed)
	}
	_ = l.Answer(context.Background(), 4, "yes")
	_ = l.Send(context.Background(), "alice", "hi")
	_ = l.Nudge(context.Background(), "alice")
	if got := strings.Join(calls, "; "); got != "answer t 4 yes; send t alice hi; nudge t alice" {
		t.Errorf("hook calls: %s", got)
	}
	r, err := l.Conversation(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAvailable(t, r); got != transcript {
		t.Errorf("alice's conversation: %q, want her transcript", got)
	}
	// No transcript for the leader: its log, which it has none of.
	if _, err := l.Conversation(context.Background(), "lead"); err == nil || !strings.Contains(err.Error(), "has not been launched yet") {
		t.Errorf("conversation of the leader: %v", err)
	}
}

func TestLastLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	long := strings.Repeat("x", tailBytes*2)
	for name, tc := range map[string]struct{ content, want string }{
		"empty":             {"", ""},
		"trailing newlines": {"one\ntwo\n\n\n", "two"},
		"no newline":        {"one\ntwo", "two"},
		"colours":           {"\x1b[32mok\x1b[0m\n", "ok"},
		"progress":          {"10%\r100%\n", "100%"},
		"launch header":     {"=== teamctl 2026-01-02T10:00:00Z: launch agent=a task=t attempt=1 reason=task argv=[\"x\"]\n", "[teamctl] launch agent=a task=t attempt=1 reason=task"},
		"a line cut off":    {long + "\n", ""},
		"after a long line": {long + "\nshort\n", "short"},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := lastLine(path, ""); got != tc.want {
			t.Errorf("%s: lastLine = %q, want %q", name, got, tc.want)
		}
	}
	if got := lastLine(filepath.Join(dir, "missing"), ""); got != "" {
		t.Errorf("missing file: %q", got)
	}
	// A CLI's stream shows as what the agent last said or did, not as its JSON.
	stream := filepath.Join(dir, "claude.log")
	lines := `{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Writing the parser now."}]}}
{"type":"assistant","message":{"id":"m2","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"go test ./..."}}]}}
`
	if err := os.WriteFile(stream, []byte("cut line\n"+lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := lastLine(stream, "claude"); got != "▸ Bash go test ./..." {
		t.Errorf("claude's tail: %q, want its last tool call", got)
	}
	if err := os.WriteFile(stream, []byte("cut line\n"+lines+`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}}
{"type":"assistant","message":{"id":"m3","content":[{"type":"text","text":"All tests pass."}]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := lastLine(stream, "claude"); got != "All tests pass." {
		t.Errorf("claude's tail: %q, want its last words", got)
	}
}

func TestSeekTail(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "line %04d\n", i)
	}
	testsupport.WriteFile(t, path, b.String())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := seekTail(f, 100); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(f)
	if !strings.HasPrefix(string(rest), "line 09") || !strings.HasSuffix(string(rest), "line 0999\n") || len(rest) > 100 {
		t.Errorf("tail starts mid-line or is too long: %q", rest)
	}
}

// A headless agent that runs with work uncommitted and writes nothing for its nudge.idle
// is shown idle (an interactive one would get the nudge typed in).
func TestLiveShowsAnIdleAgent(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "gate")
	tm := startTeam(t, map[string]string{
		"quiet": `echo wip > src/wip.txt
echo "thinking hard"
while [ ! -f ` + gate + ` ]; do sleep 0.05; done
git add -A && git commit -qm "quiet: wip"`,
	}, `agents:
  - {name: quiet, command: [$AGENTS/quiet.sh], nudge: {idle: 1s}, tasks: [{id: q, prompt: p}]}
`)
	l := tm.live(Hooks{})
	snap := tm.until(l, "quiet shown idle", func(s Snapshot) bool {
		return !agentOf(s, "quiet").IdleSince.IsZero()
	})
	if a := agentOf(snap, "quiet"); !a.Running || a.Dirty != 1 || a.Last != "thinking hard" {
		t.Errorf("idle agent %+v: want running with its uncommitted file and last words", a)
	}
	// On the screen, 90 seconds later.
	shown := snap
	shown.Agents = append([]Agent(nil), snap.Agents...)
	for i := range shown.Agents {
		if shown.Agents[i].Name == "quiet" {
			shown.Agents[i].IdleSince = t0.Add(-90 * time.Second)
		}
	}
	if v := newHarness(t, shown, 120, 30).view(); !strings.Contains(v, "idle 1m, work uncommitted · thinking hard") {
		t.Errorf("view does not show quiet idle:\n%s", v)
	}
	testsupport.WriteFile(t, gate, "go")
	tm.until(l, "quiet no longer idle once committed", func(s Snapshot) bool {
		a := agentOf(s, "quiet")
		return a.IdleSince.IsZero() && a.State == string(orchestrator.Merged)
	})
}
