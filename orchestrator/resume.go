package orchestrator

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// Resume continues a stopped or crashed team: it takes the team's supervisor lock (refused
// while another supervisor holds it), reconciles the store with the disk and the process
// table — worktrees, the leader branch and its merges, agent processes — and supervises the
// team as Run does. A finished team is left as it is (nil, and it says so).
func (w *Workspace) Resume(ctx context.Context, name string, opts RunOptions) error {
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return err
	}
	lk, err := acquireLock(w.repo.CommonDir, t.Name)
	if err != nil {
		return err
	}
	defer lk.release()
	// Read again under the lock: a supervisor that just ended may have changed it.
	if t, err = w.store.Team(ctx, t.Name); err != nil {
		return err
	}
	tasks, err := w.store.Tasks(ctx, t.Name)
	if err != nil {
		return err
	}
	// A finished team resumes only for work an applied plan gave it since.
	if TeamState(t.State) == TeamFinished && allFinished(tasks) {
		fmt.Fprintf(w.env.out(), "team %s is finished: nothing to resume (teamctl review %s shows what it merged)\n", t.Name, t.Name)
		return nil
	}
	p, err := loadPlan(t)
	if err != nil {
		return err
	}
	// What the last supervisor left running would go on moving the leader branch and
	// changing its worktree under the reconciling below: it ends first.
	if old := t.SupervisorPID; old != 0 && old != os.Getpid() {
		n, err := agentproc.KillWithEnv(worktree.RunnerEnv+"="+strconv.Itoa(old), 10*time.Second)
		if err != nil {
			return fmt.Errorf("resume team %s: the last supervisor's commands: %w", t.Name, err)
		}
		if n > 0 {
			w.env.logger().Warn("killed the commands the last supervisor left running", "team", t.Name, "supervisor", old, "processes", n)
		}
	}
	if err := w.store.UpdateTeam(ctx, t.Name, func(t *store.Team) error { t.SupervisorPID = os.Getpid(); return nil }); err != nil {
		return err
	}
	s := w.newSupervisor(ctx, p, t, opts)
	if err := s.reconcile(ctx); err != nil {
		s.endLife()
		return fmt.Errorf("resume team %s: %w", t.Name, err)
	}
	return s.loop(ctx)
}

// reconcile brings the store, the disk and the process table back in line after the team's
// last supervisor ended, however it ended. Each kind of thing has its own function; each is
// idempotent, so a crash during resume is resumed in turn.
func (s *supervisor) reconcile(ctx context.Context) error {
	if err := s.reconcileWorktrees(ctx); err != nil {
		return err
	}
	if err := s.reconcileMerges(ctx); err != nil {
		return err
	}
	if err := s.reconcileProcesses(ctx); err != nil {
		return err
	}
	_, err := s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "team.resumed",
		Data: fmt.Sprintf(`{"adopted":%d,"ended":%d}`, len(s.procs), len(s.pending))})
	return err
}

// reconcileWorktrees makes sure every agent has its branch and its worktree: a team whose
// creation was cut off is completed, a branch or worktree deleted by hand is made again
// (restoreBranch, addWorktree), and a stale index.lock a killed git left is removed.
func (s *supervisor) reconcileWorktrees(ctx context.Context) error {
	agents, err := s.ws.store.Agents(ctx, s.team.Name)
	if err != nil {
		return err
	}
	repo := s.ws.repo
	// One listing of each for the whole team: resume time grows with the team.
	branches, err := repo.Branches(ctx, "teamctl/"+s.team.Name+"/")
	if err != nil {
		return err
	}
	wts, err := repo.Worktrees(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if _, ok := branches[a.Branch]; !ok {
			if err := s.restoreBranch(ctx, a); err != nil {
				return err
			}
		}
		var wt *worktree.Worktree
		for i := range wts {
			if worktree.SamePath(wts[i].Path, a.Worktree) {
				wt = &wts[i]
			}
		}
		_, statErr := os.Stat(a.Worktree)
		switch {
		case wt != nil && statErr == nil && !wt.Prunable:
			// In place. A git command killed half-way may have left its locks behind; no one
			// works here now (agents are adopted after this), so they are stale.
			if !s.agentAlive(a.Name) {
				removed, err := repo.RemoveStaleLocks(a.Worktree, a.Branch)
				if err != nil {
					return err
				}
				for _, p := range removed {
					s.log().Warn("removed a lock file a killed git left", "agent", a.Name, "file", p)
				}
				if done, err := repo.CompleteCheckout(ctx, a.Worktree, a.Branch); err != nil {
					return err
				} else if done {
					s.log().Warn("finished the checkout of a worktree whose creation was cut off", "agent", a.Name, "worktree", a.Worktree)
				}
			}
			continue
		case wt == nil && statErr == nil:
			return Errorf(ErrUsage, "%s exists but is not a worktree of %s: move it away, then resume again", a.Worktree, repo.Root)
		}
		if err := s.addWorktree(ctx, a); err != nil {
			return err
		}
	}
	// The commit hook in every worktree: the ones just added, and teams made before it existed.
	_, err = s.ws.InstallCommitHooks(ctx, s.team.Name)
	return err
}

// reconcileMerges puts the leader worktree back on the leader branch's tip (a merge or a
// test cut off half-way is undone), recognises merges that landed but were not recorded
// (the leader ref only ever moves to a tested merge commit, whose trailers name the task),
// and queues again the merges that were cut off.
func (s *supervisor) reconcileMerges(ctx context.Context) error {
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	// The leader agent works in the leader worktree: its work there is not the merge queue's
	// to reset (the two never use it at once).
	leaderWorks := false
	for _, t := range tasks {
		if st := stateOf(t); s.isLeader(t.Agent) && (st == Running || st == Nudging) {
			leaderWorks = true
		}
	}
	if !leaderWorks {
		if err := s.merger.Restore(ctx); err != nil {
			return err
		}
	}
	adopted, err := s.adoptLanded(ctx)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if stateOf(t) == Merging && !adopted[t.ID] {
			if _, err := s.move(ctx, t.ID, Queued, "the merge was cut off: queued again", nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// adoptLanded recognises merges on the leader branch that landed but were not recorded — a
// supervisor killed after moving the ref, or whose last git command finished after it died
// (the leader ref only ever moves to a tested merge commit, whose trailers name the task) —
// records their tasks merged and the tip tested, and returns the tasks it recorded.
func (s *supervisor) adoptLanded(ctx context.Context) (map[string]bool, error) {
	tip, err := s.ws.repo.Resolve(ctx, s.team.LeaderBranch)
	if err != nil || tip == s.team.TestedHead {
		return nil, err
	}
	landed := map[string]string{} // task → merge commit
	ours, err := s.ws.oursSince(ctx, s.team.Name, s.team.TestedHead, tip, landed)
	if err != nil {
		return nil, err
	}
	if !ours {
		s.log().Warn("the leader branch has commits teamctl did not make since its last tested tip: it is not counted as tested",
			"branch", s.team.LeaderBranch, "tested", shorten.Hash(s.team.TestedHead), "tip", shorten.Hash(tip))
		return nil, nil
	}
	if err := s.setTestedHead(ctx, tip); err != nil {
		return nil, err
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return nil, err
	}
	adopted := map[string]bool{}
	for _, t := range tasks {
		if commit, ok := landed[t.ID]; ok && stateOf(t) != Merged {
			s.log().Info("a merge had landed unrecorded", "task", t.ID, "commit", shorten.Hash(commit))
			if err := s.merged(ctx, t.ID, commit, ""); err != nil {
				return nil, err
			}
			adopted[t.ID] = true
		}
	}
	return adopted, nil
}

// oursSince reports whether every commit on the leader branch's first-parent line from
// tested to tip is a merge teamctl made for this team, and collects the task each merged.
func (w *Workspace) oursSince(ctx context.Context, team, tested, tip string, landed map[string]string) (bool, error) {
	if ok, err := w.repo.IsAncestor(ctx, tested, tip); err != nil || !ok {
		return false, err
	}
	line, err := w.repo.MainLine(ctx, tested, tip)
	if err != nil {
		return false, err
	}
	for _, c := range line {
		task := mergedTask(c, team)
		if task == "" {
			return false, nil
		}
		if _, seen := landed[task]; !seen {
			landed[task] = c.Hash // MainLine is newest first: keep the newest merge of a task
		}
	}
	return true, nil
}

// mergedTask is the task a merge commit teamctl made for team landed (merge.Message's
// trailers), "" for any other commit.
func mergedTask(c worktree.Commit, team string) string {
	task := trailer(c.Body, "Teamctl-Task")
	if len(c.Parents) < 2 || trailer(c.Body, "Teamctl-Team") != team {
		return ""
	}
	return task
}

// trailer returns the value of a "Key: value" trailer line in a commit body.
func trailer(body, key string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// reconcileProcesses finds out, for every agent whose task was running, what became of its
// launch: still alive → adopted (watched to its end, its timeout still counted); ended with
// an exit status → that end is applied as if it had just happened; stopped by teamctl, or
// gone without a word → relaunched with reason resume and a prompt that says what its
// worktree holds. Never two live processes for one agent: a live one is always adopted.
func (s *supervisor) reconcileProcesses(ctx context.Context) error {
	agents, err := s.ws.store.Agents(ctx, s.team.Name)
	if err != nil {
		return err
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var relaunch []store.Task
	for _, sa := range agents {
		a, ok := s.p.Agent(sa.Name)
		if !ok {
			continue
		}
		var task *store.Task
		for i := range tasks {
			if st := stateOf(tasks[i]); tasks[i].Agent == sa.Name && (st == Running || st == Nudging) {
				task = &tasks[i]
				break
			}
		}
		files := s.files(sa.Name)
		proc, err := agentproc.Adopt(s.life, files, s.logPath(sa.Name), a.Timeout)
		if err == nil {
			if task == nil {
				// A launch with no task to report to: it must not work on unsupervised.
				s.log().Warn("stopping an agent process that has no running task", "agent", sa.Name, "pid", proc.Pid)
				proc.Stop(stopGrace)
				continue
			}
			s.log().Info("agent still running: adopted", "agent", sa.Name, "task", task.ID, "pid", proc.Pid)
			if err := s.ws.setAgentState(ctx, s.team.Name, sa.Name, AgentRunning, runs(task.ID, proc)); err != nil {
				proc.Stop(stopGrace)
				return err
			}
			s.watch(sa.Name, task.ID, proc)
			if a.Mode == plan.ModeTmux {
				if err := s.watchAsInteractive(ctx, sa.Name, *task); err != nil {
					return err
				}
			}
			continue
		}
		if task == nil {
			if sa.PID != 0 || AgentState(sa.State) == AgentRunning {
				if err := s.ws.setAgentState(ctx, s.team.Name, sa.Name, AgentIdle, noProcess); err != nil {
					return err
				}
			}
			continue
		}
		res := agentproc.Ended(files)
		if AgentState(sa.State) == AgentStopped || res.Vanished() {
			relaunch = append(relaunch, *task)
			continue
		}
		s.log().Info("agent ended while no supervisor watched", "agent", sa.Name, "task", task.ID, "result", res.String())
		s.pending = append(s.pending, exitEvent{agent: sa.Name, task: task.ID, result: res})
	}
	for _, t := range relaunch {
		sa, err := s.ws.store.Agent(ctx, s.team.Name, t.Agent)
		if err != nil {
			return err
		}
		if err := s.launch(ctx, t, agentproc.ReasonResume, s.tree(sa).summary(ctx), nil); err != nil {
			return err
		}
	}
	return nil
}

// agentAlive reports whether the agent's last launch still has a live process.
func (s *supervisor) agentAlive(agent string) bool {
	pid, start, err := agentproc.ReadPid(s.files(agent))
	return err == nil && agentproc.Alive(pid, start)
}
