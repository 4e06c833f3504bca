package orchestrator

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// agentTree is one agent's worktree and branch as teamctl works on them: what they hold,
// where the worktree's HEAD stands, and the changes teamctl makes there itself — bringing
// the leader branch in, putting commits made off the branch back on it. It needs nothing of
// the supervisor's but the repository and the team's leader branch.
type agentTree struct {
	repo         *worktree.Repo
	agent        store.Agent
	team         string
	leaderBranch string
	log          *log.Logger
}

// tree is agent sa's worktree.
func (s *supervisor) tree(sa store.Agent) agentTree {
	return agentTree{repo: s.ws.repo, agent: sa, team: s.team.Name, leaderBranch: s.target(sa.Name), log: s.log()}
}

// syncFromLeader brings what the team has merged into an agent's branch before it starts a
// task, so a task that comes after another sees its work. It never forces: a dirty worktree
// or a conflict leaves the branch as it was.
func (at agentTree) syncFromLeader(ctx context.Context) {
	a := at.agent
	ahead, _, err := at.repo.AheadBehind(ctx, a.Branch, at.leaderBranch)
	if err != nil || ahead == 0 {
		return
	}
	if ch, err := at.repo.Status(ctx, a.Worktree); err != nil || len(ch) > 0 {
		return
	}
	if err := at.repo.Sync(ctx, a.Worktree, at.leaderBranch, identity(at.team, a.Name)); err != nil {
		at.log.Warn("could not bring the leader branch into the agent's branch", "agent", a.Name, "err", err)
		_ = at.repo.AbortMerge(ctx, a.Worktree)
	}
}

// summary says what an agent's worktree holds, for the prompt of a launch that
// continues earlier work (resume): commits not yet merged, a merge in progress, changes.
func (at agentTree) summary(ctx context.Context) string {
	a := at.agent
	var b strings.Builder
	if commits, err := at.repo.Commits(ctx, at.leaderBranch, a.Branch); err == nil && len(commits) > 0 {
		fmt.Fprintf(&b, "Your branch %s has %d commit(s) not yet merged:\n", a.Branch, len(commits))
		for i, c := range commits {
			if i == 20 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(commits)-20)
				break
			}
			fmt.Fprintf(&b, "  %s %s\n", shorten.Hash(c.Hash), c.Subject)
		}
	}
	if in, err := at.repo.MergeInProgress(ctx, a.Worktree); err == nil && in {
		b.WriteString("A merge is in progress in your worktree (resolve it and commit).\n")
	}
	if ch, err := at.repo.Status(ctx, a.Worktree); err == nil && len(ch) > 0 {
		b.WriteString("Uncommitted in your worktree:\n" + changeList(ch))
	}
	if b.Len() == 0 {
		return "Your worktree holds no work for this task yet."
	}
	return b.String()
}

// headAt is where an agent left its worktree's HEAD against its branch, as whereIsHead
// read it; backOnBranch acts on what it read.
type headAt struct {
	where offBranch
	why   string            // offDiverged: what a person has to sort out
	wt    worktree.Worktree // the worktree's HEAD (off its branch)
	tip   string            // the branch's tip
	ahead bool              // the HEAD holds the branch's tip: the branch can move there
}

// whereIsHead says where the agent left its worktree's HEAD against its branch, which is
// what gets merged: on it; off it (a detached HEAD or another branch) but ahead of or
// behind it, so backOnBranch can bring it back; or diverged, with why saying what a person
// has to sort out.
func (at agentTree) whereIsHead(ctx context.Context) (headAt, error) {
	sa := at.agent
	wt, ok, err := at.repo.WorktreeAt(ctx, sa.Worktree)
	if err != nil || !ok || wt.Branch == sa.Branch {
		return headAt{where: onBranch}, err
	}
	h := headAt{where: offAhead, wt: wt}
	if h.tip, err = at.repo.Resolve(ctx, sa.Branch); err != nil || wt.Head == h.tip {
		return h, err
	}
	if h.ahead, err = at.repo.IsAncestor(ctx, h.tip, wt.Head); err != nil || h.ahead {
		return h, err
	}
	if behind, err := at.repo.IsAncestor(ctx, wt.Head, h.tip); err != nil || behind {
		return h, err
	}
	h.where = offDiverged
	h.why = fmt.Sprintf("the agent left its worktree on %s, whose commits are not on its branch %s: bring them there (git checkout %s && git merge %s)",
		headName(wt), sa.Branch, sa.Branch, shorten.Hash(wt.Head))
	return h, nil
}

func headName(wt worktree.Worktree) string {
	if wt.Branch != "" {
		return "branch " + wt.Branch
	}
	return "a detached HEAD at " + shorten.Hash(wt.Head)
}

// backOnBranch brings what an agent committed off its branch (whereIsHead: offAhead) onto
// it: its branch is fast-forwarded to those commits and checked out again; an agent that
// went back to an older commit just gets its branch back.
func (at agentTree) backOnBranch(ctx context.Context, h headAt) error {
	sa := at.agent
	if h.ahead {
		if err := at.repo.UpdateRef(ctx, sa.Branch, h.wt.Head, h.tip); err != nil {
			return err
		}
		at.log.Warn("the agent committed off its branch: its branch now holds those commits", "agent", sa.Name, "on", headName(h.wt), "branch", sa.Branch, "head", shorten.Hash(h.wt.Head))
	}
	return at.repo.Checkout(ctx, sa.Worktree, sa.Branch)
}
