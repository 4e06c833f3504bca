package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
)

// SpawnOptions are the options of `teamctl spawn`.
type SpawnOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	Tasks   []string
	Preset  string
	Command string
	Wait    bool
	JSON    bool
	// Poll is how often --wait looks at the workers (tests shorten it).
	Poll time.Duration
}

// NewCmdSpawn is `teamctl spawn`: the calling agent starts workers of its own.
func NewCmdSpawn(f *Factory, runF func(context.Context, *SpawnOptions) error) *cobra.Command {
	opts := &SpawnOptions{Factory: f, Poll: 500 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "spawn --task TEXT [--task TEXT]... [--preset P | --command ARGV] [--wait]",
		Short: "Start workers of your own: one agent per task, merged back into your branch",
		Long: `Run by an agent: starts one worker per --task, each a new agent of the team (<you>-sub-N)
on a branch made from yours, running --preset P, --command ARGV (split at spaces), or what
you run. Their branches are merged into yours through the merge queue with the plan's test,
at most min(tasks, spawn.concurrency) of them running at once; each one's report reaches you
as a message. --wait waits until all have ended, prints their reports, and exits 0 when all
were merged (1 otherwise, saying which were not).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Preset != "" && opts.Command != "" {
				return &usageError{fmt.Errorf("spawn: --preset and --command go one or the other")}
			}
			for _, name := range []string{"command", "preset"} {
				if cmd.Flags().Changed(name) && strings.TrimSpace(cmd.Flag(name).Value.String()) == "" {
					return &usageError{fmt.Errorf("spawn: --%s is empty: name the workers' program, or leave it out to give them yours", name)}
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return spawnRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().StringArrayVar(&opts.Tasks, "task", nil, "what one worker should do (repeat for more workers)")
	cmd.Flags().StringVar(&opts.Preset, "preset", "", "the workers' agent CLI preset (default: yours)")
	cmd.Flags().StringVar(&opts.Command, "command", "", "the workers' program and arguments, split at spaces (default: yours)")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "wait until every worker has ended; print their reports")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func spawnRun(ctx context.Context, opts *SpawnOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		if opts.Wait && p.IsLeader() {
			return orchestrator.Errorf(orchestrator.ErrUsage, "spawn --wait: the leader's workers merge into the leader branch, whose worktree is yours: they merge once your turn ends, so waiting here would wait forever; spawn without --wait, their reports come as messages")
		}
		s, err := p.Spawn(ctx, orchestrator.SpawnOptions{Tasks: opts.Tasks, Preset: opts.Preset, Command: strings.Fields(opts.Command)})
		if err != nil {
			return err
		}
		out := printable(opts.Factory.IO.Out)
		if !opts.Wait {
			if opts.JSON {
				return writeJSON(out, s)
			}
			for _, w := range s.Workers {
				fmt.Fprintf(out, "spawned %s (task %s) on %s\n", w.Agent, w.Task, w.Branch)
			}
			fmt.Fprintf(out, "they merge into %s; each one's report comes as a message (teamctl msg inbox)\n", s.Into)
			return nil
		}
		if s, err = p.Workspace().WaitSpawn(ctx, s, opts.Poll); err != nil {
			return err
		}
		if opts.JSON {
			if err := writeJSON(out, s); err != nil {
				return err
			}
		} else {
			for _, w := range s.Workers {
				fmt.Fprintf(out, "== %s (task %s): %s\n", w.Agent, w.Task, w.State)
				if w.Summary != "" {
					fmt.Fprintln(out, strings.TrimSpace(w.Summary))
				} else if w.Detail != "" {
					fmt.Fprintln(out, shorten.FirstLine(w.Detail))
				}
			}
		}
		var failed []string
		for _, w := range s.Workers {
			if !w.Merged() {
				failed = append(failed, w.Agent+" "+w.State)
			}
		}
		if len(failed) > 0 {
			return orchestrator.Errorf(orchestrator.ErrRefused, "spawn: %d of %d workers did not merge into %s: %s", len(failed), len(s.Workers), s.Into, strings.Join(failed, ", "))
		}
		return nil
	})
}
