package agentproc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// macOS has no /proc: the process table is read with sysctl, through golang.org/x/sys/unix
// (already in the module's graph), not gopsutil: that would be a large dependency for
// three sysctls, and it reads them the same way.

// recordPid writes "PID" alone: sh has no good way to its own start time here (ps -o
// lstart is in whole seconds and local time, and costs a fork). ReadPid reads the start
// time instead, once argv shows that the pid is still the wrapper.
const recordPid = `echo "$$" > "$pidf.tmp" && mv -f "$pidf.tmp" "$pidf"`

// sZomb is SZOMB of <sys/proc.h>: the p_stat of a process that exited and is not waited for.
const sZomb = 5

// procStat reads the process's kinfo_proc; its start time, a timeval, is kept in
// microseconds since the epoch.
func procStat(pid int) (procState, error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		// No such process comes back as EIO: the kernel answers with nothing at all.
		return procState{}, fmt.Errorf("process %d: %w", pid, err)
	}
	t := k.Proc.P_starttime
	return procState{start: t.Sec*1e6 + int64(t.Usec), zombie: k.Proc.P_stat == sZomb, ppid: int(k.Eproc.Ppid)}, nil
}

func startedAt(start int64) (time.Time, error) { return time.UnixMicro(start), nil }

func procArgs(pid int) ([]string, error) {
	args, _, err := procArgs2(pid)
	return args, err
}

func procEnviron(pid int) ([]string, error) {
	_, env, err := procArgs2(pid)
	return env, err
}

// procArgs2 reads kern.procargs2, the strings exec put on the process's stack: argc (a C
// int), the executable's path, NUL padding, argc NUL-terminated arguments, then the
// environment's up to an empty string (after it come the kernel's "apple" strings).
func procArgs2(pid int) (args, env []string, err error) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil, nil, fmt.Errorf("arguments of process %d: %w", pid, err)
	}
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("arguments of process %d: %d bytes", pid, len(b))
	}
	argc := int(binary.NativeEndian.Uint32(b))
	b = b[4:]
	next := func() (string, bool) {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return "", false
		}
		s := string(b[:i])
		b = b[i+1:]
		return s, true
	}
	if _, ok := next(); !ok { // the executable's path
		return nil, nil, fmt.Errorf("arguments of process %d: truncated", pid)
	}
	b = bytes.TrimLeft(b, "\x00")
	for len(args) < argc {
		s, ok := next()
		if !ok {
			return nil, nil, fmt.Errorf("arguments of process %d: truncated", pid)
		}
		args = append(args, s)
	}
	for {
		s, ok := next()
		if !ok || s == "" {
			return args, env, nil
		}
		env = append(env, s)
	}
}

// listProcs lists this user's processes only: a wrapper runs as the user who started it.
func listProcs() ([]int, error) {
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.uid", os.Getuid())
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	pids := make([]int, 0, len(ks))
	for _, k := range ks {
		if k.Proc.P_pid > 0 {
			pids = append(pids, int(k.Proc.P_pid))
		}
	}
	return pids, nil
}
