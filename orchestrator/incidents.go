package orchestrator

// Incidents (DESIGN.md §11): an attempt of an agent's that teamctl refused before it
// happened (a ref its worktree's hook would not move) or undid after (a ref moved by an
// agent, put back). Each is journalled, shown by status, review and the dashboard, and told
// to the person like a blocker that needs no answer. The agent's own work goes on.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// incidentKind is the journal kind of an incident.
const incidentKind = "incident"

// Incident is one refused or undone attempt.
type Incident struct {
	ID     int64     `json:"id"`
	Agent  string    `json:"agent"` // who, when teamctl can name them
	What   string    `json:"what"`
	Ref    string    `json:"ref,omitempty"` // the branch an undone move was of
	Undone bool      `json:"undone"`        // teamctl put back what it changed (else it was refused before it happened)
	At     time.Time `json:"at"`
}

// RecordIncident journals an incident of team's. The ref guard hook of an agent's worktree
// reports the refs it refused here (teamctl hook ref-refused).
func (w *Workspace) RecordIncident(ctx context.Context, team string, in Incident) (Incident, error) {
	data, err := json.Marshal(struct {
		What   string `json:"what"`
		Ref    string `json:"ref,omitempty"`
		Undone bool   `json:"undone"`
	}{in.What, in.Ref, in.Undone})
	if err != nil {
		return in, err
	}
	in.ID, err = w.store.AppendEvent(ctx, store.Event{Team: team, Kind: incidentKind, Agent: in.Agent, Data: string(data)})
	return in, err
}

// incidents lists the team's incidents, oldest first; only those after id when after > 0.
func (w *Workspace) incidents(ctx context.Context, team string, after int64) ([]Incident, error) {
	evs, err := w.store.EventsOfKinds(ctx, team, []string{incidentKind}, 0)
	if err != nil {
		return nil, err
	}
	out := []Incident{}
	for _, e := range evs {
		if e.ID <= after {
			continue
		}
		var d struct {
			What, Ref string
			Undone    bool
		}
		_ = json.Unmarshal([]byte(e.Data), &d)
		out = append(out, Incident{ID: e.ID, Agent: e.Agent, What: d.What, Ref: d.Ref, Undone: d.Undone, At: e.At})
	}
	return out, nil
}

// guardRefs puts back every guarded ref an agent moved: base and the leader branch (only
// the leader may move it, and teamctl), and each agent's branch (only its agent). The reflog
// says whose git moved a ref. The newest moves, as long as they are by participants who may
// not, are undone at once (the ref goes back to where the first of them found it) while the
// ref still stands where the last left it; any other such move in the entries after seen[ref]
// (how many reflog entries were looked at; a ref not in it: only the newest moves) is an
// incident too, one that teamctl or someone else has moved on from since. seen (nil: none
// kept) is updated. It returns the incidents, not yet journalled.
func (w *Workspace) guardRefs(ctx context.Context, t store.Team, p planMembers, seen map[string]int) ([]Incident, error) {
	guarded := map[string]string{t.Base: "", t.LeaderBranch: p.leader} // ref → who may move it
	for _, name := range p.names {
		if b := BranchName(t.Name, name); b != t.LeaderBranch {
			guarded[b] = name
		}
	}
	var found []Incident
	refs, err := w.repo.RefsUnder(ctx, teamRefs(t.Name)) // one listing for every agent
	if err != nil {
		return nil, err
	}
	for _, name := range p.names {
		strays, err := w.setAsideStrays(ctx, t.Name, name, refs)
		found = append(found, strays...)
		if err != nil {
			return found, err
		}
	}
	pinned, err := w.pinBranches(ctx, t)
	found = append(found, pinned...)
	if err != nil {
		return found, err
	}
	for ref, owner := range guarded {
		moves, err := w.repo.RefMoves(ref)
		if err != nil || len(moves) == 0 {
			continue
		}
		foreign := func(m worktree.RefMove) string {
			who := agentproc.AgentOfEmail(t.Name, m.Email)
			if who == owner || worktree.ZeroHash(m.Old) || worktree.ZeroHash(m.New) {
				return ""
			}
			return who
		}
		from := len(moves) - 1 // a ref not looked at before: its newest moves only
		if n, known := seen[ref]; known {
			from = n
			if n > len(moves) {
				from = 0 // the reflog was cut (expired, or the branch made again)
			}
		}
		if seen != nil {
			seen[ref] = len(moves)
		}
		// The newest run of foreign moves: undone in one step.
		first := len(moves)
		for first > from && foreign(moves[first-1]) != "" {
			first--
		}
		undone := false
		if first < len(moves) {
			cur, err := w.repo.Resolve(ctx, ref)
			if err == nil && cur == moves[len(moves)-1].New {
				if err := w.repo.UpdateRef(ctx, ref, moves[first].Old, cur); err == nil {
					undone = true
					if seen != nil {
						seen[ref]++ // the put-back's own entry
					}
				} else if now, rerr := w.repo.Resolve(ctx, ref); rerr != nil || now == cur {
					return found, err
				} // else moved in the meantime (the merge queue's compare-and-swap won)
			}
		}
		for i := from; i < len(moves); i++ {
			m := moves[i]
			who := foreign(m)
			if who == "" {
				continue
			}
			what := fmt.Sprintf("moved %s from %s to %s", ref, shorten.Hash(m.Old), shorten.Hash(m.New))
			if m.Message != "" {
				what += " (" + shorten.Line(m.Message, 80) + ")"
			}
			switch {
			case i >= first && undone:
				what += ": put back"
			case i >= first:
				what += ": it has moved again since"
			default:
				what += ": moved on from since"
			}
			found = append(found, Incident{Agent: who, Ref: ref, Undone: i >= first && undone, What: what})
		}
	}
	return found, nil
}

// strayRefs is where setAsideStrays puts the refs it moves.
const strayRefs = "refs/teamctl/stray/"

// teamRefs is the prefix of every ref of team's agents' branch directories.
func teamRefs(team string) string {
	return "refs/heads/" + path.Dir(path.Dir(BranchName(team, "x"))) + "/"
}

// setAsideStrays moves every stray ref in agent's branch directory (worktree.StrayRefs:
// made there past its worktree's hook) to strayRefs, where its commits stay but its agent
// cannot reach it; left there, it would refuse every later confined launch of the agent
// (worktree.AgentWrites). Each move is an incident; the returned ones are not yet journalled.
func (w *Workspace) setAsideStrays(ctx context.Context, team, agent string, refs []worktree.Ref) ([]Incident, error) {
	if refs == nil {
		var err error
		if refs, err = w.repo.RefsUnder(ctx, teamRefs(team)); err != nil {
			return nil, err
		}
	}
	strays := w.repo.StraysAmong(BranchName(team, agent), refs)
	var found []Incident
	for _, st := range strays {
		if st.Symref != "" {
			// A symbolic ref holds no commit: it goes. (Moved, or deleted through, it would
			// take the ref it points at with it.)
			if err := w.repo.DeleteRef(ctx, st.Name, ""); err != nil {
				return found, err
			}
			found = append(found, Incident{Agent: agent, Ref: st.Name, Undone: true,
				What: fmt.Sprintf("made %s, a symbolic ref to %s, past its worktree's hook: deleted", st.Name, st.Symref)})
			continue
		}
		to := strayRefs + strings.TrimPrefix(st.Name, "refs/heads/")
		for n := 2; ; n++ {
			if _, err := w.repo.Resolve(ctx, to); err != nil {
				break
			}
			to = fmt.Sprintf("%s%s-%d", strayRefs, strings.TrimPrefix(st.Name, "refs/heads/"), n)
		}
		if err := w.repo.MoveRef(ctx, st.Name, st.Hash, to); err != nil {
			return found, err
		}
		found = append(found, Incident{Agent: agent, Ref: st.Name, Undone: true,
			What: fmt.Sprintf("made %s (at %s) past its worktree's hook: set aside as %s", st.Name, shorten.Hash(st.Hash), to)})
	}
	return found, nil
}

// pinBranches puts back every agent's branch that is not checked out in its worktree as git
// would (worktree.CheckedOut: the branch made a symbolic ref, or the worktree's HEAD pointed
// at another ref), before teamctl's own commits or merges there move that other ref: the
// branch goes back to where its reflog last left it (else to base's commit when the team
// was made), HEAD onto it. Each is an incident; the returned ones are not yet journalled.
func (w *Workspace) pinBranches(ctx context.Context, t store.Team) ([]Incident, error) {
	agents, err := w.store.Agents(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	var found []Incident
	for _, a := range agents {
		in, err := w.pinBranch(ctx, t, a)
		if in != nil {
			found = append(found, *in)
		}
		if err != nil {
			return found, err
		}
	}
	return found, nil
}

// pinBranch is pinBranches for one agent: the incident when there was one to undo.
func (w *Workspace) pinBranch(ctx context.Context, t store.Team, a store.Agent) (*Incident, error) {
	dir := a.Worktree
	if _, err := os.Stat(dir); err != nil {
		dir = "" // its branch still counts
	}
	bad := w.repo.CheckedOut(ctx, dir, a.Branch)
	if !errors.Is(bad, worktree.ErrNotCheckedOut) {
		return nil, bad
	}
	hash := t.BaseHead
	if moves, err := w.repo.RefMoves(a.Branch); err == nil && len(moves) > 0 && !worktree.ZeroHash(moves[len(moves)-1].New) {
		hash = moves[len(moves)-1].New
	}
	if err := w.repo.PinBranch(ctx, dir, a.Branch, hash); err != nil {
		return nil, err
	}
	return &Incident{Agent: a.Name, Ref: a.Branch, Undone: true,
		What: fmt.Sprintf("%s: put back, %s at %s", strings.TrimPrefix(bad.Error(), worktree.ErrNotCheckedOut.Error()+": "), a.Branch, shorten.Hash(hash))}, nil
}

// pinned is pinBranch for the supervisor, just before a commit or merge of its own in a's
// worktree (a process the agent left behind could have changed it since the last guard):
// what it put back is an incident.
func (s *supervisor) pinned(ctx context.Context, a store.Agent) error {
	in, err := s.ws.pinBranch(ctx, s.team, a)
	if in != nil {
		if _, rerr := s.recordIncidents(ctx, []Incident{*in}); err == nil {
			err = rerr
		}
	}
	return err
}

// planMembers is who a plan has: the leader's name and every member's.
type planMembers struct {
	leader string
	names  []string
}

func membersOf(p *plan.Plan) planMembers {
	pm := planMembers{leader: p.Leader.Name}
	for _, a := range p.Members() {
		pm.names = append(pm.names, a.Name)
	}
	return pm
}

// guard runs guardRefs for the supervisor and journals and tells what it undid, then tells
// the person of incidents others journalled since it last looked (the worktrees' hooks). It
// returns what it undid.
func (s *supervisor) guard(ctx context.Context) ([]Incident, error) {
	// The leader branch too while a batch runs: the queue's own moves are never undone (its
	// reflog names no participant), and of its compare-and-swap and a put-back's, one misses.
	if s.refsSeen == nil {
		s.refsSeen = map[string]int{} // the first look: the newest moves, made while no supervisor watched
	}
	found, err := s.ws.guardRefs(ctx, s.team, membersOf(s.p), s.refsSeen)
	if err != nil {
		return found, err
	}
	return s.recordIncidents(ctx, found)
}

// recordIncidents journals what guard found and tells the person of every incident since
// it last looked.
func (s *supervisor) recordIncidents(ctx context.Context, found []Incident) ([]Incident, error) {
	var err error
	for _, in := range found {
		if in.Ref == s.team.LeaderBranch {
			s.leaderTampered++
		}
		if _, rerr := s.ws.RecordIncident(ctx, s.team.Name, in); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return found, err
	}
	news, err := s.ws.incidents(ctx, s.team.Name, max(s.incidentsSeen, 0))
	if err != nil {
		return found, err
	}
	first := s.incidentsSeen < 0
	for _, in := range news {
		s.incidentsSeen = in.ID
		if !first || slices.ContainsFunc(found, func(f Incident) bool { return f.What == in.What && f.Agent == in.Agent }) {
			s.tellIncident(ctx, in)
		}
	}
	if first && len(news) == 0 {
		s.incidentsSeen = 0
	}
	return found, nil
}

// tellIncident shows an incident to the person and runs the plan's escalate: command with
// it (TEAMCTL_INCIDENT_*), as for a blocker that needs no answer.
func (s *supervisor) tellIncident(ctx context.Context, in Incident) {
	who := in.Agent
	if who == "" {
		who = "an unknown process"
	}
	fmt.Fprintf(s.ws.env.out(), "INCIDENT %d: %s %s\n", in.ID, who, in.What)
	s.log().Warn("incident", "agent", in.Agent, "what", in.What)
	s.notify(ctx, Notice{Kind: "incident", Title: "teamctl: incident in team " + s.team.Name, Text: who + " " + in.What})
	s.escalate(ctx, []string{"TEAMCTL_TEAM=" + s.team.Name, fmt.Sprintf("TEAMCTL_INCIDENT_ID=%d", in.ID),
		"TEAMCTL_INCIDENT_AGENT=" + in.Agent, "TEAMCTL_INCIDENT_TEXT=" + in.What})
}
