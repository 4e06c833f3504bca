package worktree

import "context"

// Init makes dir a new git repository whose first branch is branch.
func Init(ctx context.Context, run Runner, dir, branch string) error { panic("todo") }

// Detach puts the worktree at dir on a detached HEAD at its current commit (the branch ref
// stays where it is).
func (r *Repo) Detach(ctx context.Context, dir string) error { panic("todo") }

// Checkout checks out branch in the worktree at dir.
func (r *Repo) Checkout(ctx context.Context, dir, branch string) error { panic("todo") }

// UpdateRef moves branch to rev only if it is still at old (compare-and-swap).
func (r *Repo) UpdateRef(ctx context.Context, branch, rev, old string) error { panic("todo") }
