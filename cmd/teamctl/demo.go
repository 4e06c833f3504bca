package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/plans"
	"github.com/teamctl/teamctl/worktree"
)

// DemoOptions are the options of `teamctl demo`.
type DemoOptions struct {
	Factory *Factory
	Dir     string // where to make the demo repository; "" = a new temporary directory
}

func NewCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the built-in demo team on a throwaway repository",
		Long: `Make a throwaway git repository with a tiny project, run plans/demo.yaml on it with three
scripted agents (one commits cleanly, one forgets to commit, one breaks the test and fixes it
when asked), then print the review. Nothing outside the throwaway directory is touched.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return demoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "make the demo repository in `DIR` (must not exist; default: a new temporary directory)")
	return cmd
}

func demoRun(ctx context.Context, opts *DemoOptions) error {
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "teamctl-demo-")
		if err != nil {
			return err
		}
		dir = filepath.Join(tmp, "calc")
	} else if _, err := os.Stat(dir); err == nil {
		return &usageError{fmt.Errorf("--dir %s already exists: the demo makes a new repository", dir)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		// A path that cannot be made is what the person typed: bad input (exit 2).
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &usageError{fmt.Errorf("--dir %s cannot be made: %v", dir, err)}
	}
	if err := plans.WriteDemo(dir); err != nil {
		return fmt.Errorf("write demo: %w", err)
	}
	env := opts.Factory.Env()
	owner := []string{"GIT_AUTHOR_NAME=demo", "GIT_AUTHOR_EMAIL=demo@teamctl.invalid", "GIT_COMMITTER_NAME=demo", "GIT_COMMITTER_EMAIL=demo@teamctl.invalid"}
	if err := worktree.Init(ctx, env.Runner, dir, "main"); err != nil {
		return err
	}
	repo, err := worktree.Open(ctx, env.Runner, dir)
	if err != nil {
		return err
	}
	if _, err := repo.CommitAll(ctx, dir, "calc: a tiny calculator for the teamctl demo", owner); err != nil {
		return err
	}
	out := opts.Factory.IO.Out
	fmt.Fprintf(out, "demo repository: %s\nplan: %s\n\n", dir, filepath.Join(dir, "teamctl.yaml"))
	p, err := plan.Load(filepath.Join(dir, "teamctl.yaml"))
	if err != nil {
		return err
	}
	runErr := orchestrator.Run(ctx, env, p, orchestrator.RunOptions{ExitWhenBlocked: true})
	ws, err := orchestrator.Open(context.WithoutCancel(ctx), env, dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	if rv, err := ws.Review(context.WithoutCancel(ctx), p.Team); err == nil {
		fmt.Fprintln(out)
		printReview(out, rv)
	}
	fmt.Fprintf(out, "\nLook around: cd %s && teamctl status && teamctl logs bob && git log --graph --oneline teamctl/demo/lead/work\n", dir)
	return runErr
}
