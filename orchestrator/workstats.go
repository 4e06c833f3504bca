package orchestrator

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/teamctl/teamctl/worktree"
)

// Unknown is a count that has not been made (yet), or could not be: a branch cleaned
// away, a worktree gone.
const Unknown = -1

// WorkStats counts, for every agent of a team, the commits on its branch not on the leader
// branch ("ahead"; the leader's against base: what the team merged) and the uncommitted
// files in its worktree ("dirty"), for the dashboards (terminal and web) to show. Each
// count is a git process (some 20ms of CPU here), so a count is redone only when a stat
// says it may have changed:
//   - ahead: the agent's ref file changed, or packed-refs, or the leader's ref (a merge
//     changes every agent's count);
//   - dirty: the worktree's index changed (git add, merge, checkout write it), or its
//     branch's ref did (a commit need not write the index), or the agent's state did;
//
// and at most a budget of those run per refresh, those waited on longest first, so a merge
// that moves 64 agents' counts can be spread over a few refreshes instead of stalling one.
//
// Editing a file touches no file of git's, and a stat of every file of every worktree would
// cost more than the git status it saves; so a running agent's worktree is also recounted
// on a cadence: every dirtyActive while its log grows, every dirtyQuiet when it is silent,
// and these cadence counts are held to one per second for the whole team, so 64 busy agents
// cost one git status a second, not four.
//
// A WorkStats is safe for use by several goroutines (a web server's page loads).
type WorkStats struct {
	repo *worktree.Repo

	mu        sync.Mutex
	leaderRef FileStamp
	packed    FileStamp
	agents    map[string]*agentGit
	lastTick  time.Time // the last cadence count
}

const (
	dirtyActive = 20 * time.Second
	dirtyQuiet  = 2 * time.Minute
	tickEvery   = time.Second
	// countsAtOnce is how many of a refresh's git counts run at once.
	countsAtOnce = 4
)

type agentGit struct {
	role, branch, wt string
	gitDir           string    // the worktree's own git dir, where its index is; "" if unknown
	ref, index       FileStamp // at the last count
	state            string
	ahead, dirty     int
	aheadStale       bool
	dirtyStale       bool
	aheadAt, dirtyAt time.Time
}

// WorkStats returns an empty count cache of this workspace's repository.
func (w *Workspace) WorkStats() *WorkStats { return NewWorkStats(w.repo) }

// NewWorkStats returns an empty count cache of repo.
func NewWorkStats(repo *worktree.Repo) *WorkStats {
	return &WorkStats{repo: repo, agents: map[string]*agentGit{}}
}

func (g *WorkStats) refPath(branch string) string {
	return filepath.Join(g.repo.CommonDir, "refs", "heads", filepath.FromSlash(branch))
}

// Counts is an agent's last counts (Unknown before the first).
func (g *WorkStats) Counts(agent string) (ahead, dirty int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.agents[agent]
	if a == nil {
		return Unknown, Unknown
	}
	return a.ahead, a.dirty
}

// Stale is how many counts wait to be redone.
func (g *WorkStats) Stale() int {
	g.mu.Lock()
	defer g.mu.Unlock()
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

// Refresh recounts what may have changed of team st, at most budget counts (all with
// budget < 0), and reports whether a count changed. logged is when an agent's log last
// grew (the zero time if not known).
func (g *WorkStats) Refresh(ctx context.Context, now time.Time, st Status, logged func(agent string) time.Time, budget int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	lr, pk := StampOf(g.refPath(st.LeaderBranch)), StampOf(filepath.Join(g.repo.CommonDir, "packed-refs"))
	merged := lr != g.leaderRef || pk != g.packed
	g.leaderRef, g.packed = lr, pk

	type job struct {
		a     *agentGit
		ahead bool // else dirty
		at    time.Time
		n     int
	}
	var jobs []*job
	for _, s := range st.Agents {
		a := g.agents[s.Name]
		if a == nil {
			a = &agentGit{ahead: Unknown, dirty: Unknown, aheadStale: true, dirtyStale: true}
			g.agents[s.Name] = a
		}
		a.role, a.branch, a.wt = s.Role, s.Branch, s.Worktree
		if a.gitDir == "" {
			// Not made yet when the team was seen first, maybe.
			a.gitDir, _ = worktree.GitDirOf(s.Worktree)
		}
		if merged {
			a.aheadStale = true
		}
		if r := StampOf(g.refPath(s.Branch)); r != a.ref {
			// A commit: what is ahead, and what is uncommitted (git commit need not write
			// the index it committed).
			a.aheadStale, a.dirtyStale, a.ref = true, true, r
		}
		if a.gitDir != "" && StampOf(filepath.Join(a.gitDir, "index")) != a.index {
			a.dirtyStale = true
		}
		if s.State != a.state {
			a.aheadStale, a.dirtyStale, a.state = true, true, s.State
		}
		if a.aheadStale {
			jobs = append(jobs, &job{a: a, ahead: true, at: a.aheadAt})
		}
		if a.dirtyStale {
			jobs = append(jobs, &job{a: a, at: a.dirtyAt})
		}
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].at.Before(jobs[j].at) })
	if budget >= 0 && len(jobs) > budget {
		jobs = jobs[:budget]
	}
	if (budget < 0 || len(jobs) < budget) && now.Sub(g.lastTick) >= tickEvery {
		if a := g.due(now, st, logged); a != nil {
			jobs = append(jobs, &job{a: a, at: a.dirtyAt})
			g.lastTick = now
		}
	}
	// The counts are git processes: a few at once. Each job writes only its own n.
	sem := make(chan struct{}, countsAtOnce)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if j.ahead {
				j.n = g.countAhead(ctx, j.a, st)
			} else {
				j.n = g.countDirty(ctx, j.a)
			}
		}()
	}
	wg.Wait()
	changed := false
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		if j.ahead {
			changed = changed || j.n != j.a.ahead
			j.a.ahead, j.a.aheadStale, j.a.aheadAt = j.n, false, now
			continue
		}
		changed = changed || j.n != j.a.dirty
		j.a.dirty, j.a.dirtyStale, j.a.dirtyAt = j.n, false, now
		// After the count: git status itself may rewrite the index (refreshing its stat
		// data), which must not look like the agent's doing at the next refresh.
		if j.a.gitDir != "" {
			j.a.index = StampOf(filepath.Join(j.a.gitDir, "index"))
		}
	}
	return changed
}

// due is the running agent whose worktree is most overdue for a cadence count, if any.
func (g *WorkStats) due(now time.Time, st Status, logged func(string) time.Time) *agentGit {
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

// countAhead is what an agent's branch has that the leader branch has not; for the leader,
// what the leader branch has that base has not: what the team merged.
func (g *WorkStats) countAhead(ctx context.Context, a *agentGit, st Status) int {
	from := st.LeaderBranch
	if a.role == "leader" || a.branch == st.LeaderBranch {
		from = st.Base
	}
	ahead, _, err := g.repo.AheadBehind(ctx, from, a.branch)
	if err != nil {
		return Unknown // a branch cleaned away, a base renamed: nothing to count
	}
	return ahead
}

func (g *WorkStats) countDirty(ctx context.Context, a *agentGit) int {
	if _, err := os.Stat(a.wt); err != nil {
		return Unknown
	}
	ch, err := g.repo.Status(ctx, a.wt)
	if err != nil {
		return Unknown
	}
	return len(ch)
}

// FileStamp identifies a file's version cheaply: a stat, no read.
type FileStamp struct {
	ok   bool
	size int64
	mod  int64
	ino  uint64
}

// Mod is the file's modification time at the stamp (zero for a missing file).
func (f FileStamp) Mod() time.Time {
	if !f.ok {
		return time.Time{}
	}
	return time.Unix(0, f.mod)
}

// StampOf is the stamp of the file at path now (the zero stamp when it is missing).
func StampOf(path string) FileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return FileStamp{}
	}
	return FileStamp{ok: true, size: fi.Size(), mod: fi.ModTime().UnixNano(), ino: inode(fi)}
}

// inode tells a file that was replaced (teamctl clean, then a new team of the same name)
// from one that was appended to and happens to have the same size and time.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
