package orchestrator_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// While alice and bob both still work, their branches change the same line of
// src/base.txt: the supervisor sees the conflict coming, records it for status and the
// dashboard, and tells both, each naming the other and the file. carol's branch touches
// another file and is told nothing. Once the gate opens, the merge step sorts the
// conflict out as usual and the warning is gone when the team has finished.
func TestConflictWarnings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := filepath.Join(t.TempDir(), "gate")
	wait := fmt.Sprintf("while [ ! -f %s ]; do sleep 0.05; done", gate)
	edit := func(who string) string {
		return f.agent(who, fmt.Sprintf(`if [ "$TEAMCTL_REASON" = fix-conflict ]; then
  echo "%[1]s after the others" > src/base.txt && git add -A && git commit -qm "%[1]s: resolve"; exit 0; fi
echo "%[1]s was here" > src/base.txt && git add -A && git commit -qm "%[1]s: edit base"
%[2]s`, who, wait))
	}
	carol := f.agent("carol", `echo c > src/c.txt && git add -A && git commit -qm "carol: add c"
`+wait)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], tasks: [{id: a, prompt: p}]}
  - {name: bob, command: ['%s'], tasks: [{id: b, prompt: p}]}
  - {name: carol, command: ['%s'], tasks: [{id: c, prompt: p}]}
`, edit("alice"), edit("bob"), carol))
	ctx, done := f.start(p)

	ws := f.workspace()
	testsupport.Eventually(t, time.Minute, "a warning for alice and bob", func() bool {
		st, err := ws.Status(ctx, "t")
		return err == nil && len(st.Warnings) == 1
	})
	st := f.status("t")
	if w := st.Warnings[0]; w.A != "alice" || w.B != "bob" || strings.Join(w.Files, ",") != "src/base.txt" {
		t.Errorf("warning %+v: want alice and bob on src/base.txt", w)
	}
	for _, who := range []string{"alice", "bob"} {
		other := map[string]string{"alice": "bob", "bob": "alice"}[who]
		var inbox string
		testsupport.Eventually(t, 30*time.Second, who+" told", func() bool {
			ms, err := ws.As(orchestrator.Caller{Team: "t", As: who}).Inbox(ctx)
			for _, m := range ms {
				if m.From == orchestrator.System {
					inbox += m.Text
				}
			}
			return err == nil && inbox != ""
		})
		if !strings.Contains(inbox, "src/base.txt") || !strings.Contains(inbox, other+"'s") {
			t.Errorf("%s was told %q: want the file and %s named", who, inbox, other)
		}
	}
	if ms, _ := ws.As(orchestrator.Caller{Team: "t", As: "carol"}).Inbox(ctx); len(ms) != 0 {
		t.Errorf("carol, whose work conflicts with no one's, was told %+v", ms)
	}
	testsupport.WriteFile(t, gate, "go")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	st = f.status("t")
	for _, id := range []string{"a", "b", "c"} {
		if s := f.taskState(st, id).State; s != orchestrator.Merged {
			t.Errorf("task %s %s, want merged", id, s)
		}
	}
	if len(st.Warnings) != 0 {
		t.Errorf("warnings left after the team finished: %+v", st.Warnings)
	}
	// The journal has the warning (and, once alice's branch is merged, possibly bob's
	// against the leader branch), each cleared by the end.
	evs, err := ws.TestStore().EventsOfKinds(ctx, "t", []string{"conflict.warning", "conflict.cleared"}, 20)
	if err != nil || len(evs) < 2 || evs[0].Kind != "conflict.warning" || !strings.Contains(evs[0].Data, `"b":"bob"`) {
		t.Errorf("journal: %+v, %v; want alice and bob's warning first", evs, err)
	}
	warned, cleared := 0, 0
	for _, e := range evs {
		if e.Kind == "conflict.warning" {
			warned++
		} else {
			cleared++
		}
	}
	if warned != cleared {
		t.Errorf("journal: %d warnings, %d cleared: want each cleared", warned, cleared)
	}
}
