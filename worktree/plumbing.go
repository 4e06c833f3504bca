package worktree

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitTree makes a commit of tree with parents and message msg without touching any
// worktree, index or ref (git commit-tree), and returns its hash. env sets the author and
// committer. With MergeTree it builds a merge commit identical to what `git merge --no-ff`
// makes in a worktree (both use the ort strategy), in milliseconds.
func (r *Repo) CommitTree(ctx context.Context, tree string, parents []string, msg string, env []string) (string, error) {
	args := append(append([]string{}, noSign...), "commit-tree", tree)
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	// -m cleans the message like `git merge -m` does (one trailing newline), so trailers
	// read the same whichever way the merge was made.
	args = append(args, "-m", msg)
	out, err := r.git(ctx, "", env, args...)
	if err != nil {
		return "", fmt.Errorf("commit tree %s: %w", tree, err)
	}
	return out, nil
}

// TreeOf returns the hash of the tree of commit rev.
func (r *Repo) TreeOf(ctx context.Context, rev string) (string, error) {
	out, err := r.git(ctx, "", nil, "rev-parse", "--verify", "--quiet", rev+"^{tree}")
	if err != nil {
		if exitCode(err) == 1 {
			return "", fmt.Errorf("%w: %s", ErrNoRef, rev)
		}
		return "", fmt.Errorf("tree of %s: %w", rev, err)
	}
	return out, nil
}

// DiffPaths lists the paths whose content or mode differs between commits (or trees) a and
// b, without rename detection: a rename is its old and its new path.
func (r *Repo) DiffPaths(ctx context.Context, a, b string) ([]string, error) {
	out, err := r.git(ctx, "", nil, "diff-tree", "-r", "--name-only", "--no-renames", "-z", a, b, "--")
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", a, b, err)
	}
	return dedupe(strings.Split(out, "\x00")), nil
}

// FileAt reports whether the tree of commit rev holds a file at path (repo-relative,
// slashes) and whether it is executable.
func (r *Repo) FileAt(ctx context.Context, rev, path string) (exists, executable bool, err error) {
	g, err := r.gogit()
	if err != nil {
		return false, false, err
	}
	c, err := r.commit(ctx, g, rev)
	if err != nil {
		return false, false, err
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("look up %s in %s: %w", path, rev, err)
	}
	return true, f.Mode == filemode.Executable, nil
}
