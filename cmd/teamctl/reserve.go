package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// ReserveOptions are the options of `teamctl reserve`, `release` and `reservations`.
type ReserveOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	Paths   []string
	Reason  string
	JSON    bool
}

func NewCmdReserve(f *Factory, runF func(context.Context, *ReserveOptions) error) *cobra.Command {
	opts := &ReserveOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "reserve PATH... [--reason TEXT]",
		Short: "Reserve files (dir/ for everything under it) so no other agent changes them",
		Long: `Reserve paths for yourself: "dir/" reserves everything under dir, any other path exactly
that file. Paths are relative to the current directory inside a worktree (the repository root
at the top). A path another agent holds, or one that covers or is covered by one it holds,
is refused (exit 4) naming the holder, and nothing is reserved. A reservation lasts until you
release it, your task ends, or your process is gone.`,
		Args: minArgs(1, "the paths to reserve"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reserveRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why: shown to whoever is refused")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func reserveRun(ctx context.Context, opts *ReserveOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		rs, err := p.Reserve(ctx, opts.Paths, opts.Reason)
		if err != nil {
			return err
		}
		return printReservations(opts, rs, "reserved", "")
	})
}

func NewCmdRelease(f *Factory, runF func(context.Context, *ReserveOptions) error) *cobra.Command {
	opts := &ReserveOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "release [PATH...]",
		Short: "Release your reservations of PATHs (as reserved), or all of them",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return releaseRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func releaseRun(ctx context.Context, opts *ReserveOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		rs, err := p.Release(ctx, opts.Paths)
		if err != nil {
			return err
		}
		return printReservations(opts, rs, "released", "nothing to release")
	})
}

func printReservations(opts *ReserveOptions, rs []store.Reservation, verb, none string) error {
	if opts.JSON {
		return writeJSON(opts.Factory.IO.Out, orEmpty(rs))
	}
	lines := make([]string, len(rs))
	for i, r := range rs {
		lines[i] = fmt.Sprintf("%s %s (token %d)", verb, r.Path, r.Token)
	}
	printLines(printable(opts.Factory.IO.Out), none, lines)
	return nil
}

func NewCmdReservations(f *Factory, runF func(context.Context, *ReserveOptions) error) *cobra.Command {
	opts := &ReserveOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "reservations",
		Short: "List the team's live reservations",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reservationsRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func reservationsRun(ctx context.Context, opts *ReserveOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		rs, err := ws.Reservations(ctx, caller(opts.Factory, opts.Caller))
		if err != nil {
			return err
		}
		out := printable(opts.Factory.IO.Out)
		if opts.JSON {
			return writeJSON(out, orEmpty(rs))
		}
		if len(rs) == 0 {
			fmt.Fprintln(out, "no reservations")
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tAGENT\tTASK\tTOKEN\tSINCE\tREASON")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Path, r.Agent, dash(r.Task), r.Token, clock(r.Granted), dash(r.Reason))
		}
		return tw.Flush()
	})
}
