package sandbox

import (
	"net"

	"golang.org/x/sys/unix"
)

// peer is the process at the other end of conn, and its user (LOCAL_PEERPID, getpeereid).
func peer(conn *net.UnixConn) (pid, uid int, err error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		pid, serr = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		if serr == nil {
			var cred *unix.Xucred
			cred, serr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
			if serr == nil {
				uid = int(cred.Uid)
			}
		}
	}); err != nil {
		return 0, 0, err
	}
	return pid, uid, serr
}
