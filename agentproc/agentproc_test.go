package agentproc_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/plan"
)

// launch is a launch of a scripted agent in a fresh directory.
func launch(t *testing.T, body string) agentproc.Launch {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := testsupport.Script(t, dir, "agent.sh", body)
	return agentproc.Launch{
		Team: "t", Agent: "alice", Role: "dev", TaskID: "x", Prompt: "do x", Worktree: work,
		Branch: "teamctl/t/alice/work", LeaderBranch: "teamctl/t/lead/work", Attempt: 1, Reason: agentproc.ReasonTask,
		Command: []string{prog, "{{.TaskID}}", "{{.Prompt}}"}, Env: map[string]string{"EXTRA": "yes"},
		LogPath: filepath.Join(dir, "logs", "alice.log"), Files: agentproc.FilesIn(filepath.Join(dir, "run"), "alice"),
		BinDir: filepath.Join(dir, "bin"),
	}
}

func readLog(t *testing.T, l agentproc.Launch) string {
	t.Helper()
	b, err := os.ReadFile(l.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestArgv(t *testing.T) {
	t.Parallel()
	l := agentproc.Launch{Agent: "a", TaskID: "t1", Prompt: "p q", Command: []string{"x", "--task={{.TaskID}}", "{{.Prompt}}"}}
	got, err := agentproc.Argv(l)
	if err != nil || strings.Join(got, "|") != "x|--task=t1|p q" {
		t.Errorf("Argv: %q, %v", got, err)
	}
	for _, bad := range [][]string{nil, {"x", "{{.Nope}}"}, {"x", "{{"}} {
		l.Command = bad
		if _, err := agentproc.Argv(l); !errors.Is(err, agentproc.ErrStart) {
			t.Errorf("Argv(%q): %v, want ErrStart", bad, err)
		}
	}
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	l := launch(t, "")
	l.Env["GIT_AUTHOR_NAME"] = "Alice Real"
	env := map[string]string{}
	for _, kv := range agentproc.Environ(l) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"TEAMCTL_TEAM": "t", "TEAMCTL_AGENT": "alice", "TEAMCTL_ROLE": "dev", "TEAMCTL_TASK_ID": "x",
		"TEAMCTL_PROMPT": "do x", "TEAMCTL_WORKTREE": l.Worktree, "TEAMCTL_BRANCH": "teamctl/t/alice/work",
		"TEAMCTL_LEADER_BRANCH": "teamctl/t/lead/work", "TEAMCTL_ATTEMPT": "1", "TEAMCTL_REASON": "task",
		"GIT_AUTHOR_NAME": "Alice Real", "GIT_AUTHOR_EMAIL": "alice@t.teamctl.invalid", "EXTRA": "yes",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["PATH"], l.BinDir+":") {
		t.Errorf("PATH %q does not start with teamctl's directory", env["PATH"])
	}
	// A plan that sets PATH (for its agent's CLI) still has teamctl first.
	l.Env["PATH"] = "/opt/cli/bin:/usr/bin"
	for _, kv := range agentproc.Environ(l) {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok && v != l.BinDir+":/opt/cli/bin:/usr/bin" {
			t.Errorf("PATH=%s with the plan's PATH, want teamctl's directory, then the plan's", v)
		}
	}
}

func TestStartRunsAgentAndRecordsItsEnd(t *testing.T) {
	t.Parallel()
	l := launch(t, `echo "args: $1 / $2"; echo "cwd: $(pwd)"; echo "to stderr" >&2
if read -r line; then echo "stdin gave: $line"; else echo "stdin closed"; fi
exit 3`)
	p, err := agentproc.Start(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	res := p.Result()
	if res.ExitCode != 3 || res.OK() || res.String() != "exited with code 3" {
		t.Errorf("result %+v (%s), want exit 3", res, res)
	}
	log := readLog(t, l)
	for _, want := range []string{"=== teamctl ", "launch agent=alice task=x attempt=1 reason=task", "args: x / do x",
		"cwd: " + l.Worktree, "to stderr", "stdin closed", "agent exited with code 3"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// The end survives in the exit file, for a supervisor that was not there to see it.
	if got := agentproc.Ended(l.Files); got.ExitCode != 3 {
		t.Errorf("Ended: %+v", got)
	}
	// A second launch appends to the same log.
	l.Attempt, l.Reason = 2, agentproc.ReasonNudge
	p, err = agentproc.Start(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	p.Result()
	if n := strings.Count(readLog(t, l), "=== teamctl "); n != 4 {
		t.Errorf("log has %d teamctl lines after two launches, want 4", n)
	}
}

func TestStartMissingProgram(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"no-such-agent-program", "./not/here.sh"} {
		l := launch(t, "")
		l.Command = []string{cmd}
		_, err := agentproc.Start(t.Context(), l)
		if !errors.Is(err, agentproc.ErrStart) || !strings.Contains(err.Error(), cmd) {
			t.Errorf("Start(%s): %v, want ErrStart naming it", cmd, err)
		}
		if !strings.Contains(readLog(t, l), "cannot start agent alice") {
			t.Errorf("the log does not say the agent could not start")
		}
	}
}

// grandchild starts a sleeping grandchild of the agent and records its pid.
const grandchild = `sleep 600 & echo $! > "$TEAMCTL_WORKTREE/grandchild.pid"; `

func grandchildPid(t *testing.T, l agentproc.Launch) int {
	t.Helper()
	var pid int
	testsupport.Eventually(t, time.Minute, "grandchild started", func() bool {
		b, err := os.ReadFile(filepath.Join(l.Worktree, "grandchild.pid"))
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func processGone(pid int) func() bool {
	return func() bool { return !agentproc.Alive(pid, 0) }
}

func TestTimeoutKillsWholeGroup(t *testing.T) {
	t.Parallel()
	l := launch(t, grandchild+"exec sleep 600")
	l.Timeout = 5 * time.Second // time enough, even on a loaded machine, to start the grandchild first
	p, err := agentproc.Start(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	gc := grandchildPid(t, l)
	if res := p.Result(); !res.TimedOut || res.String() != "timed out" {
		t.Errorf("result %+v", res)
	}
	testsupport.Eventually(t, time.Minute, "the agent's grandchild killed", processGone(gc))
}

func TestStopIsGracefulThenForced(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
	}{
		{"obeys SIGTERM", grandchild + "exec sleep 600"},
		{"ignores SIGTERM", grandchild + "trap '' TERM; while :; do sleep 0.05; done"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := launch(t, c.body)
			p, err := agentproc.Start(t.Context(), l)
			if err != nil {
				t.Fatal(err)
			}
			gc := grandchildPid(t, l)
			p.Stop(200 * time.Millisecond)
			if res := p.Result(); !res.Stopped {
				t.Errorf("result %+v, want stopped", res)
			}
			if agentproc.Alive(p.Pid, p.Start) {
				t.Error("the agent still runs after Stop")
			}
			testsupport.Eventually(t, time.Minute, "the agent's grandchild stopped", processGone(gc))
		})
	}
}

// TestAdoptAfterTheStarterIsGone plays a supervisor that died: a second one adopts the
// still-running launch from its pid file, sees its end and its exit status.
func TestAdoptAfterTheStarterIsGone(t *testing.T) {
	t.Parallel()
	l := launch(t, `while [ ! -f "$TEAMCTL_WORKTREE/go" ]; do sleep 0.02; done; exit 5`)
	first, err := agentproc.Start(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, time.Minute, "pid file written", func() bool {
		_, _, err := agentproc.ReadPid(l.Files)
		return err == nil
	})
	adopted, err := agentproc.Adopt(t.Context(), l.Files, l.LogPath, time.Minute)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if adopted.Pid != first.Pid || adopted.Start != first.Start {
		t.Errorf("adopted %d/%d, started %d/%d", adopted.Pid, adopted.Start, first.Pid, first.Start)
	}
	testsupport.WriteFile(t, filepath.Join(l.Worktree, "go"), "")
	if res := adopted.Result(); res.ExitCode != 5 {
		t.Errorf("adopted result %+v, want exit 5", res)
	}
	if _, err := agentproc.Adopt(t.Context(), l.Files, l.LogPath, time.Minute); !errors.Is(err, agentproc.ErrGone) {
		t.Errorf("Adopt of an ended launch: %v, want ErrGone", err)
	}
}

func TestEndedAndVanished(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := agentproc.FilesIn(dir, "a")
	if r := agentproc.Ended(files); !r.Vanished() {
		t.Errorf("no exit file: %+v, want vanished", r)
	}
	testsupport.WriteFile(t, files.Exit, "137\n")
	if r := agentproc.Ended(files); r.Signal != 9 || r.OK() || !strings.Contains(r.String(), "signal 9") {
		t.Errorf("exit 137: %+v (%s), want killed by signal 9", r, r)
	}
	// A CLI's own exit code above the signals (gemini exits 173 on a 429) is an exit code.
	testsupport.WriteFile(t, files.Exit, "173\n")
	if r := agentproc.Ended(files); r.Signal != 0 || r.ExitCode != 173 || r.String() != "exited with code 173" {
		t.Errorf("exit 173: %+v (%s), want exited with code 173", r, r)
	}
	testsupport.WriteFile(t, files.Exit, "0\n")
	if r := agentproc.Ended(files); !r.OK() {
		t.Errorf("exit 0: %+v", r)
	}
	if err := files.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(files.Exit); !errors.Is(err, os.ErrNotExist) {
		t.Error("Clear left the exit file")
	}
}

// TestAliveGuardsPidReuse: a pid whose process started at another time is not ours.
func TestAliveGuardsPidReuse(t *testing.T) {
	t.Parallel()
	self := os.Getpid()
	start, err := agentproc.StartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	if !agentproc.Alive(self, start) {
		t.Error("Alive(self) = false")
	}
	if agentproc.Alive(self, start+1) {
		t.Error("Alive with another start time = true: a reused pid would pass for the agent")
	}
	at, err := agentproc.StartedAt(start)
	if err != nil || time.Since(at) < 0 || time.Since(at) > time.Hour {
		t.Errorf("StartedAt(self) = %v, %v: not a recent past time", at, err)
	}
	if agentproc.Alive(0, 0) || agentproc.Alive(-1, 0) {
		t.Error("pid 0 or -1 alive")
	}
}

// TestAdoptAWrapperThatHasNotWrittenItsPid plays a supervisor killed right after it started
// a wrapper, before the wrapper wrote its pid file: the next supervisor must not take the
// launch for gone (it would start a second process for the agent). It waits for the pid
// file and adopts the launch; a wrapper that never writes one is killed, group and all.
func TestAdoptAWrapperThatHasNotWrittenItsPid(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, before string
		adopted      bool
	}{
		{"slow to start", "while [ ! -f \"$gate\" ]; do sleep 0.01; done", true},
		{"never records itself", "sleep 600; exit 0", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := agentproc.FilesIn(filepath.Join(dir, "run"), "alice")
			gate := filepath.Join(dir, "gate")
			// The wrapper's own lines, held back until the gate opens.
			script := testsupport.Script(t, filepath.Dir(files.Pid), "teamctl-agent.sh", "gate='"+gate+"'\n"+c.before+`
pidf=$1; exitf=$2; shift 2
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ < /proc/$$/stat
echo "$$ $st" > "$pidf.tmp" && mv -f "$pidf.tmp" "$pidf"
"$@"; rc=$?; echo "$rc" > "$exitf"; exit $rc
`)
			finish := filepath.Join(dir, "finish")
			cmd, waited := startWrapper(t, script, files, finish)
			if c.adopted {
				go func() { time.Sleep(300 * time.Millisecond); testsupport.WriteFile(t, gate, "") }()
			}
			p, err := agentproc.Adopt(t.Context(), files, filepath.Join(dir, "alice.log"), time.Minute)
			if !c.adopted {
				if !errors.Is(err, agentproc.ErrGone) {
					t.Fatalf("Adopt: %v, want ErrGone", err)
				}
				select {
				case <-waited:
				case <-time.After(time.Minute):
					t.Fatal("the wrapper that never wrote its pid file still runs")
				}
				return
			}
			if err != nil {
				t.Fatalf("Adopt: %v, want the slow wrapper adopted", err)
			}
			if p.Pid != cmd.Process.Pid {
				t.Errorf("adopted pid %d, the wrapper is %d", p.Pid, cmd.Process.Pid)
			}
			testsupport.WriteFile(t, finish, "")
			if res := p.Result(); res.ExitCode != 7 {
				t.Errorf("adopted result %+v, want exit 7", res)
			}
		})
	}
}

// Every field a plan's command template may name (plan.LaunchFields, checked at validate)
// is a field of the Launch the template is rendered over, of the same type.
func TestLaunchHasThePlansTemplateFields(t *testing.T) {
	t.Parallel()
	lf, l := reflect.TypeOf(plan.LaunchFields{}), reflect.TypeOf(agentproc.Launch{})
	for i := 0; i < lf.NumField(); i++ {
		f := lf.Field(i)
		g, ok := l.FieldByName(f.Name)
		if !ok || g.Type != f.Type {
			t.Errorf("Launch has no field %s of type %s: a plan that validates would fail at launch", f.Name, f.Type)
		}
	}
	argv, err := agentproc.Argv(agentproc.Launch{Agent: "a", Attempt: 2, Command: []string{"x", "{{.Agent}}-{{.Attempt}}"}})
	if err != nil || strings.Join(argv, " ") != "x a-2" {
		t.Errorf("argv %q, %v", argv, err)
	}
}

// Every launch's prompt is in TEAMCTL_PROMPT_FILE. One too long for the kernel to pass as one
// argument (over 128 KiB: "argument list too long") starts all the same: the argv and
// TEAMCTL_PROMPT send the agent to the file, which holds it whole.
func TestLongPromptTravelsInItsFile(t *testing.T) {
	t.Parallel()
	for _, size := range []int{10, 200 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			l := launch(t, `test "$(wc -c < "$TEAMCTL_PROMPT_FILE")" -eq "$PROMPT_SIZE" || { echo "prompt file: $(wc -c < "$TEAMCTL_PROMPT_FILE") bytes"; exit 1; }
if [ "$PROMPT_SIZE" -gt 102400 ]; then
  case "$2" in *"$TEAMCTL_PROMPT_FILE"*) ;; *) echo "argv does not name the file"; exit 2 ;; esac
  case "$TEAMCTL_PROMPT" in *"$TEAMCTL_PROMPT_FILE"*) ;; *) echo "TEAMCTL_PROMPT does not name the file"; exit 3 ;; esac
else
  test "$2" = "$(cat "$TEAMCTL_PROMPT_FILE")" || { echo "argv is not the prompt"; exit 4; }
fi`)
			l.Prompt = strings.Repeat("p", size)
			l.Env["PROMPT_SIZE"] = fmt.Sprint(size)
			p, err := agentproc.Start(t.Context(), l)
			if err != nil {
				t.Fatal(err)
			}
			if res := p.Result(); !res.OK() {
				t.Errorf("launch with a %d-byte prompt: %s\n%s", size, res, tail(readLog(t, l), 600))
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestPromptSaysWhenConfined: a confined agent is told what it may write (the plan's
// allow_write too) and what cannot work there; an unconfined one is told nothing of it.
func TestPromptSaysWhenConfined(t *testing.T) {
	in := agentproc.PromptInput{Team: "t", Agent: "a", TaskID: "x", Task: "do it", Branch: "b", LeaderBranch: "l"}
	if p := agentproc.Prompt(in); strings.Contains(p, "confined") {
		t.Errorf("an unconfined agent's prompt speaks of confinement:\n%s", p)
	}
	in.Confined, in.AllowWrite = true, []string{"/srv/data"}
	p := agentproc.Prompt(in)
	for _, want := range []string{"You run confined", "$TMPDIR (use it, not /tmp)", "state, /srv/data.", "git stash cannot work here"} {
		if !strings.Contains(p, want) {
			t.Errorf("a confined agent's prompt lacks %q:\n%s", want, p)
		}
	}
}
