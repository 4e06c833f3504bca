package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/sandbox"
)

// echo answers a call with what it was: its arguments, directory, caller and stdin.
func echo(_ context.Context, c sandbox.Call) int {
	in, _ := io.ReadAll(c.Stdin)
	fmt.Fprintf(c.Stdout, "args=%s dir=%s env=%v pid=%d stdin=%s", strings.Join(c.Args, ","), c.Dir, c.Env, c.Pid, in)
	fmt.Fprint(c.Stderr, "to stderr")
	return len(c.Args)
}

func serve(t *testing.T, path string, h sandbox.Handler) {
	t.Helper()
	ln, err := sandbox.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sandbox.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket is left behind: %v", err)
		}
	})
}

func TestRelayCarriesTheCallAndNamesTheCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s", "t.sock")
	serve(t, path, echo)
	var out, errOut bytes.Buffer
	// Of its environment, only what a command reads goes (git's index for the pre-commit hook).
	env := map[string]string{"GIT_INDEX_FILE": "/w/.git/index", "TEAMCTL_AGENT": "other"}
	code, err := sandbox.Relay(t.Context(), path, sandbox.Call{Args: []string{"msg", "send", "hi"}, Dir: "/w", Env: env,
		Stdin: strings.NewReader("the input"), Stdout: &out, Stderr: &errOut}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("args=msg,send,hi dir=/w env=map[GIT_INDEX_FILE:/w/.git/index] pid=%d stdin=the input", os.Getpid()); out.String() != want || errOut.String() != "to stderr" || code != 3 {
		t.Errorf("Relay = %d, out %q, err %q; want 3, %q, %q", code, out.String(), errOut.String(), want, "to stderr")
	}
}

func TestRelayWaitsForASupervisor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s", "t.sock")
	_, err := sandbox.Relay(t.Context(), path, sandbox.Call{Args: []string{"status"}, Dir: "/", Stdout: io.Discard, Stderr: io.Discard}, 200*time.Millisecond)
	if !errors.Is(err, sandbox.ErrNoSupervisor) || !strings.Contains(err.Error(), path) {
		t.Errorf("with nobody listening: %v, want ErrNoSupervisor naming %s", err, path)
	}
	// One that comes while the call waits takes it.
	result := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		_, err := sandbox.Relay(context.Background(), path, sandbox.Call{Args: []string{"status"}, Dir: "/", Stdout: &out, Stderr: io.Discard}, time.Minute)
		if err == nil && !strings.HasPrefix(out.String(), "args=status") {
			err = fmt.Errorf("output %q", out.String())
		}
		result <- err
	}()
	serve(t, path, echo)
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("a call made before its supervisor listened: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a call made before its supervisor listened: no answer within 30s")
	}
}

func TestRelaySaysWhenTheSupervisorWentAway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s", "t.sock")
	ln, err := sandbox.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			_, _ = bufio.NewReader(conn).ReadString('\n') // it took the call
			_ = conn.Close()                              // and was killed before it answered
		}
	}()
	_, err = sandbox.Relay(t.Context(), path, sandbox.Call{Args: []string{"done"}, Dir: "/", Stdout: io.Discard, Stderr: io.Discard}, time.Second)
	if err == nil || !strings.Contains(err.Error(), "may or may not have been made") {
		t.Errorf("Relay to a supervisor that went away: %v", err)
	}
	_ = ln.Close()
}
