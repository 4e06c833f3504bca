package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// RunOptions are the options of `teamctl run`.
type RunOptions struct {
	ExitWhenBlocked bool // return ErrWaiting instead of waiting for a person
}

// Run creates the team of plan p (branches, worktrees, store rows) and supervises it until
// every task is merged or done (nil), or only work that waits on a human is left
// (ErrWaiting with ExitWhenBlocked; otherwise it waits), or ctx ends (the team is stopped
// and can be resumed). Bad input leaves nothing behind.
func Run(ctx context.Context, env Env, p *plan.Plan, opts RunOptions) error {
	if d, max := agentproc.Depth(), maxDepth(); d >= max {
		return Errorf(ErrUsage, "teamctl run inside an agent %d team(s) deep is refused (at most %d; TEAMCTL_MAX_DEPTH raises it): an agent's own team cannot nest teams without limit",
			d, max)
	}
	ws, err := OpenChecked(ctx, env, p.Repo)
	if err != nil {
		if errors.Is(err, ErrUsage) {
			return p.Errorf("repo", "%s is not inside a git repository", p.Repo)
		}
		return err
	}
	recording := false
	defer func() {
		if !recording {
			ws.closeRefused(ctx)
		} else {
			ws.Close()
		}
	}()
	if _, _, err := ws.sandboxed(p); err != nil {
		return err
	}
	team, err := ws.prepare(ctx, p)
	if err != nil {
		return err
	}
	recording = true // from here on, create removes what it made itself
	lk, err := acquireLock(ws.repo.CommonDir, team.Name)
	if err != nil {
		return err
	}
	defer lk.release()
	if err := ws.create(ctx, p, team); err != nil {
		return err
	}
	if team, err = ws.store.Team(ctx, team.Name); err != nil {
		return err
	}
	return ws.newSupervisor(ctx, p, team, opts).loop(ctx)
}

// maxDepth is how deeply teams may nest: an agent may run a team of its own, whose agents
// may not (TEAMCTL_MAX_DEPTH changes it).
func maxDepth() int {
	if n, err := strconv.Atoi(os.Getenv("TEAMCTL_MAX_DEPTH")); err == nil && n > 0 {
		return n
	}
	return 2
}

// prepare checks the plan against the disk and returns the team row to create. It writes
// nothing.
func (w *Workspace) prepare(ctx context.Context, p *plan.Plan) (store.Team, error) {
	base, baseHead, err := w.resolveBase(ctx, p)
	if err != nil {
		return store.Team{}, err
	}
	if t, err := w.store.Team(ctx, p.Team); err == nil {
		return store.Team{}, Errorf(ErrUsage, "team %q already exists in this repository (%s): `teamctl resume %s` continues it, `teamctl clean %s` removes it",
			p.Team, t.State, p.Team, p.Team)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Team{}, err
	}
	root := WorktreeRoot(p, w.repo.Root)
	if err := checkWorktreeRoot(root); err != nil {
		return store.Team{}, p.Errorf("worktrees", "worktrees go under %s, but %v: set worktrees: to a directory you can write", root, err)
	}
	for _, a := range p.Members() {
		br := BranchName(p.Team, a.Name)
		if ok, err := w.repo.BranchExists(ctx, br); err != nil {
			return store.Team{}, err
		} else if ok {
			// Never advise deleting work: a branch with commits of its own may be all that is
			// left of a team whose store was lost.
			if in, err := w.repo.IsAncestor(ctx, br, baseHead); err == nil && !in {
				return store.Team{}, Errorf(ErrUsage, "branch %s holds commits that are not on %s, but no team %q is recorded (its store was lost or moved aside?): teamctl resume %s --rebuild %s rebuilds the team from its branches; or rename the team",
					br, base, p.Team, p.Team, p.File)
			}
			return store.Team{}, Errorf(ErrUsage, "branch %s already exists but no team %q is recorded; it holds nothing that is not on %s: delete it (git branch -D %s) or rename the team",
				br, p.Team, base, br)
		}
		wt := filepath.Join(root, p.Team, a.Name)
		if _, err := os.Stat(wt); err == nil {
			return store.Team{}, p.Errorf("worktrees", "worktree path %s already exists and is not one of teamctl's: move it away or set worktrees: to another root", wt)
		}
	}
	missing, err := w.checkPrograms(ctx, p, base, root)
	if err != nil {
		return store.Team{}, err
	}
	for _, err := range missing {
		w.env.logger().Warn("agent program not found: its tasks will fail until it is there", "err", err)
	}
	p.Depth = agentproc.Depth()
	planJSON, err := json.Marshal(p)
	if err != nil {
		return store.Team{}, err
	}
	return store.Team{
		Name:           p.Team,
		PlanFile:       p.File,
		PlanJSON:       string(planJSON),
		Repo:           w.repo.Root,
		Base:           base,
		BaseHead:       baseHead,
		LeaderBranch:   BranchName(p.Team, p.Leader.Name),
		LeaderWorktree: filepath.Join(root, p.Team, p.Leader.Name),
		TestedHead:     baseHead, // base is where the team starts; it is taken as tested
		State:          string(TeamCreating),
		SupervisorPID:  os.Getpid(),
	}, nil
}

// resolveBase returns the plan's base branch (the current one when the plan names none) and
// its commit.
func (w *Workspace) resolveBase(ctx context.Context, p *plan.Plan) (base, head string, err error) {
	base = p.Base
	if base == "" {
		if base, err = w.repo.CurrentBranch(ctx); err != nil {
			return "", "", err
		}
		if base == "" {
			return "", "", p.Errorf("base", "%s is on a detached HEAD: set base: to the branch the team starts from", w.repo.Root)
		}
	}
	if ok, err := w.repo.BranchExists(ctx, base); err != nil {
		return "", "", err
	} else if !ok {
		return "", "", p.Errorf("base", "base branch %q does not exist in %s", base, w.repo.Root)
	}
	head, err = w.repo.Resolve(ctx, base)
	return base, head, err
}

// create records the team, then makes its branches and worktrees. On failure it removes
// whatever it made, store rows included.
func (w *Workspace) create(ctx context.Context, p *plan.Plan, team store.Team) (err error) {
	root := filepath.Dir(team.LeaderWorktree)
	agents, tasks := teamRows(p, team)
	if err := w.store.CreateTeam(ctx, team, agents, tasks); err != nil {
		return err
	}
	// Every branch starts at base (the team's tested head when it is made).
	made, err := w.makeAgents(ctx, team, p, agents)
	if err != nil {
		// Undo with a context that outlives a cancelled run: half a team is worse than none.
		uctx := context.WithoutCancel(ctx)
		w.unmakeAgents(uctx, made)
		_ = os.Remove(root) // only if empty
		_ = w.store.DeleteTeam(uctx, team.Name)
		return fmt.Errorf("create team %s: %w", team.Name, err)
	}
	w.env.logger().Info("team created", "team", team.Name, "base", team.Base, "agents", len(p.Agents), "tasks", len(tasks), "worktrees", root)
	return w.setTeamState(ctx, team.Name, TeamRunning)
}

// teamRows are the agent and task rows of a new team: every member, every task pending.
func teamRows(p *plan.Plan, team store.Team) ([]store.Agent, []store.Task) {
	root := filepath.Dir(team.LeaderWorktree)
	var agents []store.Agent
	for _, a := range p.Members() {
		agents = append(agents, store.Agent{
			Team: p.Team, Name: a.Name, Role: a.Role,
			Branch: BranchName(p.Team, a.Name), Worktree: filepath.Join(root, a.Name), State: "idle",
		})
	}
	var tasks []store.Task
	for i, t := range p.Tasks() {
		tasks = append(tasks, store.Task{Team: p.Team, ID: t.ID, Agent: t.Agent, Prompt: t.Prompt, After: t.After, Seq: i + 1, State: string(Pending)})
	}
	if p.Leader.IsAgent() && strings.TrimSpace(p.Leader.Prompt) != "" && !hasTask(tasks, startTask) {
		tasks = append(tasks, store.Task{Team: p.Team, ID: startTask, Agent: p.Leader.Name, Prompt: startPrompt(p), Seq: len(tasks) + 1, State: string(Pending)})
	}
	return agents, tasks
}

// loadPlan returns the plan a team was created with.
func loadPlan(t store.Team) (*plan.Plan, error) {
	var p plan.Plan
	if err := json.Unmarshal([]byte(t.PlanJSON), &p); err != nil {
		return nil, fmt.Errorf("team %s: stored plan: %w", t.Name, err)
	}
	return &p, nil
}

// identity is the git identity env of an agent (merges are the leader's).
func identity(team, agent string) []string {
	email := agentproc.Email(team, agent)
	return []string{"GIT_AUTHOR_NAME=" + agent, "GIT_AUTHOR_EMAIL=" + email, "GIT_COMMITTER_NAME=" + agent, "GIT_COMMITTER_EMAIL=" + email}
}

// checkWorktreeRoot says why worktrees cannot be made under root: the nearest part of it
// that exists must be a directory this process may write (it writes nothing itself).
func checkWorktreeRoot(root string) error {
	dir := root
	for {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s is not a directory", dir)
		case err == nil:
			if syscall.Access(dir, 2 /* W_OK */) != nil {
				return fmt.Errorf("%s is not writable", dir)
			}
			return nil
		case !errors.Is(err, os.ErrNotExist):
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}
