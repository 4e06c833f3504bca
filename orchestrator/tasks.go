package orchestrator

// Coordination (DESIGN.md §6): what agents say of their work — intents, done reports —
// and the tasks the leader delegates.

import (
	"context"
	"errors"
	"strings"

	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// Intent records what the caller is about to do (files, if any, repo-relative): it shows
// in the feed and grants nothing.
func (p *Participant) Intent(ctx context.Context, text string, files []string) (store.Intent, error) {
	if strings.TrimSpace(text) == "" {
		return store.Intent{}, Errorf(ErrUsage, "the intent is empty: say what you are about to do")
	}
	fs, err := repoPaths(p.caller.Dir, files)
	if err != nil {
		return store.Intent{}, err
	}
	task := ""
	if a, ok := p.agent(p.me); ok {
		task = p.currentTask(a)
	}
	return p.w.store.RecordIntent(ctx, store.Intent{Team: p.team.Name, Agent: p.me, Task: task, Text: text, Files: fs})
}

// ReportDone stores the calling agent's report on its current task (`teamctl done`).
func (p *Participant) ReportDone(ctx context.Context, summary string) (store.Task, error) {
	a, ok := p.agent(p.me)
	if !ok {
		return store.Task{}, Errorf(ErrUsage, "done is an agent's word on its task (set TEAMCTL_AGENT or --as)")
	}
	task := p.currentTask(a)
	if task == "" {
		return store.Task{}, Errorf(ErrUsage, "agent %s has no task to report on", p.me)
	}
	return p.w.store.ReportDone(ctx, p.team.Name, task, p.me, summary)
}

// AddTaskOptions are the options of `teamctl task add`.
type AddTaskOptions struct {
	Agent  string
	ID     string
	Prompt string
	After  []string
}

// AddTask delegates a new task to a dev agent: the leader or a person may. A running
// supervisor picks it up; a stopped team on resume.
func (p *Participant) AddTask(ctx context.Context, o AddTaskOptions) (store.Task, error) {
	if p.me != Human && !p.isLeader() {
		return store.Task{}, Errorf(ErrUsage, "only the leader (%s) or a person adds tasks; %s can ask the leader (teamctl msg send --to %s)",
			p.plan.Leader.Name, p.me, p.plan.Leader.Name)
	}
	if !plan.ValidName(o.ID) {
		return store.Task{}, Errorf(ErrUsage, "task id %q: must match [a-z0-9][a-z0-9-]{0,39}", o.ID)
	}
	if plan.ReservedTaskID(o.ID) {
		return store.Task{}, Errorf(ErrUsage, "task id %q is reserved for the leader's own tasks: choose another", o.ID)
	}
	if strings.TrimSpace(o.Prompt) == "" {
		return store.Task{}, Errorf(ErrUsage, "the task's prompt is empty: say what to do")
	}
	if len(o.Prompt) > plan.MaxPrompt {
		return store.Task{}, Errorf(ErrUsage, "the task's prompt is %d bytes: at most %d (64 KiB), as in a plan; put a longer brief in a file of the repository and name it", len(o.Prompt), plan.MaxPrompt)
	}
	a, ok := p.agent(o.Agent)
	if !ok {
		return store.Task{}, p.unknown(o.Agent)
	}
	if a.Role != "dev" {
		return store.Task{}, Errorf(ErrUsage, "%s is the leader: tasks go to dev agents", o.Agent)
	}
	ids := map[string]bool{}
	for _, t := range p.tasks {
		ids[t.ID] = true
	}
	for _, dep := range o.After {
		if !ids[dep] {
			return store.Task{}, Errorf(ErrUsage, "--after %s: no such task in team %s", dep, p.team.Name)
		}
	}
	t := store.Task{Team: p.team.Name, ID: o.ID, Agent: o.Agent, Prompt: o.Prompt, After: o.After, State: string(Pending)}
	err := p.w.store.AddTask(ctx, t)
	if errors.Is(err, store.ErrExists) {
		return store.Task{}, Errorf(ErrUsage, "team %s already has a task %q: pick another id", p.team.Name, o.ID)
	}
	if err != nil {
		return store.Task{}, err
	}
	return p.w.store.Task(ctx, p.team.Name, o.ID)
}
