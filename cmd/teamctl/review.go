package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
)

// ReviewOptions are the options of `teamctl review`.
type ReviewOptions struct {
	Factory *Factory
	Team    string
	Format  string // "text", "md" or "json"
}

func NewCmdReview(f *Factory, runF func(context.Context, *ReviewOptions) error) *cobra.Command {
	opts := &ReviewOptions{Factory: f}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "review [TEAM]",
		Short: "Show what a team merged, task by task, and what was refused",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, err := teamArg(cmd, args)
			if err != nil {
				return err
			}
			opts.Team = team
			if asJSON {
				if cmd.Flags().Changed("format") && opts.Format != "json" {
					return &usageError{fmt.Errorf("--json and --format %s: choose one", opts.Format)}
				}
				opts.Format = "json"
			}
			switch opts.Format {
			case "text", "md", "json":
			default:
				return &usageError{fmt.Errorf("--format %q: want text, md or json", opts.Format)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reviewRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document (same as --format json)")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, md (a Markdown report with per-agent attribution) or json")
	return cmd
}

func reviewRun(ctx context.Context, opts *ReviewOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		rv, err := ws.Review(ctx, opts.Team)
		if err != nil {
			return err
		}
		switch opts.Format {
		case "json":
			return writeJSON(opts.Factory.IO.Out, rv)
		case "md":
			return rv.WriteMarkdown(printable(opts.Factory.IO.Out))
		}
		printReview(printable(opts.Factory.IO.Out), rv)
		return nil
	})
}

func printReview(out io.Writer, rv orchestrator.Review) {
	tested := "NOT tested"
	if rv.Test == "" {
		tested = "no test command"
	} else if rv.Tested {
		tested = "passed `" + rv.Test + "`"
	}
	fmt.Fprintf(out, "Review of team %s: %s at %s (%s), %d commit(s) over %s, %d file(s) +%d -%d\n",
		rv.Team, rv.LeaderBranch, shorten.Hash(rv.Tip), tested, rv.Commits, rv.Base, len(rv.Diffstat.Files), rv.Diffstat.Insertions, rv.Diffstat.Deletions)
	for _, t := range rv.Tasks {
		fmt.Fprintf(out, "\n## %s (%s): %s", t.ID, t.Agent, t.State)
		if t.Into != "" && t.Merge != "" {
			fmt.Fprintf(out, " into %s", t.Into)
		}
		if t.Merge != "" {
			fmt.Fprintf(out, ", merge %s, tests %s", shorten.Hash(t.Merge), t.Tests)
		}
		fmt.Fprintln(out)
		if t.Detail != "" {
			fmt.Fprintf(out, "   why: %s\n", shorten.Line(t.Detail, 200))
		}
		for _, c := range t.Commits {
			auto := ""
			if c.Auto {
				auto = " [auto-commit]"
			}
			fmt.Fprintf(out, "   %s %s (%s)%s\n", shorten.Hash(c.Hash), c.Subject, c.Author, auto)
		}
		if t.LandedBy != "" {
			fmt.Fprintf(out, "   landed by %s, with %d commit(s) of its own:\n", t.LandedBy, len(t.Fix))
			for _, c := range t.Fix {
				fmt.Fprintf(out, "     %s %s (%s)\n", shorten.Hash(c.Hash), c.Subject, c.Author)
			}
		}
		for _, f := range t.Diffstat.Files {
			fmt.Fprintf(out, "   | %s +%d -%d\n", f.Path, f.Insertions, f.Deletions)
		}
		if t.Summary != "" {
			fmt.Fprintf(out, "   summary:\n%s\n", indent(t.Summary, "     "))
		}
	}
	if len(rv.Refused) > 0 {
		fmt.Fprintln(out, "\nNot merged (each attempt):")
		for _, r := range rv.Refused {
			fmt.Fprintf(out, "   %s (%s) %s: %s\n", r.Task, r.Agent, r.Outcome, shorten.Line(r.Why, 160))
		}
	}
	if len(rv.Flaky) > 0 {
		fmt.Fprintln(out, "\nFlaky test runs (failed, then passed on a rerun of the same tree; blamed on no branch):")
		for _, r := range rv.Flaky {
			fmt.Fprintf(out, "   with %s: %s\n", r.Task, shorten.Line(r.Why, 160))
		}
	}
	if len(rv.Incidents) > 0 {
		fmt.Fprintln(out, "\nIncidents (attempts teamctl refused or undid):")
		for _, in := range rv.Incidents {
			fmt.Fprintf(out, "   %s: %s\n", incidentWho(in.Agent), in.What)
		}
	}
	if len(rv.Repairs) > 0 {
		fmt.Fprintln(out, "\nRepaired (taken away while the team ran or was stopped, made again):")
		for _, r := range rv.Repairs {
			fmt.Fprintf(out, "   %s: %s\n", r.Agent, r.Text)
		}
	}
	for _, b := range rv.Blockers {
		fmt.Fprintf(out, "\nOPEN BLOCKER %d from %s: %s\n", b.ID, b.Agent, b.Text)
	}
	if rv.Tested && rv.Commits > 0 {
		fmt.Fprintf(out, "\nAccept it onto %s with: teamctl accept %s\n", rv.Base, rv.Team)
	}
}

func indent(s, pre string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pre + l + "\n")
	}
	return b.String()
}
