package agentproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// What the agentproc package asks of the process table. Each platform answers in its own
// file (proc_linux.go: /proc; proc_darwin.go: sysctl) with these small functions:
//
//	procStat(pid) (procState, error)   is pid a process, a zombie, and when did it start
//	startedAt(start) (time.Time, error) a start time as wall-clock time
//	procArgs(pid) ([]string, error)     the argv it was executed with
//	procEnviron(pid) ([]string, error)  the environment it was executed with
//	listProcs() ([]int, error)          the pids to look through for a wrapper
//
// and recordPid, the wrapper's shell lines that write its pid file.

// procState is what the process table says of one process.
type procState struct {
	start  int64 // opaque: see StartTime
	zombie bool  // exited, not yet waited for
	ppid   int   // its parent
}

// StartTime reads the start time of process pid: an opaque value (clock ticks since boot on
// Linux, microseconds since the epoch on macOS) that two processes with the same pid never
// share. Stored beside a pid, it keeps a reused pid from passing for the agent.
func StartTime(pid int) (int64, error) {
	st, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return st.start, nil
}

// Alive reports whether pid is a live (not zombie) process that started at start
// (start 0 skips the check).
func Alive(pid int, start int64) bool {
	if pid <= 0 {
		return false
	}
	st, err := procStat(pid)
	return err == nil && !st.zombie && (start == 0 || st.start == start)
}

// StartedAt turns a start time (StartTime's) into wall-clock time. A re-adopted launch's
// timeout runs from there.
func StartedAt(start int64) (time.Time, error) { return startedAt(start) }

// ProcessEnviron is the environment process pid was executed with (KEY=VALUE pairs), as
// the kernel keeps it: what it was started with, not what it set since. It fails for a
// process of another user.
func ProcessEnviron(pid int) ([]string, error) { return procEnviron(pid) }

// WithEnv lists the live processes whose environment holds kv ("KEY=VALUE") as they were
// started. Processes of other users are not seen.
func WithEnv(kv string) ([]int, error) {
	pids, err := listProcs()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, pid := range pids {
		if env, err := procEnviron(pid); err == nil && slices.Contains(env, kv) && Alive(pid, 0) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// KillWithEnv kills (SIGKILL) the process group of every process WithEnv(kv) finds, and
// waits, up to timeout, until none is left. It returns how many it found.
func KillWithEnv(kv string, timeout time.Duration) (int, error) {
	pids, err := WithEnv(kv)
	if err != nil || len(pids) == 0 {
		return 0, err
	}
	for _, pid := range pids {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		left, err := WithEnv(kv)
		if err != nil || len(left) == 0 {
			return len(pids), err
		}
		if time.Now().After(deadline) {
			return len(pids), fmt.Errorf("processes still alive after SIGKILL: %v", left)
		}
	}
}

// Launcher is the agent launch a process runs under, as its ancestry shows it.
type Launcher struct {
	Pid     int
	PidFile string // the launch's pid file: RunDir/<team>/<agent>.pid
}

// Agent is the agent the launch is of (its pid file's name).
func (l Launcher) Agent() string { return strings.TrimSuffix(filepath.Base(l.PidFile), ".pid") }

// Team is the team the launch is of (its pid file's directory).
func (l Launcher) Team() string { return filepath.Base(filepath.Dir(l.PidFile)) }

// TrueLaunch is LaunchedBy's launch of process pid, passing over ancestors shaped like a
// wrapper that are not the launch their pid file records (a process an agent made to look
// like another agent's launch): those are returned as fakes. A pid file not yet written (a
// launch a moment old) is waited for briefly.
func TrueLaunch(pid int) (l Launcher, fakes []Launcher, ok bool) {
	for range 64 {
		if l, ok = LaunchedBy(pid); !ok {
			return l, fakes, false
		}
		if recorded(l) {
			return l, fakes, true
		}
		fakes = append(fakes, l)
		st, err := procStat(l.Pid)
		if err != nil {
			return Launcher{}, fakes, false
		}
		pid = st.ppid
	}
	return Launcher{}, fakes, false
}

// recorded reports whether l is the launch its pid file records, alive.
func recorded(l Launcher) bool {
	files := Files{Pid: l.PidFile}
	for range 20 {
		rp, start, err := ReadPid(files)
		if err == nil {
			return rp == l.Pid && Alive(rp, start)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// LaunchedBy walks the ancestry of process pid (its parent, theirs, up to init) for the
// wrapper of an agent launch. The kernel keeps the ancestry, not the environment an agent
// may change: a process started by an agent, however deep, finds it, unless it was
// detached from it on purpose (its parent gone, as a double fork does).
func LaunchedBy(pid int) (Launcher, bool) {
	for range 64 { // a process tree deeper than this is not a launch's
		st, err := procStat(pid)
		if err != nil || pid <= 1 {
			return Launcher{}, false
		}
		if args, err := procArgs(pid); err == nil && len(args) > 3 && args[0] == "/bin/sh" &&
			wrapperName(args[1]) {
			return Launcher{Pid: pid, PidFile: args[2]}, true
		}
		pid = st.ppid
	}
	return Launcher{}, false
}
