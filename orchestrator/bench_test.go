package orchestrator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// BenchmarkResume16 measures how long `teamctl resume` takes to take over a crashed team of
// 16 agents that all still run: from the call until every agent is adopted and the
// supervisor is back at work (the "team.resumed" journal entry).
func BenchmarkResume16(b *testing.B) {
	const n = 16
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		t := &testing.T{}
		f := &fixture{t: t, repo: testsupport.NewRepo(b), agents: b.TempDir()}
		testsupport.Script(b, f.repo, "check.sh", "true")
		f.git("add", "-A")
		f.git("commit", "-qm", "test")
		gate := filepath.Join(f.agents, "go")
		agent := testsupport.Script(b, f.agents, "a.sh", fmt.Sprintf(`while [ ! -f '%s' ]; do sleep 0.05; done
echo $TEAMCTL_AGENT > $TEAMCTL_AGENT.txt; git add -A; git commit -qm "$TEAMCTL_AGENT"`, gate))
		var agents strings.Builder
		for k := 0; k < n; k++ {
			fmt.Fprintf(&agents, "  - {name: a%02d, command: ['%s'], tasks: [{id: t%02d, prompt: p}]}\n", k, agent, k)
		}
		child := f.startSupervisor(f.writePlan(strings.Replace(header, "test: ./check.sh", "test: 'true'", 1) + "agents:\n" + agents.String()))
		testsupport.Eventually(b, 2*time.Minute, "16 agents running", func() bool {
			st, err := f.workspace().Status(context.Background(), "t")
			if err != nil {
				return false
			}
			running := 0
			for _, a := range st.Agents {
				if a.State == "running" {
					running++
				}
			}
			return running == n
		})
		_ = child.Process.Kill()
		_ = child.Wait()
		before := f.events("t")
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() {
			done <- f.workspace().Resume(context.Background(), "t", orchestrator.RunOptions{ExitWhenBlocked: true})
		}()
		testsupport.Eventually(b, time.Minute, "resumed", func() bool {
			ev, err := f.workspace().TestStore().Events(context.Background(), "t", 0, 0)
			if err != nil {
				return false
			}
			for _, e := range ev[before:] {
				if e.Kind == "team.resumed" {
					return true
				}
			}
			return false
		})
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/resume")
		b.StopTimer()
		testsupport.WriteFile(b, gate, "")
		if err := <-done; err != nil {
			b.Fatalf("resume: %v\n%s", err, f.logs.String())
		}
	}
}
