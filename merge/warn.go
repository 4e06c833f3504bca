package merge

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/teamctl/teamctl/worktree"
)

// Warning is a conflict coming while agents still work: merging both branches into the
// leader branch would conflict in Files. B is "" when A's branch conflicts with the leader
// branch alone (with work merged since A started).
type Warning struct {
	A, B  string // agent names, A < B
	Files []string
}

// Key identifies a warning with its files, to tell agents of a warning once.
func (w Warning) Key() string { return w.A + "\x00" + w.B + "\x00" + strings.Join(w.Files, "\x00") }

// ConflictPairs checks live branches pairwise (branches maps agent → branch) and returns
// the pairs that would conflict once both are merged into the leader branch, plus the
// branches that conflict with the leader branch alone. For repeated checks use a
// PairChecker: it only rechecks what changed.
func ConflictPairs(ctx context.Context, repo *worktree.Repo, leaderBranch string, branches map[string]string) ([]Warning, error) {
	return NewPairChecker(repo).Check(ctx, leaderBranch, branches)
}

// PairChecker answers ConflictPairs again and again cheaply. Each branch is first merged
// with the leader tip (merge-tree, no worktree, no ref; made a commit with commit-tree only
// when a pair needs it); two branches conflict
// when their two merges conflict with each other — merge-tree of the two, whose merge base is
// the leader tip, so a pair is reported even when one of them is merely behind. Results are
// cached by the heads: after a check, only branches whose head changed (and every branch, when
// the leader tip moved) are merged again, and only pairs involving them are rechecked. Two
// branches whose changes touch no common path (nor a file where the other has a directory)
// cannot conflict and are never merged together. Safe for concurrent use.
type PairChecker struct {
	repo *worktree.Repo

	mu       sync.Mutex
	tip      string                  // the leader tip the cache was built on
	tipTree  string                  // its tree
	branches map[string]branchMerge  // agent → its branch merged with tip
	pairs    map[[2]string]pairCheck // agents (sorted) → result for their heads
	merges   int                     // merge-tree runs, for tests and the benchmark
}

// branchMerge is one branch merged with the leader tip.
type branchMerge struct {
	head      string
	tree      string          // the merge with the tip ("" when it conflicts or changes nothing)
	commit    string          // that merge as a commit, made when a pair needs it
	conflicts []string        // conflicts with the leader tip alone
	paths     map[string]bool // paths the branch changes relative to the tip
	dirs      map[string]bool // every directory above those paths
}

type pairCheck struct {
	headA, headB string
	files        []string
}

// virtualIdentity makes the throwaway merge commits reproducible: the same inputs give the
// same commit hash, so checking again writes no new object.
var virtualIdentity = []string{
	"GIT_AUTHOR_NAME=teamctl", "GIT_AUTHOR_EMAIL=teamctl@teamctl.invalid", "GIT_AUTHOR_DATE=@0 +0000",
	"GIT_COMMITTER_NAME=teamctl", "GIT_COMMITTER_EMAIL=teamctl@teamctl.invalid", "GIT_COMMITTER_DATE=@0 +0000",
}

// NewPairChecker returns an empty checker for repo.
func NewPairChecker(repo *worktree.Repo) *PairChecker {
	return &PairChecker{repo: repo, branches: map[string]branchMerge{}, pairs: map[[2]string]pairCheck{}}
}

// Merges is how many merge-trees the checker ran so far.
func (c *PairChecker) Merges() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.merges
}

// Check returns the warnings for branches (agent → branch; a branch that does not exist is
// skipped) against the leader branch, sorted by A then B.
func (c *PairChecker) Check(ctx context.Context, leaderBranch string, branches map[string]string) ([]Warning, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tip, err := c.repo.Resolve(ctx, leaderBranch)
	if err != nil {
		return nil, fmt.Errorf("check conflicts: %w", err)
	}
	if tip != c.tip {
		tree, err := c.repo.TreeOf(ctx, tip)
		if err != nil {
			return nil, fmt.Errorf("check conflicts: %w", err)
		}
		c.tip, c.tipTree, c.branches, c.pairs = tip, tree, map[string]branchMerge{}, map[[2]string]pairCheck{}
	}
	agents := make([]string, 0, len(branches))
	for a := range branches {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	names := make([]string, 0, len(agents))
	for _, a := range agents {
		names = append(names, branches[a])
	}
	heads, err := c.repo.ResolveBranches(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("check conflicts: %w", err)
	}
	var live []string
	var warnings []Warning
	for _, a := range agents {
		head, ok := heads[branches[a]]
		if !ok {
			continue // no such branch (any more)
		}
		bm, ok := c.branches[a]
		if !ok || bm.head != head {
			if bm, err = c.mergeWithTip(ctx, head); err != nil {
				return nil, fmt.Errorf("check conflicts of %s: %w", a, err)
			}
			c.branches[a] = bm
		}
		if len(bm.conflicts) > 0 {
			warnings = append(warnings, Warning{A: a, Files: bm.conflicts})
		} else if bm.tree != "" {
			live = append(live, a)
		}
	}
	for i, a := range live {
		for _, b := range live[i+1:] {
			files, err := c.pair(ctx, a, b)
			if err != nil {
				return nil, fmt.Errorf("check conflicts of %s and %s: %w", a, b, err)
			}
			if len(files) > 0 {
				warnings = append(warnings, Warning{A: a, B: b, Files: files})
			}
		}
	}
	sort.SliceStable(warnings, func(i, j int) bool {
		if warnings[i].A != warnings[j].A {
			return warnings[i].A < warnings[j].A
		}
		return warnings[i].B < warnings[j].B
	})
	return warnings, nil
}

// mergeWithTip merges head with the leader tip.
func (c *PairChecker) mergeWithTip(ctx context.Context, head string) (branchMerge, error) {
	bm := branchMerge{head: head}
	if head == c.tip {
		return bm, nil // a branch on the tip itself (an agent that has not committed yet)
	}
	c.merges++
	tree, conflicts, err := c.repo.MergeTree(ctx, c.tip, head)
	if err != nil || len(conflicts) > 0 {
		bm.conflicts = conflicts
		return bm, err
	}
	if tree == c.tipTree {
		return bm, nil // nothing to merge: it cannot conflict with anyone
	}
	bm.tree = tree
	changed, err := c.repo.DiffPaths(ctx, c.tipTree, tree)
	if err != nil {
		return bm, err
	}
	bm.paths, bm.dirs = map[string]bool{}, map[string]bool{}
	for _, p := range changed {
		bm.paths[p] = true
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			bm.dirs[d] = true
		}
	}
	return bm, nil
}

// pair returns the files in which the merges of a and b with the tip conflict.
func (c *PairChecker) pair(ctx context.Context, a, b string) ([]string, error) {
	ma, mb := c.branches[a], c.branches[b]
	key := [2]string{a, b}
	if pc, ok := c.pairs[key]; ok && pc.headA == ma.head && pc.headB == mb.head {
		return pc.files, nil
	}
	pc := pairCheck{headA: ma.head, headB: mb.head}
	if overlap(ma, mb) {
		ca, err := c.commit(ctx, a)
		if err != nil {
			return nil, err
		}
		cb, err := c.commit(ctx, b)
		if err != nil {
			return nil, err
		}
		c.merges++
		_, conflicts, err := c.repo.MergeTree(ctx, ca, cb)
		if err != nil {
			return nil, err
		}
		pc.files = conflicts
	}
	c.pairs[key] = pc
	return pc.files, nil
}

// commit returns agent's branch merged with the tip as a commit (merge-tree merges commits,
// not trees), making it the first time a pair needs it.
func (c *PairChecker) commit(ctx context.Context, agent string) (string, error) {
	bm := c.branches[agent]
	if bm.commit == "" {
		var err error
		if bm.commit, err = c.repo.CommitTree(ctx, bm.tree, []string{c.tip, bm.head}, "teamctl: conflict check", virtualIdentity); err != nil {
			return "", err
		}
		c.branches[agent] = bm
	}
	return bm.commit, nil
}

// overlap reports whether two branches change a common path, or one a file where the other
// has a directory: without that, git's three-way merge cannot conflict (a rename is its old
// and its new path, both counted).
func overlap(a, b branchMerge) bool {
	if len(a.paths) > len(b.paths) {
		a, b = b, a
	}
	for p := range a.paths {
		if b.paths[p] || b.dirs[p] {
			return true
		}
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if b.paths[d] {
				return true
			}
		}
	}
	return false
}
