package sandbox

import (
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
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

// Confine restricts the calling process, every thread of it and whatever it starts from
// now on, to p: reads and executes anywhere; writes to p.Write and the devices of /dev only;
// no signal, ptrace or /proc/PID/environ of a process outside (Landlock's own rule, with
// signals scoped from ABI 6). It cannot be undone.
func Confine(p Policy) error {
	if _, err := Available(); err != nil {
		return err
	}
	var dirs, files []string
	for _, w := range existing(p.Write) {
		if fi, err := os.Stat(w); err == nil && fi.IsDir() {
			dirs = append(dirs, w)
		} else {
			files = append(files, w)
		}
	}
	rules := []landlock.Rule{
		landlock.RODirs("/"),
		// Terminals (a tmux pane), /dev/null, /dev/shm: ioctl too, for the terminal's.
		landlock.RWDirs("/dev").WithIoctlDev().WithRefer(),
		// Refer: git moves a new object from objects/ into objects/xx/.
		landlock.RWDirs(dirs...).WithRefer(),
		landlock.RWFiles(files...),
	}
	return config.Restrict(rules...)
}
