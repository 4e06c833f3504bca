package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// What a person watching a team (the dashboard) asks of it besides status and review.

// ErrNoTranscript is an agent whose program writes no stream teamctl can read as a
// conversation (a plain command): its log is all there is.
var ErrNoTranscript = errors.New("no readable conversation: the agent is a plain command or runs in tmux")

// NudgeText is what a nudge from a person says to a running agent.
const NudgeText = "Nudge from the person watching the team: commit what you have done so far " +
	"(git add -A && git commit), check `teamctl msg inbox`, and carry on with your task."

// Nudge asks a running agent, as the caller, to commit its work and carry on: a message it
// reads with `msg inbox` (and in the prompt of its next launch), typed into its session too
// when it runs in tmux. It is refused for an agent that has nothing running.
func (w *Workspace) Nudge(ctx context.Context, c Caller, agent string) (store.Message, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Message{}, err
	}
	a, err := w.Store.Agent(ctx, p.team.Name, agent)
	if errors.Is(err, store.ErrNotFound) {
		return store.Message{}, fmt.Errorf("%w: team %s has no agent %q", ErrNoTeam, p.team.Name, agent)
	}
	if err != nil {
		return store.Message{}, err
	}
	if a.Task == "" {
		return store.Message{}, fmt.Errorf("%w: %s has no task running: nothing to nudge", ErrRefused, agent)
	}
	m, err := w.Send(ctx, c, agent, NudgeText)
	if err != nil {
		return m, err
	}
	// An agent in tmux reads its terminal, not its inbox: type the nudge in too.
	if pa, ok := p.plan.Agent(agent); ok && pa.Mode == plan.ModeTmux {
		tm := agentproc.NewTmux(agentproc.ExecTmux{}, w.Repo.CommonDir, p.team.Name)
		if err := tm.Type(ctx, agentproc.SessionName(p.team.Name, agent), NudgeText, submitKeys(pa)); err != nil {
			return m, fmt.Errorf("nudge %s: the message is sent, but typing it into its tmux session failed: %w", agent, err)
		}
	}
	return m, nil
}

// Usage is what each agent of a known CLI has reported spending so far, by name; plain
// commands report nothing and are left out.
func (w *Workspace) Usage(ctx context.Context, team string) (map[string]agentproc.Usage, error) {
	t, p, err := w.teamPlan(ctx, team)
	if err != nil {
		return nil, err
	}
	out := map[string]agentproc.Usage{}
	for _, a := range p.Members() {
		if u, ok := w.agentUsage(t, p, a.Name); ok {
			out[a.Name] = u
		}
	}
	return out, nil
}

// Transcript follows an agent's conversation as its log grows (see
// agentproc.TranscriptReader); ErrNoTranscript for a plain command.
func (w *Workspace) Transcript(ctx context.Context, team, agent string) (io.ReadCloser, error) {
	_, p, err := w.teamPlan(ctx, team)
	if err != nil {
		return nil, err
	}
	a, ok := p.Agent(agent)
	if !ok {
		return nil, fmt.Errorf("%w: team %s has no agent %q", ErrNoTeam, team, agent)
	}
	if _, known := agentproc.PresetNamed(a.Preset); !known || len(a.Command) > 0 || a.Mode == plan.ModeTmux {
		return nil, ErrNoTranscript
	}
	return agentproc.NewTranscriptReader(a.Preset, LogPath(w.Repo.CommonDir, team, agent)), nil
}

// Plan is the plan team runs, as it was when the team was made.
func (w *Workspace) Plan(ctx context.Context, team string) (*plan.Plan, error) {
	_, p, err := w.teamPlan(ctx, team)
	return p, err
}

// teamPlan reads a team and the plan it runs.
func (w *Workspace) teamPlan(ctx context.Context, team string) (store.Team, *plan.Plan, error) {
	t, err := w.Store.Team(ctx, team)
	if err != nil {
		return t, nil, err
	}
	p, err := loadPlan(t)
	return t, p, err
}
