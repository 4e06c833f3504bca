package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/sandbox"
	"github.com/teamctl/teamctl/worktree"
)

// Exit codes (DESIGN.md §7).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitWaiting     = 3
	exitReservation = 4
	exitNoTeam      = 5
	exitStopped     = 6 // stopped before it finished (stop, Ctrl-C): resume continues it
)

// IOStreams is where commands read and write, so tests can capture it.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Factory is what every command gets: the streams, the logger, and how to reach the
// orchestrator.
type Factory struct {
	IO  IOStreams
	Log *log.Logger
	Dir string // -C: where to look for the repository
	// Peer is the confined agent a relayed command runs for (relay.go); nil in a process
	// of its own.
	Peer *agentproc.Launcher
	// callerDir and callerEnv are a relayed command's caller's working directory and the
	// part of its environment it sent (sandbox.RelayedEnv).
	callerDir string
	callerEnv map[string]string
}

// Getenv is the caller's environment variable key: a relayed command's caller's, not this
// process's.
func (f *Factory) Getenv(key string) string {
	if f.Peer != nil {
		return f.callerEnv[key]
	}
	return os.Getenv(key)
}

// Path is the file p names as its caller meant it: relative to a relayed command's
// caller's working directory, not this process's.
func (f *Factory) Path(p string) string {
	if f.callerDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.callerDir, p)
}

// Env is the orchestrator's environment for this process.
func (f *Factory) Env() orchestrator.Env {
	bin, _ := os.Executable()
	return orchestrator.Env{Runner: worktree.ExecRunner{}, Tmux: agentproc.ExecTmux{}, Log: f.Log, Out: printable(f.IO.Out),
		BinDir: filepath.Dir(bin), Bin: bin, Relay: f.serveAgent, Peer: f.Peer}
}

// Workspace opens the repository of -C (default: the current directory) and its store.
func (f *Factory) Workspace(ctx context.Context) (*orchestrator.Workspace, error) {
	return orchestrator.Open(ctx, f.Env(), f.Dir)
}

// Main runs teamctl with the process's arguments and returns its exit code.
func Main() int {
	// An agent's launch comes through here to be confined (it does not return then): it is
	// taken before anything else, so the launch pays for no more than it needs.
	if len(os.Args) > 1 && os.Args[1] == sandbox.Command {
		return sandbox.Main(os.Args[2:])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if sock, ok := relaySocket(); ok {
		return relayed(ctx, sock)
	}
	f := &Factory{IO: IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, Dir: "."}
	f.Log = log.NewWithOptions(os.Stderr, log.Options{ReportTimestamp: true, TimeFormat: "15:04:05"})
	root := NewCmdRoot(f)
	root.SetArgs(os.Args[1:])
	err := root.ExecuteContext(ctx)
	if err != nil {
		// Escaped like normal output: an argument echoed back may hold terminal controls.
		fmt.Fprintln(printable(f.IO.ErrOut), "teamctl:", clip(err.Error()))
	}
	return exitCode(err)
}

// exitCode maps an error to the documented exit code: the one place that does.
func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage), errors.Is(err, plan.ErrInvalid), errors.Is(err, orchestrator.ErrUsage):
		return exitUsage
	case errors.Is(err, orchestrator.ErrWaiting):
		return exitWaiting
	case errors.Is(err, orchestrator.ErrNoTeam):
		return exitNoTeam
	case errors.Is(err, orchestrator.ErrReserved):
		return exitReservation
	case errors.Is(err, orchestrator.ErrStopped):
		return exitStopped
	default:
		return exitError
	}
}

// usageError is a command line cobra or a command refused.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// NewCmdRoot builds the teamctl command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "teamctl",
		Short: "Run a team of coding agents on one git repository",
		Long: `teamctl runs a team of coding agents on one git repository: every agent gets its own
branch and worktree; finished branches are merged into the leader's worktree while the
project's tests run, and a person reviews and accepts the result.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Without this cobra reports an unknown command as a plain error (exit 1); it is bad usage.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return &usageError{fmt.Errorf("unknown command %q for teamctl (teamctl --help lists them)", args[0])}
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.PersistentFlags().StringVarP(&f.Dir, "dir", "C", f.Path("."), "run as if teamctl was started in `DIR`")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{flagError(err)} })
	// --team '', --as '' and -C '' are bad input, not "the default": a person who typed them
	// meant something, and acting as the person or on the only team would be a guess.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		var empty []string
		cmd.Flags().Visit(func(fl *pflag.Flag) {
			if (fl.Name == "team" || fl.Name == "as" || fl.Name == "dir") && strings.TrimSpace(fl.Value.String()) == "" {
				empty = append(empty, "--"+fl.Name)
			}
		})
		if len(empty) > 0 {
			return &usageError{fmt.Errorf("%s: %s is empty: give a value, or leave it out", cmd.CommandPath(), strings.Join(empty, ", "))}
		}
		f.Dir = f.Path(f.Dir)
		return nil
	}
	root.AddCommand(
		NewCmdRun(f, nil),
		NewCmdResume(f, nil),
		NewCmdApply(f, nil),
		NewCmdStatus(f, nil),
		NewCmdWatch(f, nil),
		NewCmdServe(f, nil),
		NewCmdReview(f, nil),
		NewCmdAccept(f, nil),
		NewCmdStop(f, nil),
		NewCmdClean(f, nil),
		NewCmdLogs(f, nil),
		NewCmdAttach(f, nil),
		NewCmdValidate(f, nil),
		NewCmdInit(f, nil),
		NewCmdDemo(f, nil),
		NewCmdMsg(f, nil),
		NewCmdAgents(f, nil),
		NewCmdWhoami(f, nil),
		NewCmdSpawn(f, nil),
		NewCmdReserve(f, nil),
		NewCmdRelease(f, nil),
		NewCmdReservations(f, nil),
		NewCmdIntent(f, nil),
		NewCmdBlocker(f, nil),
		NewCmdBlockers(f, nil),
		NewCmdAnswer(f, nil),
		NewCmdEscalate(f, nil),
		NewCmdTask(f, nil),
		NewCmdDone(f, nil),
		NewCmdHook(f, nil),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(cmd, args); err != nil {
			return &usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// clip shortens an error message that echoes a huge argument (100 KB of it is no help on a
// terminal): its start and end are kept, and how much was left out is said.
func clip(msg string) string {
	const head, tail = 3000, 500
	if len(msg) <= head+tail+100 {
		return msg
	}
	h, t := strings.ToValidUTF8(msg[:head], ""), strings.ToValidUTF8(msg[len(msg)-tail:], "")
	return fmt.Sprintf("%s … (%d bytes left out) … %s", h, len(msg)-len(h)-len(t), t)
}

// strconvError is the tail pflag leaves of a number it could not parse.
var strconvError = regexp.MustCompile(`: strconv\.Parse\w+: parsing "[^"]*": (invalid syntax|value out of range)$`)

// flagError words a flag's bad value for a person: "want a number", not strconv's text.
func flagError(err error) error {
	m := strconvError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	want := "want a number"
	if m[1] == "value out of range" {
		want = "the number is too large"
	}
	return errors.New(strings.TrimSuffix(err.Error(), m[0]) + ": " + want)
}
