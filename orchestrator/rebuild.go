package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// Rebuild makes the records of team p.Team again — lost with a damaged or deleted store —
// from git and the plan, then resumes the team. What git says is the truth:
//
//   - the base commit is where the leader branch left base (their merge base);
//   - a task whose merge is on the leader branch's first-parent line (its Teamctl-Task
//     trailer) is merged there; the leader branch's tip counts as tested up to the last
//     commit below which every commit is such a merge (the merge queue only lands tested
//     ones);
//   - an agent whose branch holds commits the leader branch has not, or whose last launch is
//     still running, was on its first unmerged task: that task is running, and resume
//     adopts its process, applies its recorded end or relaunches it (reason resume); every
//     other unmerged task starts afresh.
//
// Messages, blockers, reservations and the journal are not in git: they are gone with the
// store. Tasks added by apply and not in the plan are too.
func (w *Workspace) Rebuild(ctx context.Context, p *plan.Plan, opts RunOptions) error {
	if err := w.rebuildRecords(ctx, p); err != nil {
		return err
	}
	return w.Resume(ctx, p.Team, opts)
}

func (w *Workspace) rebuildRecords(ctx context.Context, p *plan.Plan) error {
	lk, err := acquireLock(w.repo.CommonDir, p.Team)
	if err != nil {
		return err
	}
	defer lk.release()
	if t, err := w.store.Team(ctx, p.Team); err == nil {
		return Errorf(ErrUsage, "team %q is recorded (%s): teamctl resume %s continues it; --rebuild is for a team whose records were lost", p.Team, t.State, p.Team)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	leaderBranch := BranchName(p.Team, p.Leader.Name)
	tip, err := w.repo.Resolve(ctx, leaderBranch)
	if errors.Is(err, worktree.ErrNoRef) {
		return Errorf(ErrUsage, "nothing to rebuild: there is no branch %s (teamctl run %s starts the team)", leaderBranch, p.File)
	} else if err != nil {
		return err
	}
	base, baseTip, err := w.resolveBase(ctx, p)
	if err != nil {
		return err
	}
	baseHead, err := w.repo.MergeBase(ctx, baseTip, tip)
	if err != nil {
		return err
	}
	landed, tested, err := w.landedOn(ctx, p.Team, baseHead, tip)
	if err != nil {
		return err
	}
	p.Depth = agentproc.Depth()
	planJSON, err := json.Marshal(p)
	if err != nil {
		return err
	}
	team := store.Team{
		Name: p.Team, PlanFile: p.File, PlanJSON: string(planJSON), Repo: w.repo.Root,
		Base: base, BaseHead: baseHead, LeaderBranch: leaderBranch,
		LeaderWorktree: filepath.Join(WorktreeRoot(p, w.repo.Root), p.Team, p.Leader.Name),
		TestedHead:     tested, State: string(TeamStopped),
	}
	agents, tasks := teamRows(p, team)
	current := map[string]bool{} // agents on a task when the records were lost
	for _, a := range agents {
		current[a.Name] = w.wasWorking(ctx, team, a)
	}
	merged := map[string]bool{}
	for i := range tasks {
		if c, ok := landed[tasks[i].ID]; ok {
			tasks[i].State, tasks[i].MergeCommit, tasks[i].Detail = string(Merged), c, "found merged on the leader branch when the team was rebuilt"
			merged[tasks[i].ID] = true
		}
	}
	for i := range tasks {
		t := &tasks[i]
		ready := !slices.ContainsFunc(t.After, func(id string) bool { return !merged[id] })
		if merged[t.ID] || !current[t.Agent] || !ready {
			continue
		}
		t.State, t.Attempt, t.Reason = string(Running), 1, agentproc.ReasonResume
		current[t.Agent] = false // one task an agent
	}
	if err := w.store.CreateTeam(ctx, team, agents, tasks); err != nil {
		return err
	}
	_, err = w.store.AppendEvent(ctx, store.Event{Team: team.Name, Kind: "team.rebuilt", Data: fmt.Sprintf(
		`{"base_head":%q,"tip":%q,"tested":%q,"merged":%d}`, baseHead, tip, tested, len(merged))})
	if err != nil {
		return err
	}
	w.env.logger().Warn("team rebuilt from git: its messages, blockers and journal were lost with its store",
		"team", team.Name, "merged", len(merged), "tasks", len(tasks), "tested", shorten.Hash(tested))
	return w.store.Checkpoint(ctx)
}

// landedOn reads the leader branch's first-parent line from baseHead to tip: the task each
// teamctl merge of the team landed (the newest merge of a task), and the newest commit up to
// which the line is all such merges (tested).
func (w *Workspace) landedOn(ctx context.Context, team, baseHead, tip string) (map[string]string, string, error) {
	line, err := w.repo.MainLine(ctx, baseHead, tip)
	if err != nil {
		return nil, "", err
	}
	landed := map[string]string{}
	tested, ours := baseHead, true
	for i := len(line) - 1; i >= 0; i-- { // oldest first
		c := line[i]
		task := mergedTask(c, team)
		isOurs := task != ""
		if isOurs {
			landed[task] = c.Hash
		}
		if ours = ours && isOurs; ours {
			tested = c.Hash
		}
	}
	return landed, tested, nil
}

// wasWorking reports whether an agent was on a task when its team's records were lost: its
// branch holds commits the leader branch has not, or its last launch still runs.
func (w *Workspace) wasWorking(ctx context.Context, t store.Team, a store.Agent) bool {
	files := agentproc.FilesIn(RunDir(w.repo.CommonDir, t.Name), a.Name)
	if pid, start, err := agentproc.ReadPid(files); err == nil && agentproc.Alive(pid, start) {
		return true
	}
	if a.Branch == t.LeaderBranch {
		return false
	}
	in, err := w.repo.IsAncestor(ctx, a.Branch, t.LeaderBranch)
	return err == nil && !in
}
