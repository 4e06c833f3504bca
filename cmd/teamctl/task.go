package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// TaskOptions are the options of `teamctl task add` and `teamctl done`.
type TaskOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	Add     orchestrator.AddTaskOptions
	Summary string // done; "-" reads it from stdin
	JSON    bool
}

// taskJSON is a task as `task add --json` and `done --json` print it.
type taskJSON struct {
	ID      string   `json:"id"`
	Agent   string   `json:"agent"`
	State   string   `json:"state"`
	Prompt  string   `json:"prompt"`
	After   []string `json:"after"`
	Summary string   `json:"summary,omitempty"`
}

func toTaskJSON(t store.Task) taskJSON {
	return taskJSON{ID: t.ID, Agent: t.Agent, State: t.State, Prompt: t.Prompt, After: orEmpty(t.After), Summary: t.Summary}
}

func NewCmdTask(f *Factory, runF func(context.Context, *TaskOptions) error) *cobra.Command {
	opts := &TaskOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Delegate work: task add",
		Args:  noSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	add := &cobra.Command{
		Use:   "add --agent NAME --id ID TEXT [--after ID,...]",
		Short: "Give a dev agent a new task (the leader, or a person)",
		Args:  minArgs(1, "the task's prompt"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Add.Prompt = text(args)
			if opts.Add.Agent == "" || opts.Add.ID == "" {
				return &usageError{fmt.Errorf("task add: --agent NAME and --id ID are required")}
			}
			if cmd.Flags().Changed("after") && (len(opts.Add.After) == 0 || slices.Contains(opts.Add.After, "")) {
				return &usageError{fmt.Errorf("task add: --after names an empty task id: give the ids of tasks it comes after, or leave it out")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return taskAddRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(add.Flags(), &opts.Caller)
	add.Flags().StringVar(&opts.Add.Agent, "agent", "", "the dev agent that does it")
	add.Flags().StringVar(&opts.Add.ID, "id", "", "the task's id, unique in the team ([a-z0-9][a-z0-9-]{0,39})")
	add.Flags().StringSliceVar(&opts.Add.After, "after", nil, "tasks that must be merged (or done) first")
	add.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	cmd.AddCommand(add)
	return cmd
}

func taskAddRun(ctx context.Context, opts *TaskOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		t, err := p.AddTask(ctx, opts.Add)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, toTaskJSON(t))
		}
		fmt.Fprintf(opts.Factory.IO.Out, "added task %s for %s\n", t.ID, t.Agent)
		return nil
	})
}

func NewCmdDone(f *Factory, runF func(context.Context, *TaskOptions) error) *cobra.Command {
	opts := &TaskOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "done [--summary TEXT|-]",
		Short: "Say your task is complete, with your report (then commit and exit 0)",
		Long: `Record your own word that your current task is complete, with a worker report under four
headings: Summary, Files Changed, Validation, Notes. teamctl review shows it under the task.
--summary - reads the report from standard input. Commit your work and exit 0 afterwards.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return doneRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().StringVar(&opts.Summary, "summary", "", "the report; - reads it from stdin")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func doneRun(ctx context.Context, opts *TaskOptions) error {
	summary := opts.Summary
	if summary == "-" {
		b, err := io.ReadAll(opts.Factory.IO.In)
		if err != nil {
			return fmt.Errorf("read the summary from stdin: %w", err)
		}
		summary = string(b)
	}
	summary = strings.TrimSpace(summary)
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		t, err := p.ReportDone(ctx, summary)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, toTaskJSON(t))
		}
		fmt.Fprintf(opts.Factory.IO.Out, "task %s reported done; commit your work and exit 0\n", t.ID)
		return nil
	})
}
