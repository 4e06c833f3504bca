package worktree

import (
	"context"
	"fmt"
)

// Init makes dir a new git repository whose first branch is branch.
func Init(ctx context.Context, run Runner, dir, branch string) error {
	if _, err := run.Run(ctx, dir, nil, "git", "init", "--quiet", "--initial-branch="+branch, dir); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	return nil
}

// Detach puts the worktree at dir on a detached HEAD at its current commit (the branch ref
// stays where it is).
func (r *Repo) Detach(ctx context.Context, dir string) error {
	if _, err := r.git(ctx, dir, nil, "checkout", "--quiet", "--detach"); err != nil {
		return fmt.Errorf("detach HEAD in %s: %w", dir, err)
	}
	return nil
}

// Checkout checks out branch in the worktree at dir.
func (r *Repo) Checkout(ctx context.Context, dir, branch string) error {
	if _, err := r.git(ctx, dir, nil, "checkout", "--quiet", branch, "--"); err != nil {
		return fmt.Errorf("check out %s in %s: %w", branch, dir, err)
	}
	return nil
}

// UpdateRef moves branch to rev only if it is still at old (compare-and-swap).
func (r *Repo) UpdateRef(ctx context.Context, branch, rev, old string) error {
	if _, err := r.git(ctx, "", nil, "update-ref", "-m", "teamctl", "refs/heads/"+branch, rev, old); err != nil {
		return fmt.Errorf("move %s to %s: %w", branch, rev, err)
	}
	return nil
}
