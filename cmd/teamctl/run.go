package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
)

// RunOptions are the options of `teamctl run`.
type RunOptions struct {
	Factory         *Factory
	Plan            string
	ExitWhenBlocked bool
}

func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "run PLAN",
		Short: "Create the team of a plan and supervise it until its work is merged",
		Long: `Create a branch and worktree for every agent of PLAN, launch the agents, nudge the ones
that leave work uncommitted, and merge finished branches into the leader branch while running
the plan's test command. Exits 0 when every task is merged or done; 3 with --exit-when-blocked
when what is left waits on a human (without it, run waits). Ctrl-C stops the team; teamctl
resume continues it.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Plan = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ExitWhenBlocked, "exit-when-blocked", false, "exit 3 instead of waiting when only work that waits on a human is left")
	return cmd
}

func runRun(ctx context.Context, opts *RunOptions) error {
	p, err := plan.Load(opts.Plan)
	if err != nil {
		return err
	}
	return orchestrator.Run(ctx, opts.Factory.Env(), p, orchestrator.RunOptions{ExitWhenBlocked: opts.ExitWhenBlocked})
}
