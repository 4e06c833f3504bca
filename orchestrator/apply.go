package orchestrator

// apply (DESIGN.md §10): an edited plan applied to a live or stopped team. It checks the
// plan like run does and against the team, says what changes, and records all of it in one
// transaction (new agents' branches and worktrees first, undone on failure). It moves no
// task: the supervisor (running, or the next resume) picks the plan up, cancels the tasks
// it removed and launches the new ones (followPlan).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// ApplyOptions are the options of `teamctl apply`.
type ApplyOptions struct {
	DryRun bool // say what would change, change nothing
	Force  bool // also remove tasks that have started: their agents are stopped, their work stays on their branches
}

// Applied is what apply changed (or, with DryRun, would change).
type Applied struct {
	Team       string   `json:"team"`
	Changes    []string `json:"changes"` // one line each: "+ task x (alice)", "~ agents.alice.budget.usd: 1 → 5", ...
	Supervised bool     `json:"supervised"`
	DryRun     bool     `json:"dry_run"`
}

// Apply applies plan p to its team in the repository the plan names. On any error nothing
// is changed.
func Apply(ctx context.Context, env Env, p *plan.Plan, opts ApplyOptions) (Applied, error) {
	ws, err := Open(ctx, env, p.Repo)
	if err != nil {
		if errors.Is(err, ErrUsage) {
			return Applied{Team: p.Team}, p.Errorf("repo", "%s is not inside a git repository", p.Repo)
		}
		return Applied{Team: p.Team}, err
	}
	defer ws.Close()
	return ws.Apply(ctx, p, opts)
}

// Apply applies plan p to its team. On any error nothing is changed.
func (w *Workspace) Apply(ctx context.Context, p *plan.Plan, opts ApplyOptions) (Applied, error) {
	if err := w.PersonOnly(ctx, "teamctl apply"); err != nil {
		return Applied{}, err
	}
	out := Applied{Team: p.Team, Changes: []string{}, DryRun: opts.DryRun}
	t, err := w.store.Team(ctx, p.Team)
	if errors.Is(err, store.ErrNotFound) {
		return out, Errorf(ErrNoTeam, "%v: this repository has no team %q: apply changes a team that exists (a team cannot be renamed; teamctl run makes a new one)",
			p.Errorf("team", "team %s", p.Team), p.Team)
	}
	if err != nil {
		return out, err
	}
	out.Supervised = supervised(w.repo.CommonDir, t.Name)
	old, err := loadPlan(t)
	if err != nil {
		return out, err
	}
	if err := w.checkFixed(p, old, t); err != nil {
		return out, err
	}
	p.Depth = old.Depth
	// The workers teamctl spawn added are the team's, not the file's: they stay.
	for _, a := range old.Agents {
		if _, ok := p.Agent(a.Name); !ok && a.Spawner != "" {
			p.Agents = append(p.Agents, a)
		}
	}
	out.Changes, err = w.changePlan(ctx, t, old, p, opts.Force, opts.DryRun, settingsDiff(old, p))
	if errors.Is(err, store.ErrStale) {
		return out, Errorf(ErrUsage, "team %s's plan changed while this was applied (an agent spawned workers, or another apply): apply again", t.Name)
	}
	if err != nil || opts.DryRun || len(out.Changes) == 0 {
		return out, err
	}
	w.env.logger().Info("plan applied", "team", t.Name, "changes", len(out.Changes))
	return out, nil
}

// changePlan applies plan p to team t, whose plan is old, in one transaction: the new
// agents' branches and worktrees first (undone on failure), then the store. It returns what
// changes (with more, settings lines, after it); with dryRun or no change it changes nothing.
// store.ErrStale when the team's plan is no longer old.
func (w *Workspace) changePlan(ctx context.Context, t store.Team, old, p *plan.Plan, force, dryRun bool, more []string) ([]string, error) {
	tasks, err := w.store.Tasks(ctx, t.Name)
	if err != nil {
		return []string{}, err
	}
	c, lines, err := planChange(p, old, t, tasks, force)
	if err != nil {
		return []string{}, err
	}
	lines = append(lines, more...)
	if dryRun || len(lines) == 0 {
		return lines, nil
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return lines, err
	}
	c.From, c.PlanJSON, c.Diff = t.PlanJSON, string(pj), strings.Join(lines, "\n")
	made, err := w.makeAgents(ctx, t, p, c.Agents)
	if err == nil {
		err = w.store.ApplyPlan(ctx, t.Name, c)
	}
	if err != nil {
		w.unmakeAgents(context.WithoutCancel(ctx), made)
		return lines, err
	}
	return lines, nil
}

// checkFixed refuses what a live team cannot change: where it lives and whom it merges for.
func (w *Workspace) checkFixed(p, old *plan.Plan, t store.Team) error {
	switch {
	case p.Repo != old.Repo:
		return p.Errorf("repo", "repo %s: team %s works in %s; a team's repository cannot change", p.Repo, t.Name, old.Repo)
	case p.Base != "" && p.Base != t.Base:
		return p.Errorf("base", "base %s: team %s started from %s; a team's base cannot change (accept or clean it, then run the plan again)", p.Base, t.Name, t.Base)
	case p.Leader.Name != old.Leader.Name:
		return p.Errorf("leader.name", "leader %s: team %s's leader is %s; the leader cannot be renamed", p.Leader.Name, t.Name, old.Leader.Name)
	case WorktreeRoot(p, w.repo.Root) != WorktreeRoot(old, w.repo.Root):
		return p.Errorf("worktrees", "worktrees %s: team %s's worktrees are under %s; they cannot move", WorktreeRoot(p, w.repo.Root), t.Name, WorktreeRoot(old, w.repo.Root))
	case p.Leader.IsAgent() != old.Leader.IsAgent():
		return p.Errorf("leader", "the leader of team %s %s a program; a live team cannot gain or lose its leader agent", t.Name, map[bool]string{true: "has", false: "has no"}[old.Leader.IsAgent()])
	}
	return nil
}

// planChange is what p changes in the team's agents and tasks, with a line for each.
func planChange(p, old *plan.Plan, t store.Team, tasks []store.Task, force bool) (store.PlanChange, []string, error) {
	c := store.PlanChange{Cancel: map[string]string{}, Prompts: map[string]string{}, After: map[string][]string{}}
	var lines []string
	root := filepath.Dir(t.LeaderWorktree)
	for _, a := range p.Agents {
		if _, ok := old.Agent(a.Name); ok {
			continue
		}
		c.Agents = append(c.Agents, store.Agent{Team: t.Name, Name: a.Name, Role: a.Role,
			Branch: BranchName(t.Name, a.Name), Worktree: filepath.Join(root, a.Name), State: string(AgentIdle)})
		lines = append(lines, fmt.Sprintf("+ agent %s (%d task(s)), on branch %s", a.Name, len(a.Tasks), BranchName(t.Name, a.Name)))
	}
	byID := map[string]store.Task{}
	for _, tk := range tasks {
		byID[tk.ID] = tk
	}
	inOld := map[string]plan.Task{}
	for _, ot := range old.Tasks() {
		inOld[ot.ID] = ot
	}
	for i, a := range p.Agents {
		for j, nt := range a.Tasks {
			key := fmt.Sprintf("agents.%d.tasks.%d", i, j)
			cur, exists := byID[nt.ID]
			ot, planned := inOld[nt.ID]
			switch {
			case !exists:
				c.Tasks = append(c.Tasks, store.Task{ID: nt.ID, Agent: a.Name, Prompt: nt.Prompt, After: nt.After, State: string(Pending)})
				lines = append(lines, fmt.Sprintf("+ task %s (%s)", nt.ID, a.Name))
				continue
			case !planned:
				return c, nil, p.Errorf(key+".id", "task %s is already a task of team %s (added by %s with teamctl task add): give this one another id", nt.ID, t.Name, cur.Agent)
			case cur.Agent != a.Name:
				return c, nil, p.Errorf(key+".id", "task %s is %s's; a task cannot move to another agent (remove it and add a new one)", nt.ID, cur.Agent)
			}
			st := stateOf(cur)
			if nt.Prompt != ot.Prompt {
				if st.Finished() {
					lines = append(lines, fmt.Sprintf("  task %s is %s: its new prompt changes nothing", nt.ID, st))
				} else {
					c.Prompts[nt.ID] = nt.Prompt
					lines = append(lines, fmt.Sprintf("~ task %s (%s): prompt changed (the next launch gets it)", nt.ID, a.Name))
				}
			}
			if !slices.Equal(nt.After, ot.After) {
				if st != Pending {
					return c, nil, p.Errorf(key+".after", "task %s is %s: its after: can change only before it starts", nt.ID, st)
				}
				c.After[nt.ID] = nt.After
				lines = append(lines, fmt.Sprintf("~ task %s (%s): after %v → %v", nt.ID, a.Name, ot.After, nt.After))
			}
		}
	}
	inNew := map[string]bool{}
	for _, nt := range p.Tasks() {
		inNew[nt.ID] = true
	}
	var started []string
	for _, ot := range old.Tasks() {
		cur, ok := byID[ot.ID]
		if inNew[ot.ID] || !ok {
			continue
		}
		st := stateOf(cur)
		switch {
		case st.Finished():
			lines = append(lines, fmt.Sprintf("  task %s (%s) is %s: kept", ot.ID, ot.Agent, st))
		case cur.Cancel != "":
		case st == Pending:
			c.Cancel[ot.ID] = "removed from the plan by apply before it started"
			lines = append(lines, fmt.Sprintf("- task %s (%s): cancelled, it had not started", ot.ID, ot.Agent))
		case !force:
			started = append(started, fmt.Sprintf("%s (%s, %s)", ot.ID, ot.Agent, st))
		default:
			c.Cancel[ot.ID] = fmt.Sprintf("removed from the plan by apply --force while %s; its work stays on branch %s", st, BranchName(t.Name, ot.Agent))
			lines = append(lines, fmt.Sprintf("- task %s (%s): cancelled while %s (--force): its agent is stopped, its work stays on %s", ot.ID, ot.Agent, st, BranchName(t.Name, ot.Agent)))
		}
	}
	if len(started) > 0 {
		return c, nil, p.Errorf("agents", "the plan removes %d task(s) that have started: %s; apply --force cancels them (their agents are stopped, their work stays on their branches), or keep them in the plan",
			len(started), strings.Join(started, ", "))
	}
	for _, oa := range old.Agents {
		if _, ok := p.Agent(oa.Name); !ok {
			lines = append(lines, fmt.Sprintf("- agent %s: leaves the plan (its branch and worktree stay until clean)", oa.Name))
		}
	}
	return c, lines, nil
}

// makeAgents makes the branches and worktrees of agents new to the team, from the leader
// branch's tested head (they start from the team's merged work), with teamctl's hooks. It
// returns what it made, for unmakeAgents when a later step fails.
func (w *Workspace) makeAgents(ctx context.Context, t store.Team, p *plan.Plan, agents []store.Agent) ([]store.Agent, error) {
	var made []store.Agent
	for _, a := range agents {
		// A worker starts from its spawner's branch, the rest from what the team tested.
		start := t.TestedHead
		if pa, ok := p.Agent(a.Name); ok && pa.Spawner != "" {
			tip, err := w.repo.Resolve(ctx, BranchName(t.Name, pa.Spawner))
			if err != nil {
				return made, err
			}
			start = tip
		}
		if ok, err := w.repo.BranchExists(ctx, a.Branch); err != nil {
			return made, err
		} else if ok {
			if in, err := w.repo.IsAncestor(ctx, a.Branch, t.TestedHead); err == nil && !in {
				return made, Errorf(ErrUsage, "branch %s already exists and holds commits the team has not merged: rename it (git branch -m %s NEW) to keep them, or name the agent otherwise",
					a.Branch, a.Branch)
			}
			return made, Errorf(ErrUsage, "branch %s already exists, holding nothing the team has not merged: delete it (git branch -D %s), or name the agent otherwise",
				a.Branch, a.Branch)
		}
		if err := w.repo.CreateBranch(ctx, a.Branch, start); err != nil {
			return made, err
		}
		made = append(made, a)
		if err := w.repo.AddWorktree(ctx, a.Worktree, a.Branch); err != nil {
			return made, err
		}
		if err := w.InstallCommitHook(ctx, t.Name, a.Name, a.Worktree); err != nil {
			return made, err
		}
	}
	return made, nil
}

// unmakeAgents removes what makeAgents made.
func (w *Workspace) unmakeAgents(ctx context.Context, made []store.Agent) {
	for _, a := range made {
		_ = w.repo.RemoveAgentHooks(ctx, a.Worktree)
		_ = w.repo.RemoveWorktree(ctx, a.Worktree)
		_ = w.repo.DeleteBranch(ctx, a.Branch)
	}
}

// settingsDiff is every setting p changes from old, agent by agent, as plan keys:
// "~ agents.alice.budget.usd: 1 → 5". Tasks are planChange's.
func settingsDiff(old, p *plan.Plan) []string {
	a, b := map[string]string{}, map[string]string{}
	flatten("", reflect.ValueOf(*old), a)
	flatten("", reflect.ValueOf(*p), b)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		va, oka := a[k]
		vb, okb := b[k]
		agent, _, _ := strings.Cut(strings.TrimPrefix(k, "agents."), ".")
		_, wasAgent := old.Agent(agent)
		_, isAgent := p.Agent(agent)
		if strings.HasPrefix(k, "agents.") && (!wasAgent || !isAgent) {
			continue // a new or removed agent is one line of its own
		}
		if strings.HasPrefix(k, "leader.") && k != "leader.name" && !p.Leader.IsAgent() {
			continue // a leader with no program runs nothing its settings change
		}
		// env: values are often credentials: the change is said, its values are not.
		secret := strings.Contains(k, ".env.")
		switch {
		case va == vb:
		case !oka && secret:
			out = append(out, fmt.Sprintf("~ %s: set", k))
		case !okb && secret:
			out = append(out, fmt.Sprintf("~ %s: unset", k))
		case secret:
			out = append(out, fmt.Sprintf("~ %s: changed", k))
		case !oka:
			out = append(out, fmt.Sprintf("~ %s: set to %s", k, vb))
		case !okb:
			out = append(out, fmt.Sprintf("~ %s: %s → unset", k, va))
		default:
			out = append(out, fmt.Sprintf("~ %s: %s → %s", k, va, vb))
		}
	}
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

// flatten writes every setting of v under prefix as plan-like keys: agents by name, maps by
// key, durations as durations. The plan's file and the agents' tasks are left out.
func flatten(prefix string, v reflect.Value, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch {
	case v.Type() == durationType:
		out[prefix] = time.Duration(v.Int()).String()
		return
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "File" || f.Name == "Tasks" || prefix == "" && f.Name == "Team" {
				continue
			}
			if f.Name == "Agents" {
				for j := 0; j < v.Field(i).Len(); j++ {
					ag := v.Field(i).Index(j)
					flatten(join("agents."+ag.FieldByName("Name").String()), ag, out)
				}
				continue
			}
			flatten(join(snake(f.Name)), v.Field(i), out)
		}
	case v.Kind() == reflect.Map:
		for _, k := range v.MapKeys() {
			flatten(join(fmt.Sprint(k.Interface())), v.MapIndex(k), out)
		}
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return
		}
		b, _ := json.Marshal(v.Interface())
		out[prefix] = string(b)
	case v.Kind() == reflect.String:
		if v.String() != "" {
			out[prefix] = fmt.Sprintf("%q", v.String())
		}
	default:
		out[prefix] = fmt.Sprint(v.Interface()) // 0 and false are settings too (retries: 0)
	}
}

// snake is a Go field name as a plan key: TestTimeout → test_timeout, USD → usd.
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// followPlan takes up what apply recorded: a new plan (its settings apply from the next
// launch or merge; new agents' worktrees are prepared), and tasks it removed, cancelled
// here, the one writer of task states: a running one's agent is stopped first (its end
// cancels it, onExit), a merging one waits for its batch to return it.
func (s *supervisor) followPlan(ctx context.Context) error {
	t, err := s.ws.store.Team(ctx, s.team.Name)
	if err != nil {
		return err
	}
	if t.PlanJSON != s.team.PlanJSON {
		p, err := loadPlan(t)
		if err != nil {
			return err
		}
		s.p, s.team.PlanJSON, s.planChanged = p, t.PlanJSON, true
		s.anyAgentBudget = slices.ContainsFunc(p.Members(), func(a plan.Agent) bool { return !a.Budget.IsZero() })
		s.log().Info("the team's plan changed (apply, or an agent's spawn): new settings take effect at the next launch or merge", "team", s.team.Name)
		if err := s.prepareWorktrees(ctx); err != nil {
			return err
		}
	}
	if s.planChanged && !s.merging {
		s.merger.Test, s.merger.TestTimeout = s.p.Test, s.p.TestTimeout
		s.merger.Batch, s.merger.TestRetries = s.p.Merge.Batch, s.p.Merge.TestRetries
		s.planChanged = false
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, tk := range tasks {
		st := stateOf(tk)
		if tk.Cancel == "" || st.Finished() || st == Merging {
			continue
		}
		if r := s.procs[tk.Agent]; r != nil && r.task == tk.ID {
			if !r.cancelled {
				s.log().Info("stopping agent: apply removed its task", "agent", tk.Agent, "task", tk.ID)
				r.cancelled = true
				go r.proc.Stop(stopGrace) // its end cancels the task (onExit)
			}
			continue
		}
		if _, err := s.move(ctx, tk.ID, Cancelled, tk.Cancel, nil); err != nil {
			return err
		}
	}
	return nil
}
