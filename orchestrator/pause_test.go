package orchestrator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// errorStream is the recorded output of a real CLI that met a provider error
// (agentproc/testdata/errors), without the line that says how it was recorded: what a
// scripted agent prints to be that CLI failing.
func errorStream(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "agentproc", "testdata", "errors", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "=== teamctl recorded") {
			keep = append(keep, l)
		}
	}
	path := filepath.Join(t.TempDir(), name+".log")
	testsupport.WriteFile(t, path, strings.Join(keep, "\n"))
	return path
}

// fakeCLI puts a program named cli first on the agents' PATH that runs the scripted agent
// of the agent launched ($AGENTS/<agent>.sh): the preset's own argv runs, and the agent's
// output is that CLI's stream.
func (f *fixture) fakeCLI(cli string) {
	f.t.Helper()
	f.binDir = f.t.TempDir()
	testsupport.Script(f.t, f.binDir, cli, `exec "`+f.agents+`/$TEAMCTL_AGENT.sh" "$@"`)
}

// journalKinds is the kinds of the team's journal, oldest first, of those named.
func (f *fixture) journal(team string, kinds ...string) []store.Event {
	f.t.Helper()
	ev, err := f.workspace().TestStore().EventsOfKinds(context.Background(), team, kinds, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// TestUsageLimitPausesTheProvider: a claude agent whose launch ends on a usage limit (the
// real CLI's stream) pauses, and with it the other agent of the same provider, which is
// stopped; an agent of another provider goes on. No retry is spent and nobody is asked:
// at until the first paused agent is relaunched as the probe, in its own session, told why;
// its calls go through, the pause ends, the other follows; every task is merged.
func TestUsageLimitPausesTheProvider(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	limit := errorStream(t, "claude-limit")
	marks := t.TempDir()
	// A claude agent's own words on a good launch: one assistant message with usage.
	talk := `echo '{"type":"assistant","message":{"id":"m-'$TEAMCTL_ATTEMPT'","model":"claude-sonnet-4-5","content":[{"type":"text","text":"on it"}],"usage":{"input_tokens":10,"output_tokens":5}}}'`
	f.agent("alice", fmt.Sprintf(`echo "$TEAMCTL_ATTEMPT $TEAMCTL_REASON $(date +%%s%%N)" >> %[1]s/alice.launches
printf '%%s' "$TEAMCTL_PROMPT" > %[1]s/alice.prompt.$TEAMCTL_ATTEMPT
if [ "$TEAMCTL_ATTEMPT" = 1 ]; then
  while [ ! -e %[1]s/bob.started ]; do sleep 0.05; done
  cat %[2]s; exit 1
fi
%[3]s
echo a > src/a.txt && git add -A && git commit -qm a`, marks, limit, talk))
	f.agent("bob", fmt.Sprintf(`echo "$TEAMCTL_ATTEMPT $TEAMCTL_REASON $(date +%%s%%N)" >> %[1]s/bob.launches
if [ "$TEAMCTL_ATTEMPT" = 1 ]; then touch %[1]s/bob.started; while :; do sleep 0.05; done; fi
%[2]s
echo b > src/b.txt && git add -A && git commit -qm b`, marks, talk))
	f.agent("carol", fmt.Sprintf(`while [ ! -e %[1]s/bob.started ]; do sleep 0.05; done
%[2]s
sleep 1; echo c > src/c.txt && git add -A && git commit -qm c`, marks, talk))
	f.fakeCLI("claude")
	p := f.load(header + `limits: {backoff: 3s, stagger: 1s}
agents:
  - {name: alice, preset: claude, tasks: [{id: ta, prompt: p}]}
  - {name: bob, preset: claude, tasks: [{id: tb, prompt: p}]}
  - {name: carol, preset: claude, env: {ANTHROPIC_BASE_URL: "http://127.0.0.1:9"}, tasks: [{id: tc, prompt: p}]}
`)
	ctx, done := f.start(p)

	// While paused: both claude tasks wait until the same time, status says so.
	var st orchestrator.Status
	ws := f.workspace()
	testsupport.Eventually(t, time.Minute, "ta and tb paused", func() bool {
		var err error
		st, err = ws.Status(context.Background(), "t")
		return err == nil && f.taskState(st, "ta").State == orchestrator.Paused && f.taskState(st, "tb").State == orchestrator.Paused
	})
	ta, tb := f.taskState(st, "ta"), f.taskState(st, "tb")
	if ta.Until == nil || tb.Until == nil || !ta.Until.Equal(*tb.Until) || !ta.Until.After(time.Now().Add(-time.Second)) {
		t.Errorf("paused until %v and %v: want the same time, not past", ta.Until, tb.Until)
	}
	if !strings.Contains(ta.Why, "usage limit, claude") || !strings.Contains(ta.Why, "429") {
		t.Errorf("ta paused for %q: want the usage limit named, with its 429", ta.Why)
	}
	if len(st.Pauses) != 1 || st.Pauses[0].Provider != "claude" || st.Pauses[0].Agents != 2 || st.Pauses[0].Kind != "limit" {
		t.Errorf("pauses %+v: want one, claude's, of 2 agents", st.Pauses)
	}
	if got := f.taskState(st, "tc").State; got == orchestrator.Paused {
		t.Errorf("carol (another provider) paused too")
	}
	if len(st.Blockers) != 0 {
		t.Errorf("blockers %+v: a limit needs nobody", st.Blockers)
	}

	f.finished(ctx, done)
	st = f.status("t")
	for _, id := range []string{"ta", "tb", "tc"} {
		if got := f.taskState(st, id).State; got != orchestrator.Merged {
			t.Errorf("task %s: %s, want merged", id, got)
		}
	}
	tasks, err := f.workspace().TestStore().Tasks(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.Failures != 0 {
			t.Errorf("task %s: %d failures counted; a provider's limit is not the agent's", tk.ID, tk.Failures)
		}
	}
	if bl, _ := f.workspace().TestStore().Blockers(context.Background(), "t"); len(bl) != 0 {
		t.Errorf("blockers raised: %+v", bl)
	}
	// alice probed first, resuming; bob followed at least a stagger later.
	launches := func(name string) []string {
		data, _ := os.ReadFile(filepath.Join(marks, name+".launches"))
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	al, bl := launches("alice"), launches("bob")
	if len(al) != 2 || !strings.HasPrefix(al[1], "2 resume ") || len(bl) != 2 || !strings.HasPrefix(bl[1], "2 resume ") {
		t.Fatalf("launches alice %q bob %q: want each launched twice, the second a resume", al, bl)
	}
	at, bt := nanos(t, al[1]), nanos(t, bl[1])
	if bt-at < int64(900*time.Millisecond) {
		t.Errorf("bob relaunched %v after alice: want the probe first, then a stagger of 1s", time.Duration(bt-at))
	}
	prompt, _ := os.ReadFile(filepath.Join(marks, "alice.prompt.2"))
	if !strings.Contains(string(prompt), "cut short by your model provider") {
		t.Errorf("alice's resume prompt does not say the provider cut her launch:\n%s", prompt)
	}
	var limited, resumed int
	for _, e := range f.journal("t", "provider.limited", "provider.resumed") {
		var d struct{ Label, Kind string }
		_ = json.Unmarshal([]byte(e.Data), &d)
		if d.Label != "claude" {
			t.Errorf("%s for %q: want claude", e.Kind, d.Label)
		}
		if e.Kind == "provider.limited" {
			limited++
		} else {
			resumed++
		}
	}
	if limited != 1 || resumed != 1 {
		t.Errorf("journal: %d provider.limited, %d provider.resumed; want one of each", limited, resumed)
	}
}

func nanos(t *testing.T, launch string) int64 {
	t.Helper()
	f := strings.Fields(launch)
	var n int64
	if _, err := fmt.Sscan(f[len(f)-1], &n); err != nil {
		t.Fatalf("launch line %q: %v", launch, err)
	}
	return n
}

// TestAuthErrorGoesToAPerson: refused credentials are never retried: the task waits on a
// person's blocker at once, and its failure is not counted.
func TestAuthErrorGoesToAPerson(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	auth := errorStream(t, "claude-auth")
	marks := t.TempDir()
	f.agent("alice", fmt.Sprintf(`echo x >> %s/launches; cat %s; exit 1`, marks, auth))
	f.fakeCLI("claude")
	p := f.load(header + `agents:
  - {name: alice, preset: claude, retries: 3, tasks: [{id: ta, prompt: p}]}
`)
	if err := f.run(p); err == nil {
		t.Fatal("run ended without waiting on a person")
	}
	st := f.status("t")
	if got := f.taskState(st, "ta"); got.State != orchestrator.Blocked || !strings.Contains(got.Detail, "refused") {
		t.Errorf("ta: %s (%s), want blocked on refused credentials", got.State, got.Detail)
	}
	if len(st.Blockers) != 1 || !st.Blockers[0].Human || !strings.Contains(st.Blockers[0].Text, "credentials") {
		t.Errorf("blockers %+v: want one for a person about the credentials", st.Blockers)
	}
	if data, _ := os.ReadFile(filepath.Join(marks, "launches")); strings.Count(string(data), "x") != 1 {
		t.Errorf("launched %d times with retries: 3; want once", strings.Count(string(data), "x"))
	}
}

// TestLimitPatternsOfACustomCommand: a program teamctl has no preset for says "limit" in
// its own words; the plan's pattern names them and captures when it resets.
func TestLimitPatternsOfACustomCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	bot := f.agent("bot", fmt.Sprintf(`echo "$TEAMCTL_REASON" >> %s/launches
if [ "$TEAMCTL_ATTEMPT" = 1 ]; then echo "quota exhausted for this hour; retry in 2s" >&2; exit 1; fi
echo a > src/a.txt && git add -A && git commit -qm a`, marks))
	p := f.load(header + fmt.Sprintf(`limits:
  patterns: ['quota exhausted.*retry in (?P<until>\S+)']
agents:
  - {name: bot, command: ['%s'], retries: 0, tasks: [{id: ta, prompt: p}]}
`, bot))
	start := time.Now()
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.taskState(f.status("t"), "ta").State; got != orchestrator.Merged {
		t.Errorf("ta: %s, want merged (with retries: 0, only a pause gets it there)", got)
	}
	ev := f.journal("t", "provider.limited")
	if len(ev) != 1 {
		t.Fatalf("%d provider.limited events, want 1", len(ev))
	}
	var d struct{ Until time.Time }
	if err := json.Unmarshal([]byte(ev[0].Data), &d); err != nil {
		t.Fatal(err)
	}
	if wait := d.Until.Sub(start); wait < time.Second || wait > 30*time.Second {
		t.Errorf("paused until %v after the start: want the 2s the program said", wait)
	}
	if data, _ := os.ReadFile(filepath.Join(marks, "launches")); strings.TrimSpace(string(data)) != "task\nresume" {
		t.Errorf("launch reasons %q: want task, then resume", data)
	}
}

// TestKillDuringAPause: a supervisor killed -9 while its team is paused leaves the pause in
// the store; resume keeps its until (nothing is launched before it) and then goes on.
func TestKillDuringAPause(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	limit := errorStream(t, "claude-limit")
	marks := t.TempDir()
	f.agent("alice", fmt.Sprintf(`echo "$TEAMCTL_ATTEMPT $TEAMCTL_REASON $(date +%%s%%N)" >> %[1]s/launches
if [ "$TEAMCTL_ATTEMPT" = 1 ]; then cat %[2]s; exit 1; fi
echo a > src/a.txt && git add -A && git commit -qm a`, marks, limit))
	f.fakeCLI("claude")
	path := f.writePlan(header + `limits: {backoff: 4s}
agents:
  - {name: alice, preset: claude, tasks: [{id: ta, prompt: p}]}
`)
	sup := f.startSupervisor(path)
	ws := f.workspace()
	var until time.Time
	testsupport.Eventually(t, time.Minute, "ta paused", func() bool {
		st, err := ws.Status(context.Background(), "t")
		if err != nil {
			return false
		}
		ta := f.taskState(st, "ta")
		if ta.State == orchestrator.Paused && ta.Until != nil {
			until = *ta.Until
			return true
		}
		return false
	})
	if err := sup.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sup.Wait()
	st := f.status("t")
	if ta := f.taskState(st, "ta"); ta.State != orchestrator.Paused || !ta.Until.Equal(until) {
		t.Fatalf("after the kill: ta %s until %v, want paused until %v", ta.State, ta.Until, until)
	}
	if len(st.Pauses) != 1 || !st.Pauses[0].Until.Equal(until) {
		t.Fatalf("after the kill: pauses %+v, want claude's until %v", st.Pauses, until)
	}
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.taskState(f.status("t"), "ta").State; got != orchestrator.Merged {
		t.Errorf("ta: %s, want merged", got)
	}
	data, _ := os.ReadFile(filepath.Join(marks, "launches"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "2 resume ") {
		t.Fatalf("launches %q: want the task, then one resume", lines)
	}
	if at := time.Unix(0, nanos(t, lines[1])); at.Before(until) {
		t.Errorf("relaunched at %v, before the pause's until %v", at, until)
	}
}

// TestLimitOfACLIThatExitsZero: pi exits 0 when its model API refused it; its stream says
// the launch failed on a limit, so the task is paused, not taken as done with nothing to merge.
func TestLimitOfACLIThatExitsZero(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	limit := errorStream(t, "pi-limit")
	f.agent("alice", fmt.Sprintf(`if [ "$TEAMCTL_ATTEMPT" = 1 ]; then cat %s; exit 0; fi
echo a > src/a.txt && git add -A && git commit -qm a`, limit))
	f.fakeCLI("pi")
	p := f.load(header + `limits: {backoff: 2s}
agents:
  - {name: alice, preset: pi, tasks: [{id: ta, prompt: p}]}
`)
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.taskState(f.status("t"), "ta").State; got != orchestrator.Merged {
		t.Errorf("ta: %s, want merged after the pause", got)
	}
	if ev := f.journal("t", "provider.limited"); len(ev) != 1 || !strings.Contains(ev[0].Data, `"label":"pi"`) {
		t.Errorf("journal %+v: want pi's limit", ev)
	}
}
