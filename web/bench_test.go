package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/worktree"
)

// BenchmarkServe64: `teamctl serve` (its own process, as a person runs it) of a team of 64
// agents at rest. It reports the team page's load time, the time from a journal event (a
// message sent) to its arrival on /api/events, that plus the fetch of the page's live part
// the browser then makes (what a person waits for before the page shows it), and the
// server's resident memory. Medians of 20.
func BenchmarkServe64(b *testing.B) {
	const agents, samples = 64, 20
	repo := testsupport.NewRepo(b)
	scripts := b.TempDir()
	testsupport.WriteFile(b, filepath.Join(repo, "src", "base.txt"), "base\n")
	testsupport.Git(b, repo, "add", "-A")
	testsupport.Git(b, repo, "commit", "-qm", "base")
	idle := testsupport.Script(b, scripts, "idle.sh", "sleep 600\n")
	var y strings.Builder
	fmt.Fprintf(&y, "version: 1\nteam: t\nrepo: %s\nsandbox: {mode: off}\nmax_parallel: %d\ndefaults: {timeout: 20m, retries: 0, nudge: {max: 0}}\nagents:\n", repo, agents)
	for i := range agents {
		fmt.Fprintf(&y, "  - {name: a%02d, command: ['%s'], tasks: [{id: t%02d, prompt: p}]}\n", i, idle, i)
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
		done <- orchestrator.Run(ctx, orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(io.Discard)}, p, orchestrator.RunOptions{})
	}()
	b.Cleanup(func() { cancel(); <-done })
	var ws *orchestrator.Workspace
	testsupport.Eventually(b, 5*time.Minute, "every agent runs", func() bool {
		if ws == nil {
			if ws, err = orchestrator.Open(context.Background(), orchestrator.Env{Runner: worktree.ExecRunner{}}, repo); err != nil {
				ws = nil
				return false
			}
		}
		st, err := ws.Status(context.Background(), "t")
		n := 0
		for _, a := range st.Agents {
			if a.State == "running" {
				n++
			}
		}
		return err == nil && n == agents
	})
	defer ws.Close()

	serve := exec.Command(filepath.Join(testsupport.TeamctlBinDir(b), "teamctl"), "serve", "--addr", "127.0.0.1:0")
	serve.Dir = repo
	out, _ := serve.StdoutPipe()
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("serve printed no URL: %v", err)
	}
	base, token, _ := strings.Cut(strings.TrimSpace(line), "/?token=")
	get := func(path string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `data-agent="a63"`) {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	human, err := ws.Participant(context.Background(), orchestrator.Caller{Team: "t", As: orchestrator.Human})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var page, sse, live []time.Duration
		for range samples {
			page = append(page, get("/t/t"))
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/api/events?team=t", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		r := bufio.NewReader(resp.Body)
		_, _ = r.ReadString('\n') // the stream's opening comment
		for i := range samples {
			text := fmt.Sprintf("bench %d", i)
			start := time.Now()
			if _, err := human.Send(context.Background(), "a00", text); err != nil {
				b.Fatal(err)
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(l, "data: ") && strings.Contains(l, text) {
					break
				}
			}
			sse = append(sse, time.Since(start))
			live = append(live, time.Since(start)+get("/t/t?fragment=1"))
		}
		resp.Body.Close()
		b.ReportMetric(ms(median(page)), "ms/page")
		b.ReportMetric(ms(median(sse)), "ms/event-to-stream")
		b.ReportMetric(ms(median(live)), "ms/event-to-page")
		b.ReportMetric(float64(rssKB(serve.Process.Pid))/1024, "MB-rss")
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rssKB is process pid's resident memory, in KiB (0 where /proc does not say).
func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
