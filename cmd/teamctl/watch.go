package main

import (
	"context"
	"os"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/dashboard"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// WatchOptions are the options of `teamctl watch`.
type WatchOptions struct {
	Factory *Factory
	Team    string
}

func NewCmdWatch(f *Factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "watch [TEAM]",
		Short: "Watch a team live: agents, merge queue, blockers, messages; open any agent's conversation",
		Long: `watch is a full-screen dashboard of a team, refreshed as its journal grows: its agents
(state, time in state, commits ahead, uncommitted files, cost, last line of output), the
merge queue, blockers waiting on you (always on top), the message feed and conflicts coming.
Enter opens the selected agent's conversation and follows it; a answers a blocker, m messages
the agent, n nudges it, r shows the review, q quits. It needs a terminal: scripts use
teamctl status --json.`,
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
			return watchRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func watchRun(ctx context.Context, opts *WatchOptions) error {
	streams := opts.Factory.IO
	if !isTerminal(streams.In) || !isTerminal(streams.Out) {
		return orchestrator.Errorf(orchestrator.ErrUsage, "teamctl watch needs a terminal; for scripts and pipes use teamctl status --json")
	}
	return withTeam(ctx, opts.Factory, opts.Team, func(ws *orchestrator.Workspace, team store.Team) error {
		live, err := dashboard.NewLive(ctx, ws, opts.Factory.Env().Runner, team.Name, dashboard.WorkspaceHooks(ws))
		if err != nil {
			return err
		}
		return dashboard.Run(ctx, dashboard.Options{Source: live, Actions: live}, streams.In, streams.Out)
	})
}

func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}
