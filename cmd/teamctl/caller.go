package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
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

// withParticipant opens the workspace for one coordination command and resolves its
// caller (c, with relative paths against -C) as a participant of its team.
func withParticipant(ctx context.Context, f *Factory, c orchestrator.Caller, fn func(*orchestrator.Participant) error) error {
	return withWorkspace(ctx, f, func(ws *orchestrator.Workspace) error {
		p, err := ws.Participant(ctx, caller(f, c))
		if err != nil {
			return err
		}
		return fn(p)
	})
}

// withTeam is withWorkspace for a command about one team: fn gets the team named (or, with
// no name, $TEAMCTL_TEAM's or the repository's only one).
func withTeam(ctx context.Context, f *Factory, name string, fn func(*orchestrator.Workspace, store.Team) error) error {
	return withWorkspace(ctx, f, func(ws *orchestrator.Workspace) error {
		team, err := ws.ResolveTeam(ctx, name)
		if err != nil {
			return err
		}
		return fn(ws, team)
	})
}

// withAgent is withTeam for a command about one of the team's agents: a team without that
// agent is no team for the command (exit 5), rather than an empty log or session.
// With several teams and none named, the team is the only one that has the agent.
func withAgent(ctx context.Context, f *Factory, teamName, agent string, fn func(*orchestrator.Workspace, store.Team) error) error {
	return withWorkspace(ctx, f, func(ws *orchestrator.Workspace) error {
		team, err := ws.ResolveTeamOf(ctx, teamName, 0, agent)
		if err != nil {
			return err
		}
		if _, err := ws.Agent(ctx, team.Name, agent); err != nil {
			return err
		}
		return fn(ws, team)
	})
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

// noSubcommand is the Args of a command that only groups others: an argument is a
// subcommand it does not have, which is bad usage (exit 2), as at the root.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("unknown command %q for %s (%s --help lists them)", args[0], cmd.CommandPath(), cmd.CommandPath())}
	}
	return nil
}
