package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// config is what Landlock is asked to restrict: every file system right up to ABI 8 (ABI 9
// would also restrict connecting to unix sockets made outside, the supervisor's included),
// and, from ABI 6, signals and abstract unix sockets to processes outside the domain. The
// network is left open: agents talk to their providers. Best effort: a kernel with an older
// ABI restricts what it knows (ABI 1, kernel 5.13, already confines every write).
var config = landlock.Config{HandledAccessFS: landlock.V8.HandledAccessFS, Scoped: landlock.V8.Scoped}.BestEffort()

// Available is the Landlock ABI version this kernel offers, or ErrUnavailable (wrapped,
// with why) when it has none.
func Available() (int, error) {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: this Linux kernel has no Landlock (it needs 5.13 or later, with landlock in its lsm= list): %v", ErrUnavailable, err)
	}
	return v, nil
}

// droppedCaps are the capabilities a confined process started by root loses: those that
// reach past Landlock's process boundary. Measured on Linux 6.18: a confined root process
// still reads /proc/PID/environ, maps and auxv of a process outside while it holds
// CAP_SYS_ADMIN or CAP_PERFMON (each alone suffices), which a confined process of any
// other user cannot. The rest load code into the kernel or read its memory.
var droppedCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_PERFMON, unix.CAP_SYS_PTRACE, unix.CAP_BPF, unix.CAP_SYS_MODULE, unix.CAP_SYS_RAWIO}

// dropCaps takes droppedCaps out of the bounding set, so that what this process executes
// does not get them back (root's permitted set at exec is its bounding set), and clears the
// ambient set. A process without CAP_SETPCAP (not root) holds none of them to begin with.
func dropCaps() error {
	for _, c := range droppedCaps {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL && err != unix.EPERM {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	return nil
}

// Confine restricts the calling process, every thread of it and whatever it starts from
// now on, to p: reads and executes anywhere; writes to p.Write and the devices of /dev only;
// no signal, ptrace or /proc/PID/environ of a process outside (Landlock's own rule, with
// signals scoped from ABI 6; for root, with droppedCaps gone at the next exec). It cannot
// be undone. It locks the calling goroutine to its OS thread for good: the capability
// bounding set is per thread, and the exec that follows must run on the thread that dropped
// them (unlocked, the goroutine could move between the two, and the program keep them: seen
// here, once in a few dozen runs, as a confined root process reading another's environ).
func Confine(p Policy) error {
	if _, err := Available(); err != nil {
		return err
	}
	runtime.LockOSThread()
	if err := dropCaps(); err != nil {
		return err
	}
	return config.Restrict(rules(p)...)
}

// Start starts cmd confined by p as Confine confines a process, without confining the
// caller and without an exec of teamctl's own: on an OS thread of its own, locked to it,
// restricted (capabilities, no_new_privs, Landlock are all per thread), from which cmd is
// forked, so cmd inherits them; the thread is then ended, never to run another goroutine.
// cmd must not need goroutines of this process to start (its streams are files or nil).
func Start(cmd *exec.Cmd, p Policy) error {
	if _, err := Available(); err != nil {
		return err
	}
	fd, flags, err := config.NewRulesetFD(rules(p)...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if fd < 0 {
		return fmt.Errorf("%w: Landlock restricts nothing here", ErrUnavailable)
	}
	defer unix.Close(fd)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := dropCaps(); err != nil {
			started <- err
			return
		}
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			started <- fmt.Errorf("set no_new_privs: %w", err)
			return
		}
		if err := llsys.LandlockRestrictSelf(fd, flags); err != nil {
			started <- fmt.Errorf("landlock_restrict_self: %w", err)
			return
		}
		started <- cmd.Start()
	}()
	return <-started
}

// rules are p's, as Landlock takes them.
func rules(p Policy) []landlock.Rule {
	var dirs, files []string
	for _, w := range existing(p.Write) {
		if fi, err := os.Stat(w); err == nil && fi.IsDir() {
			dirs = append(dirs, w)
		} else {
			files = append(files, w)
		}
	}
	return []landlock.Rule{
		landlock.RODirs("/"),
		// Terminals (a tmux pane), /dev/null, /dev/shm: ioctl too, for the terminal's.
		landlock.RWDirs("/dev").WithIoctlDev().WithRefer(),
		// Refer: git moves a new object from objects/ into objects/xx/.
		landlock.RWDirs(dirs...).WithRefer(),
		landlock.RWFiles(files...),
	}
}
