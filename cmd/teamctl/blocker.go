package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
)

// BlockerOptions are the options of `teamctl blocker`, `blockers`, `answer` and `escalate`.
type BlockerOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	ID      int64
	Text    string
	Human   bool // blocker: for a person, not the leader
	All     bool // blockers: answered ones too
	JSON    bool
}

func NewCmdBlocker(f *Factory, runF func(context.Context, *BlockerOptions) error) *cobra.Command {
	opts := &BlockerOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "blocker TEXT [--human]",
		Short: "Say what you cannot go on without; prints the blocker's id. Then exit",
		Long: `Raise a blocker on your current task: it goes to the leader agent, or with --human (or when the
team has no leader agent) to the person running the team. Print its id on stdout. Exit after
raising it: you are launched again with the answer.`,
		Args: minArgs(1, "the text"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Text = text(args)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return blockerRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.Human, "human", false, "only a person can answer it")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func blockerRun(ctx context.Context, opts *BlockerOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		b, err := p.RaiseBlocker(ctx, opts.Text, opts.Human)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, b)
		}
		// The id alone on stdout, so that a script can take it: id=$(teamctl blocker ...).
		fmt.Fprintln(opts.Factory.IO.Out, b.ID)
		to := "the leader"
		if b.Human {
			to = "a person"
		}
		fmt.Fprintf(opts.Factory.IO.ErrOut, "blocker %d raised for %s: exit now; you are launched again with the answer\n", b.ID, to)
		return nil
	})
}

func NewCmdBlockers(f *Factory, runF func(context.Context, *BlockerOptions) error) *cobra.Command {
	opts := &BlockerOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "blockers",
		Short: "List the blockers waiting for an answer (--all: answered ones too)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return blockersRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.All, "all", false, "answered blockers too")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func blockersRun(ctx context.Context, opts *BlockerOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		bs, err := ws.Blockers(ctx, caller(opts.Factory, opts.Caller), opts.All)
		if err != nil {
			return err
		}
		out := printable(opts.Factory.IO.Out)
		if opts.JSON {
			return writeJSON(out, orEmpty(bs))
		}
		if len(bs) == 0 {
			fmt.Fprintln(out, "no blockers")
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tFOR\tAGENT\tTASK\tSTATE\tTEXT")
		for _, b := range bs {
			to := "leader"
			if b.Human {
				to = orchestrator.Human
			}
			line := shorten.Line(b.Text, 60)
			if b.Answer != "" {
				line += " → " + shorten.Line(b.Answer, 40)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", b.ID, to, b.Agent, dash(b.Task), b.State, line)
		}
		return tw.Flush()
	})
}

// blockerID parses a blocker id argument.
func blockerID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &usageError{fmt.Errorf("blocker id %q: want the number teamctl blocker printed (teamctl blockers lists them)", s)}
	}
	return id, nil
}

func NewCmdAnswer(f *Factory, runF func(context.Context, *BlockerOptions) error) *cobra.Command {
	opts := &BlockerOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "answer ID TEXT",
		Short: "Answer a blocker: its agent is launched again with the answer",
		Long: `Answer blocker ID. The answer is recorded at once; the blocked agent is launched again with
TEAMCTL_REASON=answer and the answer in its prompt by the team's supervisor, or, if none runs,
by teamctl resume.`,
		Args: minArgs(2, "the blocker id and the answer"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := blockerID(args[0])
			if err != nil {
				return err
			}
			opts.ID, opts.Text, opts.Caller.Blocker = id, text(args[1:]), id
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return answerRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func answerRun(ctx context.Context, opts *BlockerOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		b, err := p.Answer(ctx, opts.ID, opts.Text)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, b)
		}
		fmt.Fprintf(opts.Factory.IO.Out, "answered blocker %d: %s is launched again with the answer (by the team's supervisor, or by teamctl resume %s)\n", b.ID, b.Agent, b.Team)
		return nil
	})
}

func NewCmdEscalate(f *Factory, runF func(context.Context, *BlockerOptions) error) *cobra.Command {
	opts := &BlockerOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "escalate ID",
		Short: "Pass a blocker on from the leader to the person running the team",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := blockerID(args[0])
			if err != nil {
				return err
			}
			opts.ID, opts.Caller.Blocker = id, id
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return escalateRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func escalateRun(ctx context.Context, opts *BlockerOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		b, err := p.Escalate(ctx, opts.ID)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, b)
		}
		fmt.Fprintf(opts.Factory.IO.Out, "escalated blocker %d of %s to %s\n", b.ID, b.Agent, orchestrator.Human)
		return nil
	})
}
