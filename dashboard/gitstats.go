package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/worktree"
)

// gitStats counts, for every agent, the commits on its branch not on the leader branch
// ("ahead") and the uncommitted files in its worktree ("dirty"). Each count is a git
// process (some 20ms of CPU here), so a count is redone only when a stat says it may have
// changed:
//   - ahead: the agent's ref file changed, or packed-refs, or the leader's ref (a merge
//     changes every agent's count);
//   - dirty: the worktree's index changed (git add, commit, merge, checkout all write it),
//     or the agent's state did;
//
// and at most gitBudget of those run per poll, those waited on longest first, so a merge
// that moves 64 agents' counts spreads them over a few polls instead of stalling one.
//
// Editing a file touches no file of git's, and a stat of every file of every worktree would
// cost more than the git status it saves; so a running agent's worktree is also recounted
// on a cadence: every dirtyActive while its log grows, every dirtyQuiet when it is silent,
// and these cadence counts are held to one per second for the whole team, so 64 busy agents
// cost one git status a second, not four.
type gitStats struct {
	repo      *worktree.Repo
	leaderRef stamp
	packed    stamp
	agents    map[string]*agentGit
	lastTick  time.Time // the last cadence count
}

const (
	dirtyActive = 20 * time.Second
	dirtyQuiet  = 2 * time.Minute
	tickEvery   = time.Second
)

type agentGit struct {
	role, branch, wt string
	gitDir           string // the worktree's own git dir, where its index is; "" if unknown
	ref, index       stamp  // at the last count
	state            string
	ahead, dirty     int
	aheadStale       bool
	dirtyStale       bool
	aheadAt, dirtyAt time.Time
}

func newGitStats(repo *worktree.Repo) *gitStats {
	return &gitStats{repo: repo, agents: map[string]*agentGit{}}
}

func (g *gitStats) refPath(branch string) string {
	return filepath.Join(g.repo.CommonDir, "refs", "heads", filepath.FromSlash(branch))
}

// counts is an agent's last counts (Unknown before the first).
func (g *gitStats) counts(agent string) (ahead, dirty int) {
	a := g.agents[agent]
	if a == nil {
		return Unknown, Unknown
	}
	return a.ahead, a.dirty
}

// refresh recounts what may have changed, within the budget, and reports whether a count
// changed. logged is when an agent's log last grew.
func (g *gitStats) refresh(ctx context.Context, now time.Time, st orchestrator.Status, logged func(agent string) time.Time) bool {
	lr, pk := stampOf(g.refPath(st.LeaderBranch)), stampOf(filepath.Join(g.repo.CommonDir, "packed-refs"))
	merged := lr != g.leaderRef || pk != g.packed
	g.leaderRef, g.packed = lr, pk

	type job struct {
		a     *agentGit
		ahead bool // else dirty
		at    time.Time
	}
	var jobs []job
	for _, s := range st.Agents {
		a := g.agents[s.Name]
		if a == nil {
			a = &agentGit{ahead: Unknown, dirty: Unknown, aheadStale: true, dirtyStale: true, gitDir: worktreeGitDir(s.Worktree)}
			g.agents[s.Name] = a
		}
		a.role, a.branch, a.wt = s.Role, s.Branch, s.Worktree
		if a.gitDir == "" {
			a.gitDir = worktreeGitDir(s.Worktree) // not made yet when the team was seen first
		}
		if merged {
			a.aheadStale = true
		}
		if r := stampOf(g.refPath(s.Branch)); r != a.ref {
			a.aheadStale, a.ref = true, r
		}
		if a.gitDir != "" && stampOf(filepath.Join(a.gitDir, "index")) != a.index {
			a.dirtyStale = true
		}
		if s.State != a.state {
			a.aheadStale, a.dirtyStale, a.state = true, true, s.State
		}
		if a.aheadStale {
			jobs = append(jobs, job{a: a, ahead: true, at: a.aheadAt})
		}
		if a.dirtyStale {
			jobs = append(jobs, job{a: a, at: a.dirtyAt})
		}
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].at.Before(jobs[j].at) })
	if len(jobs) > gitBudget {
		jobs = jobs[:gitBudget]
	}
	if len(jobs) < gitBudget && now.Sub(g.lastTick) >= tickEvery {
		if a := g.due(now, st, logged); a != nil {
			jobs = append(jobs, job{a: a, at: a.dirtyAt})
			g.lastTick = now
		}
	}
	changed := false
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		if j.ahead {
			n := g.countAhead(ctx, j.a, st)
			changed = changed || n != j.a.ahead
			j.a.ahead, j.a.aheadStale, j.a.aheadAt = n, false, now
			continue
		}
		n := g.countDirty(ctx, j.a)
		changed = changed || n != j.a.dirty
		j.a.dirty, j.a.dirtyStale, j.a.dirtyAt = n, false, now
		// After the count: git status itself may rewrite the index (refreshing its stat
		// data), which must not look like the agent's doing at the next poll.
		if j.a.gitDir != "" {
			j.a.index = stampOf(filepath.Join(j.a.gitDir, "index"))
		}
	}
	return changed
}

// due is the running agent whose worktree is most overdue for a cadence count, if any.
func (g *gitStats) due(now time.Time, st orchestrator.Status, logged func(string) time.Time) *agentGit {
	var best *agentGit
	for _, s := range st.Agents {
		a := g.agents[s.Name]
		if a == nil || a.dirtyStale || s.State != "running" {
			continue
		}
		every := dirtyQuiet
		if logged(s.Name).After(a.dirtyAt) {
			every = dirtyActive
		}
		if now.Sub(a.dirtyAt) >= every && (best == nil || a.dirtyAt.Before(best.dirtyAt)) {
			best = a
		}
	}
	return best
}

// stale is how many counts wait to be redone.
func (g *gitStats) stale() int {
	n := 0
	for _, a := range g.agents {
		if a.aheadStale {
			n++
		}
		if a.dirtyStale {
			n++
		}
	}
	return n
}

// countAhead is what an agent's branch has that the leader branch has not; for the leader,
// what the leader branch has that base has not: what the team merged.
func (g *gitStats) countAhead(ctx context.Context, a *agentGit, st orchestrator.Status) int {
	from := st.LeaderBranch
	if a.role == "leader" {
		from = st.Base
	}
	ahead, _, err := g.repo.AheadBehind(ctx, from, a.branch)
	if err != nil {
		return Unknown // a branch cleaned away, a base renamed: nothing to count
	}
	return ahead
}

func (g *gitStats) countDirty(ctx context.Context, a *agentGit) int {
	if _, err := os.Stat(a.wt); err != nil {
		return Unknown
	}
	ch, err := g.repo.Status(ctx, a.wt)
	if err != nil {
		return Unknown
	}
	return len(ch)
}

// worktreeGitDir is the git dir of the linked worktree at wt: its .git is a file saying
// "gitdir: PATH" (relative to wt when git's worktree.useRelativePaths is set).
func worktreeGitDir(wt string) string {
	dotgit := filepath.Join(wt, ".git")
	fi, err := os.Stat(dotgit)
	if err != nil {
		return ""
	}
	if fi.IsDir() {
		return dotgit
	}
	b, err := os.ReadFile(dotgit)
	if err != nil {
		return ""
	}
	dir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(wt, dir)
	}
	return dir
}
