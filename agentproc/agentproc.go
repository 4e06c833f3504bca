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
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/teamctl/teamctl/internal/gitenv"
	"github.com/teamctl/teamctl/sandbox"
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
	Prompt            string // the full prompt of this launch (a pointer to PromptFile when too long: see promptFile)
	PromptFile        string // where the full prompt is written (TEAMCTL_PROMPT_FILE); set by Start
	Worktree          string
	Branch            string
	LeaderBranch      string
	Attempt           int
	Reason            string
	Command           []string // argv template
	Env               map[string]string
	Timeout           time.Duration // 0 = none
	LogPath           string
	Files             Files  // where the wrapper records the launch's pid and exit status
	BinDir            string // directory of the running teamctl binary, put first on PATH
	// Depth is the agent's TEAMCTL_DEPTH: how deep in teams it runs (0: one deeper than
	// this process, an agent of the team it supervises; a spawned worker, deeper still).
	Depth int
	// Tmux, when set, runs the agent in a session of its own on the team's tmux server
	// (mode: tmux) instead of headless: see startInTmux.
	Tmux *Tmux
	// Confine, when set, runs the agent confined by it (DESIGN.md §11): the wrapper runs
	// the teamctl binary ConfineBin, which confines itself and executes the agent's argv.
	Confine    *sandbox.Policy
	ConfineBin string
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
// point git elsewhere, then the TEAMCTL_* variables, the agent's git identity, then the
// plan's env (which wins), and teamctl's directory first on PATH (the plan's PATH too).
func Environ(l Launch) []string {
	vars := map[string]string{}
	// A supervisor started from a git hook or alias inherits git's variables for that
	// repository; an agent must see its own worktree, not the one that started teamctl.
	for _, kv := range gitenv.Scrub(os.Environ()) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	email := Email(l.Team, l.Agent)
	set := map[string]string{
		"TEAMCTL_TEAM":          l.Team,
		"TEAMCTL_AGENT":         l.Agent,
		"TEAMCTL_ROLE":          l.Role,
		"TEAMCTL_TASK_ID":       l.TaskID,
		"TEAMCTL_PROMPT":        l.Prompt,
		"TEAMCTL_PROMPT_FILE":   l.PromptFile,
		"TEAMCTL_WORKTREE":      l.Worktree,
		"TEAMCTL_BRANCH":        l.Branch,
		"TEAMCTL_LEADER_BRANCH": l.LeaderBranch,
		"TEAMCTL_ATTEMPT":       strconv.Itoa(l.Attempt),
		"TEAMCTL_REASON":        l.Reason,
		"TEAMCTL_DEPTH":         strconv.Itoa(l.depth()),
		// Some CLIs (opencode) take their project from $PWD, not from their working
		// directory: the inherited one would be the supervisor's.
		"PWD": l.Worktree,
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
	for k, v := range l.Env {
		vars[k] = v
	}
	// teamctl first even when the plan sets PATH: the protocol block tells the agent to
	// call it.
	if l.BinDir != "" {
		vars["PATH"] = l.BinDir + string(os.PathListSeparator) + vars["PATH"]
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

func (l Launch) depth() int {
	if l.Depth > 0 {
		return l.Depth
	}
	return Depth() + 1
}

// Depth is how deeply this process is nested in teams: 0 for a person's shell, 1 inside an
// agent of a team, 2 inside an agent of a team that agent started, and so on.
func Depth() int {
	d, _ := strconv.Atoi(os.Getenv("TEAMCTL_DEPTH"))
	return d
}

// Result is how a launch ended.
type Result struct {
	ExitCode int  // the agent's exit status; -1 when it is unknown (the process vanished without a word)
	Signal   int  // the signal that killed the agent, 0 when it exited
	TimedOut bool // killed because it ran past Launch.Timeout
	Stopped  bool // stopped on request (Proc.Stop)
	// Detached: no longer watched, because the ctx given to Start or Adopt ended while the
	// agent still ran. The agent runs on, as under a supervisor that died; a later Adopt
	// takes it up from its files.
	Detached bool
}

// OK reports whether the agent said its task is done (exit 0).
func (r Result) OK() bool { return r.ExitCode == 0 && !r.TimedOut && !r.Stopped }

// Vanished reports whether the launch ended with no exit status recorded: its process group
// was killed wholesale (a reboot, a kill -9 of the group) while no supervisor watched it.
func (r Result) Vanished() bool {
	return r.ExitCode == -1 && r.Signal == 0 && !r.TimedOut && !r.Stopped && !r.Detached
}

func (r Result) String() string {
	switch {
	case r.TimedOut:
		return "timed out"
	case r.Stopped:
		return "stopped"
	case r.Detached:
		return "no longer watched"
	case r.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%s)", r.Signal, syscall.Signal(r.Signal))
	case r.ExitCode == -1:
		return "vanished without an exit status"
	default:
		return fmt.Sprintf("exited with code %d", r.ExitCode)
	}
}

// Files are where a launch's wrapper leaves its traces, one pair per agent: the pid file
// ("PID STARTTIME", or "PID" where sh cannot learn its start time: see recordPid; written
// before the agent runs) and the exit file (its exit status, written after). Both are
// renamed into place, so a reader never sees half a line. They outlive the supervisor:
// that is how a later one re-adopts the agent or learns how it ended.
type Files struct{ Pid, Exit, Prompt string }

// FilesIn are the files of agent under dir.
func FilesIn(dir, agent string) Files {
	return Files{Pid: filepath.Join(dir, agent+".pid"), Exit: filepath.Join(dir, agent+".exit"), Prompt: filepath.Join(dir, agent+".prompt")}
}

// MaxInlinePrompt is the longest prompt passed as it is in TEAMCTL_PROMPT and the argv. The
// kernel refuses a single argument or variable over 128 KiB (MAX_ARG_STRLEN) with E2BIG,
// "argument list too long"; a launch's prompt grows past the plan's with answers, test output
// and what resume says of the worktree. A longer prompt travels in its file only.
const MaxInlinePrompt = 100 << 10

// promptFile writes the launch's full prompt to its file (l.Files.Prompt) and sets PromptFile;
// a prompt longer than MaxInlinePrompt is replaced, in the argv and TEAMCTL_PROMPT, by a line
// that sends the agent to the file.
func promptFile(l Launch) (Launch, error) {
	if l.Files.Prompt == "" {
		l.Files.Prompt = filepath.Join(filepath.Dir(l.Files.Pid), l.Agent+".prompt")
	}
	if err := os.WriteFile(l.Files.Prompt, []byte(l.Prompt), 0o600); err != nil {
		return l, fmt.Errorf("agent %s: write its prompt: %w", l.Agent, err)
	}
	l.PromptFile = l.Files.Prompt
	if len(l.Prompt) > MaxInlinePrompt {
		l.Prompt = fmt.Sprintf("Your prompt for this launch is %d bytes, too long for a command line. Read the file %s now, all of it: it is your prompt; do what it says.",
			len(l.Prompt), l.PromptFile)
	}
	return l, nil
}

// wrapperScript is the script that runs the agent under sh, which leads the agent's process
// group and outlives the supervisor: the agent's exit status survives a supervisor killed
// with SIGKILL, which no wait() in the supervisor could give. It records its pid first
// (recordPid: with the start time that guards a later reader against pid reuse, where sh
// can read it). Headless, the agent's stdin is closed; in a tmux pane (tty) the pane is its
// terminal, stdin included: it is how nudges are typed in.
func wrapperScript(tty bool) string {
	kind, stdin := "", " </dev/null"
	if tty {
		kind, stdin = " (tmux)", ""
	}
	return fmt.Sprintf(wrapperTemplate, kind, recordPid, stdin)
}

const wrapperTemplate = `# teamctl agent wrapper%s: records the agent's pid and exit status (see agentproc).
pidf=$1; exitf=$2; shift 2
%s
# A stop signals the whole group: the wrapper outlives the agent's grace period, to record
# its end and to name it to the supervisor for its last calls. (A trap, not an ignore: the
# agent gets TERM's default back at exec.)
trap : TERM
"$@"%s
rc=$?
echo "$rc" > "$exitf.tmp" && mv -f "$exitf.tmp" "$exitf"
exit $rc
`

// confinedWrapper is the headless wrapper of a confined agent, forked already confined
// (startConfined): it may not write the run directory, so the launcher records its pid, and
// it writes the agent's exit status through descriptor 3, which the launcher opened on the
// exit file (an empty one reads as "ended without a status", as a missing one does). The
// agent does not get descriptor 3.
const confinedWrapper = `# teamctl agent wrapper (confined): records the agent's exit status through fd 3 (see agentproc).
pidf=$1; exitf=$2; shift 2
# A stop signals the whole group: the wrapper outlives the agent's grace period, to record
# its end and to name it to the supervisor for its last calls.
trap : TERM
"$@" 3>&- </dev/null
rc=$?
echo "$rc" >&3
exit $rc
`

// The wrappers' file names, beside the pid files: `ps` shows them, and findWrapper looks for them.
const (
	wrapperFile         = "teamctl-agent.sh"
	ttyWrapperFile      = "teamctl-agent-tty.sh"
	confinedWrapperFile = "teamctl-agent-confined.sh"
)

// wrapperName reports whether a script of that name is one of teamctl's agent wrappers.
func wrapperName(script string) bool {
	switch filepath.Base(script) {
	case wrapperFile, ttyWrapperFile, confinedWrapperFile:
		return true
	}
	return false
}

// startConfined starts cmd, the confined wrapper of launch l, confined by l.Confine, its
// exit file open as descriptor 3.
func startConfined(cmd *exec.Cmd, l Launch) error {
	exitf, err := os.OpenFile(l.Files.Exit, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer exitf.Close() // the wrapper has its own descriptor
	cmd.ExtraFiles = []*os.File{exitf}
	return sandbox.Start(cmd, *l.Confine)
}

// Proc is one running agent launch: the wrapper process, leader of the agent's process group.
type Proc struct {
	Pid   int
	Start int64 // start time (StartTime's opaque value), against PID reuse

	files   Files
	logPath string
	done    chan struct{}
	result  Result
	stop    chan time.Duration
	once    sync.Once
	// beforeEnd runs once the launch has ended, before its end is logged and reported.
	beforeEnd func()
}

// Start launches the agent: its worktree as working directory, stdin closed, stdout and
// stderr appended to its log after a header line, in a new process group, under the wrapper
// that records its pid and exit status in l.Files. It returns ErrStart (wrapped) when the
// program cannot be started; the log says so too. ctx bounds the start and how long the
// launch is watched, not the agent: once ctx ends, the agent runs on and the Proc's Result
// says Detached (see Result).
func Start(ctx context.Context, l Launch) (*Proc, error) {
	if l.Files.Pid == "" {
		// A caller that keeps no run directory: the records go beside the log.
		l.Files = FilesIn(filepath.Join(filepath.Dir(l.LogPath), "run"), l.Agent)
	}
	if err := os.MkdirAll(filepath.Dir(l.Files.Pid), 0o755); err != nil {
		return nil, fmt.Errorf("agent %s: %w", l.Agent, err)
	}
	l, err := promptFile(l)
	if err != nil {
		return nil, err
	}
	argv, err := Argv(l)
	if err != nil {
		return nil, err
	}
	env := Environ(l)
	if err := CheckProgram(argv[0], l.Worktree, env); err != nil {
		appendLog(l.LogPath, fmt.Sprintf("=== teamctl %s: cannot start agent %s: %v\n", stamp(), l.Agent, err))
		return nil, fmt.Errorf("%w %s: %v", ErrStart, l.Agent, err)
	}
	run := argv // what the wrapper runs
	if l.Confine != nil && l.Tmux != nil {
		// tmux's server starts the pane: teamctl's binary confines itself there. A headless
		// launch is forked confined instead (startConfined), without that exec.
		run = sandbox.Argv(l.ConfineBin, *l.Confine, argv)
	}
	for _, p := range []string{l.Files.Pid, l.Files.Exit} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("agent %s: %w", l.Agent, err)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("agent %s: %w", l.Agent, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(l.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("agent %s log: %w", l.Agent, err)
	}
	logf, err := os.OpenFile(l.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent %s log: %w", l.Agent, err)
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== teamctl %s: launch agent=%s task=%s attempt=%d reason=%s argv=%q\n",
		stamp(), l.Agent, l.TaskID, l.Attempt, l.Reason, argv)

	if l.Tmux != nil {
		return startInTmux(ctx, l, run, env, logf)
	}
	// The wrapper lives in a file so `ps` shows "sh .../teamctl-agent.sh PIDFILE EXITFILE argv".
	name, body := wrapperFile, wrapperScript(false)
	if l.Confine != nil {
		name, body = confinedWrapperFile, confinedWrapper
	}
	script := filepath.Join(filepath.Dir(l.Files.Pid), name)
	if err := writeIfChanged(script, body); err != nil {
		return nil, fmt.Errorf("agent %s: %w", l.Agent, err)
	}
	args := append([]string{script, l.Files.Pid, l.Files.Exit}, run...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = l.Worktree
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	// A session of its own (its group's leader too, so the group is still killed whole):
	// its group is orphaned from the start, so the supervisor's death orphans nothing, and
	// the kernel's SIGHUP to an orphaned group with a stopped member never comes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := cmd.Start
	if l.Confine != nil {
		start = func() error { return startConfined(cmd, l) }
	}
	if err := start(); err != nil {
		fmt.Fprintf(logf, "=== teamctl: cannot start %q: %v\n", run[0], err)
		return nil, fmt.Errorf("%w %s: %s: %v", ErrStart, l.Agent, run[0], err)
	}
	p := newProc(cmd.Process.Pid, l.Files, l.LogPath)
	// Our child, not waited for yet: its pid cannot be reused before this reads it.
	p.Start, _ = StartTime(p.Pid)
	if l.Confine != nil {
		// The confined wrapper cannot write its pid file: recorded here, as it would.
		if err := writeAtomic(l.Files.Pid, fmt.Sprintf("%d %d\n", p.Pid, p.Start)); err != nil {
			fmt.Fprintf(logf, "=== teamctl: cannot record the pid of agent %s: %v\n", l.Agent, err)
		}
	}
	exited := make(chan Result, 1)
	go func() {
		// The status comes from the exit file: it is the agent's, not sh's. sh's own status
		// is only what is left when sh was killed before it could write the file.
		err := cmd.Wait()
		var res Result
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				res = Result{ExitCode: -1, Signal: int(ws.Signal())}
			} else {
				res = Result{ExitCode: ee.ExitCode()}
			}
		}
		exited <- res
	}()
	go p.watch(ctx, exited, time.Now(), l.Timeout)
	return p, nil
}

// tmuxStartWait bounds how long a tmux launch waits for its wrapper's pid file.
const tmuxStartWait = 10 * time.Second

// startInTmux runs the agent's interface in its own tmux session (SessionName) on the
// team's server, under the tty wrapper, which leads the pane's process group: stopping, the
// timeout and re-adoption work as for a headless agent. The log gets the launch's header
// and, when it ends, the session's screen and scrollback (capture-pane); the session is
// removed then, so the next launch can take its name.
func startInTmux(ctx context.Context, l Launch, argv, env []string, logf *os.File) (*Proc, error) {
	sctx, cancel := context.WithTimeout(ctx, tmuxStartWait)
	defer cancel()
	session := SessionName(l.Team, l.Agent)
	if err := l.Tmux.Kill(sctx, session); err != nil { // a session a dead launch left
		return nil, err
	}
	script := filepath.Join(filepath.Dir(l.Files.Pid), ttyWrapperFile)
	if err := writeIfChanged(script, wrapperScript(true)); err != nil {
		return nil, fmt.Errorf("agent %s: %w", l.Agent, err)
	}
	args := append([]string{"/bin/sh", script, l.Files.Pid, l.Files.Exit}, argv...)
	if err := l.Tmux.Start(sctx, session, l.Worktree, env, args); err != nil {
		fmt.Fprintf(logf, "=== teamctl: cannot start %q in tmux: %v\n", argv[0], err)
		return nil, fmt.Errorf("%w %s: %v", ErrStart, l.Agent, err)
	}
	var pid int
	var start int64
	for {
		var err error
		if pid, start, err = ReadPid(l.Files); err == nil {
			break
		}
		select {
		case <-sctx.Done():
			// Not left half started, even when ctx itself ended.
			_ = l.Tmux.Kill(context.WithoutCancel(ctx), session)
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("start agent %s in tmux: %w", l.Agent, err)
			}
			return nil, fmt.Errorf("%w %s: its tmux session did not start the wrapper within %s", ErrStart, l.Agent, tmuxStartWait)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p := newProc(pid, l.Files, l.LogPath)
	p.Start = start
	p.beforeEnd = func() {
		// The launch has ended: its session goes, even when ctx ended with it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if screen, err := l.Tmux.Capture(cctx, session); err == nil {
			appendLog(l.LogPath, fmt.Sprintf("=== teamctl %s: the tmux session's screen and scrollback\n%s\n", stamp(), strings.TrimRight(screen, "\n")))
		}
		_ = l.Tmux.Kill(cctx, session)
	}
	go p.watch(ctx, pollExit(ctx, pid, start), time.Now(), l.Timeout)
	return p, nil
}

// Adopt watches a launch that an earlier supervisor started and that still runs, so its end
// is reported like any other; its timeout runs from when it was started. It returns ErrGone
// when the launch's process is not alive any more, and ctx's error when ctx ended before it
// could tell. ctx bounds how long the launch is watched, as for Start.
func Adopt(ctx context.Context, files Files, logPath string, timeout time.Duration) (*Proc, error) {
	pid, start, err := ReadPid(files)
	if errors.Is(err, os.ErrNotExist) {
		pid, start, err = awaitPid(ctx, files)
	}
	if ctx.Err() != nil {
		// Not ErrGone: a caller would start a second process for an agent that may well run.
		return nil, fmt.Errorf("adopt the launch of %s: %w", files.Pid, ctx.Err())
	}
	if err != nil || !Alive(pid, start) {
		return nil, ErrGone
	}
	started, err := StartedAt(start)
	if err != nil {
		started = time.Now()
	}
	p := newProc(pid, files, logPath)
	p.Start = start
	go p.watch(ctx, pollExit(ctx, pid, start), started, timeout)
	return p, nil
}

// pollExit reports the end of a wrapper that is not this process's child (adopted, or run
// by the tmux server): with no wait() to give it, the process table is polled, and its
// status is in the exit file. Nothing is sent once ctx has ended; the polling stops then.
func pollExit(ctx context.Context, pid int, start int64) <-chan Result {
	exited := make(chan Result, 1)
	go func() {
		for Alive(pid, start) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(pollAdopted):
			}
		}
		exited <- Result{ExitCode: -1}
	}()
	return exited
}

// pollAdopted is how often an adopted agent's liveness is checked; its end is noticed
// within this much.
const pollAdopted = 200 * time.Millisecond

// ErrGone is a launch whose process is not alive.
var ErrGone = errors.New("agent process is gone")

// awaitPid reads the pid file of a launch whose wrapper was started (by a supervisor that
// died right after) but has not written it yet: a supervisor that took the launch for gone
// would start a second process for the agent. The wrapper writes it first thing, so it is
// awaited for a moment; a wrapper that still has not is killed with its group.
func awaitPid(ctx context.Context, files Files) (int, int64, error) {
	wrapper, wstart := findWrapper(files)
	if wrapper == 0 {
		return 0, 0, ErrGone
	}
	deadline := time.Now().Add(awaitWrapper)
	for {
		pid, start, err := ReadPid(files)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return pid, start, err
		}
		if time.Now().After(deadline) || !Alive(wrapper, wstart) {
			killGroup(ctx, wrapper, wstart, 0)
			return 0, 0, ErrGone
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// awaitWrapper bounds the wait for a just-started wrapper's pid file.
const awaitWrapper = 3 * time.Second

// findWrapper is the pid and start time of the launch's live wrapper (see isWrapper), or 0.
func findWrapper(files Files) (int, int64) {
	pids, err := listProcs()
	if err != nil {
		return 0, 0
	}
	for _, pid := range pids {
		if args, err := procArgs(pid); err != nil || !isWrapper(args, files) {
			continue // the cheap test first: most processes are not wrappers
		}
		if start, ok := wrapperStart(files, pid); ok {
			return pid, start
		}
	}
	return 0, 0
}

// wrapperStart is the start time of process pid if it is the launch's live wrapper. The
// start is read before the argv and checked again after, so a pid that is reused in between
// cannot pass for the wrapper.
func wrapperStart(files Files, pid int) (int64, bool) {
	start, err := StartTime(pid)
	if err != nil {
		return 0, false
	}
	args, err := procArgs(pid)
	if err != nil || !isWrapper(args, files) || !Alive(pid, start) {
		return 0, false
	}
	return start, true
}

// isWrapper reports whether argv is the launch's wrapper, "/bin/sh
// teamctl-agent[-tty|-confined].sh PIDFILE EXITFILE argv" (see Start and startInTmux). Only that
// shape counts: the tmux server, forked from the client that started it, carries such
// arguments further on.
func isWrapper(args []string, files Files) bool {
	return len(args) > 3 && args[0] == "/bin/sh" && args[2] == files.Pid && wrapperName(args[1])
}

// ReadPid reads a launch's pid file: the wrapper's pid and start time. A pid file that
// holds no start time (see recordPid) names a live wrapper or none: ErrGone when the
// process at that pid is not the launch's wrapper (any more).
func ReadPid(files Files) (pid int, start int64, err error) {
	b, err := os.ReadFile(files.Pid)
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, 0, fmt.Errorf("pid file %s: empty", files.Pid)
	}
	if pid, err = strconv.Atoi(f[0]); err != nil {
		return 0, 0, fmt.Errorf("pid file %s: %w", files.Pid, err)
	}
	if len(f) > 1 {
		if start, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("pid file %s: %w", files.Pid, err)
		}
		return pid, start, nil
	}
	// The start time is read here instead, once argv shows pid is still the wrapper that
	// wrote the file: StartTime's value, as the launcher recorded it.
	start, ok := wrapperStart(files, pid)
	if !ok {
		return 0, 0, fmt.Errorf("pid file %s: process %d: %w", files.Pid, pid, ErrGone)
	}
	return pid, start, nil
}

// Ended is how a launch whose process is gone ended, from its exit file: an exit status, a
// signal (status 128+N for N up to 31, as sh reports it), or Vanished when the wrapper died
// before writing it.
func Ended(files Files) Result {
	b, err := os.ReadFile(files.Exit)
	if err != nil {
		return Result{ExitCode: -1}
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return Result{ExitCode: -1}
	}
	// sh reports a signal N as 128+N, an exit status as itself: the two are told apart by
	// the signals that end processes (1 to 31). Above that, CLIs exit with codes of their
	// own: gemini's is the HTTP status's low byte (173 on a 429, 244 on a 500).
	if code > 128 && code < 128+32 {
		return Result{ExitCode: code, Signal: code - 128}
	}
	return Result{ExitCode: code}
}

func newProc(pid int, files Files, logPath string) *Proc {
	return &Proc{Pid: pid, files: files, logPath: logPath, done: make(chan struct{}), stop: make(chan time.Duration, 1)}
}

// watch waits for the launch to end, its timeout, a stop request, or the end of ctx, and
// records the result. exited delivers what is known of the wrapper's end when the exit file
// is missing.
func (p *Proc) watch(ctx context.Context, exited <-chan Result, started time.Time, timeout time.Duration) {
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Until(started.Add(timeout)))
		defer t.Stop()
		timer = t.C
	}
	var res Result
	select {
	case fallback := <-exited:
		res = Ended(p.files)
		if res.Vanished() {
			res = fallback
		}
	case <-timer:
		res.TimedOut = true
		killGroup(ctx, p.Pid, p.Start, 0)
		waitExit(ctx, exited)
	case grace := <-p.stop:
		res.Stopped = true
		killGroup(ctx, p.Pid, p.Start, grace)
		waitExit(ctx, exited)
	case <-ctx.Done():
		// Nothing more is logged or cleaned up: the agent has not ended.
		p.result = Result{ExitCode: -1, Detached: true}
		close(p.done)
		return
	}
	if res.TimedOut || res.Stopped {
		res.ExitCode = Ended(p.files).ExitCode
	}
	if p.beforeEnd != nil {
		p.beforeEnd()
	}
	p.result = res
	appendLog(p.logPath, fmt.Sprintf("=== teamctl %s: agent %s\n", stamp(), res))
	close(p.done)
}

// waitExit waits for the end of a wrapper just killed, or for the end of ctx (killGroup
// has sent SIGKILL then: the end is on its way).
func waitExit(ctx context.Context, exited <-chan Result) {
	select {
	case <-exited:
	case <-ctx.Done():
	}
}

// Done is closed when the launch has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Result is how the launch ended; it blocks until Done is closed.
func (p *Proc) Result() Result { <-p.done; return p.result }

// Stop ends the agent gracefully: SIGTERM to its whole process group, SIGKILL after grace.
// It returns once the launch has ended. A launch no longer watched (Detached) is stopped
// all the same.
func (p *Proc) Stop(grace time.Duration) {
	p.once.Do(func() { p.stop <- grace })
	<-p.done
	if p.result.Detached {
		// Its watcher left with its ctx and took no stop request: nobody else will.
		StopGroup(context.Background(), p.Pid, p.Start, grace)
	}
}

// killGroup sends SIGTERM to the group and SIGKILL after grace (at once when grace is 0).
// The whole group: an agent CLI runs tools (shells, test runners) as its children. The
// leader's start time is checked first, so a reused pid is never signalled. A ctx that ends
// during the grace period cuts it short: SIGKILL at once.
func killGroup(ctx context.Context, pgid int, start int64, grace time.Duration) {
	if !Alive(pgid, start) && !groupAlive(pgid) {
		return
	}
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if !groupAlive(pgid) {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// groupAlive reports whether any process of group pgid is left.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// StopGroup stops a process group this process did not start (an agent left by a
// supervisor that died), if pid still names the process that started at start, and returns
// once that process is gone (a SIGKILL is not instant: seen here under load, a check right
// after it found the agent still there), or after killedWait. A ctx that ends during grace
// cuts it short.
func StopGroup(ctx context.Context, pid int, start int64, grace time.Duration) {
	if !Alive(pid, start) {
		return
	}
	killGroup(ctx, pid, start, grace)
	for deadline := time.Now().Add(killedWait); Alive(pid, start) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// killedWait is how long StopGroup waits for a killed process to be gone.
const killedWait = 2 * time.Second

// ErrNotOnPath is a program named without a slash that no directory of the agent's PATH holds.
var ErrNotOnPath = errors.New("not found on the agent's PATH")

// CheckProgram fails when prog, an agent's argv[0], names no program the agent could run,
// so a typo in the plan fails with a clear message instead of a cryptic exit 127: a name
// with a slash must be an executable file (a relative one in dir, the agent's worktree), a
// bare name must be on the PATH of env (ErrNotOnPath). The launch checks with it, and the
// orchestrator before a run starts.
func CheckProgram(prog, dir string, env []string) error {
	if !strings.Contains(prog, "/") {
		if _, err := LookPath(prog, env); err != nil {
			return fmt.Errorf("%s: %w", prog, ErrNotOnPath)
		}
		return nil
	}
	p := prog
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	fi, err := os.Stat(p)
	switch {
	case err != nil && filepath.IsAbs(prog):
		return fmt.Errorf("%s: no such file", prog)
	case err != nil:
		return fmt.Errorf("%s: no such file (relative to the agent's worktree %s)", prog, dir)
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s: not an executable file", prog)
	}
	return nil
}

// LookPath finds a program named without a slash on the PATH of env (KEY=VALUE pairs).
func LookPath(name string, env []string) (string, error) {
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

// writeIfChanged writes content to path unless it already holds it, through a rename so a
// launch starting beside it never reads half a script.
func writeIfChanged(path, content string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == content {
		return nil
	}
	return writeAtomic(path, content)
}

// writeAtomic writes content to path through a rename: a reader sees all of it or none.
func writeAtomic(path, content string) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }

// appendLog adds a line of teamctl's own to an agent's log; the log is best effort.
func appendLog(path, line string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	f.WriteString(line)
	f.Close()
}

// Clear removes the files of an earlier launch, before a new launch is recorded: a crash
// between the two must not let the earlier launch's exit status pass for the new one's.
func (f Files) Clear() error {
	for _, p := range []string{f.Pid, f.Exit} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Email is the git identity email of an agent of team: its commits carry it, and so does
// the reflog of every ref its git moves (the ref guards read it back with AgentOfEmail).
func Email(team, agent string) string { return agent + "@" + team + ".teamctl.invalid" }

// AgentOfEmail is the agent of team whose Email is email, "" for anyone else.
func AgentOfEmail(team, email string) string {
	name, ok := strings.CutSuffix(email, "@"+team+".teamctl.invalid")
	if !ok {
		return ""
	}
	return name
}
