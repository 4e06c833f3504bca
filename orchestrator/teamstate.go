package orchestrator

import (
	"context"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/store"
)

// Team and agent states. Unlike a task's (taskstate.go), every move between them is
// allowed; what matters is that each has one writer, so each change is journalled the same
// way and what a state means is set in one place.

// TeamState is the state of a team.
type TeamState string

const (
	TeamCreating TeamState = "creating"
	TeamRunning  TeamState = "running"
	TeamWaiting  TeamState = "waiting" // every unfinished task waits on someone
	TeamStopped  TeamState = "stopped" // stopped by a person, or by a failure: resume continues it
	TeamFinished TeamState = "finished"
	// TeamCrashed is how status shows a team recorded as running that no supervisor holds:
	// resume continues it. It is never recorded.
	TeamCrashed TeamState = "crashed"
)

func (s TeamState) String() string { return string(s) }

// setTeamState is the one way a team's state changes (the store journals it).
func (w *Workspace) setTeamState(ctx context.Context, team string, to TeamState) error {
	return w.store.UpdateTeam(ctx, team, func(t *store.Team) error { t.State = string(to); return nil })
}

// AgentState is the state of an agent as the supervisor records it; status shows "running"
// only while its recorded process lives.
type AgentState string

const (
	AgentIdle    AgentState = "idle"
	AgentRunning AgentState = "running"
	AgentStopped AgentState = "stopped" // stopped by teamctl (stop, Ctrl-C): its task resumes later
)

func (s AgentState) String() string { return string(s) }

// setAgentState is the one way an agent's state changes; change sets what goes with it
// (its task and process: runs, noProcess, keepProcess).
func (w *Workspace) setAgentState(ctx context.Context, team, agent string, to AgentState, change func(*store.Agent)) error {
	return w.store.UpdateAgent(ctx, team, agent, func(a *store.Agent) error {
		a.State = string(to)
		change(a)
		return nil
	})
}

// runs records the agent's launch on task: its process.
func runs(task string, p *agentproc.Proc) func(*store.Agent) {
	return func(a *store.Agent) { a.Task, a.PID, a.ProcStart = task, p.Pid, p.Start }
}

// noProcess records that the agent has no process (any more).
func noProcess(a *store.Agent) { a.PID, a.ProcStart = 0, 0 }

// keepProcess keeps the recorded process: the state says what became of it first (stopped
// before the signal, so resume knows the end was teamctl's, not the agent's word).
func keepProcess(*store.Agent) {}
