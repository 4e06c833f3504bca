package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// LogsOptions are the options of `teamctl logs`.
type LogsOptions struct {
	Factory *Factory
	Team    string
	Agent   string
	Follow  bool
	Raw     bool // the log as written, not the conversation read from it
	JSON    bool
}

func NewCmdLogs(f *Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "logs AGENT",
		Short: "Show an agent's conversation, read from its output (--raw: the output itself; -f follows it)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return &usageError{fmt.Errorf("%s: the agent name is empty", cmd.CommandPath())}
			}
			opts.Agent = args[0]
			if opts.JSON && (opts.Raw || opts.Follow) {
				return &usageError{errors.New("logs: --json prints the conversation; it does not go with --raw or --follow")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Team, "team", "", "the team (default: $TEAMCTL_TEAM, or the repository's only team)")
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing the conversation as the agent goes on, until interrupted (with --raw: its output as written)")
	cmd.Flags().BoolVar(&opts.Raw, "raw", false, "print the log as the agent wrote it")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the conversation as one JSON document")
	return cmd
}

func logsRun(ctx context.Context, opts *LogsOptions) error {
	return withAgent(ctx, opts.Factory, opts.Team, opts.Agent, func(ws *orchestrator.Workspace, team store.Team) error {
		path := ws.AgentLog(team.Name, opts.Agent)
		// An agent with a preset speaks a JSON stream: shown as a conversation. Any other
		// program's output is shown as it wrote it.
		if preset := agentPreset(team, opts.Agent); !opts.Raw && !opts.Follow && (preset != "" || opts.JSON) {
			tr, err := ws.AgentTranscript(ctx, team.Name, opts.Agent)
			if err != nil {
				return err
			}
			return printTranscript(opts, tr, path)
		}
		if opts.Follow && !opts.Raw {
			// Followed as a conversation too, rendered as it grows; --raw keeps the bytes.
			r, err := ws.Transcript(ctx, team.Name, opts.Agent)
			if err == nil {
				defer r.Close()
				return copyLog(ctx, printable(opts.Factory.IO.Out), r, true)
			}
			if !errors.Is(err, orchestrator.ErrNoTranscript) {
				return err
			}
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			if !opts.Follow {
				fmt.Fprintf(opts.Factory.IO.ErrOut, "agent %s has not been launched yet (%s)\n", opts.Agent, path)
				return nil
			}
			f, err = waitForFile(ctx, path)
		}
		if err != nil {
			return err
		}
		defer f.Close()
		if err := copyLog(ctx, opts.Factory.IO.Out, f, opts.Follow); err != nil || opts.Follow || agentMode(team, opts.Agent) != plan.ModeTmux {
			return err
		}
		// An agent in tmux writes to its screen; its log gets the screen when the launch ends.
		// While it runs, show the screen as it is now.
		if screen, err := ws.Tmux(team.Name).Capture(ctx, agentproc.SessionName(team.Name, opts.Agent)); err == nil {
			fmt.Fprintf(printable(opts.Factory.IO.Out), "=== teamctl: the tmux session's screen now (teamctl attach %s joins it)\n%s\n",
				opts.Agent, strings.TrimRight(screen, "\n"))
		}
		return nil
	})
}

// printTranscript prints the agent's conversation, rendered or as JSON.
func printTranscript(opts *LogsOptions, tr agentproc.Transcript, path string) error {
	if opts.JSON {
		enc := json.NewEncoder(opts.Factory.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(tr)
	}
	if len(tr.Launches) == 0 {
		fmt.Fprintf(opts.Factory.IO.ErrOut, "agent %s has not been launched yet (%s)\n", opts.Agent, path)
		return nil
	}
	return tr.Render(printable(opts.Factory.IO.Out), agentproc.RenderOptions{})
}

// agentPreset is the preset the team's plan gives the agent: how to read its output
// ("" reads it as plain text, as for a custom command or an agent in tmux, whose log is
// its screen).
func agentPreset(team store.Team, agent string) string {
	var p plan.Plan
	if json.Unmarshal([]byte(team.PlanJSON), &p) != nil {
		return ""
	}
	a, _ := p.Agent(agent)
	if a.Mode == plan.ModeTmux {
		return ""
	}
	return a.Preset
}

// copyLog copies the log; following, it keeps reading what is appended until ctx ends.
func copyLog(ctx context.Context, out io.Writer, f io.Reader, follow bool) error {
	for {
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitForFile(ctx context.Context, path string) (*os.File, error) {
	for {
		f, err := os.Open(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// agentMode is the agent's mode: in the plan (headless or tmux).
func agentMode(team store.Team, agent string) string {
	var p plan.Plan
	if json.Unmarshal([]byte(team.PlanJSON), &p) != nil {
		return ""
	}
	a, _ := p.Agent(agent)
	return a.Mode
}
