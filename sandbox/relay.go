package sandbox

// The relay: how a confined agent's teamctl commands reach its team's supervisor. A confined
// process may not write the store, and must not be trusted to say who it is; it connects to
// the supervisor's unix socket instead, and the kernel names the process at the other end
// (SO_PEERCRED), which the supervisor maps to an agent by its process tree. The call is run
// there, as that agent; its output comes back as it is written.
//
// On the wire: the caller sends one JSON line (callHeader) and then its stdin until EOF; the
// supervisor sends frames — a kind byte (frameOut, frameErr, frameExit), a 4-byte big-endian
// length, the bytes — ending with the exit status.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SocketEnv is the variable that tells a confined agent's teamctl where its supervisor listens.
const SocketEnv = "TEAMCTL_SOCKET"

// Call is one command a confined process asked for.
type Call struct {
	Args []string // teamctl's arguments, as the caller gave them
	Dir  string   // the caller's working directory
	// Env is what of the caller's environment the command reads (RelayedEnv); the rest is
	// the supervisor's or the agent's launch's.
	Env            map[string]string
	Pid            int // the calling process, as the kernel names it
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Handler runs a call and returns its exit status.
type Handler func(ctx context.Context, c Call) int

// RelayedEnv are the variables of the caller's environment a call carries: git's, set for
// the hook it runs in (the index a pre-commit hook must check is the one git is committing).
var RelayedEnv = []string{"GIT_INDEX_FILE"}

type callHeader struct {
	Args []string          `json:"args"`
	Dir  string            `json:"dir"`
	Env  map[string]string `json:"env,omitempty"`
}

const (
	frameOut  = 'o'
	frameErr  = 'e'
	frameExit = 'x'
)

// maxHeader bounds a call's first line (its arguments): a task's prompt is at most 64 KiB.
const maxHeader = 1 << 20

// SocketPath is where the supervisor of team in the repository whose git common dir is
// commonDir listens: in a private directory of the user's under /tmp, as a unix socket's
// path must be short (108 bytes on Linux), which a repository's path need not be. Not under
// $TMPDIR: a confined agent's is its own, and it must find the socket from its process tree
// alone.
func SocketPath(commonDir, team string) string {
	h := fnv64(commonDir + "\x00" + team)
	return filepath.Join("/tmp", fmt.Sprintf("teamctl-%d", os.Getuid()), fmt.Sprintf("%016x.sock", h))
}

// TempDir is the private temp dir (TMPDIR) of agent's launches, beside its team's socket:
// short too, for the sockets its tools make there.
func TempDir(commonDir, team, agent string) string {
	return strings.TrimSuffix(SocketPath(commonDir, team), ".sock") + "-" + agent
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Listen makes the socket at path, replacing one a dead supervisor left. Its directory is
// the user's alone.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(filepath.Dir(path)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the socket's directory %s must be the user's alone (mode 0700)", filepath.Dir(path))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
}

// Serve answers calls on ln with h until ctx ends, each in its own goroutine, and removes the
// socket then. A caller of another user is refused.
func Serve(ctx context.Context, ln *net.UnixListener, h Handler) error {
	ln.SetUnlinkOnClose(true)
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			serveConn(ctx, conn, h)
		}()
	}
}

func serveConn(ctx context.Context, conn *net.UnixConn, h Handler) {
	w := &frames{conn: conn}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.broken = cancel // a caller gone: its call stops (a `logs -f` would run on)
	pid, uid, err := peer(conn)
	if err == nil && uid != os.Getuid() {
		err = fmt.Errorf("the caller runs as user %d, not as the team's", uid)
	}
	if err != nil {
		w.exit(fmt.Sprintf("teamctl: the supervisor refused the call: %v\n", err), 1)
		return
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	line, err := readLine(r)
	var hdr callHeader
	if err == nil {
		err = json.Unmarshal(line, &hdr)
	}
	if err != nil {
		w.exit(fmt.Sprintf("teamctl: the supervisor could not read the call: %v\n", err), 1)
		return
	}
	for k := range hdr.Env {
		if !slices.Contains(RelayedEnv, k) {
			delete(hdr.Env, k)
		}
	}
	code := h(ctx, Call{Args: hdr.Args, Dir: hdr.Dir, Env: hdr.Env, Pid: pid, Stdin: r,
		Stdout: w.stream(frameOut), Stderr: w.stream(frameErr)})
	w.exit("", code)
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, more, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, part...)
		if len(line) > maxHeader {
			return nil, fmt.Errorf("its arguments are over %d bytes", maxHeader)
		}
		if !more {
			return line, nil
		}
	}
}

// frames writes a call's output back, one frame per write, from any goroutine.
type frames struct {
	mu     sync.Mutex
	conn   net.Conn
	broken func()
	failed bool
}

func (f *frames) frame(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed {
		return net.ErrClosed
	}
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := f.conn.Write(append(hdr[:], p...)); err != nil {
		f.failed = true
		f.broken()
		return err
	}
	return nil
}

type stream struct {
	f    *frames
	kind byte
}

func (s stream) Write(p []byte) (int, error) {
	if err := s.f.frame(s.kind, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (f *frames) stream(kind byte) io.Writer { return stream{f, kind} }

func (f *frames) exit(stderr string, code int) {
	if stderr != "" {
		_ = f.frame(frameErr, []byte(stderr))
	}
	_ = f.frame(frameExit, []byte(strconv.Itoa(code)))
}

// ErrNoSupervisor is a call that found no supervisor listening within its wait.
var ErrNoSupervisor = errors.New("no supervisor answers")

// Relay runs the call c (its Args, Dir and Env; Pid is the kernel's to say) at the
// supervisor listening on path, as the caller: c.Stdin is sent (until EOF; nil sends
// nothing) and the output written to c.Stdout and c.Stderr as it comes. It returns the
// call's exit status. A supervisor that is not listening (crashed, or between a stop and a
// resume) is waited for, up to wait, retrying with a growing pause; then ErrNoSupervisor,
// and nothing was done.
func Relay(ctx context.Context, path string, c Call, wait time.Duration) (int, error) {
	conn, err := dial(ctx, path, wait)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	hdr, err := json.Marshal(callHeader{Args: c.Args, Dir: c.Dir, Env: c.Env})
	if err != nil {
		return 0, err
	}
	if _, err := conn.Write(append(hdr, '\n')); err != nil {
		return 0, fmt.Errorf("%w: it closed the connection before it took the call: %v", ErrNoSupervisor, err)
	}
	if c.Stdin != nil {
		go func() {
			_, _ = io.Copy(conn, c.Stdin)
			_ = conn.CloseWrite()
		}()
	} else {
		_ = conn.CloseWrite()
	}
	r := bufio.NewReader(conn)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, fmt.Errorf("the supervisor went away during the call (it may or may not have been made: check before you repeat it): %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return 0, fmt.Errorf("the supervisor went away during the call (it may or may not have been made: check before you repeat it): %w", err)
		}
		switch hdr[0] {
		case frameOut:
			_, _ = c.Stdout.Write(body)
		case frameErr:
			_, _ = c.Stderr.Write(body)
		case frameExit:
			return strconv.Atoi(string(body))
		}
	}
}

func dial(ctx context.Context, path string, wait time.Duration) (*net.UnixConn, error) {
	deadline := time.Now().Add(wait)
	pause := 50 * time.Millisecond
	for {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			return conn, nil
		}
		if time.Now().Add(pause).After(deadline) {
			return nil, fmt.Errorf("%w at %s (waited %s): %v", ErrNoSupervisor, path, wait.Round(time.Second), err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}
