package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// AttachOptions are the options of `teamctl attach`.
type AttachOptions struct {
	Factory *Factory
	Team    string
	Agent   string
}

func NewCmdAttach(f *Factory, runF func(context.Context, *AttachOptions) error) *cobra.Command {
	opts := &AttachOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "attach AGENT",
		Short: "Join an agent's tmux session (mode: tmux); detach with Ctrl-b d",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return &usageError{fmt.Errorf("%s: the agent name is empty", cmd.CommandPath())}
			}
			opts.Agent = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return attachRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Team, "team", "", "the team (default: $TEAMCTL_TEAM, or the repository's only team)")
	return cmd
}

func attachRun(ctx context.Context, opts *AttachOptions) error {
	return withAgent(ctx, opts.Factory, opts.Team, opts.Agent, func(ws *orchestrator.Workspace, team store.Team) error {
		tm := ws.Tmux(team.Name)
		session := agentproc.SessionName(team.Name, opts.Agent)
		if _, err := tm.State(ctx, session); errors.Is(err, agentproc.ErrNoSession) {
			return fmt.Errorf("%w: agent %s has no tmux session: it runs headless (set mode: tmux in the plan) or is not running; teamctl logs %s shows its output",
				orchestrator.ErrUsage, opts.Agent, opts.Agent)
		} else if err != nil {
			return err
		}
		argv := tm.AttachArgv(session)
		bin, err := exec.LookPath(argv[0])
		if err != nil {
			return fmt.Errorf("attach: %w", err)
		}
		// Replace this process: the terminal belongs to tmux until the user detaches (the
		// store is not closed first, as before: exec leaves no deferred call to run).
		return syscall.Exec(bin, argv, agentproc.AttachEnv(os.Environ()))
	})
}
