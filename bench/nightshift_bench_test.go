package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// The night shift (DESIGN.md §10): a team of real Claude Code agents against a scripted
// Messages API on loopback that, a third of the way through the plan, imposes a usage-limit
// window (429 with the unified rate-limit headers) and then a burst of 529s. Printed beside
// the same plan with no faults: the person's interventions, the 429s served, the launches
// past one per task, and the wall time lost beyond the window's length.

const (
	nightAgents = 8
	nightTasks  = 3
	nightWindow = 2 * time.Minute
	nightBurst  = 12 // 529s served right after the window
)

var fileOf = regexp.MustCompile(`Create the file (src/\S+\.txt)`)

// nightScript answers every launch the same way, from the whole conversation: create the
// task's file and commit it (a command that does no harm run twice: a resumed session runs
// it again), and once its result is back, say it is done.
func nightScript(req fakeanthropic.Request) fakeanthropic.Reply {
	texts := req.UserTexts()
	var file string
	for i := len(texts) - 1; i >= 0 && file == ""; i-- {
		if m := fileOf.FindStringSubmatch(texts[i]); m != nil {
			file = m[1]
		}
	}
	if file == "" || answered(req) {
		return fakeanthropic.Reply{Text: "Done: the file is committed."}
	}
	return fakeanthropic.Reply{Text: "Creating " + file + ".", Tools: []fakeanthropic.ToolUse{fakeanthropic.Bash(
		fmt.Sprintf(`mkdir -p src && echo night > %s && git add -A && { git diff --cached --quiet || git commit -qm "add %s"; }`, file, file))}}
}

// answered reports whether the newest message is a tool's result: the command ran.
func answered(req fakeanthropic.Request) bool {
	if len(req.Messages) == 0 {
		return false
	}
	last := req.Messages[len(req.Messages)-1]
	for _, b := range last.Content {
		if b.Type == "tool_result" {
			return true
		}
	}
	return false
}

// nightFaults is the fault schedule, counted in conversation requests answered: after a
// third of the plan's, a usage limit of nightWindow; after two thirds, nightBurst 529s
// (spread over the agents then at work, as a real overload is).
type nightFaults struct {
	mu      sync.Mutex
	window  int // answered requests before the limit
	burstAt int // answered requests before the 529s
	ok      int
	start   time.Time // the first 429
	burst   int
	served  []time.Time // when each 429 was served
}

func (n *nightFaults) fail(req fakeanthropic.Request) *fakeanthropic.Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !req.Conversation() {
		return nil
	}
	switch {
	case n.ok >= n.window && (n.start.IsZero() || time.Since(n.start) < nightWindow):
		if n.start.IsZero() {
			n.start = time.Now()
		}
		n.served = append(n.served, time.Now())
		return fakeanthropic.UsageLimit(n.start.Add(nightWindow))
	case n.ok >= n.burstAt && n.burst < nightBurst:
		n.burst++
		return fakeanthropic.Overloaded()
	}
	n.ok++
	return nil
}

type nightResult struct {
	wall       time.Duration
	blockers   int
	launches   int
	merged     int
	limited    int // provider.limited events
	early      int
	late       int
	overloaded int
}

// nightRun runs the plan; with faults, under the fault schedule. subscription runs the
// agents as on a claude.ai plan (an OAuth token), where Claude Code prints when the limit
// resets; with an API key it does not, and teamctl backs off.
func nightRun(b *testing.B, cli string, faults, subscription bool) nightResult {
	b.Helper()
	repo := testsupport.NewRepo(b)
	home := b.TempDir()
	fake := fakeanthropic.Start(b, nightScript)
	calls := nightAgents * nightTasks * 2 // two calls a task: the command, then "done"
	nf := &nightFaults{window: calls / 3, burstAt: calls * 2 / 3}
	if faults {
		fake.SetFaults(nf.fail)
	}
	var agents strings.Builder
	for a := 0; a < nightAgents; a++ {
		fmt.Fprintf(&agents, "  - name: a%d\n    tasks:\n", a)
		for t := 0; t < nightTasks; t++ {
			fmt.Fprintf(&agents, "      - {id: a%d-t%d, prompt: 'Create the file src/a%d-t%d.txt with the word night in it, and commit it.'}\n", a, t, a, t)
		}
	}
	credentials := "ANTHROPIC_API_KEY: sk-ant-fake-key"
	if subscription {
		credentials = "CLAUDE_CODE_OAUTH_TOKEN: sk-ant-oat-fake-token"
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "night.yaml")
	testsupport.WriteFile(b, path, fmt.Sprintf(`version: 1
team: night
repo: %s
base: main
test: "true"
defaults:
  preset: claude
  timeout: 10m
  retries: 1
  nudge: {max: 1}
  env:
    %s
    ANTHROPIC_BASE_URL: %s
    HOME: %s
    IS_SANDBOX: "1"
    DISABLE_AUTOUPDATER: "1"
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
    PATH: %q
agents:
%s`, repo, credentials, fake.URL, home, filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH"), agents.String()))
	p, err := plan.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	var logs strings.Builder
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(&syncWriter{w: &logs}), Out: &syncWriter{w: &logs}, BinDir: testsupport.TeamctlBinDir(b)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- orchestrator.Run(ctx, env, p, orchestrator.RunOptions{ExitWhenBlocked: true}) }()
	var st *store.Store
	if err := testsupport.Poll(ctx, time.Minute, func() bool { // the store appears once run made the team
		st, err = store.Open(store.Path(filepath.Join(repo, ".git")))
		return err == nil
	}); err != nil {
		b.Fatalf("no store: %v", err)
	}
	defer st.Close()
	if err := <-done; err != nil {
		b.Logf("run: %v\n%s", err, logs.String())
	}
	r := nightResult{wall: time.Since(start)}
	tasks, _ := st.Tasks(context.Background(), "night")
	for _, t := range tasks {
		r.launches += t.Attempt
		if t.State == "merged" {
			r.merged++
		}
	}
	bl, _ := st.Blockers(context.Background(), "night")
	r.blockers = len(bl)
	ev, _ := st.EventsOfKinds(context.Background(), "night", []string{"provider.limited"}, 0)
	r.limited = len(ev)
	// The 429s before the team paused hit agents already mid-call; those after are probes'.
	nf.mu.Lock()
	for _, at := range nf.served {
		if len(ev) > 0 && at.After(ev[0].At) {
			r.late++
		} else {
			r.early++
		}
	}
	r.overloaded = fake.Faulted()[529]
	nf.mu.Unlock()
	return r
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// BenchmarkNightShift prints the night shift's table (make bench; README "Unattended runs").
func BenchmarkNightShift(b *testing.B) {
	testsupport.NodeOnPath(b)
	cli := testsupport.AgentCLI(b, "claude")
	for i := 0; i < b.N; i++ {
		calm := nightRun(b, cli, false, true)
		plan := nightRun(b, cli, true, true)
		key := nightRun(b, cli, true, false)
		tasks := nightAgents * nightTasks
		fmt.Printf("\nnight shift: %d real Claude Code agents × %d tasks, a %s usage-limit window (429, unified headers) a third of the way in, then %d × 529\n\n",
			nightAgents, nightTasks, nightWindow, nightBurst)
		fmt.Println("| run | merged | human interventions (target 0) | 429s before the pause | 429s to probes (target ≤ 1 a probe) | 529s served | extra launches per agent | wall | lost beyond the window (target ≤ 1.2×) |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		fmt.Printf("| no faults | %d/%d | %d | - | - | - | %.2f | %.0f s | - |\n", calm.merged, tasks, calm.blockers,
			float64(calm.launches-tasks)/nightAgents, calm.wall.Seconds())
		for _, r := range []struct {
			name string
			r    nightResult
		}{{"limit + 529s, claude.ai plan (reset time printed)", plan}, {"limit + 529s, API key (no reset time: backoff)", key}} {
			n := r.r
			fmt.Printf("| %s | %d/%d | %d | %d | %d (%d pause(s)) | %d | %.2f | %.0f s | %.2f× |\n", r.name, n.merged, tasks, n.blockers,
				n.early, n.late, n.limited, n.overloaded, float64(n.launches-tasks)/nightAgents, n.wall.Seconds(),
				(n.wall-calm.wall).Seconds()/nightWindow.Seconds())
		}
	}
}
