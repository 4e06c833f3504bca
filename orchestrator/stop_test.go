package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// TestStopSaysWhatWaits: a run stopped before it finished is not a failure: it ends with
// ErrWaiting (exit 3) when a task waits on a person, else ErrStopped (exit 6), in words
// without Go's error text.
func TestStopSaysWhatWaits(t *testing.T) {
	t.Parallel()
	for _, withFailure := range []bool{false, true} {
		t.Run(fmt.Sprintf("failed task %v", withFailure), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			marks := t.TempDir()
			f.agent("slow", fmt.Sprintf(`touch %s/started; while :; do sleep 0.05; done`, marks))
			f.agent("crash", `exit 7`)
			agents := "agents:\n  - {name: slow, command: [$AGENTS/slow.sh], tasks: [{id: x, prompt: p}]}\n"
			if withFailure {
				agents += "  - {name: crash, command: [$AGENTS/crash.sh], retries: 0, tasks: [{id: boom, prompt: p}]}\n"
			}
			p := f.load(header + agents)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{}) }()
			ws := f.workspace()
			testsupport.Eventually(t, time.Minute, "the team at work", func() bool {
				if _, err := os.Stat(filepath.Join(marks, "started")); err != nil {
					return false
				}
				st, err := ws.Status(context.Background(), "t")
				return err == nil && (!withFailure || f.taskState(st, "boom").State == orchestrator.Failed)
			})
			cancel()
			err := <-done
			want, words := orchestrator.ErrStopped, "team t stopped before it finished: teamctl resume t continues it"
			if withFailure {
				want, words = orchestrator.ErrWaiting, "team t stopped with 1 task(s) waiting on a person"
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), words) || strings.Contains(err.Error(), "context canceled") {
				t.Errorf("run: %v; want %v saying %q", err, want, words)
			}
		})
	}
}
