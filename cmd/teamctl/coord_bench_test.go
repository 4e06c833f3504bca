package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/sandbox"
)

// benchTeam builds the real teamctl binary and records team t in a fresh repository: agent
// x's task fails at once, so the devs a1..a8 wait after it, and nothing runs while the
// benchmark measures. It returns the binary and the repository.
func benchTeam(b *testing.B) (string, string) {
	b.Helper()
	vars, err := testsupport.Hermetic(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	bin := filepath.Join(b.TempDir(), "teamctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	repo := testsupport.NewRepo(b)
	var plan strings.Builder
	fmt.Fprintf(&plan, "version: 1\nteam: t\nrepo: %s\ndefaults: {retries: 0}\nagents:\n", repo)
	plan.WriteString("  - {name: x, command: [sh, -c, 'exit 1'], tasks: [{id: fail, prompt: p}]}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&plan, "  - {name: a%d, command: ['true'], tasks: [{id: t%d, prompt: p, after: [fail]}]}\n", i, i)
	}
	path := filepath.Join(b.TempDir(), "team.yaml")
	testsupport.WriteFile(b, path, plan.String())
	cmd := exec.Command(bin, "run", path, "--exit-when-blocked")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); exitOf(err) != exitWaiting {
		b.Fatalf("teamctl run: %v, want exit %d\n%s", err, exitWaiting, out)
	}
	return bin, repo
}

func exitOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// timed runs bin args in dir and returns how long the process took; exit codes in ok pass.
func timed(b *testing.B, bin, dir string, ok []int, args ...string) time.Duration {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	code := exitOf(err)
	for _, c := range ok {
		if c == code {
			return d
		}
	}
	b.Fatalf("teamctl %s: exit %d\n%s", strings.Join(args, " "), code, out)
	return d
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkCoordProcesses times coordination commands as the separate processes agents
// run: the median of `teamctl msg send` and `teamctl reserve`, and reservation operations
// per second with 8 processes at once (make bench).
func BenchmarkCoordProcesses(b *testing.B) {
	bin, repo := benchTeam(b)
	const samples = 40
	b.Run("msg-send", func(b *testing.B) {
		for b.Loop() {
			ds := make([]time.Duration, samples)
			for i := range ds {
				ds[i] = timed(b, bin, repo, []int{0}, "msg", "send", "--as", "a1", "--to", "a2", "hello")
			}
			b.ReportMetric(float64(median(ds).Microseconds())/1000, "ms/median")
		}
	})
	b.Run("reserve", func(b *testing.B) {
		n := 0
		for b.Loop() {
			ds := make([]time.Duration, samples)
			for i := range ds {
				n++
				ds[i] = timed(b, bin, repo, []int{0}, "reserve", "--as", "a1", fmt.Sprintf("bench/%d.txt", n))
			}
			b.ReportMetric(float64(median(ds).Microseconds())/1000, "ms/median")
		}
		timed(b, bin, repo, []int{0}, "release", "--as", "a1")
	})
	b.Run("reserve-8-procs", func(b *testing.B) {
		universe := []string{"src/", "src/a.go", "src/b.go", "docs/", "docs/x.md", "README.md"}
		const rounds = 15
		for b.Loop() {
			var wg sync.WaitGroup
			var mu sync.Mutex
			ops, refused := 0, 0
			start := time.Now()
			for i := 1; i <= 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(i), 1))
					me := fmt.Sprintf("a%d", i)
					for range rounds {
						p := universe[rng.IntN(len(universe))]
						cmd := exec.Command(bin, "reserve", "--as", me, p)
						cmd.Dir = repo
						code := exitOf(cmd.Run())
						rel := exec.Command(bin, "release", "--as", me)
						rel.Dir = repo
						relCode := exitOf(rel.Run())
						mu.Lock()
						ops += 2
						if code == exitReservation {
							refused++
						} else if code != 0 || relCode != 0 {
							b.Errorf("reserve exit %d, release exit %d", code, relCode)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.ReportMetric(float64(ops)/el.Seconds(), "ops/s")
			b.ReportMetric(float64(refused), "refused")
		}
	})
	_ = os.Remove(bin)
}

// BenchmarkConfinement times what confinement costs (make bench): the launch of a program
// through `teamctl __confine` against its plain start (agent start to its exit, for `true`),
// and `teamctl msg send` run from inside an agent's launch, relayed to its supervisor over
// the socket (confined) against straight to the store (sandbox: off).
func BenchmarkConfinement(b *testing.B) {
	if _, err := sandbox.Available(); err != nil {
		b.Skipf("no Landlock here: %v", err)
	}
	bin, _ := benchTeam(b)
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	const samples = 60
	// launch is the median time from starting argv (with start; nil: unconfined) to its exit.
	launch := func(start func(*exec.Cmd) error, argv ...string) time.Duration {
		ds := make([]time.Duration, samples)
		for i := range ds {
			cmd := exec.Command(argv[0], argv[1:]...)
			t0 := time.Now()
			err := error(nil)
			if start != nil {
				err = start(cmd)
			} else {
				err = cmd.Start()
			}
			if err == nil {
				err = cmd.Wait()
			}
			if err != nil {
				b.Fatalf("%q: %v", argv, err)
			}
			ds[i] = time.Since(t0)
		}
		return median(ds)
	}
	// A headless launch is forked confined (sandbox.Start); a tmux pane runs teamctl's binary
	// to confine itself (sandbox.Argv).
	b.Run("launch", func(b *testing.B) {
		dir := b.TempDir()
		p := sandbox.Policy{Write: []string{dir, dir + "/a", dir + "/b"}}
		for b.Loop() {
			plain := launch(nil, truePath)
			confined := launch(func(c *exec.Cmd) error { return sandbox.Start(c, p) }, truePath)
			tmux := launch(nil, sandbox.Argv(bin, p, []string{truePath})...)
			b.ReportMetric(float64(plain.Microseconds())/1000, "ms/plain")
			b.ReportMetric(float64(confined.Microseconds())/1000, "ms/confined")
			b.ReportMetric(float64((confined-plain).Microseconds())/1000, "ms/added")
			b.ReportMetric(float64((tmux-plain).Microseconds())/1000, "ms/added-tmux")
		}
	})
	for _, mode := range []string{"off", "landlock"} {
		b.Run("msg-send-in-agent-"+mode, func(b *testing.B) {
			for b.Loop() {
				b.ReportMetric(inAgentMsgSend(b, bin, mode), "ms/median")
			}
		})
	}
}

// inAgentMsgSend runs a team whose one agent times 40 `teamctl msg send` from its own
// shell, and returns their median in milliseconds.
func inAgentMsgSend(b *testing.B, bin, mode string) float64 {
	repo := testsupport.NewRepo(b)
	script := `i=0; : > "$TEAMCTL_WORKTREE/../times"
while [ $i -lt 40 ]; do
  s=$(date +%s%N); teamctl msg send --to human "hello $i" >/dev/null || exit 1; e=$(date +%s%N)
  echo $(( (e - s) / 1000 )) >> "$TEAMCTL_WORKTREE/../times"; i=$((i+1))
done`
	plan := filepath.Join(b.TempDir(), "team.yaml")
	times := filepath.Join(filepath.Dir(repo), "repo.teamctl", "t", "times")
	testsupport.WriteFile(b, plan, fmt.Sprintf("version: 1\nteam: t\nrepo: %s\nsandbox: {mode: %s, allow_write: [%s]}\ndefaults: {retries: 0, nudge: {max: 0}}\nagents:\n  - {name: m, command: [sh, -c, %q], tasks: [{id: m, prompt: p}]}\n",
		repo, mode, filepath.Dir(times), script))
	cmd := exec.Command(bin, "run", plan)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("teamctl run (%s): %v\n%s", mode, err, out)
	}
	raw, err := os.ReadFile(times)
	if err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	for _, f := range strings.Fields(string(raw)) {
		var us int64
		fmt.Sscan(f, &us)
		ds = append(ds, time.Duration(us)*time.Microsecond)
	}
	if len(ds) != 40 {
		b.Fatalf("%d timings, want 40:\n%s", len(ds), raw)
	}
	return float64(median(ds).Microseconds()) / 1000
}
