package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/plans"
)

// ValidateOptions are the options of `teamctl validate`.
type ValidateOptions struct {
	Factory *Factory
	Plan    string
}

func NewCmdValidate(f *Factory, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{Factory: f}
	return &cobra.Command{
		Use:   "validate PLAN",
		Short: "Check a plan file; every problem is printed as file:line:col",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Plan = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
}

func validateRun(_ context.Context, opts *ValidateOptions) error {
	p, err := plan.Load(opts.Factory.Path(opts.Plan))
	if err != nil {
		return err
	}
	fmt.Fprintf(printable(opts.Factory.IO.Out), "%s: team %s, %d agent(s), %d task(s): ok\n", opts.Plan, p.Team, len(p.Agents), len(p.Tasks()))
	return nil
}

// InitOptions are the options of `teamctl init`.
type InitOptions struct {
	Factory *Factory
	Path    string
}

func NewCmdInit(f *Factory, runF func(context.Context, *InitOptions) error) *cobra.Command {
	opts := &InitOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "init [PATH]",
		Short: "Write a commented starter plan (default: teamctl.yaml)",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = "teamctl.yaml"
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return initRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func initRun(_ context.Context, opts *InitOptions) error {
	f, err := os.OpenFile(opts.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return &usageError{fmt.Errorf("%s already exists: teamctl init never overwrites a plan", opts.Path)}
	}
	if err != nil {
		// The path the person named cannot hold a plan (no such directory, not writable):
		// bad input, exit 2.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &usageError{fmt.Errorf("cannot write %s: %v", opts.Path, err)}
	}
	if _, err := f.Write(plans.Starter()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(printable(opts.Factory.IO.Out), "wrote %s: edit the agents and tasks, then: teamctl validate %s && teamctl run %s\n", opts.Path, opts.Path, opts.Path)
	return nil
}
