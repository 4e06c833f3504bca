package orchestrator

// A nudge from the person watching the team (the dashboards' n key).

import (
	"context"
	"errors"
	"fmt"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// NudgeText is what a nudge from a person says to a running agent.
const NudgeText = "Nudge from the person watching the team: commit what you have done so far " +
	"(git add -A && git commit), check `teamctl msg inbox`, and carry on with your task."

// Nudge asks a running agent, as the caller, to commit its work and carry on: a message it
// reads with `msg inbox` (and in the prompt of its next launch), typed into its session too
// when it runs in tmux. It is refused for an agent that has nothing running.
func (p *Participant) Nudge(ctx context.Context, agent string) (store.Message, error) {
	a, err := p.w.store.Agent(ctx, p.team.Name, agent)
	if errors.Is(err, store.ErrNotFound) {
		return store.Message{}, Errorf(ErrNoTeam, "team %s has no agent %q", p.team.Name, agent)
	}
	if err != nil {
		return store.Message{}, err
	}
	if a.Task == "" {
		return store.Message{}, Errorf(ErrRefused, "%s has no task running: nothing to nudge", agent)
	}
	m, err := p.Send(ctx, agent, NudgeText)
	if err != nil {
		return m, err
	}
	// An agent in tmux reads its terminal, not its inbox: type the nudge in too.
	if pa, ok := p.plan.Agent(agent); ok && pa.Mode == plan.ModeTmux {
		if err := p.w.Tmux(p.team.Name).Type(ctx, agentproc.SessionName(p.team.Name, agent), NudgeText, submitKeys(pa)); err != nil {
			return m, fmt.Errorf("nudge %s: the message is sent, but typing it into its tmux session failed: %w", agent, err)
		}
	}
	return m, nil
}
