package orchestrator

// teamctl spawn (DESIGN.md §13): an agent starts workers of its own. Each is a new agent of
// the team (<caller>-sub-N), on a branch made from the caller's, merged back into the
// caller's branch through the merge queue with the plan's test; the caller is their leader
// and hears each one's report as a message.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// SpawnOptions are what teamctl spawn starts: one worker per task, running Preset or
// Command ("" and nil: what the caller runs).
type SpawnOptions struct {
	Tasks   []string
	Preset  string
	Command []string
}

// Spawned is one call of teamctl spawn: its workers and where they merge.
type Spawned struct {
	Team    string   `json:"team"`
	Spawner string   `json:"spawner"`
	Call    int      `json:"call"` // the call's number among the spawner's
	Into    string   `json:"into"` // the branch the workers merge into: the spawner's
	Workers []Worker `json:"workers"`
}

// Worker is one worker of a spawn, as it is now.
type Worker struct {
	Agent   string `json:"agent"`
	Task    string `json:"task"`
	Prompt  string `json:"prompt"`
	Branch  string `json:"branch"`
	State   string `json:"state"`
	Detail  string `json:"detail,omitempty"`
	Summary string `json:"summary,omitempty"` // its report (teamctl done --summary)
}

// Settled reports whether the worker has come to rest: merged or done (or cancelled), or
// waiting on someone to say what it should do (failed, blocked, a conflict it could not fix).
func (w Worker) Settled() bool {
	st := TaskState(w.State)
	return st.Finished() || st.WaitsOnHuman()
}

// Merged reports whether the worker's work is in the spawner's branch (or it had none).
func (w Worker) Merged() bool { st := TaskState(w.State); return st == Merged || st == Done }

// Settled reports whether every worker of the spawn has come to rest.
func (s Spawned) Settled() bool {
	for _, w := range s.Workers {
		if !w.Settled() {
			return false
		}
	}
	return true
}

// Depth is how deep agent is in teams: an agent of the team is one deeper than the teamctl
// run that made it, a worker one deeper than its spawner. (Read from the team's plan, not
// the caller's TEAMCTL_DEPTH, which an agent may set as it likes.)
func Depth(p *plan.Plan, agent string) int {
	d := p.Depth + 1
	for seen := 0; seen < 64; seen++ {
		a, ok := p.Agent(agent)
		if !ok || a.Spawner == "" {
			return d
		}
		d, agent = d+1, a.Spawner
	}
	return d
}

// Spawn starts the caller's workers, one per task. The caller must be an agent of the team;
// limits are the plan's spawn: (at most max_tasks a call, none at max_depth).
func (p *Participant) Spawn(ctx context.Context, o SpawnOptions) (Spawned, error) {
	if p.me == Human {
		return Spawned{}, Errorf(ErrUsage, "teamctl spawn starts workers for the agent that runs it, and you are the person: give an agent work with teamctl task add, or add agents with teamctl apply")
	}
	if TeamState(p.team.State) == TeamFinished {
		return Spawned{}, Errorf(ErrUsage, "spawn: team %s has finished: nothing would run its workers (add work with teamctl task add or apply, then teamctl resume)", p.team.Name)
	}
	if a, ok := p.agent(p.me); ok && !p.isLeader() {
		if id := p.currentTask(a); id == "" || !p.taskAtWork(id) {
			return Spawned{}, Errorf(ErrUsage, "spawn: %s has no task at work (its tasks are merged or done): its workers' work would never be merged on", p.me)
		}
	}
	lim := p.plan.Spawn.Limits()
	switch n := len(o.Tasks); {
	case n == 0:
		return Spawned{}, Errorf(ErrUsage, "spawn: --task TEXT is required (one worker each)")
	case n > lim.MaxTasks:
		return Spawned{}, Errorf(ErrUsage, "spawn: %d tasks is too many: at most %d a call (spawn.max_tasks in the plan)", n, lim.MaxTasks)
	}
	for i, t := range o.Tasks {
		if strings.TrimSpace(t) == "" {
			return Spawned{}, Errorf(ErrUsage, "spawn: --task %d is empty: say what the worker should do", i+1)
		}
	}
	if d := Depth(p.plan, p.me); d >= lim.MaxDepth {
		return Spawned{}, Errorf(ErrUsage, "spawn: refused at depth %d: agents at depth %d or more may not spawn (spawn.max_depth in the plan; %s is %s)",
			d, lim.MaxDepth, p.me, depthWhy(p.plan, p.me))
	}
	if o.Preset != "" && len(o.Command) > 0 {
		return Spawned{}, Errorf(ErrUsage, "spawn: --preset and --command go one or the other")
	}
	if o.Preset != "" {
		if _, ok := agentproc.PresetNamed(o.Preset); !ok {
			return Spawned{}, Errorf(ErrUsage, "spawn: no preset %q (presets: %s)", o.Preset, strings.Join(plan.Presets(), ", "))
		}
	}
	// One spawn of the team at a time: two would make the same workers' branches (another's
	// plan change, an apply's, is caught by the store's check and made again).
	unlock, err := spawnLock(p.w.repo.CommonDir, p.team.Name)
	if err != nil {
		return Spawned{}, err
	}
	defer unlock()
	if err := p.reload(ctx); err != nil {
		return Spawned{}, err
	}
	for try := 0; ; try++ {
		s, err := p.spawn(ctx, o, lim)
		if !errors.Is(err, store.ErrStale) || try == 4 {
			return s, err
		}
		// An apply changed the plan meanwhile: again, on the new one.
		if err := p.reload(ctx); err != nil {
			return s, err
		}
	}
}

// taskAtWork reports whether task id is not finished yet: its branch is still to be merged.
func (p *Participant) taskAtWork(id string) bool {
	for _, t := range p.tasks {
		if t.ID == id {
			return !stateOf(t).Finished()
		}
	}
	return false
}

// reload reads the caller's team and plan again.
func (p *Participant) reload(ctx context.Context) error {
	t, err := p.w.store.Team(ctx, p.team.Name)
	if err != nil {
		return err
	}
	p.team = t
	p.plan, err = loadPlan(t)
	return err
}

// spawnLock waits for the team's spawn lock (an flock, dropped with its process) and
// returns its release.
func spawnLock(commonDir, team string) (func(), error) {
	path := filepath.Join(filepath.Dir(lockPath(commonDir, team)), team+".spawn.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(int(f.Fd()))
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock team %s for a spawn: %w", team, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func (p *Participant) spawn(ctx context.Context, o SpawnOptions, lim plan.Spawn) (Spawned, error) {
	caller, ok := p.plan.Agent(p.me)
	if !ok {
		return Spawned{}, p.unknown(p.me)
	}
	np, err := loadPlan(p.team) // a copy to add to
	if err != nil {
		return Spawned{}, err
	}
	n, call := 0, 1
	for _, a := range np.Agents {
		if a.Spawner == p.me {
			n++
			call = max(call, a.SpawnCall+1)
		}
	}
	s := Spawned{Team: p.team.Name, Spawner: p.me, Call: call, Into: BranchName(p.team.Name, p.me)}
	var names []string
	for i, text := range o.Tasks {
		name := fmt.Sprintf("%s-sub-%d", p.me, n+i+1)
		if !plan.ValidName(name) {
			return Spawned{}, Errorf(ErrUsage, "spawn: a worker of %s would be named %q, which is not a valid agent name (at most 40 of a-z, 0-9, -)", p.me, name)
		}
		if _, taken := np.Agent(name); taken {
			return Spawned{}, Errorf(ErrUsage, "spawn: team %s already has an agent %s", p.team.Name, name)
		}
		w := plan.Agent{Name: name, Role: "dev", Preset: caller.Preset, Command: caller.Command, Env: caller.Env,
			Timeout: caller.Timeout, Retries: caller.Retries, Nudge: caller.Nudge, Mode: plan.ModeHeadless, Budget: caller.Budget,
			Tasks:   []plan.Task{{ID: name, Agent: name, Prompt: text}},
			Spawner: p.me, SpawnCall: call, Concurrency: min(len(o.Tasks), lim.Concurrency)}
		switch {
		case o.Preset != "":
			w.Preset, w.Command = o.Preset, nil
		case len(o.Command) > 0:
			w.Preset, w.Command = "", o.Command
		}
		if !w.IsAgent() {
			return Spawned{}, Errorf(ErrUsage, "spawn: %s has no program of its own to give its workers: say --preset P or --command ARGV", p.me)
		}
		np.Agents = append(np.Agents, w)
		names = append(names, name)
		s.Workers = append(s.Workers, Worker{Agent: name, Task: name, Prompt: text, Branch: BranchName(p.team.Name, name), State: string(Pending)})
	}
	if _, err := p.w.changePlan(ctx, p.team, p.plan, np, false, false, nil); err != nil {
		return Spawned{}, err
	}
	data, _ := json.Marshal(struct {
		Call    int      `json:"call"`
		Workers []string `json:"workers"`
		Into    string   `json:"into"`
	}{call, names, s.Into})
	if _, err := p.w.store.AppendEvent(ctx, store.Event{Team: p.team.Name, Kind: "spawn", Agent: p.me, Data: string(data)}); err != nil {
		return s, err
	}
	return s, nil
}

// depthWhy says how deep agent is: "an agent of the team", or whose worker it is.
func depthWhy(p *plan.Plan, agent string) string {
	a, ok := p.Agent(agent)
	if !ok || a.Spawner == "" {
		return "an agent of the team"
	}
	return "a worker of " + a.Spawner
}

// WaitSpawn waits until every worker of s has settled, reading them every poll, and
// returns them as they ended.
func (w *Workspace) WaitSpawn(ctx context.Context, s Spawned, poll time.Duration) (Spawned, error) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for !s.Settled() {
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
		var err error
		if s, err = w.SpawnOf(ctx, s.Team, s.Spawner, s.Call); err != nil {
			return s, err
		}
	}
	return s, nil
}

// SpawnOf is spawn call of spawner in team as it is now.
func (w *Workspace) SpawnOf(ctx context.Context, team, spawner string, call int) (Spawned, error) {
	t, err := w.store.Team(ctx, team)
	if err != nil {
		return Spawned{}, err
	}
	p, err := loadPlan(t)
	if err != nil {
		return Spawned{}, err
	}
	tasks, err := w.store.Tasks(ctx, team)
	if err != nil {
		return Spawned{}, err
	}
	byID := map[string]store.Task{}
	for _, tk := range tasks {
		byID[tk.ID] = tk
	}
	s := Spawned{Team: team, Spawner: spawner, Call: call, Into: BranchName(team, spawner)}
	for _, a := range p.Agents {
		if a.Spawner != spawner || a.SpawnCall != call {
			continue
		}
		for _, pt := range a.Tasks {
			wk := Worker{Agent: a.Name, Task: pt.ID, Prompt: pt.Prompt, Branch: BranchName(team, a.Name), State: string(Pending)}
			if tk, ok := byID[pt.ID]; ok {
				wk.State, wk.Detail, wk.Summary = tk.State, tk.Detail, tk.Summary
			}
			s.Workers = append(s.Workers, wk)
		}
	}
	if len(s.Workers) == 0 {
		return s, Errorf(ErrNoTeam, "team %s has no spawn %d of %s", team, call, spawner)
	}
	return s, nil
}
