package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
)

// HookOptions are the options of the hidden `teamctl hook pre-commit`.
type HookOptions struct {
	Factory *Factory
	Team    string
	Agent   string
}

// NewCmdHook is `teamctl hook pre-commit`: run by the pre-commit hook teamctl installs in
// each agent worktree, it refuses (exit 4) a commit that changes a path another agent has
// reserved. Hidden: people never type it.
func NewCmdHook(f *Factory, runF func(context.Context, *HookOptions) error) *cobra.Command {
	opts := &HookOptions{Factory: f}
	cmd := &cobra.Command{
		Use:    "hook",
		Short:  "Git hooks of agent worktrees",
		Hidden: true,
		Args:   noSubcommand,
		RunE:   func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pre := &cobra.Command{
		Use:   "pre-commit --team TEAM --agent NAME",
		Short: "Check the staged files against the team's reservations",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := hookFlags(cmd, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return preCommitRun(cmd.Context(), opts)
		},
	}
	pre.Flags().StringVar(&opts.Team, "team", "", "the team")
	pre.Flags().StringVar(&opts.Agent, "agent", "", "the agent whose worktree this is")

	install := &cobra.Command{
		Use:   "install [--team TEAM]",
		Short: "Install the pre-commit hook in every agent worktree of the team (run does it itself)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p := f.Peer; p != nil {
				return &usageError{fmt.Errorf("%s: refused inside agent %s of team %s (the supervisor installs the hooks)", cmd.CommandPath(), p.Agent(), p.Team())}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return hookInstallRun(cmd.Context(), opts)
		},
	}
	install.Flags().StringVar(&opts.Team, "team", "", "the team (default: $TEAMCTL_TEAM, or the repository's only team)")
	refused := &cobra.Command{
		Use:   "ref-refused --team TEAM --agent NAME REF...",
		Short: "Record the refs an agent worktree's reference-transaction hook refused to move",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, refs []string) error {
			if err := hookFlags(cmd, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return withWorkspace(cmd.Context(), opts.Factory, func(ws *orchestrator.Workspace) error {
				_, err := ws.RecordIncident(cmd.Context(), opts.Team, orchestrator.Incident{Agent: opts.Agent,
					What: "tried to move " + strings.Join(refs, ", ") + ": refused by its worktree's hook"})
				return err
			})
		},
	}
	refused.Flags().StringVar(&opts.Team, "team", "", "the team")
	refused.Flags().StringVar(&opts.Agent, "agent", "", "the agent whose worktree this is")

	cmd.AddCommand(pre, install, refused)
	return cmd
}

func hookInstallRun(ctx context.Context, opts *HookOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		done, err := ws.InstallCommitHooks(ctx, opts.Team)
		for _, wt := range done {
			fmt.Fprintln(opts.Factory.IO.Out, "installed the pre-commit hook in", wt)
		}
		return err
	})
}

func preCommitRun(ctx context.Context, opts *HookOptions) error {
	err := withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		// git runs a hook at the top of the worktree that commits: that is the dir to check.
		_, err := ws.CheckCommit(ctx, opts.Team, opts.Agent, opts.Factory.Dir, opts.Factory.Getenv("GIT_INDEX_FILE"))
		return err
	})
	if err == nil || errors.Is(err, orchestrator.ErrReserved) {
		return err
	}
	// Only a reservation refuses a commit. A check that could not run (the store busy past
	// its timeout, the team cleaned away) lets it through with a word: refusing would leave
	// the agent's work uncommitted, and the merge step checks reservations again.
	fmt.Fprintf(opts.Factory.IO.ErrOut, "teamctl hook: the commit was not checked against reservations: %v\n", err)
	return nil
}

// hookFlags checks that a hook command was given the worktree's team and agent, as the
// hooks teamctl installs give them.
func hookFlags(cmd *cobra.Command, opts *HookOptions) error {
	if opts.Team == "" || opts.Agent == "" {
		return &usageError{fmt.Errorf("%s needs --team and --agent (the hooks teamctl installs pass them)", cmd.CommandPath())}
	}
	// Relayed for a confined agent: the hook is of its own worktree, whatever it says.
	if p := opts.Factory.Peer; p != nil && (opts.Team != p.Team() || opts.Agent != p.Agent()) {
		return &usageError{fmt.Errorf("%s --team %s --agent %s: refused inside agent %s of team %s", cmd.CommandPath(), opts.Team, opts.Agent, p.Agent(), p.Team())}
	}
	return nil
}
