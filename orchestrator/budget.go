package orchestrator

// Budgets (plan budget:): what agents spent, read from their CLIs' own streams, against
// what the plan allows.

import (
	"context"
	"fmt"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// usage is what agent has spent so far, as its CLI's own stream says (zero for a plain command).
func (s *supervisor) usage(agent string) agentproc.Usage {
	u, _ := s.ws.agentUsage(s.team, s.p, agent)
	return u
}

// overBudget says whether agent a, or the whole team, has used more than the plan allows.
func (s *supervisor) overBudget(a plan.Agent) error {
	if err := agentproc.OverBudget("agent "+a.Name, a.Budget, s.usage(a.Name)); err != nil {
		return err
	}
	if s.p.Budget == (plan.Budget{}) {
		return nil
	}
	var team agentproc.Usage
	for _, x := range s.p.Members() {
		team = team.Add(s.usage(x.Name))
	}
	return agentproc.OverBudget("team "+s.team.Name, s.p.Budget, team)
}

// budgetCheckEvery is how often running agents' spending is read from their logs.
const budgetCheckEvery = 10 * time.Second

// enforceBudgets stops running agents past their budget (or the team's); their exit then
// raises the blocker for a person (onExit).
func (s *supervisor) enforceBudgets(ctx context.Context) {
	if time.Since(s.lastBudget) < budgetCheckEvery {
		return
	}
	s.lastBudget = time.Now()
	for name, r := range s.procs {
		a, ok := s.p.Agent(name)
		if !ok || a.Preset == "" {
			continue
		}
		if err := s.overBudget(a); err != nil {
			s.log().Warn("agent past its budget: stopping it", "agent", name, "why", err)
			go r.proc.Stop(stopGrace) // its exit comes back through the loop
		}
	}
}

// askPerson raises the blocker for a person that an agent waits on: it is past its budget,
// or its provider refused its credentials.
func (s *supervisor) askPerson(ctx context.Context, t store.Task, why string) error {
	b, err := s.ws.store.RaiseBlocker(ctx, store.Blocker{Team: s.team.Name, Agent: t.Agent, Task: t.ID, Text: why, Human: true})
	if err != nil {
		return err
	}
	_, err = s.move(ctx, t.ID, Blocked, fmt.Sprintf("blocker %d waits on a person: %s", b.ID, why), nil)
	return err
}
