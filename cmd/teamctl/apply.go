package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
)

// ApplyOptions are the options of `teamctl apply`.
type ApplyOptions struct {
	Factory *Factory
	Plan    string
	DryRun  bool
	Force   bool
	JSON    bool
}

func NewCmdApply(f *Factory, runF func(context.Context, *ApplyOptions) error) *cobra.Command {
	opts := &ApplyOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "apply PLAN",
		Short: "Apply an edited plan to its live or stopped team: new agents and tasks, new settings, removed tasks cancelled",
		Long: `Apply PLAN, edited, to the team it names (running or stopped). New agents and tasks are
created; changed settings (budgets, timeouts, nudge, env, test, merge, limits) take effect at
the next launch or merge; a task removed from the plan is cancelled if it has not started
(one that has, only with --force: its agent is stopped, its work stays on its branch). The
plan is checked as run checks it; what changes is printed first, and on any error nothing
changes. A stopped team takes the plan up when it is resumed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Plan = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return applyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would change and change nothing")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "also cancel removed tasks that have started (their agents are stopped; their work stays on their branches)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what changes as one JSON document")
	return cmd
}

func applyRun(ctx context.Context, opts *ApplyOptions) error {
	p, err := plan.Load(opts.Plan)
	if err != nil {
		return err
	}
	res, err := orchestrator.Apply(ctx, opts.Factory.Env(), p, orchestrator.ApplyOptions{DryRun: opts.DryRun, Force: opts.Force})
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.Factory.IO.Out, res)
	}
	out := printable(opts.Factory.IO.Out)
	if len(res.Changes) == 0 {
		fmt.Fprintf(out, "team %s: %s changes nothing\n", res.Team, opts.Plan)
		return nil
	}
	verb := "applied to"
	if res.DryRun {
		verb = "would change (dry run)"
	}
	fmt.Fprintf(out, "%s %s team %s:\n", opts.Plan, verb, res.Team)
	for _, c := range res.Changes {
		fmt.Fprintf(out, "  %s\n", c)
	}
	switch {
	case res.DryRun:
	case res.Supervised:
		fmt.Fprintf(out, "its supervisor takes it up now\n")
	default:
		fmt.Fprintf(out, "the team has no supervisor: teamctl resume %s carries it out\n", res.Team)
	}
	return nil
}
