package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/chromedp/chromedp"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/worktree"
)

// served is a team of 64 agents at rest under `teamctl serve`: its base URL and login
// token, the person (to make journal events with) and the serve process.
type served struct {
	base, token string
	human       *orchestrator.Participant
	serve       *exec.Cmd
}

const agents64 = 64

func serve64(b *testing.B) served {
	const agents = agents64
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
	b.Cleanup(func() { ws.Close() })

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
	human, err := ws.Participant(context.Background(), orchestrator.Caller{Team: "t", As: orchestrator.Human})
	if err != nil {
		b.Fatal(err)
	}
	return served{base: base, token: token, human: human, serve: serve}
}

// BenchmarkServe64: `teamctl serve` (its own process, as a person runs it) of a team of 64
// agents at rest. It reports the team page's load time, the time from a journal event (a
// message sent) to its arrival on /api/events, that plus the fetch of the page's live part
// the browser then makes (what a person waits for before the page shows it), and the
// server's resident memory. Medians of 20.
func BenchmarkServe64(b *testing.B) {
	const samples = 20
	sv := serve64(b)
	base, token, human, serve := sv.base, sv.token, sv.human, sv.serve
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
		b.ReportMetric(float64(testsupport.RSSKB(serve.Process.Pid))/1024, "MB-rss")
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkBrowser64: what a person sees on the page of a team of 64 agents at rest, in a
// real browser (headless Chromium): the time from a journal event (a message sent) to the
// page's DOM showing it, the event stream and the live part's fetch included. Median of 20.
func BenchmarkBrowser64(b *testing.B) {
	const samples = 20
	ctx, done := browser(b)
	defer done()
	sv := serve64(b)
	open, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// A watcher in the page notes when the feed first shows the text it waits for.
	const watch = `(() => {
		window.__want = ""; window.__at = 0;
		new MutationObserver(() => {
			const f = document.getElementById("feed");
			if (!window.__at && window.__want && f && f.textContent.includes(window.__want)) window.__at = Date.now();
		}).observe(document.querySelector("[data-live]"), {childList: true, subtree: true, characterData: true});
		return true;
	})()`
	err := chromedp.Do(open,
		chromedp.Navigate(sv.base+"/t/t?token="+sv.token),
		chromedp.WaitVisible(chromedp.CSS(`[data-agent="a63"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-stream="open"]`)),
	)
	if err == nil {
		_, err = chromedp.Run(open, chromedp.Evaluate[bool](watch))
	}
	if err != nil {
		b.Fatalf("open the team page: %v\n%s", err, pageText(ctx))
	}
	for b.Loop() {
		var dom []time.Duration
		for i := range samples {
			text := fmt.Sprintf("browser bench %d", i)
			step, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := chromedp.Run(step, chromedp.Evaluate[bool](fmt.Sprintf(`(window.__want = %q, window.__at = 0, true)`, text))); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := sv.human.Send(context.Background(), "a00", text); err != nil {
				b.Fatal(err)
			}
			var at int64
			for at == 0 {
				v, err := chromedp.Run(step, chromedp.Evaluate[int64](`window.__at`))
				if err != nil {
					b.Fatalf("the page never showed %q: %v\n%s", text, err, pageText(ctx))
				}
				if at = v; at == 0 {
					time.Sleep(5 * time.Millisecond) // polling the page, with step's deadline
				}
			}
			cancel()
			dom = append(dom, time.UnixMilli(at).Sub(start))
		}
		b.ReportMetric(ms(median(dom)), "ms/event-to-dom")
		b.ReportMetric(float64(testsupport.RSSKB(sv.serve.Process.Pid))/1024, "MB-rss")
	}
}
