package orchestrator

// The read API the dashboards use beside Status and Review (report.go): what a team's
// agents spent, their conversations, the plan, the journal. The layers above reach the
// store and the repository only through these.

import (
	"context"
	"errors"
	"io"
	"path/filepath"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// ErrNoTranscript is an agent whose program writes no stream teamctl can read as a
// conversation (a plain command): its log is all there is.
var ErrNoTranscript = errors.New("no readable conversation: the agent is a plain command or runs in tmux")

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
		return nil, Errorf(ErrNoTeam, "team %s has no agent %q", team, agent)
	}
	if _, known := agentproc.PresetNamed(a.Preset); !known || len(a.Command) > 0 || a.Mode == plan.ModeTmux {
		return nil, ErrNoTranscript
	}
	return agentproc.NewTranscriptReader(a.Preset, LogPath(w.repo.CommonDir, team, agent)), nil
}

// AgentTranscript reads an agent's log as its conversation, with the plan's words for
// provider errors and its prices.
func (w *Workspace) AgentTranscript(ctx context.Context, team, agent string) (agentproc.Transcript, error) {
	_, p, err := w.teamPlan(ctx, team)
	if err != nil {
		return agentproc.Transcript{}, err
	}
	a, ok := p.Agent(agent)
	if !ok {
		return agentproc.Transcript{}, Errorf(ErrNoTeam, "team %s has no agent %q", team, agent)
	}
	return agentproc.ReadLog(a.Preset, LogPath(w.repo.CommonDir, team, agent), logOptions(p, a))
}

// Plan is the plan team runs, as it was when the team was made.
func (w *Workspace) Plan(ctx context.Context, team string) (*plan.Plan, error) {
	_, p, err := w.teamPlan(ctx, team)
	return p, err
}

// teamPlan reads a team and the plan it runs.
func (w *Workspace) teamPlan(ctx context.Context, team string) (store.Team, *plan.Plan, error) {
	t, err := w.store.Team(ctx, team)
	if err != nil {
		return t, nil, err
	}
	p, err := loadPlan(t)
	return t, p, err
}

// Root is the top of the repository's main worktree.
func (w *Workspace) Root() string { return w.repo.Root }

// StateDir is the directory of teamctl's own files in the repository, the store's: where
// `serve` keeps its login token.
func (w *Workspace) StateDir() string { return filepath.Dir(store.Path(w.repo.CommonDir)) }

// StoreStamp changes whenever the store is written (its database file or its write-ahead
// log): a stat of two files, for a reader that would otherwise query the journal to learn
// that nothing happened.
func (w *Workspace) StoreStamp() [2]FileStamp {
	db := store.Path(w.repo.CommonDir)
	return [2]FileStamp{StampOf(db), StampOf(db + "-wal")}
}

// LastEventID is the id of the team's newest journal event (0 before any).
func (w *Workspace) LastEventID(ctx context.Context, team string) (int64, error) {
	return w.store.LastEventID(ctx, team)
}

// AgentWork is what an agent has that is not merged yet: its commits ahead of the leader
// branch and the files its worktree holds uncommitted (Unknown: not counted, or gone).
type AgentWork struct {
	Ahead       int `json:"ahead"`
	Uncommitted int `json:"uncommitted"`
}

// MergeDiff is the change a merge commit of the leader branch brought (its first-parent
// diff, a task's Merge in the review), as git diff prints it.
func (w *Workspace) MergeDiff(ctx context.Context, merge string) (string, error) {
	return w.repo.Diff(ctx, merge+"^1", merge)
}

// Teams lists the repository's teams, by name.
func (w *Workspace) Teams(ctx context.Context) ([]store.Team, error) { return w.store.Teams(ctx) }

// AgentLog is the path of an agent's log (DESIGN.md §2).
func (w *Workspace) AgentLog(team, agent string) string {
	return LogPath(w.repo.CommonDir, team, agent)
}

// Tmux is the team's tmux server (the agents in mode: tmux run there), through the
// environment's tmux executor.
func (w *Workspace) Tmux(team string) *agentproc.Tmux {
	return agentproc.NewTmux(w.env.tmux(), w.repo.CommonDir, team)
}

// Agents lists the team's agents as the store records them.
func (w *Workspace) Agents(ctx context.Context, team string) ([]store.Agent, error) {
	return w.store.Agents(ctx, team)
}

// Agent reads one agent of the team; ErrNoTeam when the team has none of that name.
func (w *Workspace) Agent(ctx context.Context, team, name string) (store.Agent, error) {
	a, err := w.store.Agent(ctx, team, name)
	if errors.Is(err, store.ErrNotFound) {
		return a, Errorf(ErrNoTeam, "team %s has no agent %q", team, name)
	}
	return a, err
}

// Events lists the team's journal after event id after, oldest first, at most limit (0: all).
func (w *Workspace) Events(ctx context.Context, team string, after int64, limit int) ([]store.Event, error) {
	return w.store.Events(ctx, team, after, limit)
}

// Merges lists the team's merge records, oldest first.
func (w *Workspace) Merges(ctx context.Context, team string) ([]store.Merge, error) {
	return w.store.Merges(ctx, team)
}

// Warnings lists the conflicts coming between the team's live branches.
func (w *Workspace) Warnings(ctx context.Context, team string) ([]store.Warning, error) {
	return w.store.Warnings(ctx, team)
}
