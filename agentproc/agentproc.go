// Package agentproc owns one agent process: argv and prompt templating, its environment,
// its process group, log capture, timeout, exit reporting, and presets for real agent CLIs.
package agentproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// Launch reasons (TEAMCTL_REASON).
const (
	ReasonTask        = "task"
	ReasonNudge       = "nudge"
	ReasonFixConflict = "fix-conflict"
	ReasonFixTests    = "fix-tests"
	ReasonAnswer      = "answer"
	ReasonResume      = "resume"
)

// ErrStart is a launch whose program could not be started (missing binary, bad argv).
var ErrStart = errors.New("cannot start agent")

// Launch is everything one launch of an agent needs. Its exported fields are also the
// fields of the argv template: {{.Prompt}}, {{.Agent}}, {{.TaskID}}, {{.Worktree}}, ...
type Launch struct {
	Team, Agent, Role string
	TaskID            string
	Prompt            string // the full prompt of this launch
	Worktree          string
	Branch            string
	LeaderBranch      string
	Attempt           int
	Reason            string
	Command           []string // argv template
	Env               map[string]string
	Timeout           time.Duration // 0 = none
	LogPath           string
	BinDir            string // directory of the running teamctl binary, put first on PATH
}

// Argv renders the command template: each element is a text/template over the launch.
func Argv(l Launch) ([]string, error) {
	if len(l.Command) == 0 {
		return nil, fmt.Errorf("%w: agent %s has no command", ErrStart, l.Agent)
	}
	argv := make([]string, len(l.Command))
	for i, a := range l.Command {
		t, err := template.New("argv").Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("%w: argv[%d] %q: %v", ErrStart, i, a, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, l); err != nil {
			return nil, fmt.Errorf("%w: argv[%d] %q: %v", ErrStart, i, a, err)
		}
		argv[i] = b.String()
	}
	return argv, nil
}

// Environ is the environment of the launch: the current one without variables that would
// point git elsewhere, then the TEAMCTL_* variables, PATH with teamctl first, the agent's git
// identity, then the plan's env (which wins).
func Environ(l Launch) []string {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	// A supervisor started from a git hook or alias inherits these; an agent must see its
	// own worktree, not the one that started teamctl.
	for _, k := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX"} {
		delete(vars, k)
	}
	email := fmt.Sprintf("%s@%s.teamctl.invalid", l.Agent, l.Team)
	set := map[string]string{
		"TEAMCTL_TEAM":          l.Team,
		"TEAMCTL_AGENT":         l.Agent,
		"TEAMCTL_ROLE":          l.Role,
		"TEAMCTL_TASK_ID":       l.TaskID,
		"TEAMCTL_PROMPT":        l.Prompt,
		"TEAMCTL_WORKTREE":      l.Worktree,
		"TEAMCTL_BRANCH":        l.Branch,
		"TEAMCTL_LEADER_BRANCH": l.LeaderBranch,
		"TEAMCTL_ATTEMPT":       strconv.Itoa(l.Attempt),
		"TEAMCTL_REASON":        l.Reason,
		// The committer too: a machine with no git identity configured would refuse the
		// agent's commits otherwise, and the commit is the agent's work either way.
		"GIT_AUTHOR_NAME":     l.Agent,
		"GIT_AUTHOR_EMAIL":    email,
		"GIT_COMMITTER_NAME":  l.Agent,
		"GIT_COMMITTER_EMAIL": email,
	}
	for k, v := range set {
		vars[k] = v
	}
	if l.BinDir != "" {
		vars["PATH"] = l.BinDir + string(os.PathListSeparator) + vars["PATH"]
	}
	for k, v := range l.Env {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// Result is how a launch ended.
type Result struct {
	ExitCode int  // -1 when killed by a signal
	TimedOut bool // killed because it ran past Launch.Timeout
	Stopped  bool // stopped on request (Proc.Stop)
}

// OK reports whether the agent said its task is done (exit 0).
func (r Result) OK() bool { return r.ExitCode == 0 && !r.TimedOut && !r.Stopped }

func (r Result) String() string {
	switch {
	case r.TimedOut:
		return "timed out"
	case r.Stopped:
		return "stopped"
	case r.ExitCode == -1:
		return "killed by a signal"
	default:
		return fmt.Sprintf("exited with code %d", r.ExitCode)
	}
}

// Proc is one running agent process, the leader of its own process group.
type Proc struct {
	Pid   int
	Start int64 // start time in clock ticks since boot (/proc/PID/stat), against PID reuse

	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
	result  Result
	stopped chan struct{}
}

// Start launches the agent: its worktree as working directory, stdin closed, stdout and
// stderr appended to its log after a header line, in a new process group. It returns
// ErrStart (wrapped) when the program cannot be started; the log says so too.
func Start(l Launch) (*Proc, error) {
	argv, err := Argv(l)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(l.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("agent %s log: %w", l.Agent, err)
	}
	logf, err := os.OpenFile(l.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent %s log: %w", l.Agent, err)
	}
	fmt.Fprintf(logf, "=== teamctl %s: launch agent=%s task=%s attempt=%d reason=%s argv=%q\n",
		time.Now().UTC().Format(time.RFC3339), l.Agent, l.TaskID, l.Attempt, l.Reason, argv)

	cmd := exec.Command(argv[0], argv[1:]...)
	if filepath.Base(argv[0]) == argv[0] {
		// Look the program up on the agent's PATH (teamctl first), not the supervisor's.
		if p, err := lookPath(argv[0], Environ(l)); err == nil {
			cmd.Path, cmd.Err = p, nil
		}
	}
	cmd.Dir = l.Worktree
	cmd.Env = Environ(l)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(logf, "=== teamctl: cannot start %q: %v\n", argv[0], err)
		logf.Close()
		return nil, fmt.Errorf("%w %s: %s: %v", ErrStart, l.Agent, argv[0], err)
	}
	p := &Proc{Pid: cmd.Process.Pid, cmd: cmd, log: logf, done: make(chan struct{}), stopped: make(chan struct{})}
	p.Start, _ = StartTime(p.Pid)
	go p.wait(l.Timeout)
	return p, nil
}

func lookPath(name string, env []string) (string, error) {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(v) {
				p := filepath.Join(dir, name)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return p, nil
				}
			}
		}
	}
	return "", exec.ErrNotFound
}

func (p *Proc) wait(timeout time.Duration) {
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-timer:
		p.result.TimedOut = true
		killGroup(p.Pid, 0)
		err = <-exited
	case <-p.stopped:
		p.result.Stopped = true
		err = <-exited
	}
	p.result.ExitCode = exitCode(err)
	fmt.Fprintf(p.log, "=== teamctl %s: agent %s\n", time.Now().UTC().Format(time.RFC3339), p.result)
	p.log.Close()
	close(p.done)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode() // -1 when signalled
	}
	return -1
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Result is how the process ended; valid once Done is closed.
func (p *Proc) Result() Result { <-p.done; return p.result }

// Stop ends the agent gracefully: SIGTERM to its whole process group, SIGKILL after grace.
// It returns once the process has exited.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.stopped:
	default:
		close(p.stopped)
	}
	killGroup(p.Pid, grace)
	<-p.done
}

// killGroup sends SIGTERM to the group and SIGKILL after grace (at once when grace is 0).
// The whole group: an agent CLI runs tools (shells, test runners) as its children.
func killGroup(pgid int, grace time.Duration) {
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) {
			if syscall.Kill(-pgid, 0) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// StopGroup stops a process group this process did not start (an agent left by a
// supervisor that died), if pid still names the process that started at start.
func StopGroup(ctx context.Context, pid int, start int64, grace time.Duration) {
	if !Alive(pid, start) {
		return
	}
	killGroup(pid, grace)
}

// StartTime reads the start time of process pid (field 22 of /proc/PID/stat, in clock
// ticks since boot). Two processes with the same pid never share it.
func StartTime(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: cut after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	return strconv.ParseInt(fields[19], 10, 64)
}

// Alive reports whether pid is a live (not zombie) process that started at start
// (start 0 skips the check).
func Alive(pid int, start int64) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 {
		if f := strings.Fields(string(b[i+1:])); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	if start == 0 {
		return true
	}
	st, err := StartTime(pid)
	return err == nil && st == start
}
