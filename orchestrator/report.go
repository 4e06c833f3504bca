package orchestrator

import (
	"context"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// Status is one screen of a team: `teamctl status`. Field names are the stable --json ones.
type Status struct {
	Team           string          `json:"team"`
	State          string          `json:"state"`
	Supervised     bool            `json:"supervised"` // a supervisor process holds the team
	Base           string          `json:"base"`
	LeaderBranch   string          `json:"leader_branch"`
	LeaderWorktree string          `json:"leader_worktree"`
	Agents         []AgentStatus   `json:"agents"`
	Tasks          []TaskStatus    `json:"tasks"`
	Blockers       []BlockerStatus `json:"blockers"`
	Queue          []string        `json:"queue"` // task ids queued or merging, oldest first
}

type AgentStatus struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	State    string `json:"state"` // "running" only while its process lives
	Task     string `json:"task"`
	Branch   string `json:"branch"`
	Worktree string `json:"worktree"`
	PID      int    `json:"pid,omitempty"`
}

type TaskStatus struct {
	ID      string    `json:"id"`
	Agent   string    `json:"agent"`
	State   string    `json:"state"`
	Attempt int       `json:"attempt"`
	Reason  string    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Since   time.Time `json:"since"`
	After   []string  `json:"after,omitempty"`
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
		Team: t.Name, State: t.State, Base: t.Base, LeaderBranch: t.LeaderBranch, LeaderWorktree: t.LeaderWorktree,
		Supervised: supervised(w.Repo.CommonDir, t.Name),
		Agents:     []AgentStatus{}, Tasks: []TaskStatus{}, Blockers: []BlockerStatus{}, Queue: []string{},
	}
	if (t.State == TeamRunning || t.State == TeamWaiting) && !st.Supervised {
		st.State = "crashed" // recorded as running but no supervisor holds it: resume continues it
	}
	agents, err := w.Store.Agents(ctx, t.Name)
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
		if state == "running" {
			as.PID = a.PID
		}
		st.Agents = append(st.Agents, as)
	}
	tasks, err := w.Store.Tasks(ctx, t.Name)
	if err != nil {
		return st, err
	}
	for _, tk := range tasks {
		st.Tasks = append(st.Tasks, TaskStatus{ID: tk.ID, Agent: tk.Agent, State: tk.State, Attempt: tk.Attempt,
			Reason: tk.Reason, Detail: tk.Detail, Since: tk.Updated, After: tk.After})
		if tk.State == Queued || tk.State == Merging {
			st.Queue = append(st.Queue, tk.ID)
		}
	}
	return st, nil
}

// Review is what a team merged, for the person who accepts it: `teamctl review`.
type Review struct {
	Team         string          `json:"team"`
	Base         string          `json:"base"`
	LeaderBranch string          `json:"leader_branch"`
	Tip          string          `json:"tip"`      // the leader branch's commit
	Tested       bool            `json:"tested"`   // the tip passed the test command
	Test         string          `json:"test"`     // the test command
	Commits      int             `json:"commits"`  // commits on the leader branch not on base
	Diffstat     Diffstat        `json:"diffstat"` // base...tip
	Tasks        []ReviewTask    `json:"tasks"`    // every task, in plan order
	Refused      []ReviewMerge   `json:"refused"`  // merges refused, conflicting or failing, and why
	Blockers     []BlockerStatus `json:"blockers"` // open blockers
	Costs        []AgentCost     `json:"costs"`    // per agent, where its CLI reports them
}

type ReviewTask struct {
	ID       string         `json:"id"`
	Agent    string         `json:"agent"`
	State    string         `json:"state"`
	Detail   string         `json:"detail,omitempty"`
	Summary  string         `json:"summary,omitempty"`
	Merge    string         `json:"merge,omitempty"` // merge commit on the leader branch
	Tests    string         `json:"tests"`           // "passed", "failed", "none" (no test command), "not run"
	TestRuns int            `json:"test_runs"`
	Commits  []ReviewCommit `json:"commits"`
	Diffstat Diffstat       `json:"diffstat"`
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
	tip, err := w.Repo.Resolve(ctx, t.LeaderBranch)
	if err != nil {
		return Review{}, err
	}
	rv := Review{Team: t.Name, Base: t.Base, LeaderBranch: t.LeaderBranch, Tip: tip, Tested: tip == t.TestedHead, Test: p.Test,
		Tasks: []ReviewTask{}, Refused: []ReviewMerge{}, Blockers: []BlockerStatus{}, Costs: []AgentCost{}}
	if commits, err := w.Repo.Commits(ctx, t.BaseHead, tip); err == nil {
		rv.Commits = len(commits)
	}
	if d, err := w.Repo.DiffStat(ctx, t.BaseHead, tip); err == nil {
		rv.Diffstat = diffstat(d)
	} else {
		rv.Diffstat = Diffstat{Files: []FileStat{}}
	}
	merges, err := w.Store.Merges(ctx, t.Name)
	if err != nil {
		return rv, err
	}
	runs := map[string]int{}
	for _, m := range merges {
		runs[m.Task] += m.TestRuns
		if m.Outcome != "merged" {
			why := m.Output
			if m.Outcome == "conflict" {
				why = "conflicting files: " + m.Output
			}
			rv.Refused = append(rv.Refused, ReviewMerge{Task: m.Task, Agent: m.Agent, Outcome: m.Outcome, Why: why, At: m.Ended})
		}
	}
	tasks, err := w.Store.Tasks(ctx, t.Name)
	if err != nil {
		return rv, err
	}
	for _, tk := range tasks {
		rt := ReviewTask{ID: tk.ID, Agent: tk.Agent, State: tk.State, Detail: tk.Detail, Summary: tk.Summary,
			Merge: tk.MergeCommit, TestRuns: runs[tk.ID], Commits: []ReviewCommit{}, Diffstat: Diffstat{Files: []FileStat{}}}
		switch {
		case p.Test == "":
			rt.Tests = "none"
		case tk.State == Merged:
			rt.Tests = "passed"
		case tk.State == TestsFailed:
			rt.Tests = "failed"
		default:
			rt.Tests = "not run"
		}
		for _, m := range merges {
			if m.Task == tk.ID && m.Outcome == "merged" {
				rt.Commits = w.taskCommits(ctx, m.Before, m.BranchHead, tk.Agent)
				if d, err := w.Repo.DiffStat(ctx, m.Before, m.Commit); err == nil {
					rt.Diffstat = diffstat(d)
				}
			}
		}
		rv.Tasks = append(rv.Tasks, rt)
	}
	return rv, nil
}

func (w *Workspace) taskCommits(ctx context.Context, before, head, agent string) []ReviewCommit {
	out := []ReviewCommit{}
	commits, err := w.Repo.Commits(ctx, before, head)
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

var _ = store.ErrNotFound
