package orchestrator

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// Status is one screen of a team: `teamctl status`. Field names are the stable --json ones.
type Status struct {
	Team           string          `json:"team"`
	State          TeamState       `json:"state"`
	Supervised     bool            `json:"supervised"` // a supervisor process holds the team
	Base           string          `json:"base"`
	LeaderBranch   string          `json:"leader_branch"`
	LeaderWorktree string          `json:"leader_worktree"`
	Agents         []AgentStatus   `json:"agents"`
	Tasks          []TaskStatus    `json:"tasks"`
	Blockers       []BlockerStatus `json:"blockers"`
	Queue          []string        `json:"queue"` // task ids queued or merging, oldest first
	// Warnings are conflicts coming between live branches (b empty: with the leader branch).
	Warnings []store.Warning `json:"warnings"`
	// Pauses are the providers nothing is launched into until they come back (DESIGN.md §10).
	Pauses []PauseStatus `json:"pauses"`
	// Incidents are the attempts of agents' that teamctl refused or undid (DESIGN.md §11).
	Incidents []Incident `json:"incidents"`
	// Confinement is how the last supervisor to start ran the agents; absent before one did.
	Confinement *Confinement `json:"confinement,omitempty"`
}

// PauseStatus is one provider's pause: why, until when, how many agents wait on it.
type PauseStatus struct {
	Provider string    `json:"provider"` // the preset, or a custom command's program
	Kind     string    `json:"kind"`     // limit, overload, network
	Why      string    `json:"why"`
	Until    time.Time `json:"until"`
	State    string    `json:"state"`           // paused, or probing (one agent tries it first)
	Probe    string    `json:"probe,omitempty"` // the agent that tries it
	Agents   int       `json:"agents"`          // agents whose task is paused on it
}

type AgentStatus struct {
	Name     string  `json:"name"`
	Role     string  `json:"role"`
	State    string  `json:"state"` // "running" only while its process lives
	Task     string  `json:"task"`
	Branch   string  `json:"branch"`
	Worktree string  `json:"worktree"`
	Spawner  string  `json:"spawner,omitempty"` // a worker of teamctl spawn: the agent whose branch it merges into
	PID      int     `json:"pid,omitempty"`
	CostUSD  float64 `json:"cost_usd,omitempty"` // what its CLI reported spending (preset agents)
	// CostEstimated: some of CostUSD is priced from the tokens its CLI reported, not its own figure.
	CostEstimated bool  `json:"cost_estimated,omitempty"`
	Tokens        int64 `json:"tokens,omitempty"` // input and output tokens its CLI reported
}

type TaskStatus struct {
	ID      string    `json:"id"`
	Agent   string    `json:"agent"`
	State   TaskState `json:"state"`
	Attempt int       `json:"attempt"`
	Reason  string    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Since   time.Time `json:"since"`
	After   []string  `json:"after,omitempty"`
	Waiting string    `json:"waiting,omitempty"` // why it does not move on, when it waits
	// A paused task waits on its agent's provider until Until, for Why.
	Until *time.Time `json:"until,omitempty"`
	Why   string     `json:"why,omitempty"`
}

type BlockerStatus struct {
	ID    int64  `json:"id"`
	Agent string `json:"agent"`
	Task  string `json:"task"`
	Text  string `json:"text"`
	Human bool   `json:"human"`
	State string `json:"state"`
}

// Status reads the team's state; an agent is "running" only if its recorded process is alive.
func (w *Workspace) Status(ctx context.Context, name string) (Status, error) {
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return Status{}, err
	}
	st := Status{
		Team: t.Name, State: TeamState(t.State), Base: t.Base, LeaderBranch: t.LeaderBranch, LeaderWorktree: t.LeaderWorktree,
		Supervised: supervised(w.repo.CommonDir, t.Name),
		Agents:     []AgentStatus{}, Tasks: []TaskStatus{}, Blockers: []BlockerStatus{}, Queue: []string{},
	}
	// Recorded as running but no supervisor holds it: resume continues it. A waiting team
	// without a supervisor is not crashed: run --exit-when-blocked leaves it so on purpose.
	if st.State == TeamRunning && !st.Supervised {
		st.State = TeamCrashed
	}
	p, err := loadPlan(t)
	if err != nil {
		return st, err
	}
	agents, err := w.store.Agents(ctx, t.Name)
	if err != nil {
		return st, err
	}
	for _, a := range agents {
		state := a.State
		if a.PID > 0 {
			if agentproc.Alive(a.PID, a.ProcStart) {
				state = "running"
			} else if state == "running" {
				state = "gone"
			}
		} else if state == "running" {
			state = "idle"
		}
		as := AgentStatus{Name: a.Name, Role: a.Role, State: state, Task: a.Task, Branch: a.Branch, Worktree: a.Worktree}
		if pa, ok := p.Agent(a.Name); ok {
			as.Spawner = pa.Spawner
		}
		if u, ok := w.agentUsage(t, p, a.Name); ok {
			as.CostUSD, as.Tokens, as.CostEstimated = cents(u.CostUSD), u.Tokens(), u.Estimated
		}
		if state == "running" {
			as.PID = a.PID
		}
		st.Agents = append(st.Agents, as)
	}
	tasks, err := w.store.Tasks(ctx, t.Name)
	if err != nil {
		return st, err
	}
	if st.Warnings, err = w.store.Warnings(ctx, t.Name); err != nil {
		return st, err
	}
	if st.Warnings == nil {
		st.Warnings = []store.Warning{}
	}
	if st.Blockers, err = w.openBlockers(ctx, t.Name); err != nil {
		return st, err
	}
	for _, tk := range tasks {
		ts := TaskStatus{ID: tk.ID, Agent: tk.Agent, State: stateOf(tk), Attempt: tk.Attempt,
			Reason: tk.Reason, Detail: tk.Detail, Since: tk.Updated, After: tk.After, Waiting: waitingFor(tk, tasks, st.Supervised)}
		if ts.State == Paused {
			until := tk.Until
			ts.Until, ts.Why = &until, tk.Detail
		}
		st.Tasks = append(st.Tasks, ts)
		if s := stateOf(tk); s == Queued || s == Merging {
			st.Queue = append(st.Queue, tk.ID)
		}
	}
	if st.Pauses, err = w.pauses(ctx, t.Name, p, tasks); err != nil {
		return st, err
	}
	if st.Incidents, err = w.incidents(ctx, t.Name, 0); err != nil {
		return st, err
	}
	st.Confinement, err = w.confinement(ctx, t.Name)
	return st, err
}

// pauses is the team's provider pauses, each with the agents whose task waits on it.
func (w *Workspace) pauses(ctx context.Context, team string, p *plan.Plan, tasks []store.Task) ([]PauseStatus, error) {
	ps, err := w.store.Pauses(ctx, team)
	if err != nil {
		return nil, err
	}
	out := []PauseStatus{}
	for _, ps := range ps {
		n := 0
		for _, tk := range tasks {
			if a, ok := p.Agent(tk.Agent); ok && stateOf(tk) == Paused && agentproc.ProviderOf(a).Key == ps.Provider {
				n++
			}
		}
		out = append(out, PauseStatus{Provider: ps.Label, Kind: ps.Kind, Why: ps.Why, Until: ps.Until, State: ps.State, Probe: ps.Probe, Agents: n})
	}
	return out, nil
}

// waitingFor says why a task does not move on, or "" when it is moving (or finished).
func waitingFor(t store.Task, tasks []store.Task, supervised bool) string {
	state := map[string]TaskState{}
	for _, o := range tasks {
		state[o.ID] = stateOf(o)
	}
	switch st := stateOf(t); {
	case st == Blocked && strings.Contains(t.Detail, "waits on the leader"):
		return "the leader: " + shorten.FirstLine(t.Detail)
	case st.WaitsOnHuman():
		return "a human: " + shorten.FirstLine(t.Detail)
	case st.Finished():
		return ""
	case !supervised:
		return "a supervisor: teamctl resume " + t.Team
	case st == Queued && strings.HasPrefix(t.Detail, "waits: "):
		return strings.TrimPrefix(t.Detail, "waits: ")
	case st == Queued:
		return "its turn in the merge queue"
	case st != Pending:
		return ""
	}
	var deps []string
	for _, d := range t.After {
		if !state[d].Finished() {
			deps = append(deps, fmt.Sprintf("%s (%s)", d, state[d]))
		}
	}
	if len(deps) > 0 {
		return "after " + strings.Join(deps, ", ")
	}
	for _, o := range tasks {
		if o.Agent == t.Agent && o.Seq < t.Seq && !stateOf(o).Finished() {
			return fmt.Sprintf("%s's earlier task %s (%s)", t.Agent, o.ID, o.State)
		}
	}
	return "a free agent slot"
}

// Review is what a team merged, for the person who accepts it: `teamctl review`.
type Review struct {
	Team         string          `json:"team"`
	Base         string          `json:"base"`
	LeaderBranch string          `json:"leader_branch"`
	Tip          string          `json:"tip"`       // the leader branch's commit
	Tested       bool            `json:"tested"`    // the tip passed the test command
	Test         string          `json:"test"`      // the test command
	Commits      int             `json:"commits"`   // commits on the leader branch not on base
	Diffstat     Diffstat        `json:"diffstat"`  // base...tip
	Tasks        []ReviewTask    `json:"tasks"`     // every task, in plan order
	Refused      []ReviewMerge   `json:"refused"`   // merges refused, conflicting or failing, and why
	Flaky        []ReviewMerge   `json:"flaky"`     // test failures that passed on a rerun of the same tree: blamed on no branch
	Blockers     []BlockerStatus `json:"blockers"`  // open blockers
	Costs        []AgentCost     `json:"costs"`     // per agent, where its CLI reports them
	Repairs      []Repair        `json:"repairs"`   // what teamctl made again that was taken away, and what was lost
	Incidents    []Incident      `json:"incidents"` // agents' attempts teamctl refused or undid
}

// Repair is one repair the supervisor made (RepairKinds): a branch or worktree made again.
type Repair struct {
	Agent string    `json:"agent"`
	Text  string    `json:"text"`
	At    time.Time `json:"at"`
}

type ReviewTask struct {
	ID       string         `json:"id"`
	Agent    string         `json:"agent"`
	State    TaskState      `json:"state"`
	Detail   string         `json:"detail,omitempty"`
	Summary  string         `json:"summary,omitempty"`
	Merge    string         `json:"merge,omitempty"` // merge commit on the leader branch (Into's, for a worker)
	Into     string         `json:"into,omitempty"`  // a worker's (teamctl spawn): its spawner's branch, which it merges into
	Tests    string         `json:"tests"`           // "passed", "failed", "none" (no test command), "not run"
	TestRuns int            `json:"test_runs"`
	Commits  []ReviewCommit `json:"commits"`
	Diffstat Diffstat       `json:"diffstat"`
	// A task its agent could not merge that the leader agent landed: LandedBy names it, Fix
	// is its own commits on the way (Commits stay the agent's).
	LandedBy string         `json:"landed_by,omitempty"`
	Fix      []ReviewCommit `json:"fix,omitempty"`
}

type ReviewCommit struct {
	Hash    string `json:"hash"`
	Subject string `json:"subject"`
	Author  string `json:"author"`
	Auto    bool   `json:"auto_commit"` // made by teamctl for work the agent left uncommitted
}

type ReviewMerge struct {
	Task    string    `json:"task"`
	Agent   string    `json:"agent"`
	Outcome string    `json:"outcome"`
	Why     string    `json:"why"`
	At      time.Time `json:"at"`
}

type Diffstat struct {
	Files      []FileStat `json:"files"`
	Insertions int        `json:"insertions"`
	Deletions  int        `json:"deletions"`
}

type FileStat struct {
	Path       string `json:"path"`
	Insertions int    `json:"insertions"`
	Deletions  int    `json:"deletions"`
}

// cents rounds an amount of US dollars to the cent, as JSON shows money.
func cents(usd float64) float64 { return math.Round(usd*100) / 100 }

// agentUsage is what an agent of a known CLI reported spending, read from its log.
func (w *Workspace) agentUsage(t store.Team, p *plan.Plan, agent string) (agentproc.Usage, bool) {
	a, ok := p.Agent(agent)
	if !ok || a.Preset == "" {
		return agentproc.Usage{}, false
	}
	tr, err := agentproc.ReadLog(a.Preset, LogPath(w.repo.CommonDir, t.Name, agent), logOptions(p, a))
	if err != nil || tr.Usage == (agentproc.Usage{}) {
		return agentproc.Usage{}, false
	}
	return tr.Usage, true
}

// openBlockers lists the team's blockers that wait for an answer, those for a person first.
func (w *Workspace) openBlockers(ctx context.Context, team string) ([]BlockerStatus, error) {
	bs, err := w.store.OpenBlockers(ctx, team)
	if err != nil {
		return nil, err
	}
	out := []BlockerStatus{}
	for _, b := range bs {
		out = append(out, BlockerStatus{ID: b.ID, Agent: b.Agent, Task: b.Task, Text: b.Text, Human: b.Human, State: b.State})
	}
	return out, nil
}

func diffstat(d worktree.DiffStat) Diffstat {
	out := Diffstat{Files: []FileStat{}, Insertions: d.Insertions, Deletions: d.Deletions}
	for _, f := range d.Files {
		out.Files = append(out.Files, FileStat{Path: f.Path, Insertions: f.Insertions, Deletions: f.Deletions})
	}
	return out
}

// Review reads what the team merged, task by task, from the store and git.
func (w *Workspace) Review(ctx context.Context, name string) (Review, error) {
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return Review{}, err
	}
	p, err := loadPlan(t)
	if err != nil {
		return Review{}, err
	}
	tip, err := w.repo.Resolve(ctx, t.LeaderBranch)
	if err != nil {
		return Review{}, err
	}
	rv := Review{Team: t.Name, Base: t.Base, LeaderBranch: t.LeaderBranch, Tip: tip, Tested: tip == t.TestedHead, Test: p.Test,
		Tasks: []ReviewTask{}, Refused: []ReviewMerge{}, Flaky: []ReviewMerge{}, Blockers: []BlockerStatus{}, Costs: []AgentCost{}, Repairs: []Repair{}}
	if rv.Repairs, err = w.repairs(ctx, t.Name); err != nil {
		return rv, err
	}
	if rv.Incidents, err = w.incidents(ctx, t.Name, 0); err != nil {
		return rv, err
	}
	if commits, err := w.repo.Commits(ctx, t.BaseHead, tip); err == nil {
		rv.Commits = len(commits)
	}
	if d, err := w.repo.DiffStat(ctx, t.BaseHead, tip); err == nil {
		rv.Diffstat = diffstat(d)
	} else {
		rv.Diffstat = Diffstat{Files: []FileStat{}}
	}
	if rv.Blockers, err = w.openBlockers(ctx, t.Name); err != nil {
		return rv, err
	}
	for _, a := range p.Members() {
		if u, ok := w.agentUsage(t, p, a.Name); ok {
			rv.Costs = append(rv.Costs, AgentCost{Agent: a.Name, USD: cents(u.CostUSD), Estimated: u.Estimated})
		} else if a.Preset != "" && a.Mode == plan.ModeTmux {
			rv.Costs = append(rv.Costs, AgentCost{Agent: a.Name, Unknown: true})
		}
	}
	merges, err := w.store.Merges(ctx, t.Name)
	if err != nil {
		return rv, err
	}
	runs := map[string]int{}
	for _, m := range merges {
		if m.Outcome == Flaky {
			rv.Flaky = append(rv.Flaky, ReviewMerge{Task: m.Task, Outcome: m.Outcome, Why: m.Output, At: m.Ended})
			continue
		}
		runs[m.Task] += m.TestRuns
		if m.Outcome != "merged" {
			why := m.Output
			if m.Outcome == "conflict" {
				why = "conflicting files: " + m.Output
			}
			rv.Refused = append(rv.Refused, ReviewMerge{Task: m.Task, Agent: m.Agent, Outcome: m.Outcome, Why: why, At: m.Ended})
		}
	}
	tasks, err := w.store.Tasks(ctx, t.Name)
	if err != nil {
		return rv, err
	}
	for _, tk := range tasks {
		rt := ReviewTask{ID: tk.ID, Agent: tk.Agent, State: stateOf(tk), Detail: tk.Detail, Summary: tk.Summary,
			Merge: tk.MergeCommit, TestRuns: runs[tk.ID], Commits: []ReviewCommit{}, Diffstat: Diffstat{Files: []FileStat{}}}
		if pa, ok := p.Agent(tk.Agent); ok && pa.Spawner != "" {
			rt.Into = BranchName(t.Name, pa.Spawner)
		}
		switch {
		case p.Test == "":
			rt.Tests = "none"
		case stateOf(tk) == Merged:
			rt.Tests = "passed"
		case stateOf(tk) == TestsFailed:
			rt.Tests = "failed"
		default:
			rt.Tests = "not run"
		}
		var tried *store.Merge // its last attempt that did not merge
		for i, m := range merges {
			switch {
			case m.Task != tk.ID:
			case m.Outcome == "merged":
				rt.Commits = w.taskCommits(ctx, m.Before, m.BranchHead, tk.Agent)
				if d, err := w.repo.DiffStat(ctx, m.Before, m.Commit); err == nil {
					rt.Diffstat = diffstat(d)
				}
				tried = nil
			case m.BranchHead != "" && m.Before != "":
				tried = &merges[i]
			}
		}
		if tried != nil && stateOf(tk) == Merged && tk.MergeCommit != "" {
			w.landedByLeader(ctx, &rt, *tried, p.Leader.Name)
		}
		rv.Tasks = append(rv.Tasks, rt)
	}
	return rv, nil
}

// landedByLeader attributes a task the leader agent landed in a tested tip: the agent's
// commits (its branch as the queue last tried it) and the leader's own on the way there.
func (w *Workspace) landedByLeader(ctx context.Context, rt *ReviewTask, tried store.Merge, leader string) {
	rt.LandedBy = leader
	rt.Commits = w.taskCommits(ctx, tried.Before, tried.BranchHead, rt.Agent)
	mine := map[string]bool{}
	for _, c := range rt.Commits {
		mine[c.Hash] = true
	}
	// The leader's own commits on the way: not the merges teamctl made on the leader branch
	// meanwhile (authored as the leader too), which land other tasks.
	landed := map[string]bool{}
	if commits, err := w.repo.Commits(ctx, tried.Before, rt.Merge); err == nil {
		for _, c := range commits {
			landed[c.Hash] = mergedTask(c, tried.Team) != ""
		}
	}
	for _, c := range w.taskCommits(ctx, tried.Before, rt.Merge, leader) {
		if !mine[c.Hash] && !landed[c.Hash] && c.Author == leader {
			rt.Fix = append(rt.Fix, c)
		}
	}
	if d, err := w.repo.DiffStat(ctx, tried.Before, rt.Merge); err == nil {
		rt.Diffstat = diffstat(d)
	}
}

func (w *Workspace) taskCommits(ctx context.Context, before, head, agent string) []ReviewCommit {
	out := []ReviewCommit{}
	commits, err := w.repo.Commits(ctx, before, head)
	if err != nil {
		return out
	}
	for _, c := range commits {
		out = append(out, ReviewCommit{Hash: c.Hash, Subject: c.Subject, Author: c.Author,
			Auto: len(c.Subject) >= len(autoCommitPrefix) && c.Subject[:len(autoCommitPrefix)] == autoCommitPrefix})
	}
	return out
}

const autoCommitPrefix = "teamctl auto-commit:"
