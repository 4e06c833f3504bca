package orchestrator

// The agents' own view of the team (DESIGN.md §13): teamctl agents and teamctl whoami.

import (
	"context"
	"os"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/store"
)

// Peer is one participant as the team's agents see each other: teamctl agents.
type Peer struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	State        string    `json:"state"` // "running" only while its process lives
	Task         string    `json:"task,omitempty"`
	Intent       string    `json:"intent,omitempty"` // its newest teamctl intent
	IntentFiles  []string  `json:"intent_files,omitempty"`
	Spawner      string    `json:"spawner,omitempty"` // a worker of teamctl spawn: the agent it works for
	Reservations []string  `json:"reservations"`      // the paths it holds ("dir/": everything under it)
	LastSeen     time.Time `json:"last_seen,omitzero"`
}

// Identity is who the caller is in its team: teamctl whoami.
type Identity struct {
	Name         string              `json:"name"`
	Team         string              `json:"team"`
	Role         string              `json:"role"` // "leader", "dev", or "human"
	Task         string              `json:"task,omitempty"`
	Prompt       string              `json:"prompt,omitempty"` // the task's prompt
	Branch       string              `json:"branch,omitempty"`
	Worktree     string              `json:"worktree,omitempty"`
	LeaderBranch string              `json:"leader_branch"`
	Into         string              `json:"into"`              // the branch the caller's is merged into: the leader branch, or a worker's spawner's
	Spawner      string              `json:"spawner,omitempty"` // a worker's: the agent it works for
	Base         string              `json:"base"`
	Peers        []string            `json:"active_peers"` // the other agents whose process runs
	Reservations []store.Reservation `json:"reservations"`
	Unread       []store.Message     `json:"unread"` // not marked read: msg inbox reads them
}

// Peers lists every agent of the team (and the person, when they hold a reservation or
// have acted), in plan order.
func (p *Participant) Peers(ctx context.Context) ([]Peer, error) {
	st, err := p.w.Status(ctx, p.team.Name)
	if err != nil {
		return nil, err
	}
	res, err := p.w.ActiveReservations(ctx, p.team.Name)
	if err != nil {
		return nil, err
	}
	intents, err := p.w.store.Intents(ctx, p.team.Name, 0)
	if err != nil {
		return nil, err
	}
	acts, err := p.w.store.LastActs(ctx, p.team.Name)
	if err != nil {
		return nil, err
	}
	newest := map[string]store.Intent{}
	for _, in := range intents {
		newest[in.Agent] = in // oldest first: the last one stays
	}
	held := map[string][]string{}
	for _, r := range res {
		held[r.Agent] = append(held[r.Agent], r.Path)
	}
	peer := func(name, role, state, task string) Peer {
		pr := Peer{Name: name, Role: role, State: state, Task: task, Reservations: noNil(held[name]), LastSeen: acts[name]}
		if pa, ok := p.plan.Agent(name); ok {
			pr.Spawner = pa.Spawner
		}
		if in, ok := newest[name]; ok {
			pr.Intent, pr.IntentFiles = in.Text, in.Files
		}
		if fi, err := os.Stat(p.w.AgentLog(p.team.Name, name)); err == nil && fi.ModTime().After(pr.LastSeen) {
			pr.LastSeen = fi.ModTime() // its program said something
		}
		return pr
	}
	var out []Peer
	for _, a := range st.Agents {
		out = append(out, peer(a.Name, a.Role, a.State, a.Task))
	}
	if _, acted := acts[Human]; acted || len(held[Human]) > 0 {
		out = append(out, peer(Human, Human, "", ""))
	}
	return out, nil
}

// Whoami is the caller's identity, task, branch, active peers, reservations and unread
// messages (left unread).
func (p *Participant) Whoami(ctx context.Context) (Identity, error) {
	id := Identity{Name: p.me, Team: p.team.Name, Role: Human, LeaderBranch: p.team.LeaderBranch, Into: p.team.LeaderBranch, Base: p.team.Base}
	if a, ok := p.agent(p.me); ok {
		id.Role, id.Branch, id.Worktree = a.Role, a.Branch, a.Worktree
		if pa, ok := p.plan.Agent(p.me); ok && pa.Spawner != "" {
			id.Spawner, id.Into = pa.Spawner, BranchName(p.team.Name, pa.Spawner)
		}
		id.Task = p.currentTask(a)
		for _, t := range p.tasks {
			if t.ID == id.Task {
				id.Prompt = t.Prompt
			}
		}
	}
	for _, a := range p.agents {
		if a.Name != p.me && agentproc.Alive(a.PID, a.ProcStart) {
			id.Peers = append(id.Peers, a.Name)
		}
	}
	id.Peers = noNil(id.Peers)
	res, err := p.w.ActiveReservations(ctx, p.team.Name)
	if err != nil {
		return id, err
	}
	id.Reservations = []store.Reservation{}
	for _, r := range res {
		if r.Agent == p.me {
			id.Reservations = append(id.Reservations, r)
		}
	}
	if id.Unread, err = p.w.store.Unread(ctx, p.team.Name, p.me); err != nil {
		return id, err
	}
	if id.Unread == nil {
		id.Unread = []store.Message{}
	}
	return id, nil
}

// noNil is s, or an empty list for JSON's [] (not null).
func noNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
