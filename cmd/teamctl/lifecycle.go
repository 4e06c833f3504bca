package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
)

// TeamOptions are the options of the commands that act on one team (accept, stop, clean).
type TeamOptions struct {
	Factory *Factory
	Team    string
	Force   bool
}

func teamCommand(f *Factory, use, short, long string, run func(context.Context, *TeamOptions) error) (*cobra.Command, *TeamOptions) {
	opts := &TeamOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, err := teamArg(cmd, args)
			if err != nil {
				return err
			}
			opts.Team = team
			return run(cmd.Context(), opts)
		},
	}
	return cmd, opts
}

// teamArg is the optional TEAM argument of cmd: "" when left out. An empty one is refused:
// ” is not "the default team", an empty name is a mistake, not a choice.
func teamArg(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 0 {
		return "", nil
	}
	if strings.TrimSpace(args[0]) == "" {
		return "", &usageError{fmt.Errorf("%s: the team name is empty: name a team, or leave it out for $TEAMCTL_TEAM's or the repository's only one", cmd.CommandPath())}
	}
	return args[0], nil
}

func orDefault(runF, def func(context.Context, *TeamOptions) error) func(context.Context, *TeamOptions) error {
	if runF != nil {
		return runF
	}
	return def
}

func NewCmdAccept(f *Factory, runF func(context.Context, *TeamOptions) error) *cobra.Command {
	cmd, _ := teamCommand(f, "accept [TEAM]", "Fast-forward the base branch to the team's tested leader branch",
		`Fast-forward the team's base branch to its leader branch, only if the leader branch's tip
passed the tests and base has not moved away. Where base is checked out (usually your main
worktree) that worktree is updated too, and accept refuses if that would touch uncommitted work.`,
		orDefault(runF, acceptRun))
	return cmd
}

func acceptRun(ctx context.Context, opts *TeamOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		st, err := ws.Status(ctx, opts.Team)
		if err != nil {
			return err
		}
		tip, err := ws.Accept(ctx, st.Team)
		if err != nil {
			return err
		}
		out := printable(opts.Factory.IO.Out)
		fmt.Fprintf(out, "%s is now at %s (%s)\n", st.Base, shorten.Hash(tip), st.LeaderBranch)
		// What base did not get: every task not merged (teamctl review says why).
		var left []string
		for _, t := range st.Tasks {
			if t.State != orchestrator.Merged && t.State != orchestrator.Done {
				left = append(left, fmt.Sprintf("  %s (%s): %s", t.ID, t.Agent, t.State))
			}
		}
		if len(left) > 0 {
			fmt.Fprintf(out, "left out, %d task(s) not merged (teamctl review %s says why):\n%s\n", len(left), st.Team, strings.Join(left, "\n"))
		}
		return nil
	})
}

func NewCmdStop(f *Factory, runF func(context.Context, *TeamOptions) error) *cobra.Command {
	cmd, _ := teamCommand(f, "stop [TEAM]", "Stop a team's supervisor and agents gracefully",
		`Stop the team: its supervisor stops every agent (SIGTERM to the agent's process group, then
SIGKILL after a grace period) and records the team as stopped. teamctl resume continues it.`,
		orDefault(runF, stopRun))
	return cmd
}

func stopRun(ctx context.Context, opts *TeamOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		st, err := ws.Status(ctx, opts.Team)
		if err != nil {
			return err
		}
		if err := ws.Stop(ctx, st.Team); err != nil {
			return err
		}
		fmt.Fprintf(opts.Factory.IO.Out, "team %s stopped\n", st.Team)
		return nil
	})
}

func NewCmdClean(f *Factory, runF func(context.Context, *TeamOptions) error) *cobra.Command {
	var opts *TeamOptions
	cmd, opts := teamCommand(f, "clean [TEAM]", "Remove a team's worktrees, branches, logs and records",
		`Remove a stopped or finished team's worktrees, branches, logs and records. What was accepted
onto base stays. Refuses while the team runs, and while a worktree holds uncommitted work
(unless --force). Prints each deleted branch's tip so it can be restored (git branch NAME TIP);
with --force, the uncommitted work of each worktree is first saved as a commit, printed too.`,
		func(ctx context.Context, o *TeamOptions) error { return orDefault(runF, cleanRun)(ctx, o) })
	cmd.Flags().BoolVar(&opts.Force, "force", false, "remove worktrees even if they hold uncommitted work (saved as a commit first, printed)")
	return cmd
}

func cleanRun(ctx context.Context, opts *TeamOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		st, err := ws.Status(ctx, opts.Team)
		if err != nil {
			return err
		}
		done, err := ws.Clean(ctx, st.Team, orchestrator.CleanOptions{Force: opts.Force})
		out := opts.Factory.IO.Out
		for _, w := range done.Worktrees {
			fmt.Fprintf(out, "removed worktree %s\n", w)
		}
		names := make([]string, 0, len(done.Branches))
		for b := range done.Branches {
			names = append(names, b)
		}
		sort.Strings(names)
		for _, b := range names {
			fmt.Fprintf(out, "deleted branch %s (was %s)\n", b, shorten.Hash(done.Branches[b]))
		}
		saved := make([]string, 0, len(done.Saved))
		for wt := range done.Saved {
			saved = append(saved, wt)
		}
		sort.Strings(saved)
		for _, wt := range saved {
			fmt.Fprintf(out, "saved the uncommitted work of %s as commit %s (restore: git branch NAME %s)\n", wt, shorten.Hash(done.Saved[wt]), done.Saved[wt])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "team %s cleaned\n", st.Team)
		return nil
	})
}
