package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
)

// addCallerFlags adds the flags every coordination command shares: who runs it, for which team.
func addCallerFlags(flags interface {
	StringVar(p *string, name, value, usage string)
}, c *orchestrator.Caller) {
	flags.StringVar(&c.Team, "team", "", "the team (default: $TEAMCTL_TEAM, or the repository's only team)")
	flags.StringVar(&c.As, "as", "", "act as this participant (default: $TEAMCTL_AGENT, else human)")
}

// caller is c with the directory relative paths resolve against: -C, else the current one.
func caller(f *Factory, c orchestrator.Caller) orchestrator.Caller {
	c.Dir = f.Dir
	return c
}

// withWorkspace opens the workspace for one command and closes it after fn.
func withWorkspace(ctx context.Context, f *Factory, fn func(*orchestrator.Workspace) error) error {
	ws, err := f.Workspace(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	return fn(ws)
}

// minArgs is cobra.MinimumNArgs with a usage error (exit 2).
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &usageError{fmt.Errorf("%s: missing %s (see %s --help)", cmd.CommandPath(), what, cmd.CommandPath())}
		}
		return nil
	}
}

// text joins the words of a text given as several arguments.
func text(args []string) string { return strings.Join(args, " ") }

// clock is how coordination output shows a time: local, to the second.
func clock(t time.Time) string { return t.Local().Format("15:04:05") }

// orEmpty makes a nil slice an empty one, so --json prints [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printLines writes each line, or none when there is none.
func printLines(out io.Writer, none string, lines []string) {
	if len(lines) == 0 {
		fmt.Fprintln(out, none)
		return
	}
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
}
