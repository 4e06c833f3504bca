package orchestrator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// Agents that move refs not theirs (DESIGN §11), each after committing honest work: the
// worktree's reference-transaction hook refuses what it sees (the leader branch, another
// agent's branch deleted); what goes round it (core.hooksPath emptied on the command line,
// a push into the repository past git's own refusal to update a checked-out branch) is put back
// by the supervisor, which reads from the ref's reflog whose git moved it. Each is an
// incident in status and review; main stays where it was; every honest commit merges.
func TestAgentsCannotMoveRefsNotTheirs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	honest := `echo "$TEAMCTL_AGENT" > "src/$TEAMCTL_AGENT.txt" && git add -A && git commit -qm "$TEAMCTL_AGENT: honest work"
`
	attacks := map[string]string{
		"leadref":  `git update-ref refs/heads/teamctl/t/lead/work HEAD && echo "MOVED the leader branch"`,
		"delete":   `git update-ref -d refs/heads/teamctl/t/leadref/work && echo "DELETED a branch"`,
		"basemove": `git -c core.hooksPath=/dev/null update-ref refs/heads/main HEAD && echo "moved main past the hook"`,
		"push":     `git push -q --receive-pack='git -c receive.denyCurrentBranch=ignore -c core.hooksPath=/dev/null receive-pack' . HEAD:teamctl/t/lead/work 2>&1; echo "pushed: $?"`,
	}
	body := "agents:\n"
	for _, name := range []string{"leadref", "delete", "basemove", "push"} {
		script := f.agent(name, honest+attacks[name]+"\nexit 0")
		body += fmt.Sprintf("  - {name: %s, command: ['%s'], tasks: [{id: %s, prompt: p}]}\n", name, script, name)
	}
	mainBefore := f.git("rev-parse", "main")
	if err := f.run(f.load(header + body)); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.git("rev-parse", "main"); got != mainBefore {
		t.Errorf("main moved to %s, from %s", got, mainBefore)
	}
	st := f.status("t")
	for _, name := range []string{"leadref", "delete", "basemove", "push"} {
		if got := f.taskState(st, name); got.State != orchestrator.Merged {
			t.Errorf("task %s: %s (%s), want its honest work merged", name, got.State, got.Detail)
		}
		if got := f.git("show", "teamctl/t/lead/work:src/"+name+".txt"); got != name {
			t.Errorf("src/%s.txt on the leader branch: %q", name, got)
		}
	}
	// Only teamctl's merges on the leader branch's first-parent line.
	for _, subject := range strings.Split(f.git("log", "--first-parent", "--format=%s", "main..teamctl/t/lead/work"), "\n") {
		if !strings.HasPrefix(subject, "Merge teamctl/t/") {
			t.Errorf("the leader branch holds %q, which teamctl did not merge", subject)
		}
	}
	want := map[string]string{ // agent → what its incident says
		"leadref":  "refs/heads/teamctl/t/lead/work: refused",
		"delete":   "refs/heads/teamctl/t/leadref/work: refused",
		"basemove": "moved main from",
		"push":     "moved teamctl/t/lead/work from",
	}
	for agent, text := range want {
		found := false
		for _, in := range st.Incidents {
			found = found || (in.Agent == agent && strings.Contains(in.What, text))
		}
		if !found {
			t.Errorf("no incident of %s saying %q in %+v", agent, text, st.Incidents)
		}
	}
	rv, err := f.workspace().Review(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(rv.Incidents) != len(st.Incidents) {
		t.Errorf("review has %d incidents, status %d", len(rv.Incidents), len(st.Incidents))
	}
	if !bytes.Contains([]byte(f.out.String()), []byte("INCIDENT")) {
		t.Errorf("the person was not told of the incidents:\n%s", f.out.String())
	}
	for _, name := range []string{"leadref", "delete"} {
		if log := f.agentLog(name); strings.Contains(log, "MOVED") || strings.Contains(log, "DELETED") {
			t.Errorf("%s's attempt went through:\n%s", name, log)
		}
	}
}

// agentLog is the whole log of an agent of team t.
func (f *fixture) agentLog(agent string) string {
	f.t.Helper()
	b, err := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "t", agent))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// An agent cannot act as the person or as another agent, whatever its environment says:
// its launch, which the process tree shows, names it. Person-only commands refuse inside
// it (exit 2), --as is refused, and with TEAMCTL_AGENT unset or set to another agent it is
// still itself: its human blocker stays open for the person, its message is its own.
func TestAgentsCannotActAsAnother(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	marks := t.TempDir()
	log := filepath.Join(marks, "log")
	sneaky := f.agent("sneaky", fmt.Sprintf(`if [ "$TEAMCTL_REASON" != task ]; then exit 0; fi
echo sneaky > src/sneaky.txt && git add -A && git commit -qm sneaky
try() { what=$1; shift; "$@" >/dev/null 2>>%[1]s.err; echo "$what $?" >> %[1]s; }
try accept teamctl accept
try stop env -u TEAMCTL_AGENT teamctl stop
try clean env -u TEAMCTL_AGENT teamctl clean --force
try as-human teamctl --as human msg send --to honest hello
try as-other env TEAMCTL_AGENT=honest teamctl msg send --to human "who sends this"
env -u TEAMCTL_AGENT teamctl blocker --human "a decision only a person makes" >/dev/null
try answer-own env -u TEAMCTL_AGENT teamctl answer 1 "decided it myself"
exit 0`, log))
	honest := f.agent("honest", `echo honest > src/honest.txt && git add -A && git commit -qm honest`)
	err := f.run(f.load(header + fmt.Sprintf(`agents:
  - {name: sneaky, command: ['%s'], tasks: [{id: s, prompt: p}]}
  - {name: honest, command: ['%s'], tasks: [{id: h, prompt: p}]}
`, sneaky, honest)))
	if !errors.Is(err, orchestrator.ErrWaiting) {
		t.Fatalf("run: %v, want the team waiting on the person for sneaky's blocker\nlog:\n%s", err, f.logs.String())
	}
	data, _ := os.ReadFile(log)
	errs, _ := os.ReadFile(log + ".err")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if what, code, ok := strings.Cut(line, " "); ok {
			got[what] = code
		}
	}
	for what, want := range map[string]string{"accept": "2", "stop": "2", "clean": "2", "as-human": "2", "as-other": "0", "answer-own": "2"} {
		if got[what] != want {
			t.Errorf("%s exited %q, want %s\nstderr:\n%s", what, got[what], want, errs)
		}
	}
	st := f.status("t")
	if len(st.Blockers) != 1 || st.Blockers[0].State == "answered" || !st.Blockers[0].Human {
		t.Errorf("blockers %+v, want sneaky's one open, for the person", st.Blockers)
	}
	if got := f.taskState(st, "h"); got.State != orchestrator.Merged {
		t.Errorf("honest's task: %s (%s): stop or clean went through", got.State, got.Detail)
	}
	ms, err := f.workspace().As(orchestrator.Caller{Team: "t", As: orchestrator.Human}).MessagesOf(context.Background(), "sneaky", 50)
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	for _, m := range ms {
		sent = sent || (strings.Contains(m.Text, "who sends this") && m.From == "sneaky")
	}
	if !sent {
		t.Errorf("sneaky's message did not go out as sneaky: %+v", ms)
	}
}
