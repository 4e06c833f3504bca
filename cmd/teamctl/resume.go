package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
)

// ResumeOptions are the options of `teamctl resume`.
type ResumeOptions struct {
	Factory         *Factory
	Team            string
	ExitWhenBlocked bool
}

func NewCmdResume(f *Factory, runF func(context.Context, *ResumeOptions) error) *cobra.Command {
	opts := &ResumeOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "resume [TEAM]",
		Short: "Continue a stopped or crashed team where it stopped",
		Long: `Continue a team whose supervisor stopped or died: worktrees deleted by hand are made again
from their branches, a merge or test cut off half-way is undone and redone, agents still
running are adopted (watched to their end), agents that ended are handled as if they had just
ended, and agents that are gone are relaunched with TEAMCTL_REASON=resume and a prompt that
says what their worktree holds. Refused while another supervisor runs the team; a finished
team is left as it is. Exit codes as for run.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, err := teamArg(cmd, args)
			if err != nil {
				return err
			}
			opts.Team = team
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return resumeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ExitWhenBlocked, "exit-when-blocked", false, "exit 3 instead of waiting when only work that waits on a human is left")
	return cmd
}

func resumeRun(ctx context.Context, opts *ResumeOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		return ws.Resume(ctx, opts.Team, orchestrator.RunOptions{ExitWhenBlocked: opts.ExitWhenBlocked})
	})
}
