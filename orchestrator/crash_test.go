package orchestrator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/failpoint"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// superviseEnv, set in a child of this test binary, makes the child a supervisor process:
// it runs the plan the variable names, as `teamctl run --exit-when-blocked` would, and exits.
// The crash tests SIGKILL it.
const superviseEnv = "TEAMCTL_TEST_SUPERVISE"

// resumeEnv, set in a child of this test binary, makes the child resume team t of the
// repository it names, as `teamctl resume --exit-when-blocked` would.
const resumeEnv = "TEAMCTL_TEST_RESUME"

func resumeMain(repo string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(os.Stderr)}
	ws, err := orchestrator.OpenChecked(ctx, env, repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ws.Close()
	if err := ws.Resume(ctx, "t", orchestrator.RunOptions{ExitWhenBlocked: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// failpointEnv, beside superviseEnv, names the failpoint the child supervisor kills itself at.
const failpointEnv = "TEAMCTL_TEST_FAILPOINT"

func TestMain(m *testing.M) {
	if path := os.Getenv(superviseEnv); path != "" {
		os.Exit(superviseMain(path))
	}
	if repo := os.Getenv(resumeEnv); repo != "" {
		os.Exit(resumeMain(repo))
	}
	testsupport.Main(m)
}

func superviseMain(path string) int {
	failpoint.Arm(os.Getenv(failpointEnv))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, err := plan.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(os.Stderr)}
	if err := orchestrator.Run(ctx, env, p, orchestrator.RunOptions{ExitWhenBlocked: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, orchestrator.ErrWaiting) {
			return 3
		}
		return 1
	}
	return 0
}

// crashTeam is a team whose agents take every path a crash can cut: a clean commit, a
// forgotten commit (nudge, then auto-commit), a broken test fixed on request, a slow agent,
// and a task that comes after another. Every agent script can be relaunched at any point
// (resume) and still do the right thing, as a real agent looking at its worktree would.
func crashTeam(t *testing.T, f *fixture) string {
	t.Helper()
	// The project's test takes a little while, so kills land in the middle of test runs too.
	testsupport.Script(t, f.repo, "check.sh", "sleep 0.05\n! grep -rq BROKEN src/ 2>/dev/null")
	f.git("add", "-A")
	f.git("commit", "-qm", "slower test")
	commit := `git add -A; git diff --cached --quiet || git commit -qm "$TEAMCTL_AGENT: $TEAMCTL_TASK_ID"`
	alice := f.agent("alice", `case "$TEAMCTL_TASK_ID" in
one) echo one > src/one.txt ;;
four) test -f src/three.txt || { echo "three.txt missing: after: not respected"; exit 1; }; echo four > src/four.txt ;;
esac
`+commit)
	bob := f.agent("bob", `echo two > src/two.txt`) // never commits
	carol := f.agent("carol", `if [ "$TEAMCTL_REASON" = task ]; then echo BROKEN > src/three.txt; else echo fixed > src/three.txt; fi
`+commit)
	dave := f.agent("dave", `sleep 0.2; echo five > src/five.txt
`+commit)
	return header + fmt.Sprintf(`agents:
  - {name: alice, command: ['%s'], tasks: [{id: one, prompt: p}, {id: four, prompt: p, after: [three]}]}
  - {name: bob, command: ['%s'], tasks: [{id: two, prompt: p}]}
  - {name: carol, command: ['%s'], tasks: [{id: three, prompt: p}]}
  - {name: dave, command: ['%s'], tasks: [{id: five, prompt: p}]}
`, alice, bob, carol, dave)
}

var crashFiles = map[string]string{"one": "one", "two": "two", "three": "fixed", "four": "four", "five": "five"}

// startSupervisor runs the plan in a child supervisor process; env is added to its environment.
func (f *fixture) startSupervisor(planPath string, env ...string) *exec.Cmd {
	f.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), superviseEnv+"="+planPath), env...)
	if f.binDir != "" { // what the agents find first on their PATH (a fake CLI)
		cmd.Env = append(cmd.Env, "PATH="+f.binDir+":"+os.Getenv("PATH"))
	}
	cmd.Stdout, cmd.Stderr = &f.logs, &f.logs
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd
}

// startResume resumes team in a child supervisor process.
func (f *fixture) startResume(team string) *exec.Cmd {
	f.t.Helper()
	if team != "t" {
		f.t.Fatal("resumeMain resumes team t")
	}
	exe, err := os.Executable()
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), resumeEnv+"="+f.repo)
	cmd.Stdout, cmd.Stderr = &f.logs, &f.logs
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd
}

// events counts the team's journal entries, 0 while the store does not exist yet.
func (f *fixture) events(team string) int {
	path := store.Path(filepath.Join(f.repo, ".git"))
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	st, err := store.Open(path)
	if err != nil {
		return 0
	}
	defer st.Close()
	ev, err := st.Events(context.Background(), team, 0, 0)
	if err != nil {
		return 0
	}
	return len(ev)
}

// killAgents SIGKILLs every agent process group of the team, as a machine whose processes
// all died would leave it.
func (f *fixture) killAgents(team string) {
	dir := orchestrator.RunDir(filepath.Join(f.repo, ".git"), team)
	pids, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	for _, p := range pids {
		files := agentproc.Files{Pid: p, Exit: strings.TrimSuffix(p, ".pid") + ".exit"}
		if pid, start, err := agentproc.ReadPid(files); err == nil && agentproc.Alive(pid, start) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

func (f *fixture) resume(team string) error {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := f.workspace().Resume(ctx, team, orchestrator.RunOptions{ExitWhenBlocked: true})
	if ctx.Err() != nil {
		f.t.Fatalf("resume did not finish: %v\nlog:\n%s", err, f.logs.String())
	}
	return err
}

// checkCrashInvariants checks what must hold however the team was cut off: every task
// merged exactly once, every file every agent wrote on the leader branch, its tip tested
// and passing, the leader worktree clean on its branch, no worktree broken, no agent alive.
func (f *fixture) checkCrashInvariants(team string) {
	t := f.t
	t.Helper()
	st := f.status(team)
	if st.State != orchestrator.TeamFinished {
		t.Errorf("team state %s, want finished", st.State)
	}
	for id := range crashFiles {
		if got := f.taskState(st, id); got.State != orchestrator.Merged {
			t.Errorf("task %s: %s (%s), want merged", id, got.State, got.Detail)
		}
	}
	// Exactly once: each task's merge commit appears once on the leader's first-parent line.
	line := f.git("log", "--first-parent", "--format=%(trailers:key=Teamctl-Task,valueonly)", "main..teamctl/"+team+"/lead/work")
	count := map[string]int{}
	for _, id := range strings.Fields(line) {
		count[id]++
	}
	for id := range crashFiles {
		if count[id] != 1 {
			t.Errorf("task %s merged %d times on the leader branch (first-parent line: %q)", id, count[id], line)
		}
	}
	for id, want := range crashFiles {
		path := id
		if got, err := exec.Command("git", "-C", f.repo, "show", "teamctl/"+team+"/lead/work:src/"+path+".txt").Output(); err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("src/%s.txt on the leader branch: %q (%v), want %q", path, got, err, want)
		}
	}
	rv, err := f.workspace().Review(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	if !rv.Tested {
		t.Error("the leader branch's tip is not the tested one")
	}
	cmd := exec.Command("sh", "-c", "./check.sh")
	cmd.Dir = st.LeaderWorktree
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the leader worktree fails the test: %v\n%s", err, out)
	}
	if s := testsupport.Git(t, st.LeaderWorktree, "status", "--porcelain"); s != "" {
		t.Errorf("leader worktree not clean:\n%s", s)
	}
	if b := testsupport.Git(t, st.LeaderWorktree, "symbolic-ref", "--short", "HEAD"); b != st.LeaderBranch {
		t.Errorf("leader worktree on %q, want %s", b, st.LeaderBranch)
	}
	if wts := f.git("worktree", "list", "--porcelain"); strings.Contains(wts, "prunable") {
		t.Errorf("a worktree is broken:\n%s", wts)
	}
	for _, a := range st.Agents {
		files := agentproc.FilesIn(orchestrator.RunDir(filepath.Join(f.repo, ".git"), team), a.Name)
		if pid, start, err := agentproc.ReadPid(files); err == nil && agentproc.Alive(pid, start) {
			t.Errorf("agent %s still has a live process %d", a.Name, pid)
		}
		if a.State == "running" {
			t.Errorf("agent %s is recorded running", a.Name)
		}
	}
}

// TestCrashAnywhere kills the supervisor (SIGKILL) after each entry of the journal of a
// whole run — every kind of event: creation, launches, exits, nudges, auto-commits, merges,
// test runs — then resumes and checks the invariants. On every other kill point the agents
// die too, as after a reboot.
func TestCrashAnywhere(t *testing.T) {
	t.Parallel()
	// A reference run says how many journal entries a whole run makes.
	ref := newFixture(t)
	refPlan := ref.writePlan(crashTeam(t, ref))
	if err := ref.startSupervisor(refPlan).Wait(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, ref.logs.String())
	}
	ref.checkCrashInvariants("t")
	points := killPoints(t, ref)
	if len(points) < 12 {
		t.Fatalf("the reference run journaled %d kinds of event: too few to be a whole run", len(points))
	}
	t.Logf("%d kill points: %v", len(points), points)
	for i, pt := range points {
		k, i := pt.index, i
		t.Run(fmt.Sprintf("after-%02d-%s", k, pt.kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			planPath := f.writePlan(crashTeam(t, f))
			child := f.startSupervisor(planPath)
			exited := make(chan error, 1)
			go func() { exited <- child.Wait() }()
			reached := false
			testsupport.Eventually(t, time.Minute, fmt.Sprintf("event %d or the end of the run", k), func() bool {
				select {
				case err := <-exited:
					exited <- err
					return true
				default:
				}
				reached = f.events("t") >= k
				return reached
			})
			_ = child.Process.Kill()
			<-exited
			if i%2 == 1 {
				f.killAgents("t")
			}
			if err := f.resume("t"); err != nil {
				t.Fatalf("resume after a kill at event %d: %v\nlog:\n%s", k, err, f.logs.String())
			}
			f.checkCrashInvariants("t")
			if t.Failed() {
				t.Logf("log:\n%s", f.logs.String())
			}
		})
	}
}

type killPoint struct {
	index int    // kill once the journal holds this many events
	kind  string // the kind of the last of them, with the state it moved to
}

func (k killPoint) String() string { return fmt.Sprintf("%d:%s", k.index, k.kind) }

// killPoints are the journal positions to kill a supervisor at: right after the first event
// of each kind (and, for state changes, each state reached) in a whole run.
func killPoints(t *testing.T, f *fixture) []killPoint {
	t.Helper()
	st, err := store.Open(store.Path(filepath.Join(f.repo, ".git")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, err := st.Events(context.Background(), "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var points []killPoint
	for i, e := range events {
		kind := e.Kind
		var data struct{ To, Reason, Outcome string }
		if json.Unmarshal([]byte(e.Data), &data) == nil {
			if data.To != "" {
				kind += "->" + data.To
			}
			if data.Reason != "" && data.To == "running" || data.To == "nudging" {
				kind += "(" + data.Reason + ")"
			}
			if data.Outcome != "" {
				kind += ":" + data.Outcome
			}
		}
		if !seen[kind] {
			seen[kind] = true
			points = append(points, killPoint{index: i + 1, kind: kind})
		}
	}
	return points
}

// An agent stopped (SIGSTOP, a person pausing it, or a debugger) when its supervisor is
// killed -9 outlives it: it runs in a session of its own, so its group is not orphaned by
// the supervisor's death and gets no SIGHUP; resume adopts it once it runs again.
func TestStoppedAgentOutlivesItsSupervisor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	f.agent("slow", fmt.Sprintf(`echo $$ > %[1]s/pid
while [ ! -e %[1]s/go ]; do sleep 0.05; done
echo slow > src/slow.txt && git add -A && git commit -qm slow`, marks))
	path := f.writePlan(header + `agents:
  - {name: slow, command: [$AGENTS/slow.sh], tasks: [{id: s, prompt: p}]}
`)
	sup := f.startSupervisor(path)
	var pid int
	testsupport.Eventually(t, time.Minute, "the agent running", func() bool {
		data, err := os.ReadFile(filepath.Join(marks, "pid"))
		_, scanErr := fmt.Sscan(strings.TrimSpace(string(data)), &pid)
		return err == nil && scanErr == nil && pid > 0
	})
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := sup.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sup.Wait() // the kernel has sent what it sends to orphaned groups by now
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the stopped agent died with its supervisor: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testsupport.WriteFile(t, filepath.Join(marks, "go"), "go")
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if tk := f.taskState(f.status("t"), "s"); tk.State != orchestrator.Merged || tk.Attempt != 1 {
		t.Errorf("task s: %s after %d launch(es), want merged after its one launch, adopted", tk.State, tk.Attempt)
	}
}

// TestCrashAtFailpoints kills the supervisor at points inside one step that no journal entry
// separates — a git command done, its result not yet recorded — then resumes: the team
// finishes with nothing lost and no person asked.
func TestCrashAtFailpoints(t *testing.T) {
	t.Parallel()
	cases := []struct {
		point string
		team  func(*testing.T, *fixture) string
		check func(*fixture)
	}{
		// The leader branch moved to a tested candidate; resume finds the landing by its trailers.
		{failpoint.LeaderMoved, crashTeam, func(f *fixture) { f.checkCrashInvariants("t") }},
		// The leader branch merged into a conflicting agent's worktree, the fix not launched:
		// resume launches it instead of asking a person about the half-done merge.
		{failpoint.SyncConflicted, conflictTeam, func(f *fixture) {
			if got := f.git("show", "teamctl/t/lead/work:src/base.txt"); got != "first\nsecond" {
				f.t.Errorf("base.txt on the leader branch: %q, want both sides", got)
			}
			st := f.status("t")
			for _, id := range []string{"first", "second"} {
				if got := f.taskState(st, id); got.State != orchestrator.Merged {
					f.t.Errorf("task %s: %s (%s), want merged", id, got.State, got.Detail)
				}
			}
			if got := f.taskState(st, "second"); got.Reason != "fix-conflict" {
				f.t.Errorf("task second last launched for %q, want fix-conflict", got.Reason)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.point, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			child := f.startSupervisor(f.writePlan(c.team(t, f)), failpointEnv+"="+c.point)
			err := child.Wait()
			if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("the supervisor did not reach failpoint %s (it ended: %v)\nlog:\n%s", c.point, err, f.logs.String())
			}
			if err := f.resume("t"); err != nil {
				t.Fatalf("resume after a kill at %s: %v\nlog:\n%s", c.point, err, f.logs.String())
			}
			c.check(f)
			if t.Failed() {
				t.Logf("log:\n%s", f.logs.String())
			}
		})
	}
}

// conflictTeam is two agents changing the same line of src/base.txt: b waits until a's work
// is merged, so its branch is clean against base but conflicts with the leader branch, and
// is sent the conflict to fix.
func conflictTeam(t *testing.T, f *fixture) string {
	t.Helper()
	first := f.agent("first", `echo first > src/base.txt && git commit -qam first`)
	second := f.agent("second", `if [ "$TEAMCTL_REASON" = fix-conflict ]; then
  git diff --name-only --diff-filter=U | grep -q src/base.txt || exit 9
  printf 'first\nsecond\n' > src/base.txt; git add -A; git commit -qm "resolve"; exit 0; fi
while ! git log --format=%s teamctl/t/lead/work | grep -q "task first"; do sleep 0.05; done
echo second > src/base.txt && git commit -qam second`)
	return header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: first, prompt: p}]}
  - {name: b, command: ['%s'], tasks: [{id: second, prompt: p}]}
`, first, second)
}

// A killed supervisor's last `git update-ref` can land a merge after its successor started
// and built a batch on the old tip. Here the project's test plays that late git on its first
// run: it moves the leader branch to a merge of task one made as teamctl makes them. The
// batch's compare-and-swap misses; the supervisor records task one as landed there, builds
// the rest again on the new tip, and no one is asked.
func TestLeaderMovedDuringABatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mark := filepath.Join(t.TempDir(), "moved")
	testsupport.Script(t, f.repo, "check.sh", fmt.Sprintf(`if [ ! -e %s ]; then touch %[1]s
  export GIT_AUTHOR_NAME=old GIT_AUTHOR_EMAIL=old@x GIT_COMMITTER_NAME=old GIT_COMMITTER_EMAIL=old@x
  tip=$(git rev-parse teamctl/t/lead/work)
  tree=$(git merge-tree --write-tree "$tip" teamctl/t/a/work)
  c=$(printf 'Merge teamctl/t/a/work: task one by a\n\nTeamctl-Team: t\nTeamctl-Task: one\nTeamctl-Agent: a\n' | git commit-tree "$tree" -p "$tip" -p teamctl/t/a/work)
  git update-ref refs/heads/teamctl/t/lead/work "$c"
fi`, mark))
	f.git("add", "-A")
	f.git("commit", "-qm", "a test that moves the leader branch once")
	one := f.agent("a", `echo one > src/one.txt && git add -A && git commit -qm one`)
	two := f.agent("b", `echo two > src/two.txt && git add -A && git commit -qm two`)
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: one, prompt: p}]}
  - {name: b, command: ['%s'], tasks: [{id: two, prompt: p}]}
`, one, two))
	if err := f.run(p); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if _, err := os.Stat(mark); err != nil {
		t.Fatal("the test never moved the leader branch")
	}
	st := f.status("t")
	for _, id := range []string{"one", "two"} {
		if got := f.taskState(st, id); got.State != orchestrator.Merged {
			t.Errorf("task %s: %s (%s), want merged", id, got.State, got.Detail)
		}
	}
	line := f.git("log", "--first-parent", "--format=%(trailers:key=Teamctl-Task,valueonly)", "main..teamctl/t/lead/work")
	if got := strings.Fields(line); len(got) != 2 {
		t.Errorf("the leader branch's merges are of tasks %v, want one and two once each", got)
	}
	for _, file := range []string{"src/one.txt", "src/two.txt"} {
		if !strings.Contains(f.git("ls-tree", "-r", "--name-only", "teamctl/t/lead/work"), file) {
			t.Errorf("%s is not on the leader branch", file)
		}
	}
}

// A supervisor killed during a test run leaves the run going (it is in a process group of
// its own, in the leader worktree). Resume kills it before it resets the leader worktree:
// nothing of the dead supervisor's is left running.
func TestResumeEndsTheDeadSupervisorsCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	testsupport.Script(t, f.repo, "check.sh", fmt.Sprintf(`if [ ! -e %[1]s/ran ]; then touch %[1]s/ran; sleep 120; fi`, marks))
	f.git("add", "-A")
	f.git("commit", "-qm", "a test that hangs on its first run")
	one := f.agent("a", `echo one > src/one.txt && git add -A && git commit -qm one`)
	child := f.startSupervisor(f.writePlan(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: one, prompt: p}]}
`, one)))
	testsupport.Eventually(t, time.Minute, "the first test run", func() bool {
		_, err := os.Stat(filepath.Join(marks, "ran"))
		return err == nil
	})
	old := worktree.RunnerEnv + "=" + fmt.Sprint(child.Process.Pid)
	if left, _ := agentproc.WithEnv(old); len(left) == 0 {
		t.Fatal("the test run is not marked with its supervisor's pid")
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if left, _ := agentproc.WithEnv(old); len(left) != 0 {
		t.Errorf("the dead supervisor's test run still runs: %v", left)
	}
	if got := f.taskState(f.status("t"), "one"); got.State != orchestrator.Merged {
		t.Errorf("task one: %s (%s), want merged", got.State, got.Detail)
	}
}

// A supervisor killed -9 mid-run, and then its store's write-ahead log lost (deleted, as a
// person cleaning up or a disk error would) or the whole store: resume needs no person and
// loses nothing. With the log lost, the main file holds the team as of its last checkpoint
// (made, resumed, each landing) and resume finds the rest in git; with the whole store lost,
// resume says the team can be rebuilt, and --rebuild PLAN rebuilds it from git.
func TestStoreLostAfterAKill(t *testing.T) {
	t.Parallel()
	for _, lose := range []string{"wal", "store"} {
		t.Run(lose, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			planPath := f.writePlan(crashTeam(t, f))
			child := f.startSupervisor(planPath)
			// Killed once something has landed and more is under way.
			testsupport.Eventually(t, time.Minute, "a first landing", func() bool {
				out, err := exec.Command("git", "-C", f.repo, "rev-list", "--count", "--merges", "main..teamctl/t/lead/work").Output()
				return err == nil && strings.TrimSpace(string(out)) != "0"
			})
			_ = child.Process.Kill()
			_ = child.Wait()
			f.killAgents("t")
			db := store.Path(filepath.Join(f.repo, ".git"))
			files := []string{db + "-wal", db + "-shm"}
			if lose == "store" {
				files = append(files, db)
			}
			for _, p := range files {
				if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			err := f.resume("t")
			if lose == "store" {
				if !errors.Is(err, orchestrator.ErrNoTeam) || !strings.Contains(err.Error(), "--rebuild") {
					t.Fatalf("resume without a store: %v, want no team, with the way to rebuild it", err)
				}
				p, lerr := plan.Load(planPath)
				if lerr != nil {
					t.Fatal(lerr)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				err = f.workspace().Rebuild(ctx, p, orchestrator.RunOptions{ExitWhenBlocked: true})
			}
			if err != nil {
				t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
			}
			f.checkCrashInvariants("t")
			if t.Failed() {
				t.Logf("log:\n%s", f.logs.String())
			}
		})
	}
}

// The merge queue moves the leader branch to a tested candidate, then records it. Accept in
// between is refused with what is going on — being landed while a supervisor runs; landed
// unrecorded once it died, which resume records — not with "has not passed the tests".
func TestAcceptDuringALanding(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	one := f.agent("a", `echo one > src/one.txt && git add -A && git commit -qm one`)
	child := f.startSupervisor(f.writePlan(header+fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: one, prompt: p}]}
`, one)), failpointEnv+"="+failpoint.LeaderMoved)
	_ = child.Wait() // killed once the ref moved
	ws := f.workspace()
	ctx := context.Background()
	release, err := orchestrator.HoldSupervisorLock(filepath.Join(f.repo, ".git"), "t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ws.Accept(ctx, "t")
	release()
	if !errors.Is(err, orchestrator.ErrRefused) || !strings.Contains(err.Error(), "being landed") {
		t.Errorf("accept while a supervisor lands: %v, want refused as being landed", err)
	}
	_, err = ws.Accept(ctx, "t")
	if !errors.Is(err, orchestrator.ErrRefused) || !strings.Contains(err.Error(), "teamctl resume t") {
		t.Errorf("accept after the supervisor died mid-landing: %v, want refused, naming resume", err)
	}
	if err := f.resume("t"); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
	}
	if _, err := ws.Accept(ctx, "t"); err != nil {
		t.Errorf("accept after resume: %v", err)
	}
	if got := f.git("show", "main:src/one.txt"); got != "one" {
		t.Errorf("main:src/one.txt = %q after accept", got)
	}
}

// TestRandomKills kills the supervisor (and, every other time, its agents) at a random
// moment of a whole run, then kills the resume too at a random moment, resumes again, and
// checks the invariants. Two runs here (the suite's time is the machine's); TEAMCTL_KILLS=N
// runs N (the fault campaign's figure is taken with 70).
func TestRandomKills(t *testing.T) {
	t.Parallel()
	runs := 2
	if n, err := strconv.Atoi(os.Getenv("TEAMCTL_KILLS")); err == nil && n > 0 {
		runs = n
	}
	for i := range runs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			planPath := f.writePlan(crashTeam(t, f))
			kill := func(cmd *exec.Cmd, within time.Duration) {
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case <-exited:
				case <-time.After(time.Duration(rand.Int64N(int64(within)))):
					_ = cmd.Process.Kill()
					<-exited
				}
			}
			sup := f.startSupervisor(planPath)
			// Once the team is recorded: a kill before that leaves nothing to resume (run again).
			testsupport.Eventually(t, time.Minute, "the team recorded", func() bool { return f.events("t") > 0 })
			kill(sup, 2*time.Second)
			if i%2 == 1 {
				f.killAgents("t")
			}
			kill(f.startResume("t"), time.Second)
			if err := f.resume("t"); err != nil {
				t.Fatalf("resume: %v\nlog:\n%s\nagents' logs:\n%s", err, f.logs.String(), f.agentLogs("alice", "bob", "carol", "dave"))
			}
			f.checkCrashInvariants("t")
			if t.Failed() {
				t.Logf("log:\n%s", f.logs.String())
			}
		})
	}
}

// agentLogs is the logs of team t's agents, one after another.
func (f *fixture) agentLogs(agents ...string) string {
	var b strings.Builder
	for _, a := range agents {
		data, _ := os.ReadFile(orchestrator.LogPath(filepath.Join(f.repo, ".git"), "t", a))
		fmt.Fprintf(&b, "--- %s\n%s", a, data)
	}
	return b.String()
}
