package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/merge"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// stopGrace is how long a stopped agent gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// pollEvery is how often a supervisor with nothing running looks at the store for work a
// person made possible from another process (an answer, a reset task).
const pollEvery = time.Second

type exitEvent struct {
	agent, task string
	result      agentproc.Result
}

type mergeEvent struct {
	task string
	req  merge.Request
	res  merge.Result
	err  error
}

// supervisor runs one team: one goroutine owns all decisions; agent processes and the merge
// report back on channels.
type supervisor struct {
	ws     *Workspace
	p      *plan.Plan
	team   store.Team
	merger *merge.Merger
	opts   RunOptions

	procs    map[string]*agentproc.Proc // running agents by name
	exits    chan exitEvent
	merges   chan mergeEvent
	merging  bool
	lastWait string
}

func (w *Workspace) supervise(ctx context.Context, p *plan.Plan, teamName string, opts RunOptions) error {
	team, err := w.Store.Team(ctx, teamName)
	if err != nil {
		return err
	}
	s := &supervisor{
		ws: w, p: p, team: team, opts: opts,
		procs:  map[string]*agentproc.Proc{},
		exits:  make(chan exitEvent, 16),
		merges: make(chan mergeEvent, 1),
		merger: &merge.Merger{
			Repo: w.Repo, Run: w.env.Runner, Dir: team.LeaderWorktree, Branch: team.LeaderBranch,
			Test: p.Test, TestTimeout: p.TestTimeout, Env: identity(team.Name, p.Leader.Name),
		},
	}
	return s.loop(ctx)
}

func (s *supervisor) log() *log.Logger { return s.ws.env.logger() }

func (s *supervisor) loop(ctx context.Context) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return s.shutdown(ctx)
		}
		if err := s.schedule(ctx); err != nil {
			s.shutdown(ctx)
			return err
		}
		if err := s.startMerge(ctx); err != nil {
			s.shutdown(ctx)
			return err
		}
		if len(s.procs) == 0 && !s.merging {
			tasks, err := s.ws.Store.Tasks(ctx, s.team.Name)
			if err != nil {
				return err
			}
			if allFinished(tasks) {
				return s.setTeamState(ctx, TeamFinished, "all tasks merged or done")
			}
			if !anyQueued(tasks) {
				if err := s.waiting(ctx, tasks); err != nil {
					return err
				}
			}
		}
		select {
		case ev := <-s.exits:
			if err := s.onExit(ctx, ev); err != nil {
				s.shutdown(ctx)
				return err
			}
		case ev := <-s.merges:
			s.merging = false
			if err := s.onMerge(ctx, ev); err != nil {
				s.shutdown(ctx)
				return err
			}
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// waiting is reached when nothing runs and nothing can start: every unfinished task waits
// on a human. It says what waits (once per change) and, with ExitWhenBlocked, ends the run.
func (s *supervisor) waiting(ctx context.Context, tasks []store.Task) error {
	var lines []string
	for _, t := range tasks {
		if WaitsOnHuman(t.State) {
			lines = append(lines, fmt.Sprintf("  %s (%s) %s: %s", t.ID, t.Agent, t.State, firstLine(t.Detail)))
		}
	}
	text := strings.Join(lines, "\n")
	if text != s.lastWait {
		s.lastWait = text
		fmt.Fprintf(s.ws.env.out(), "team %s waits on a human:\n%s\n", s.team.Name, text)
		if err := s.setTeamState(ctx, TeamWaiting, ""); err != nil {
			return err
		}
	}
	if s.opts.ExitWhenBlocked {
		return fmt.Errorf("%w: %d task(s); see teamctl status %s", ErrWaiting, len(lines), s.team.Name)
	}
	return nil
}

func (s *supervisor) setTeamState(ctx context.Context, state, why string) error {
	if why != "" {
		s.log().Info("team "+state, "team", s.team.Name, "why", why)
	}
	return s.ws.Store.UpdateTeam(ctx, s.team.Name, func(t *store.Team) error { t.State = state; return nil })
}

// shutdown stops every agent gracefully and records the team as stopped, so resume can
// continue it. Tasks keep their state: a running task is relaunched on resume.
func (s *supervisor) shutdown(ctx context.Context) error {
	uctx := context.WithoutCancel(ctx)
	for name, p := range s.procs {
		s.log().Info("stopping agent", "agent", name)
		p.Stop(stopGrace)
		_ = s.ws.Store.UpdateAgent(uctx, s.team.Name, name, func(a *store.Agent) error {
			a.State, a.PID, a.ProcStart = TeamStopped, 0, 0
			return nil
		})
		delete(s.procs, name)
	}
	if s.merging {
		ev := <-s.merges // the merge restores the leader worktree before it returns
		s.merging = false
		_ = s.ws.Store.UpdateTask(uctx, s.team.Name, ev.task, func(t *store.Task) error { t.State = Queued; return nil })
	}
	_ = s.setTeamState(uctx, TeamStopped, "stopped")
	if ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("team %s stopped (%w): teamctl resume %s continues it", s.team.Name, ctx.Err(), s.team.Name)
}

// schedule launches every task that can start: an agent works on its tasks one after
// another; a task starts once the tasks it comes after are merged or done.
func (s *supervisor) schedule(ctx context.Context) error {
	tasks, err := s.ws.Store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	state := map[string]string{}
	for _, t := range tasks {
		state[t.ID] = t.State
	}
	for _, a := range s.p.Agents {
		if _, busy := s.procs[a.Name]; busy {
			continue
		}
		if s.p.MaxParallel > 0 && len(s.procs) >= s.p.MaxParallel {
			return nil
		}
		t, ok := currentTask(tasks, a.Name)
		if !ok || t.State != Pending {
			continue
		}
		ready := true
		for _, dep := range t.After {
			if !Finished(state[dep]) {
				ready = false
			}
		}
		if ready {
			if err := s.launch(ctx, t, agentproc.ReasonTask, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// currentTask is the agent's first task that is not merged or done.
func currentTask(tasks []store.Task, agent string) (store.Task, bool) {
	for _, t := range tasks {
		if t.Agent == agent && !Finished(t.State) {
			return t, true
		}
	}
	return store.Task{}, false
}

// launch starts the task's agent for reason. A program that cannot start fails the task,
// not the run.
func (s *supervisor) launch(ctx context.Context, t store.Task, reason, extra string) error {
	a, ok := s.p.Agent(t.Agent)
	if !ok {
		return fmt.Errorf("task %s: agent %s is not in the plan", t.ID, t.Agent)
	}
	sa, err := s.ws.Store.Agent(ctx, s.team.Name, a.Name)
	if err != nil {
		return err
	}
	if reason == agentproc.ReasonTask && t.Attempt == 0 {
		s.syncFromLeader(ctx, sa)
	}
	cmd := a.Command
	if len(cmd) == 0 && a.Preset != "" {
		cmd, _ = agentproc.PresetArgv(a.Preset)
	}
	state := Running
	if reason == agentproc.ReasonNudge {
		state = Nudging
	}
	if err := s.ws.Store.UpdateTask(ctx, s.team.Name, t.ID, func(t *store.Task) error {
		t.State, t.Reason, t.Detail = state, reason, ""
		t.Attempt++
		return nil
	}); err != nil {
		return err
	}
	t.Attempt++
	l := agentproc.Launch{
		Team: s.team.Name, Agent: a.Name, Role: a.Role, TaskID: t.ID,
		Prompt: agentproc.Prompt(agentproc.PromptInput{
			Team: s.team.Name, Agent: a.Name, TaskID: t.ID, Task: t.Prompt, Reason: reason, Extra: extra,
			Branch: sa.Branch, LeaderBranch: s.team.LeaderBranch,
		}),
		Worktree: sa.Worktree, Branch: sa.Branch, LeaderBranch: s.team.LeaderBranch,
		Attempt: t.Attempt, Reason: reason, Command: cmd, Env: a.Env, Timeout: a.Timeout,
		LogPath: LogPath(s.ws.Repo.CommonDir, s.team.Name, a.Name), BinDir: s.ws.env.BinDir,
	}
	proc, err := agentproc.Start(l)
	if errors.Is(err, agentproc.ErrStart) {
		s.log().Error("agent cannot start", "agent", a.Name, "task", t.ID, "err", err)
		return s.setTask(ctx, t.ID, Failed, err.Error())
	}
	if err != nil {
		return err
	}
	s.log().Info("agent launched", "agent", a.Name, "task", t.ID, "attempt", t.Attempt, "reason", reason, "pid", proc.Pid)
	s.procs[a.Name] = proc
	if err := s.ws.Store.UpdateAgent(ctx, s.team.Name, a.Name, func(sa *store.Agent) error {
		sa.State, sa.Task, sa.PID, sa.ProcStart = "running", t.ID, proc.Pid, proc.Start
		return nil
	}); err != nil {
		return err
	}
	go func(agent, task string) {
		s.exits <- exitEvent{agent: agent, task: task, result: proc.Result()}
	}(a.Name, t.ID)
	return nil
}

// syncFromLeader brings what the team has merged into an agent's branch before it starts a
// task, so a task that comes after another sees its work. It never forces: a dirty worktree
// or a conflict leaves the branch as it was.
func (s *supervisor) syncFromLeader(ctx context.Context, a store.Agent) {
	ahead, _, err := s.ws.Repo.AheadBehind(ctx, a.Branch, s.team.LeaderBranch)
	if err != nil || ahead == 0 {
		return
	}
	if ch, err := s.ws.Repo.Status(ctx, a.Worktree); err != nil || len(ch) > 0 {
		return
	}
	if err := s.ws.Repo.Sync(ctx, a.Worktree, s.team.LeaderBranch, identity(s.team.Name, a.Name)); err != nil {
		s.log().Warn("could not bring the leader branch into the agent's branch", "agent", a.Name, "err", err)
		_ = s.ws.Repo.AbortMerge(ctx, a.Worktree)
	}
}

func (s *supervisor) setTask(ctx context.Context, id, state, detail string) error {
	return s.ws.Store.UpdateTask(ctx, s.team.Name, id, func(t *store.Task) error {
		t.State, t.Detail = state, detail
		return nil
	})
}

// onExit applies the commit policy of DESIGN.md §4 to an agent that ended.
func (s *supervisor) onExit(ctx context.Context, ev exitEvent) error {
	delete(s.procs, ev.agent)
	if ctx.Err() != nil {
		return nil // stopping: the task stays as it is and resume relaunches it
	}
	if err := s.ws.Store.UpdateAgent(ctx, s.team.Name, ev.agent, func(a *store.Agent) error {
		a.State, a.PID, a.ProcStart = "idle", 0, 0
		return nil
	}); err != nil {
		return err
	}
	a, _ := s.p.Agent(ev.agent)
	t, err := s.ws.Store.Task(ctx, s.team.Name, ev.task)
	if err != nil {
		return err
	}
	sa, err := s.ws.Store.Agent(ctx, s.team.Name, ev.agent)
	if err != nil {
		return err
	}
	s.log().Info("agent ended", "agent", ev.agent, "task", ev.task, "result", ev.result.String())

	if !ev.result.OK() {
		if err := s.ws.Store.UpdateTask(ctx, s.team.Name, t.ID, func(t *store.Task) error { t.Failures++; return nil }); err != nil {
			return err
		}
		t.Failures++
		if t.Failures <= a.Retries {
			extra := fmt.Sprintf("Your previous launch %s. Check your worktree and continue the task.", ev.result)
			return s.launch(ctx, t, t.Reason, extra)
		}
		detail := fmt.Sprintf("agent %s on its last launch (%d failed); its log: teamctl logs %s", ev.result, t.Failures, ev.agent)
		return s.setTask(ctx, t.ID, Failed, detail)
	}

	changes, err := s.ws.Repo.Status(ctx, sa.Worktree)
	if err != nil {
		return err
	}
	inMerge, err := s.ws.Repo.MergeInProgress(ctx, sa.Worktree)
	if err != nil {
		return err
	}
	if len(changes) > 0 || inMerge {
		if t.Nudges < a.Nudge.Max {
			if err := s.ws.Store.UpdateTask(ctx, s.team.Name, t.ID, func(t *store.Task) error { t.Nudges++; return nil }); err != nil {
				return err
			}
			t.Nudges++
			return s.launch(ctx, t, agentproc.ReasonNudge, "Uncommitted in your worktree:\n"+changeList(changes))
		}
		if unmerged := unmergedPaths(changes); len(unmerged) > 0 {
			return s.setTask(ctx, t.ID, Conflict, "the agent left unresolved conflicts in "+strings.Join(unmerged, ", "))
		}
		if !a.Nudge.AutoCommit {
			return s.setTask(ctx, t.ID, Blocked, fmt.Sprintf("the agent left %d uncommitted file(s) and auto_commit is off: commit or discard them in %s", len(changes), sa.Worktree))
		}
		msg := AutoCommitMessage(ev.agent, t.ID, changes)
		hash, err := s.ws.Repo.CommitAll(ctx, sa.Worktree, msg, gitIdentity(s.team.Name, a))
		if err != nil && !errors.Is(err, worktree.ErrNothingToCommit) {
			return fmt.Errorf("auto-commit for %s: %w", ev.agent, err)
		}
		if err == nil {
			s.log().Warn("auto-committed work left uncommitted", "agent", ev.agent, "task", t.ID, "files", len(changes), "commit", short(hash))
			if _, err := s.ws.Store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: "commit.auto", Agent: ev.agent, Task: t.ID,
				Data: fmt.Sprintf(`{"commit":%q,"files":%d}`, hash, len(changes))}); err != nil {
				return err
			}
		}
	}
	ahead, _, err := s.ws.Repo.AheadBehind(ctx, s.team.LeaderBranch, sa.Branch)
	if err != nil {
		return err
	}
	if ahead == 0 {
		return s.setTask(ctx, t.ID, Done, "no commits to merge")
	}
	return s.setTask(ctx, t.ID, Queued, "")
}

// AutoCommitMessage is the subject resume and review recognise an auto-commit by.
func AutoCommitMessage(agent, task string, changes []worktree.Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, autoCommitPrefix+" work left uncommitted by %s (task %s)\n\n", agent, task)
	b.WriteString(changeList(changes))
	return b.String()
}

func changeList(changes []worktree.Change) string {
	var b strings.Builder
	for i, c := range changes {
		if i == 50 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(changes)-50)
			break
		}
		fmt.Fprintf(&b, "  %s %s\n", c.Code, c.Path)
	}
	return b.String()
}

func unmergedPaths(changes []worktree.Change) []string {
	var out []string
	for _, c := range changes {
		if c.Code == "U" {
			out = append(out, c.Path)
		}
	}
	return out
}

// gitIdentity is the identity an agent's commits carry: the plan's env wins.
func gitIdentity(team string, a plan.Agent) []string {
	env := identity(team, a.Name)
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} {
		if v, ok := a.Env[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// startMerge hands the oldest queued task to the merger when it is free.
func (s *supervisor) startMerge(ctx context.Context) error {
	if s.merging {
		return nil
	}
	tasks, err := s.ws.Store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	var queued []store.Task
	for _, t := range tasks {
		if t.State == Queued {
			queued = append(queued, t)
		}
	}
	if len(queued) == 0 {
		return nil
	}
	sort.SliceStable(queued, func(i, j int) bool { return queued[i].Updated.Before(queued[j].Updated) })
	t := queued[0]
	a, _ := s.p.Agent(t.Agent)
	if err := s.setTask(ctx, t.ID, Merging, ""); err != nil {
		return err
	}
	req := merge.Request{Team: s.team.Name, Task: t.ID, Agent: t.Agent, Branch: BranchName(s.team.Name, t.Agent), Owns: a.Owns}
	s.merging = true
	s.log().Info("merging", "agent", t.Agent, "task", t.ID, "test", s.p.Test)
	go func() {
		started := time.Now()
		res, err := s.merger.Merge(ctx, req)
		if err == nil {
			_, err = s.ws.Store.RecordMerge(context.WithoutCancel(ctx), store.Merge{
				Team: req.Team, Task: req.Task, Agent: req.Agent, Branch: req.Branch, BranchHead: res.BranchHead,
				Before: res.Before, Commit: res.Commit, Outcome: res.Outcome, TestRuns: res.TestRuns,
				Output: mergeOutput(res), Started: started, Ended: time.Now(),
			})
		}
		s.merges <- mergeEvent{task: t.ID, req: req, res: res, err: err}
	}()
	return nil
}

func mergeOutput(res merge.Result) string {
	if res.Outcome == merge.Conflict {
		return strings.Join(res.Conflicts, "\n")
	}
	return res.Output
}

// onMerge moves a task on after its merge: merged, or back to its agent to fix, or to a
// human once the agent's fix rounds are spent.
func (s *supervisor) onMerge(ctx context.Context, ev mergeEvent) error {
	if ctx.Err() != nil {
		return s.setTask(context.WithoutCancel(ctx), ev.task, Queued, "")
	}
	if ev.err != nil {
		s.log().Error("merge failed", "task", ev.task, "err", ev.err)
		return s.setTask(ctx, ev.task, Failed, "merge failed: "+ev.err.Error())
	}
	res := ev.res
	switch res.Outcome {
	case merge.Merged:
		s.log().Info("merged", "agent", ev.req.Agent, "task", ev.task, "commit", short(res.Commit))
		if err := s.ws.Store.UpdateTeam(ctx, s.team.Name, func(t *store.Team) error { t.TestedHead = res.Commit; return nil }); err != nil {
			return err
		}
		return s.ws.Store.UpdateTask(ctx, s.team.Name, ev.task, func(t *store.Task) error {
			t.State, t.MergeCommit, t.Detail = Merged, res.Commit, ""
			return nil
		})
	case merge.Refused:
		s.log().Warn("merge refused", "agent", ev.req.Agent, "task", ev.task, "why", res.Output)
		return s.setTask(ctx, ev.task, Failed, "refused: "+res.Output)
	}
	t, err := s.ws.Store.Task(ctx, s.team.Name, ev.task)
	if err != nil {
		return err
	}
	a, _ := s.p.Agent(t.Agent)
	final, detail := TestsFailed, res.Output
	if res.Outcome == merge.Conflict {
		final, detail = Conflict, "conflicts with the leader branch in "+strings.Join(res.Conflicts, ", ")
	}
	s.log().Warn("merge "+res.Outcome, "agent", t.Agent, "task", t.ID, "round", t.Rounds+1, "of", a.Retries)
	if t.Rounds >= a.Retries {
		return s.setTask(ctx, t.ID, final, detail)
	}
	if err := s.ws.Store.UpdateTask(ctx, s.team.Name, t.ID, func(t *store.Task) error { t.Rounds++; return nil }); err != nil {
		return err
	}
	if res.Outcome == merge.TestsFailed {
		return s.launch(ctx, t, agentproc.ReasonFixTests, "The test command `"+s.p.Test+"` failed after merging your branch. Its output ends with:\n\n"+res.Output)
	}
	// Bring the conflict into the agent's own worktree so the agent resolves it there.
	sa, err := s.ws.Store.Agent(ctx, s.team.Name, t.Agent)
	if err != nil {
		return err
	}
	err = s.ws.Repo.Sync(ctx, sa.Worktree, s.team.LeaderBranch, gitIdentity(s.team.Name, a))
	var ce *worktree.ConflictError
	switch {
	case errors.As(err, &ce):
		return s.launch(ctx, t, agentproc.ReasonFixConflict, "Conflicting files (merge in progress in your worktree):\n  "+strings.Join(ce.Files, "\n  "))
	case err != nil:
		return s.setTask(ctx, t.ID, Conflict, detail+"; bringing the leader branch into "+sa.Branch+" failed: "+err.Error())
	default:
		// The leader branch merged cleanly into the agent's: the conflict was with work
		// merged since; queue again.
		return s.setTask(ctx, t.ID, Queued, "")
	}
}

func allFinished(tasks []store.Task) bool {
	for _, t := range tasks {
		if !Finished(t.State) {
			return false
		}
	}
	return true
}

func anyQueued(tasks []store.Task) bool {
	for _, t := range tasks {
		if t.State == Queued || t.State == Merging {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func short(h string) string {
	if len(h) > 10 {
		return h[:10]
	}
	return h
}
