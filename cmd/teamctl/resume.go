package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
)

// ResumeOptions are the options of `teamctl resume`.
type ResumeOptions struct {
	Factory         *Factory
	Team            string
	ExitWhenBlocked bool
	Rebuild         string // a plan: rebuild the team's lost records from git and it
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
team is left as it is. Exit codes as for run.

--rebuild PLAN is for a team whose records are gone (its store was damaged and moved aside,
or deleted) while its branches remain: the team is recorded again from the plan and from git
— a task whose merge commit is on the leader branch (its Teamctl-Task trailer) is merged, an
agent with unmerged commits goes on with its task, the rest start afresh — then resumed.
Its messages, blockers and journal are not in git and are not brought back.`,
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
	cmd.Flags().StringVar(&opts.Rebuild, "rebuild", "", "rebuild the team's lost records from its branches and this `PLAN`, then resume it")
	return cmd
}

func resumeRun(ctx context.Context, opts *ResumeOptions) error {
	if opts.Rebuild != "" {
		p, err := plan.Load(opts.Rebuild)
		if err != nil {
			return err
		}
		if opts.Team != "" && opts.Team != p.Team {
			return orchestrator.Errorf(orchestrator.ErrUsage, "team %q is not the plan's: %s runs team %q", opts.Team, opts.Rebuild, p.Team)
		}
		ws, err := orchestrator.OpenChecked(ctx, opts.Factory.Env(), p.Repo)
		if err != nil {
			return err
		}
		defer ws.Close()
		return ws.Rebuild(ctx, p, orchestrator.RunOptions{ExitWhenBlocked: opts.ExitWhenBlocked})
	}
	ws, err := orchestrator.OpenChecked(ctx, opts.Factory.Env(), opts.Factory.Dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	return ws.Resume(ctx, opts.Team, orchestrator.RunOptions{ExitWhenBlocked: opts.ExitWhenBlocked})
}
