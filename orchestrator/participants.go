package orchestrator

// Coordination (DESIGN.md §6): who calls a coordination command, resolved against the team.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// Human is the name of the person running the team, as a participant: the identity of a
// shell without TEAMCTL_AGENT, and a recipient of messages and blockers.
const Human = "human"

// Caller is who runs a coordination command, and for which team.
type Caller struct {
	Team string // --team; "" = $TEAMCTL_TEAM, else the repository's only team
	As   string // --as; "" = $TEAMCTL_AGENT, else Human
	Dir  string // where the command runs: relative paths resolve against it; "" = the repository root
	// Blocker or Agent is what the command is about, when it is about one: with several
	// teams and none named, the team is the one that holds it.
	Blocker int64
	Agent   string
}

// party is a caller resolved against the store: its team, its name, and the team as it is now.
type party struct {
	team   store.Team
	plan   *plan.Plan
	me     string
	agents []store.Agent
	tasks  []store.Task
}

// Participant is the caller of a coordination command (DESIGN.md §6) resolved against its
// team once: who it is, the team as it is now, and the commands it may give — messages,
// reservations, blockers and their answers, intents, done reports, delegated tasks, nudges.
// It is a snapshot of the team at resolution: resolve one for each command.
type Participant struct {
	party
	w      *Workspace
	caller Caller
}

// Participant resolves the caller: the team, and the name, which must be Human or an agent
// of the team.
func (w *Workspace) Participant(ctx context.Context, c Caller) (*Participant, error) {
	// Inside an agent's launch the kernel's process tree says who calls, whatever the
	// environment says: --as is refused, TEAMCTL_AGENT is not read.
	if l, ok := w.Launcher(); ok {
		if c.As != "" && c.As != l.Agent() {
			w.refused(ctx, l, fmt.Sprintf("tried to act as %s (--as %s): refused", c.As, c.As))
			return nil, Errorf(ErrUsage, "--as is refused inside an agent: this runs in a launch of %s of team %s, and acts as %s", l.Agent(), l.Team(), l.Agent())
		}
		if c.Team != "" && c.Team != l.Team() {
			w.refused(ctx, l, fmt.Sprintf("tried to act in team %s (--team %s): refused", c.Team, c.Team))
			return nil, Errorf(ErrUsage, "--team %s is refused inside an agent of team %s: an agent acts in its own team only", c.Team, l.Team())
		}
		c.As, c.Team = l.Agent(), l.Team()
	}
	t, err := w.ResolveTeamOf(ctx, c.Team, c.Blocker, c.Agent)
	if err != nil {
		return nil, err
	}
	p, err := loadPlan(t)
	if err != nil {
		return nil, err
	}
	pa := &Participant{party: party{team: t, plan: p, me: c.As}, w: w, caller: c}
	if pa.me == "" {
		pa.me = os.Getenv("TEAMCTL_AGENT")
	}
	if pa.me == "" {
		pa.me = Human
	}
	if pa.agents, err = w.store.Agents(ctx, t.Name); err != nil {
		return nil, err
	}
	if pa.tasks, err = w.store.Tasks(ctx, t.Name); err != nil {
		return nil, err
	}
	if pa.me != Human {
		if _, ok := pa.agent(pa.me); !ok {
			return nil, Errorf(ErrNoTeam, "you are %q (from --as or TEAMCTL_AGENT), which is no agent of team %s (%s)",
				pa.me, t.Name, pa.names())
		}
	}
	return pa, nil
}

func (p party) agent(name string) (store.Agent, bool) {
	for _, a := range p.agents {
		if a.Name == name {
			return a, true
		}
	}
	return store.Agent{}, false
}

func (p party) names() string {
	names := []string{Human}
	for _, a := range p.agents {
		names = append(names, a.Name)
	}
	return "participants: " + strings.Join(names, ", ")
}

// unknown is the error for a name that is neither an agent of the team nor Human.
func (p party) unknown(name string) error {
	return Errorf(ErrNoTeam, "no agent %q in team %s (%s)", name, p.team.Name, p.names())
}

// currentTask is what the agent works on: the task it was launched for, else its first
// task that is not merged or done; "" when it has none.
func (p party) currentTask(a store.Agent) string {
	if a.Task != "" {
		return a.Task
	}
	for _, t := range p.tasks {
		if t.Agent == a.Name && !stateOf(t).Finished() {
			return t.ID
		}
	}
	return ""
}

// inactive says why agent a reads no messages any more ("" while it does): it has no
// program (a leader without a command), or the team or the agent's every task is finished
// and its process is gone.
func (p party) inactive(a store.Agent) string {
	if pa, ok := p.plan.Agent(a.Name); ok && !pa.IsAgent() {
		return fmt.Sprintf("team %s has no leader agent (no leader command): nothing reads %s's messages; write to %s instead", p.team.Name, a.Name, Human)
	}
	if agentproc.Alive(a.PID, a.ProcStart) {
		return ""
	}
	if TeamState(p.team.State) == TeamFinished {
		return fmt.Sprintf("team %s has finished", p.team.Name)
	}
	if a.Role == "leader" {
		return ""
	}
	n := 0
	for _, t := range p.tasks {
		if t.Agent != a.Name {
			continue
		}
		if !stateOf(t).Finished() {
			return ""
		}
		n++
	}
	if n == 0 {
		return "" // no task yet: the leader may give it one, and its first prompt carries its unread messages
	}
	return fmt.Sprintf("agent %s has finished its %d task(s)", a.Name, n)
}

// recipient checks that name can be written to by the caller.
func (p party) recipient(name string) error {
	if name == p.me {
		return Errorf(ErrUsage, "you cannot send a message to yourself (%s)", name)
	}
	if name == Human {
		return nil
	}
	a, ok := p.agent(name)
	if !ok {
		return p.unknown(name)
	}
	if why := p.inactive(a); why != "" {
		return Errorf(ErrUsage, "cannot send to %s: %s", name, why)
	}
	return nil
}

func (p party) isLeader() bool { return p.me == p.plan.Leader.Name }

// Name is who the caller is: an agent of the team, or Human.
func (p *Participant) Name() string { return p.me }

// IsLeader reports whether the caller is the team's leader.
func (p *Participant) IsLeader() bool { return p.isLeader() }

// Workspace is the workspace the participant was resolved in.
func (p *Participant) Workspace() *Workspace { return p.w }

// Launcher is the launch of an agent of this repository's teams that the calling process
// runs under, by its ancestry (agentproc.TrueLaunch): an agent cannot drop it by changing its
// environment, nor pass for another by a process shaped like its launch. A launch of another repository's (teamctl's own tests, run by an agent) does
// not count here.
func (w *Workspace) Launcher() (agentproc.Launcher, bool) {
	if w.env.Peer != nil {
		return *w.env.Peer, true // checked against the repository by Open
	}
	l, _, ok := agentproc.TrueLaunch(os.Getpid())
	if !ok || !strings.HasPrefix(l.PidFile, filepath.Join(w.repo.CommonDir, "teamctl")+string(filepath.Separator)) {
		return agentproc.Launcher{}, false
	}
	return l, true
}

// refused journals an incident: the agent of launch l tried what it may not. A failure to
// journal it is logged: the refusal stands either way.
func (w *Workspace) refused(ctx context.Context, l agentproc.Launcher, what string) {
	if _, err := w.RecordIncident(ctx, l.Team(), Incident{Agent: l.Agent(), What: what}); err != nil {
		w.env.logger().Error("could not journal an incident", "agent", l.Agent(), "what", what, "err", err)
	}
}

// PersonOnly refuses what only the person running the team may do (accept, clean, stop,
// apply; DESIGN.md §11) when the caller is an agent: by its launch (Launcher), which is an
// incident, or by TEAMCTL_AGENT, which every agent has.
func (w *Workspace) PersonOnly(ctx context.Context, what string) error {
	if l, ok := w.Launcher(); ok {
		w.refused(ctx, l, fmt.Sprintf("tried `%s`, which is the person's to do: refused", what))
		return Errorf(ErrUsage, "%s is the person's to do: refused inside agent %s of team %s", what, l.Agent(), l.Team())
	}
	if a := os.Getenv("TEAMCTL_AGENT"); a != "" {
		return Errorf(ErrUsage, "%s is the person's to do: refused with TEAMCTL_AGENT=%s (inside an agent; in your own shell, unset it)", what, a)
	}
	return nil
}
