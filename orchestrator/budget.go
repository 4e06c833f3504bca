package orchestrator

// Budgets (plan budget:): what agents spent, read from their CLIs' own streams, against
// what the plan allows.

import (
	"context"
	"fmt"
	"os"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// usage is what agent has spent so far, as its CLI's own stream says (zero for a plain
// command): read again only when its log grew since the last read.
func (s *supervisor) usage(agent string) agentproc.Usage {
	fi, err := os.Stat(s.logPath(agent))
	if err != nil {
		return agentproc.Usage{}
	}
	if c, ok := s.spent[agent]; ok && c.size == fi.Size() {
		return c.usage
	}
	u, _ := s.ws.agentUsage(s.team, s.p, agent)
	s.spent[agent] = spent{size: fi.Size(), usage: u}
	return u
}

// spent is what an agent's log said it spent, at the log's size then.
type spent struct {
	size  int64
	usage agentproc.Usage
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

// enforceBudgets stops running agents past their budget (or the team's); their exit then
// raises the blocker for a person (onExit). It runs on every turn of the loop, and reads a
// log again only when it grew: an agent is stopped within about a second of the model call
// that took it past its budget (the stream's usage, priced where the CLI gives no cost yet).
func (s *supervisor) enforceBudgets(ctx context.Context) {
	if s.p.Budget.IsZero() && !s.anyAgentBudget {
		return
	}
	for name, r := range s.procs {
		a, ok := s.p.Agent(name)
		if !ok || a.Preset == "" || r.overBudget {
			continue
		}
		if err := s.overBudget(a); err != nil {
			s.log().Warn("agent past its budget: stopping it", "agent", name, "why", err)
			s.notify(ctx, Notice{Kind: "budget", Title: fmt.Sprintf("teamctl: %s is past its budget", name), Text: err.Error()})
			r.overBudget = true
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
