package dashboard

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkPoll64 is the dashboard's cost with 64 agents at work (each running, its
// process asleep): "quiet" is a poll that finds nothing new (what the dashboard does four
// times a second), "reload" a poll that rereads the store (after each journal event).
func BenchmarkPoll64(b *testing.B) {
	var agents strings.Builder
	agents.WriteString("agents:\n")
	for i := range 64 {
		fmt.Fprintf(&agents, "  - {name: dev-%02d, command: [$AGENTS/sleeper.sh], tasks: [{id: t%02d, prompt: p}]}\n", i, i)
	}
	tm := startTeam(b, map[string]string{"sleeper": `echo "working on $TEAMCTL_TASK_ID"; exec sleep 600`}, agents.String())
	l := tm.live(Hooks{})
	tm.until(l, "64 agents running", func(s Snapshot) bool {
		n := 0
		for _, a := range s.Agents {
			if a.Running && a.Last != "" && a.Dirty != Unknown && a.Ahead != Unknown {
				n++
			}
		}
		return n == 64
	})
	ctx := context.Background()
	// The counts the launches made stale: the steady state starts once they are redone.
	tm.until(l, "every git count done", func(Snapshot) bool { return l.git.Stale() == 0 })
	b.Run("quiet", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := l.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reload", func(b *testing.B) {
		for b.Loop() {
			l.reloaded = time.Time{}
			if _, _, err := l.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
