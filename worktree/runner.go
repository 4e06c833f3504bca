package worktree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/teamctl/teamctl/internal/gitenv"
)

// Runner runs one external command to completion. It is the single seam for external
// processes: git here, the test command in merge. env is added to the current environment.
type Runner interface {
	Run(ctx context.Context, dir string, env []string, argv ...string) (stdout []byte, err error)
}

// ExitError is a command that ran and failed: non-zero exit, or killed (ExitCode -1).
type ExitError struct {
	Argv     []string
	Dir      string
	ExitCode int
	Stderr   string
	// Err is os/exec's own error (an *exec.ExitError, as a rule), for a caller that words the end of a
	// command as os/exec does ("exit status 3", "signal: killed").
	Err error
}

func (e *ExitError) Unwrap() error { return e.Err }

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no output on stderr"
	}
	cmd := strings.Join(e.Argv, " ")
	if len(cmd) > 120 {
		cmd = cmd[:117] + "..."
	}
	if e.ExitCode == -1 {
		return fmt.Sprintf("%s (in %s): killed: %s", cmd, e.Dir, msg)
	}
	return fmt.Sprintf("%s (in %s): exit %d: %s", cmd, e.Dir, e.ExitCode, msg)
}

// killGrace is how long a command whose context ended gets between SIGTERM to its process
// group and SIGKILL.
const killGrace = 2 * time.Second

// ExecRunner runs commands with os/exec, each in its own process group; when ctx ends the
// whole group is killed, so a test command's children die with it. Each command's
// environment names the process that ran it (RunnerEnv).
type ExecRunner struct{}

// RunnerEnv is set, in the environment of every command an ExecRunner starts, to the pid of
// the process that started it. A resumed supervisor finds by it the git commands and test
// runs its killed predecessor left running, which would go on moving the leader branch and
// changing the leader worktree under it.
const RunnerEnv = "TEAMCTL_RUNNER_PID"

// Environ is the current environment without the git variables that would point git at the
// repository that started teamctl (gitenv.Scrub), then env.
func Environ(env []string) []string {
	return append(gitenv.Scrub(os.Environ()), env...)
}

func (ExecRunner) Run(ctx context.Context, dir string, env []string, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run: empty argv")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(Environ(env), RunnerEnv+"="+strconv.Itoa(os.Getpid()))
	// Our own pipes, not exec's: with an io.Writer exec copies in goroutines and Wait blocks
	// until every holder of the pipe exits, so a server a test script left in the background
	// held Run up (then failed it on WaitDelay) and lived on. With *os.File ends Wait returns
	// when the command exits; what is left of its process group is killed after.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", argv[0], err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("run %s: %w", argv[0], err)
	}
	var stdout, stderr bytes.Buffer
	var copying sync.WaitGroup
	for _, c := range []struct {
		dst *bytes.Buffer
		src *os.File
	}{{&stdout, outR}, {&stderr, errR}} {
		copying.Add(1)
		go func() {
			defer copying.Done()
			_, _ = io.Copy(c.dst, c.src)
			c.src.Close()
		}()
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The default Cancel kills only the direct child; a test command's grandchildren
	// (a test binary under `go test`, a server under a script) would live on holding the
	// output pipes open. Signal the whole group, then SIGKILL it after a grace period.
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		go func() {
			time.Sleep(killGrace)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}()
		return nil
	}
	cmd.WaitDelay = killGrace + time.Second
	err = cmd.Start()
	outW.Close() // the child has its copies; ours would keep the readers from seeing EOF
	errW.Close()
	if err == nil {
		err = cmd.Wait()
		// The group outlives its leader only through leftovers; while one lives, the
		// group id cannot be reused, so this reaches only them.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	copying.Wait()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.Bytes(), &ExitError{Argv: argv, Dir: dir, ExitCode: ee.ExitCode(), Stderr: stderr.String(), Err: ee}
	}
	if ctx.Err() != nil {
		return stdout.Bytes(), &ExitError{Argv: argv, Dir: dir, ExitCode: -1, Stderr: stderr.String() + ctx.Err().Error(), Err: err}
	}
	return stdout.Bytes(), fmt.Errorf("run %s: %w", argv[0], err)
}

// exitCode is the exit code of a failed command, or 0 when err is not an *ExitError.
func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode
	}
	return 0
}
