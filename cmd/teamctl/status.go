package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// StatusOptions are the options of `teamctl status`.
type StatusOptions struct {
	Factory *Factory
	Team    string
	JSON    bool
}

func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "status [TEAM]",
		Short: "Show a team's agents, tasks, merge queue and blockers",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, err := teamArg(cmd, args)
			if err != nil {
				return err
			}
			opts.Team = team
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		st, err := ws.Status(ctx, opts.Team)
		if err != nil {
			return err
		}
		out := opts.Factory.IO.Out
		if opts.JSON {
			return writeJSON(out, st)
		}
		printStatus(printable(out), st, time.Now())
		return nil
	})
}

func printStatus(out io.Writer, st orchestrator.Status, now time.Time) {
	sup := "no supervisor"
	if st.Supervised {
		sup = "supervised"
	}
	fmt.Fprintf(out, "team %s: %s (%s), base %s, leader branch %s\n", st.Team, st.State, sup, st.Base, st.LeaderBranch)
	if c := st.Confinement; c != nil && c.Confined {
		fmt.Fprintf(out, "agents confined (%s)\n", c.How)
	} else if c != nil {
		fmt.Fprintf(out, "agents NOT confined: %s\n", c.How)
	}
	for _, p := range st.Pauses {
		fmt.Fprintf(out, "PAUSED on a %s: %d agent(s) of %s, until %s%s\n", agentproc.FaultKind(p.Kind).Words(), p.Agents, p.Provider, untilClock(p.Until, now), probing(p))
	}
	for _, b := range st.Blockers {
		fmt.Fprintf(out, "BLOCKER %d from %s (task %s): %s\n", b.ID, b.Agent, b.Task, b.Text)
	}
	if len(st.Incidents) > 0 {
		fmt.Fprintf(out, "\nINCIDENTS (attempts refused or undone)\n")
		for _, in := range st.Incidents {
			fmt.Fprintf(out, "  %s %s %s\n", in.At.Local().Format("15:04:05"), incidentWho(in.Agent), in.What)
		}
	}
	fmt.Fprintln(out, "\nAGENTS")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tTASK\tWORKTREE")
	for _, a := range st.Agents {
		role := a.Role
		if a.Spawner != "" {
			role = "worker of " + a.Spawner
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, role, a.State, dash(a.Task), a.Worktree)
	}
	tw.Flush()
	fmt.Fprintln(out, "\nTASKS")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGENT\tSTATE\tFOR\tLAUNCHES\tWHY")
	for _, t := range st.Tasks {
		why := t.Waiting
		if why == "" {
			why = t.Detail
		}
		if t.Until != nil {
			why = fmt.Sprintf("until %s (%s)", untilClock(*t.Until, now), t.Why)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", t.ID, t.Agent, t.State, since(now, t.Since), t.Attempt, dash(shorten.Line(why, 70)))
	}
	tw.Flush()
	if len(st.Queue) > 0 {
		fmt.Fprintf(out, "\nMERGE QUEUE: %s\n", strings.Join(st.Queue, ", "))
	}
	for i, w := range st.Warnings {
		if i == 0 {
			fmt.Fprintln(out, "\nCONFLICTS COMING")
		}
		with := "the leader branch"
		if w.B != "" {
			with = w.B
		}
		fmt.Fprintf(out, "%s and %s: %s\n", w.A, with, strings.Join(w.Files, ", "))
	}
}

// untilClock is a time a pause ends at, as a person reads it: the time of day, with the date
// when it is not within a day.
func untilClock(t, now time.Time) string {
	t = t.Local()
	if t.Sub(now) > 20*time.Hour || t.Before(now.Add(-time.Hour)) {
		return t.Format("Jan 2 15:04")
	}
	return t.Format("15:04:05")
}

func probing(p orchestrator.PauseStatus) string {
	if p.State == store.PauseProbing {
		return "; " + p.Probe + " tries it first"
	}
	return ""
}

func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(out io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	// encoding/json escapes the C0 controls, not the C1 ones (U+0080–U+009F: U+009B is a
	// CSI to many terminals); a reader's terminal gets neither.
	b = c1.ReplaceAllFunc(b, func(r []byte) []byte {
		c, _ := utf8.DecodeRune(r)
		return fmt.Appendf(nil, `\u%04x`, c)
	})
	_, err = out.Write(append(b, '\n'))
	return err
}

// c1 matches the C1 control characters, as UTF-8.
var c1 = regexp.MustCompile("[\u0080-\u009f]")

func incidentWho(agent string) string {
	if agent == "" {
		return "an unknown process"
	}
	return agent
}
