package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
)

// WhoOptions are the options of `teamctl agents` and `teamctl whoami`.
type WhoOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	JSON    bool
}

// NewCmdAgents is `teamctl agents`: every participant of the team, as the agents see each other.
func NewCmdAgents(f *Factory, runF func(context.Context, *WhoOptions) error) *cobra.Command {
	opts := &WhoOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "List the team's agents: role, state, task, intent, reservations, last seen",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return agentsRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func agentsRun(ctx context.Context, opts *WhoOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		peers, err := p.Peers(ctx)
		if err != nil {
			return err
		}
		out := printable(opts.Factory.IO.Out)
		if opts.JSON {
			return writeJSON(out, orEmpty(peers))
		}
		now := time.Now()
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tTASK\tSEEN\tRESERVED\tINTENT")
		for _, pr := range peers {
			name := pr.Name
			if name == p.Name() {
				name += " (you)"
			}
			role := pr.Role
			if pr.Spawner != "" {
				role = "worker of " + pr.Spawner
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, role, dash(pr.State), dash(pr.Task), ago(now, pr.LastSeen),
				dash(strings.Join(pr.Reservations, " ")), dash(shorten.Line(pr.Intent, 60)))
		}
		return tw.Flush()
	})
}

// ago is how long before now t was, as "12s ago"; "-" for never.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return since(now, t) + " ago"
}

// NewCmdWhoami is `teamctl whoami`: the caller's identity in its team.
func NewCmdWhoami(f *Factory, runF func(context.Context, *WhoOptions) error) *cobra.Command {
	opts := &WhoOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Print who you are in the team: task, branch, worktree, active peers, reservations, unread messages",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return whoamiRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func whoamiRun(ctx context.Context, opts *WhoOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		id, err := p.Whoami(ctx)
		if err != nil {
			return err
		}
		out := printable(opts.Factory.IO.Out)
		if opts.JSON {
			return writeJSON(out, id)
		}
		fmt.Fprintf(out, "you are %s (%s) of team %s\n", id.Name, id.Role, id.Team)
		if id.Task != "" {
			fmt.Fprintf(out, "task      %s: %s\n", id.Task, shorten.Line(id.Prompt, 100))
		}
		if id.Branch != "" {
			if id.Spawner != "" {
				fmt.Fprintf(out, "branch    %s (merged into %s, %s's, which is merged on)\n", id.Branch, id.Into, id.Spawner)
			} else {
				fmt.Fprintf(out, "branch    %s (merged into %s, then %s)\n", id.Branch, id.Into, id.Base)
			}
			fmt.Fprintf(out, "worktree  %s\n", id.Worktree)
		}
		fmt.Fprintf(out, "peers     %s\n", dash(strings.Join(id.Peers, ", ")))
		var held []string
		for _, r := range id.Reservations {
			held = append(held, r.Path)
		}
		fmt.Fprintf(out, "reserved  %s\n", dash(strings.Join(held, " ")))
		fmt.Fprintf(out, "unread    %d message(s)", len(id.Unread))
		if len(id.Unread) > 0 {
			fmt.Fprint(out, " (teamctl msg inbox reads them)")
		}
		fmt.Fprintln(out)
		return nil
	})
}
