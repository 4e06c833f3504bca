package orchestrator_test

import (
	"bytes"
	"context"
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
		"leadref":  `git update-ref refs/heads/teamctl/t/lead HEAD && echo "MOVED the leader branch"`,
		"delete":   `git update-ref -d refs/heads/teamctl/t/leadref && echo "DELETED a branch"`,
		"basemove": `git -c core.hooksPath=/dev/null update-ref refs/heads/main HEAD && echo "moved main past the hook"`,
		"push":     `git push -q --receive-pack='git -c receive.denyCurrentBranch=ignore -c core.hooksPath=/dev/null receive-pack' . HEAD:teamctl/t/lead 2>&1; echo "pushed: $?"`,
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
		if got := f.git("show", "teamctl/t/lead:src/"+name+".txt"); got != name {
			t.Errorf("src/%s.txt on the leader branch: %q", name, got)
		}
	}
	// Only teamctl's merges on the leader branch's first-parent line.
	for _, subject := range strings.Split(f.git("log", "--first-parent", "--format=%s", "main..teamctl/t/lead"), "\n") {
		if !strings.HasPrefix(subject, "Merge teamctl/t/") {
			t.Errorf("the leader branch holds %q, which teamctl did not merge", subject)
		}
	}
	want := map[string]string{ // agent → what its incident says
		"leadref":  "refs/heads/teamctl/t/lead: refused",
		"delete":   "refs/heads/teamctl/t/leadref: refused",
		"basemove": "moved main from",
		"push":     "moved teamctl/t/lead from",
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
