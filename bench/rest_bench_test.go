package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/worktree"
)

// BenchmarkRest prints what a supervisor costs while its agents are at rest (scripted
// agents that sleep): the share of one core it uses over a window of restWindow, and its
// resident memory, for 64 and 256 agents, and 1024 with TEAMCTL_BENCH_1024=1 (as make bench sets). The supervisor
// runs in this process (orchestrator.Run); the agents are processes of their own, not
// counted. TEAMCTL_BENCH_PROFILE=DIR writes a CPU profile of each window there.
func BenchmarkRest(b *testing.B) {
	sizes := []int{64, 256}
	if os.Getenv("TEAMCTL_BENCH_1024") == "1" {
		sizes = append(sizes, 1024)
	}
	fmt.Printf("\nsupervisor at rest (agents that sleep), %s window, %d CPUs\n\n| agents | CPU (share of one core, with its git commands) | RSS | `teamctl status --json` (median of 9) |\n| ---: | ---: | ---: | ---: |\n", restWindow, runtime.NumCPU())
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				cpu, rss, status := atRest(b, n)
				fmt.Printf("| %d | %.2f%% | %.0f MB | %d ms |\n", n, cpu*100, rss, status.Milliseconds())
				b.ReportMetric(cpu*100, "%core")
				b.ReportMetric(rss, "MB-rss")
				b.ReportMetric(float64(status.Milliseconds()), "ms-status")
			}
		})
	}
}

const restWindow = 10 * time.Second

// atRest runs a team of n sleeping agents until all run, then measures the window.
func atRest(b *testing.B, n int) (cpu, rssMB float64, status time.Duration) {
	repo := testsupport.NewRepo(b)
	scripts := b.TempDir()
	testsupport.WriteFile(b, filepath.Join(repo, "base.txt"), "base\n")
	testsupport.Git(b, repo, "add", "-A")
	testsupport.Git(b, repo, "commit", "-qm", "base")
	idle := testsupport.Script(b, scripts, "idle.sh", "exec sleep 900\n")
	var y strings.Builder
	fmt.Fprintf(&y, "version: 1\nteam: t\nrepo: %s\nsandbox: {mode: off}\ndefaults: {timeout: 30m, retries: 0, nudge: {max: 0}}\nagents:\n", repo)
	for i := range n {
		fmt.Fprintf(&y, "  - {name: a%04d, command: ['%s'], tasks: [{id: t%04d, prompt: p}]}\n", i, idle, i)
	}
	path := filepath.Join(scripts, "team.yaml")
	testsupport.WriteFile(b, path, y.String())
	p, err := plan.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- orchestrator.Run(ctx, orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(io.Discard), Out: io.Discard}, p, orchestrator.RunOptions{})
	}()
	defer func() { cancel(); <-done }()
	ws, err := openWhenMade(b, repo)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	testsupport.Eventually(b, 10*time.Minute, "every agent runs", func() bool {
		st, err := ws.Status(context.Background(), "t")
		running := 0
		for _, a := range st.Agents {
			if a.State == "running" {
				running++
			}
		}
		return err == nil && running == n
	})
	if dir := os.Getenv("TEAMCTL_BENCH_PROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("rest-%d.pprof", n)))
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	before, start := cpuTime(), time.Now()
	time.Sleep(restWindow) // the window measured: the supervisor alone, at rest
	cpu = (cpuTime() - before).Seconds() / time.Since(start).Seconds()
	return cpu, float64(testsupport.RSSKB(0)) / 1024, statusJSON(b, repo)
}

// statusJSON is the median wall time of `teamctl status t --json` (the real binary, a
// process of its own) over 9 runs, beside the live supervisor.
func statusJSON(b *testing.B, repo string) time.Duration {
	bin := filepath.Join(testsupport.TeamctlBinDir(b), "teamctl")
	var took []time.Duration
	for range 9 {
		cmd := exec.Command(bin, "status", "t", "--json")
		cmd.Dir = repo
		start := time.Now()
		out, err := cmd.Output()
		took = append(took, time.Since(start))
		if err != nil || !strings.Contains(string(out), `"a0000"`) {
			b.Fatalf("teamctl status t --json: %v\n%.500s", err, out)
		}
	}
	return median(took)
}

func openWhenMade(b *testing.B, repo string) (*orchestrator.Workspace, error) {
	var ws *orchestrator.Workspace
	var err error
	testsupport.Eventually(b, 5*time.Minute, "the team is made", func() bool {
		if ws, err = orchestrator.Open(context.Background(), orchestrator.Env{Runner: worktree.ExecRunner{}}, repo); err != nil {
			return false
		}
		if _, err = ws.ResolveTeam(context.Background(), "t"); err != nil {
			ws.Close()
			return false
		}
		return true
	})
	return ws, err
}

// cpuTime is this process's CPU time so far, user and system, with its children's that
// ended (the git commands the supervisor runs; the agents, which sleep on, are not counted).
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
}
