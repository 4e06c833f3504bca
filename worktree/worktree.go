// Package worktree owns every git operation teamctl makes: opening the repository, branches,
// linked worktrees, status, ahead/behind, commits, auto-commit, merges and cleanup. go-git
// answers reads (refs, commits, ancestry); the git CLI does every write, status, worktree and
// merge (see DESIGN.md "go-git and the git CLI" for why). Callers never know which one answered.
package worktree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var (
	ErrNotRepo         = errors.New("not a git repository")
	ErrNoRef           = errors.New("no such branch or revision")
	ErrNothingToCommit = errors.New("nothing to commit")
)

// ConflictError is a merge that stopped on conflicts; Files are the conflicted paths.
type ConflictError struct{ Files []string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("merge conflict in %s", strings.Join(e.Files, ", "))
}

// Repo is one git repository (its main worktree and common dir).
type Repo struct {
	Root      string // absolute path of the main worktree's top level
	CommonDir string // absolute git common dir (shared by every linked worktree)
	run       Runner
}

// Open finds the repository that holds path (any of its worktrees). ErrNotRepo if none.
func Open(ctx context.Context, run Runner, path string) (*Repo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrNotRepo, abs)
	}
	out, err := run.Run(ctx, abs, nil, "git", "rev-parse", "--path-format=absolute", "--git-common-dir", "--is-bare-repository")
	if err != nil {
		if exitCode(err) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotRepo, abs)
		}
		return nil, fmt.Errorf("open repository %s: %w", abs, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("open repository %s: unexpected rev-parse output %q", abs, out)
	}
	if lines[1] == "true" {
		return nil, fmt.Errorf("%w: %s is a bare repository: teamctl needs a main worktree", ErrNotRepo, abs)
	}
	r := &Repo{CommonDir: lines[0], run: run}
	wts, err := r.Worktrees(ctx)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", abs, err)
	}
	r.Root = wts[0].Path // the main worktree is listed first
	if samePath(r.Root, r.CommonDir) {
		// git lists the git dir itself as the main worktree when the two live apart
		// (--separate-git-dir, a submodule): inside the main worktree its top level is it.
		out, err := run.Run(ctx, abs, nil, "git", "rev-parse", "--path-format=absolute", "--absolute-git-dir", "--show-toplevel")
		if dirs := strings.Split(strings.TrimSpace(string(out)), "\n"); err == nil && len(dirs) == 2 && samePath(dirs[0], r.CommonDir) {
			r.Root = dirs[1]
		}
	}
	return r, nil
}

// git runs git in dir (the main worktree when dir is "") and returns its trimmed stdout.
func (r *Repo) git(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	if dir == "" {
		dir = r.Root
	}
	out, err := r.run.Run(ctx, dir, env, append([]string{"git"}, args...)...)
	return strings.TrimRight(string(out), "\n"), err
}

// gogit opens the repository with go-git for a read. It is opened afresh each time: go-git
// caches the list of pack files, and an agent's own `git gc` may repack under it.
func (r *Repo) gogit() (*git.Repository, error) {
	g, err := git.PlainOpenWithOptions(r.Root, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.Root, err)
	}
	return g, nil
}

// CurrentBranch is the branch checked out in the main worktree ("" when detached).
func (r *Repo) CurrentBranch(ctx context.Context) (string, error) {
	out, err := r.git(ctx, "", nil, "symbolic-ref", "--quiet", "--short", "HEAD")
	if exitCode(err) == 1 {
		return "", nil // detached
	}
	if err != nil {
		return "", fmt.Errorf("current branch: %w", err)
	}
	return out, nil
}

// Resolve returns the full commit hash rev names (branch, tag, hash). ErrNoRef if none.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	g, err := r.gogit()
	if err != nil {
		return "", err
	}
	// A branch first: go-git's ResolveRevision tries a tag, then a branch, and would take a
	// tag named like a branch.
	if ref, err := g.Reference(plumbing.NewBranchReferenceName(rev), true); err == nil {
		return ref.Hash().String(), nil
	}
	h, err := g.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrNoRef, rev)
	}
	// A tag resolves to its commit.
	if c, err := g.CommitObject(*h); err == nil {
		return c.Hash.String(), nil
	}
	return "", fmt.Errorf("%w: %s is not a commit", ErrNoRef, rev)
}

// BranchExists reports whether refs/heads/name exists.
func (r *Repo) BranchExists(ctx context.Context, name string) (bool, error) {
	g, err := r.gogit()
	if err != nil {
		return false, err
	}
	_, err = g.Reference(plumbing.NewBranchReferenceName(name), false)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("branch %s: %w", name, err)
	}
	return true, nil
}

// CreateBranch creates branch name at from (a rev). Fails if it exists.
func (r *Repo) CreateBranch(ctx context.Context, name, from string) error {
	if _, err := r.git(ctx, "", nil, "branch", "--no-track", "--", name, from); err != nil {
		return fmt.Errorf("create branch %s: %w", name, err)
	}
	return nil
}

// DeleteBranch force-deletes branch name; a missing branch is not an error.
func (r *Repo) DeleteBranch(ctx context.Context, name string) error {
	if ok, err := r.BranchExists(ctx, name); err != nil || !ok {
		return err
	}
	if _, err := r.git(ctx, "", nil, "branch", "-D", "--", name); err != nil {
		return fmt.Errorf("delete branch %s: %w", name, err)
	}
	return nil
}

// AddWorktree adds a linked worktree at path with branch checked out (the branch exists).
func (r *Repo) AddWorktree(ctx context.Context, path, branch string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	if _, err := r.git(ctx, "", nil, "worktree", "add", "--quiet", path, branch); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	return nil
}

// AddDetachedWorktree adds a linked worktree at path on a detached HEAD at rev (a branch
// checked out elsewhere may be merged into there). One already at path is kept.
func (r *Repo) AddDetachedWorktree(ctx context.Context, path, rev string) error {
	if _, err := os.Stat(filepath.Join(path, ".git")); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	if _, err := r.git(ctx, "", nil, "worktree", "add", "--quiet", "--detach", path, rev); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	return nil
}

// FastForwardFrom moves the branch checked out in the worktree at dir from before to tip, a
// descendant, with its files (git merge --ff-only): uncommitted changes to other files stay
// as they are. ErrMoved when its HEAD is not at before any more; an error when its
// uncommitted changes are in the way.
func (r *Repo) FastForwardFrom(ctx context.Context, dir, before, tip string) error {
	head, err := r.git(ctx, dir, nil, "rev-parse", "HEAD")
	if err != nil {
		return fmt.Errorf("fast-forward %s: %w", dir, err)
	}
	if strings.TrimSpace(string(head)) != before {
		return fmt.Errorf("fast-forward %s to %s: %w (HEAD is at %s, not %s)", dir, tip, ErrMoved, strings.TrimSpace(string(head)), before)
	}
	if _, err := r.git(ctx, dir, nil, "merge", "--ff-only", "--quiet", tip); err != nil {
		return fmt.Errorf("fast-forward %s to %s: %w", dir, tip, err)
	}
	return nil
}

// ErrMoved is a branch that moved since it was read.
var ErrMoved = errors.New("the branch moved")

// RemoveWorktree removes the linked worktree at path (forced) and prunes; a path that is
// not a worktree any more is not an error. A directory at path that git does not list as
// a worktree is left alone: it is not ours to delete.
func (r *Repo) RemoveWorktree(ctx context.Context, path string) error {
	wts, err := r.Worktrees(ctx)
	if err != nil {
		return err
	}
	for _, w := range wts[1:] {
		if samePath(w.Path, path) {
			// Twice --force: also when the worktree is locked.
			if _, err := r.git(ctx, "", nil, "worktree", "remove", "--force", "--force", w.Path); err != nil {
				if _, serr := os.Stat(w.Path); serr == nil {
					return fmt.Errorf("remove worktree %s: %w", path, err)
				}
			}
			break
		}
	}
	return r.Prune(ctx)
}

// SamePath reports whether a and b name the same directory, symlinks resolved.
func SamePath(a, b string) bool { return samePath(a, b) }

// samePath compares two paths after resolving symlinks (a temp dir may be reached through
// one); a path that no longer exists is resolved through its parent.
func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := resolvePath(a)
	rb, err2 := resolvePath(b)
	return err1 == nil && err2 == nil && ra == rb
}

func resolvePath(p string) (string, error) {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r, nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	return filepath.Join(dir, filepath.Base(p)), err
}

// Worktree is one entry of `git worktree list --porcelain`.
type Worktree struct {
	Path     string
	Head     string
	Branch   string // short name ("teamctl/t/alice/work"), "" when detached
	Prunable bool
}

// Worktrees lists the repository's worktrees, the main one first.
func (r *Repo) Worktrees(ctx context.Context) ([]Worktree, error) {
	var out []byte
	var err error
	for attempt := 1; ; attempt++ {
		out, err = r.run.Run(ctx, r.CommonDir, nil, "git", "worktree", "list", "--porcelain", "-z")
		// A `git worktree add` running meanwhile writes its administrative files one by one
		// (and an "initializing" lock it removes when done); git 2.39 fails a listing that
		// catches one half-made ("failed to read 'worktrees/X/locked'", "failed to read
		// worktrees/X/commondir"). Look again.
		var ge *ExitError
		if err == nil || !errors.As(err, &ge) || !strings.Contains(ge.Stderr, "failed to read") || attempt == 5 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list worktrees: %w", ctx.Err())
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list worktrees: %w", err)
	}
	var wts []Worktree
	var cur *Worktree
	for _, line := range strings.Split(string(out), "\x00") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "worktree":
			wts = append(wts, Worktree{Path: v})
			cur = &wts[len(wts)-1]
		case "HEAD":
			if cur != nil {
				cur.Head = v
			}
		case "branch":
			if cur != nil {
				cur.Branch = strings.TrimPrefix(v, "refs/heads/")
			}
		case "prunable":
			if cur != nil {
				cur.Prunable = true
			}
		case "bare":
			return nil, fmt.Errorf("%w: %s is a bare repository", ErrNotRepo, r.CommonDir)
		}
	}
	if len(wts) == 0 {
		return nil, fmt.Errorf("list worktrees: git listed none")
	}
	if r.Root != "" && samePath(wts[0].Path, r.CommonDir) {
		wts[0].Path = r.Root // see Open
	}
	return wts, nil
}

// Prune removes administrative data of worktrees whose directory is gone.
func (r *Repo) Prune(ctx context.Context) error {
	if _, err := r.git(ctx, "", nil, "worktree", "prune"); err != nil {
		return fmt.Errorf("prune worktrees: %w", err)
	}
	return nil
}

// Change is one path of `git status --porcelain=v2 -z` (untracked included, ignored not).
type Change struct {
	Path string
	Code string // "M", "A", "D", "R", "C", "T", "U" (unmerged), "?" (untracked)
}

// Status lists what is uncommitted in the worktree at dir.
func (r *Repo) Status(ctx context.Context, dir string) ([]Change, error) {
	// GIT_OPTIONAL_LOCKS=0: status would otherwise take index.lock to refresh the index,
	// and a merge or an agent's commit in that worktree at the same moment then fails with
	// "Unable to create index.lock". Status is read-only for teamctl.
	out, err := r.run.Run(ctx, dir, []string{"GIT_OPTIONAL_LOCKS=0"}, "git", "status", "--porcelain=v2", "-z", "--untracked-files=all", "--no-renames")
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", dir, err)
	}
	return parseStatus(out), nil
}

// parseStatus reads `git status --porcelain=v2 -z`: "1 XY sub mH mI mW hH hI path",
// "2 ... X<score> path\0orig", "u XY sub m1 m2 m3 mW h1 h2 h3 path", "? path".
func parseStatus(out []byte) []Change {
	var changes []Change
	recs := bytes.Split(out, []byte{0})
	for i := 0; i < len(recs); i++ {
		rec := string(recs[i])
		if rec == "" {
			continue
		}
		switch rec[0] {
		case '?':
			changes = append(changes, Change{Path: rec[2:], Code: "?"})
		case '1', '2', 'u':
			fields := 9 // the path is the 9th field of "1"
			switch rec[0] {
			case '2':
				fields = 10
			case 'u':
				fields = 11
			}
			parts := strings.SplitN(rec, " ", fields)
			if len(parts) < fields {
				continue
			}
			c := Change{Path: parts[fields-1], Code: statusCode(parts[1])}
			if rec[0] == 'u' {
				c.Code = "U"
			}
			if rec[0] == '2' {
				i++ // the original path follows in its own record
			}
			changes = append(changes, c)
		}
	}
	return changes
}

// statusCode picks one letter from porcelain's XY: the worktree's change, else the index's.
func statusCode(xy string) string {
	if len(xy) == 2 && xy[1] != '.' {
		return string(xy[1])
	}
	if len(xy) >= 1 && xy[0] != '.' {
		return string(xy[0])
	}
	return "M"
}

// noSign keeps teamctl's own commits (auto-commits, merges, syncs) from asking for a signing
// key passphrase no one is there to type, and from running the project's hooks: --no-verify
// skips only pre-commit, commit-msg and pre-merge-commit, while prepare-commit-msg still runs
// and can refuse the commit, which would leave an agent's work uncommitted.
var noSign = []string{"-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"}

// CommitAll stages everything in dir (untracked too, ignored not) and commits it with msg.
// env sets the author/committer (GIT_AUTHOR_NAME=...). ErrNothingToCommit when clean.
// The project's commit hooks are skipped: this commit saves work an agent left behind, and
// a hook refusing it must not lose that work.
func (r *Repo) CommitAll(ctx context.Context, dir, msg string, env []string) (hash string, err error) {
	if _, err := r.git(ctx, dir, env, "add", "-A"); err != nil {
		return "", fmt.Errorf("commit in %s: %w", dir, err)
	}
	if _, err := r.git(ctx, dir, env, "diff", "--cached", "--quiet"); err == nil {
		return "", ErrNothingToCommit
	} else if exitCode(err) != 1 {
		return "", fmt.Errorf("commit in %s: %w", dir, err)
	}
	args := append(append([]string{}, noSign...), "commit", "--quiet", "--no-verify", "-m", msg)
	if _, err := r.git(ctx, dir, env, args...); err != nil {
		return "", fmt.Errorf("commit in %s: %w", dir, err)
	}
	return r.git(ctx, dir, nil, "rev-parse", "HEAD")
}

// Snapshot saves what the worktree at dir holds beyond its HEAD — changed, deleted and
// untracked files, not ignored ones — as a commit whose parent is HEAD, with msg, and returns
// it. The worktree, its index and every ref are left as they are (the files are staged in a
// throwaway index): a person restores the work with `git branch NAME HASH`.
func (r *Repo) Snapshot(ctx context.Context, dir, msg string, env []string) (string, error) {
	tmp, err := os.MkdirTemp("", "teamctl-snapshot-")
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	idx := append(slices.Clone(env), "GIT_INDEX_FILE="+filepath.Join(tmp, "index"))
	head, err := r.git(ctx, dir, nil, "rev-parse", "--verify", "--quiet", "HEAD")
	var parents []string
	if err == nil {
		parents = []string{head}
		if _, err := r.git(ctx, dir, idx, "read-tree", head); err != nil {
			return "", fmt.Errorf("snapshot %s: %w", dir, err)
		}
	}
	if _, err := r.git(ctx, dir, idx, "add", "-A"); err != nil {
		return "", fmt.Errorf("snapshot %s: %w", dir, err)
	}
	tree, err := r.git(ctx, dir, idx, "write-tree")
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return r.CommitTree(ctx, tree, parents, msg, env)
}

// Merge merges rev into the branch checked out at dir with --no-ff and message msg and
// returns the merge commit. On conflicts it returns *ConflictError and leaves the merge in
// progress for the caller to inspect and abort.
func (r *Repo) Merge(ctx context.Context, dir, rev, msg string, env []string) (hash string, err error) {
	args := append(append([]string{}, noSign...), "merge", "--no-ff", "--no-edit", "--no-verify", "-m", msg, rev)
	if _, err := r.git(ctx, dir, env, args...); err != nil {
		return "", r.mergeError(ctx, dir, rev, err)
	}
	return r.git(ctx, dir, nil, "rev-parse", "HEAD")
}

// Sync brings rev into the branch checked out at dir: a fast-forward when possible, else a
// merge commit (message: git's default). On conflicts it returns *ConflictError and leaves the
// merge in progress (the agent is relaunched to resolve it).
//
// A merge of rev already in progress at dir — a sync whose process was killed before the agent
// was told of its conflicts — is that same sync: its conflicts are returned as they stand. A
// merge of anything else in progress there is aborted first.
func (r *Repo) Sync(ctx context.Context, dir, rev string, env []string) error {
	if in, err := r.MergeInProgress(ctx, dir); err != nil {
		return err
	} else if in {
		if files, same := r.syncInProgress(ctx, dir, rev); same {
			return &ConflictError{Files: files}
		}
		if err := r.AbortMerge(ctx, dir); err != nil {
			return err
		}
	}
	args := append(append([]string{}, noSign...), "merge", "--no-edit", "--no-verify", rev)
	if _, err := r.git(ctx, dir, env, args...); err != nil {
		return r.mergeError(ctx, dir, rev, err)
	}
	return nil
}

// syncInProgress reports whether the merge in progress at dir is of rev with conflicts
// left, and returns the conflicting paths.
func (r *Repo) syncInProgress(ctx context.Context, dir, rev string) ([]string, bool) {
	head, err := r.git(ctx, dir, nil, "rev-parse", "--verify", "-q", "MERGE_HEAD")
	if err != nil {
		return nil, false
	}
	want, err := r.Resolve(ctx, rev)
	if err != nil || head != want {
		return nil, false
	}
	files := r.unmerged(ctx, dir)
	return files, len(files) > 0
}

// unmerged lists the paths with conflicts at dir (none when git fails).
func (r *Repo) unmerged(ctx context.Context, dir string) []string {
	out, err := r.git(ctx, dir, nil, "diff", "--name-only", "-z", "--diff-filter=U")
	if err != nil || out == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(out, "\x00"), "\x00")
}

// mergeError turns a failed `git merge` into a *ConflictError when it stopped on conflicts.
func (r *Repo) mergeError(ctx context.Context, dir, rev string, err error) error {
	if exitCode(err) == 1 {
		if files := r.unmerged(ctx, dir); len(files) > 0 {
			return &ConflictError{Files: files}
		}
	}
	return fmt.Errorf("merge %s in %s: %w", rev, dir, err)
}

// MergeInProgress reports whether dir has MERGE_HEAD (a merge stopped half-way).
func (r *Repo) MergeInProgress(ctx context.Context, dir string) (bool, error) {
	p, err := r.git(ctx, dir, nil, "rev-parse", "--path-format=absolute", "--git-path", "MERGE_HEAD")
	if err != nil {
		return false, fmt.Errorf("merge state of %s: %w", dir, err)
	}
	_, err = os.Stat(p)
	return err == nil, nil
}

// AbortMerge aborts a merge in progress at dir (no-op when none).
func (r *Repo) AbortMerge(ctx context.Context, dir string) error {
	if in, err := r.MergeInProgress(ctx, dir); err != nil || !in {
		return err
	}
	if _, err := r.git(ctx, dir, nil, "merge", "--abort"); err != nil {
		// --abort refuses in some half-states (a conflicted file staged by hand); reset
		// --merge undoes the merge all the same and keeps unrelated changes.
		if _, err2 := r.git(ctx, dir, nil, "reset", "--merge"); err2 != nil {
			return fmt.Errorf("abort merge in %s: %w", dir, err)
		}
	}
	return nil
}

// ResetHard puts the worktree at dir and its checked-out branch (or detached HEAD) exactly
// at rev: reset --hard, then removes untracked files (not ignored ones) a failed merge or
// test left behind. Only for the leader worktree, which holds no one's uncommitted work.
func (r *Repo) ResetHard(ctx context.Context, dir, rev string) error {
	if _, err := r.git(ctx, dir, nil, "reset", "--quiet", "--hard", rev); err != nil {
		return fmt.Errorf("reset %s to %s: %w", dir, rev, err)
	}
	if _, err := r.git(ctx, dir, nil, "clean", "-fdq"); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	return nil
}

// MergeTree checks the merge of a and b without a worktree (git merge-tree --write-tree).
// It returns the merged tree, or the conflicting paths (and tree "") on a conflict.
func (r *Repo) MergeTree(ctx context.Context, a, b string) (tree string, conflicts []string, err error) {
	out, err := r.git(ctx, "", nil, "merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", a, b)
	recs := strings.Split(strings.TrimRight(out, "\x00"), "\x00")
	switch exitCode(err) {
	case 0:
		if err != nil {
			return "", nil, fmt.Errorf("merge-tree %s %s: %w", a, b, err)
		}
		return recs[0], nil, nil
	case 1:
		if len(recs) > 1 {
			return "", dedupe(recs[1:]), nil
		}
	}
	return "", nil, fmt.Errorf("merge-tree %s %s: %w", a, b, err)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) commit b.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	g, err := r.gogit()
	if err != nil {
		return false, err
	}
	ca, err := r.commit(ctx, g, a)
	if err != nil {
		return false, err
	}
	cb, err := r.commit(ctx, g, b)
	if err != nil {
		return false, err
	}
	if ca.Hash == cb.Hash {
		return true, nil
	}
	ok, err := ca.IsAncestor(cb)
	if err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
	}
	return ok, nil
}

func (r *Repo) commit(ctx context.Context, g *git.Repository, rev string) (*object.Commit, error) {
	h, err := r.Resolve(ctx, rev)
	if err != nil {
		return nil, err
	}
	c, err := g.CommitObject(plumbing.NewHash(h))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoRef, rev, err)
	}
	return c, nil
}

// AheadBehind counts commits in b not in a (ahead) and in a not in b (behind).
func (r *Repo) AheadBehind(ctx context.Context, a, b string) (ahead, behind int, err error) {
	out, err := r.git(ctx, "", nil, "rev-list", "--left-right", "--count", a+"..."+b, "--")
	if err != nil {
		return 0, 0, fmt.Errorf("compare %s and %s: %w", a, b, err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("compare %s and %s: unexpected output %q", a, b, out)
	}
	behind, _ = strconv.Atoi(f[0])
	ahead, _ = strconv.Atoi(f[1])
	return ahead, behind, nil
}

// Commit is one commit, for review.
type Commit struct {
	Hash, Subject, Body string
	Author, Email       string
	When                time.Time
	Parents             []string
}

// Commits lists commits reachable from to and not from from, newest first.
func (r *Repo) Commits(ctx context.Context, from, to string) ([]Commit, error) {
	return r.log(ctx, from+".."+to)
}

func (r *Repo) log(ctx context.Context, args ...string) ([]Commit, error) {
	// Fields split by US (0x1f), records by RS (0x1e): a body may hold any newline.
	argv := append([]string{"log", "--format=%H%x1f%s%x1f%b%x1f%an%x1f%ae%x1f%at%x1f%P%x1e"}, args...)
	out, err := r.git(ctx, "", nil, append(argv, "--")...)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", strings.Join(args, " "), err)
	}
	var commits []Commit
	for _, rec := range strings.Split(out, "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		f := strings.Split(rec, "\x1f")
		if len(f) != 7 {
			continue
		}
		at, _ := strconv.ParseInt(f[5], 10, 64)
		commits = append(commits, Commit{Hash: f[0], Subject: f[1], Body: strings.TrimSpace(f[2]),
			Author: f[3], Email: f[4], When: time.Unix(at, 0).UTC(), Parents: strings.Fields(f[6])})
	}
	return commits, nil
}

// ChangedFiles lists paths changed between the merge base of from and to, and to.
func (r *Repo) ChangedFiles(ctx context.Context, from, to string) ([]string, error) {
	out, err := r.git(ctx, "", nil, "diff", "--name-only", "--no-renames", "-z", from+"..."+to, "--")
	if err != nil {
		return nil, fmt.Errorf("changed files %s...%s: %w", from, to, err)
	}
	return dedupe(strings.Split(out, "\x00")), nil
}

// FileStat is one file's line counts in a diff.
type FileStat struct {
	Path                  string
	Insertions, Deletions int
}

// DiffStat is the diffstat between the merge base of from and to, and to.
type DiffStat struct {
	Files                 []FileStat
	Insertions, Deletions int
}

// Diff is git's diff from from to to, without colour.
func (r *Repo) Diff(ctx context.Context, from, to string) (string, error) {
	out, err := r.git(ctx, "", nil, "diff", "--no-color", "--no-ext-diff", from, to, "--")
	if err != nil {
		return "", fmt.Errorf("diff %s %s: %w", from, to, err)
	}
	return out, nil
}

// DiffStat counts with git's own diff: go-git's line diff counts some changes differently
// from what the person will see with `git diff --stat`.
func (r *Repo) DiffStat(ctx context.Context, from, to string) (DiffStat, error) {
	out, err := r.git(ctx, "", nil, "diff", "--numstat", "--no-renames", "-z", from+"..."+to, "--")
	if err != nil {
		return DiffStat{}, fmt.Errorf("diffstat %s...%s: %w", from, to, err)
	}
	var d DiffStat
	for _, rec := range strings.Split(out, "\x00") {
		f := strings.SplitN(rec, "\t", 3)
		if len(f) != 3 {
			continue
		}
		ins, _ := strconv.Atoi(f[0]) // "-" for a binary file counts 0
		del, _ := strconv.Atoi(f[1])
		d.Files = append(d.Files, FileStat{Path: f[2], Insertions: ins, Deletions: del})
		d.Insertions += ins
		d.Deletions += del
	}
	return d, nil
}

// FastForward moves branch to rev, which must descend from it. Where the branch is checked
// out in a worktree it runs `merge --ff-only` there (refusing if that would touch
// uncommitted work); otherwise it updates the ref, checking its old value.
func (r *Repo) FastForward(ctx context.Context, branch, rev string) error {
	old, err := r.Resolve(ctx, branch)
	if err != nil {
		return err
	}
	// update-ref below moves the ref anywhere; only merge --ff-only would have refused.
	if ok, err := r.IsAncestor(ctx, old, rev); err != nil {
		return fmt.Errorf("fast-forward %s: %w", branch, err)
	} else if !ok {
		return fmt.Errorf("fast-forward %s to %s: not a fast-forward, %s is not an ancestor of it", branch, rev, branch)
	}
	wts, err := r.Worktrees(ctx)
	if err != nil {
		return err
	}
	for _, w := range wts {
		if w.Branch == branch && !w.Prunable {
			if _, err := r.git(ctx, w.Path, nil, "merge", "--ff-only", "--quiet", rev); err != nil {
				return fmt.Errorf("fast-forward %s in %s: %w", branch, w.Path, err)
			}
			return nil
		}
	}
	return r.UpdateRef(ctx, branch, rev, old)
}

// WorktreeAt finds the registered worktree at path (symlinks resolved), if any.
func (r *Repo) WorktreeAt(ctx context.Context, path string) (Worktree, bool, error) {
	wts, err := r.Worktrees(ctx)
	if err != nil {
		return Worktree{}, false, err
	}
	for _, w := range wts {
		if samePath(w.Path, path) {
			return w, true, nil
		}
	}
	return Worktree{}, false, nil
}

// MainLine lists the commits on to's first-parent line down to (not including) from,
// newest first: the merges a branch received, not the commits they brought.
func (r *Repo) MainLine(ctx context.Context, from, to string) ([]Commit, error) {
	return r.log(ctx, "--first-parent", from+".."+to)
}

// RemoveStaleLocks removes the lock files a git command killed half-way leaves in the
// worktree at dir — its index.lock, HEAD.lock and its pseudo-refs' locks, and the lock of the
// branch checked out there — after which git refuses every later command until they are gone. Only call it
// when no process can be working in dir. It returns the files it removed. No git process:
// the worktree's git dir is read from its .git file.
func (r *Repo) RemoveStaleLocks(dir, branch string) ([]string, error) {
	gitDir, err := GitDirOf(dir)
	if err != nil {
		return nil, err
	}
	// Every lock of the worktree's own: index.lock, HEAD.lock, and those of its pseudo-refs
	// (ORIG_HEAD.lock a killed reset or merge leaves, MERGE_HEAD.lock, AUTO_MERGE.lock).
	locks, err := filepath.Glob(filepath.Join(gitDir, "*.lock"))
	if err != nil {
		return nil, err
	}
	locks = append(locks, filepath.Join(r.CommonDir, "refs", "heads", filepath.FromSlash(branch)+".lock"))
	var removed []string
	for _, p := range locks {
		if err := os.Remove(p); err == nil {
			removed = append(removed, p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("remove stale %s: %w", p, err)
		}
	}
	return removed, nil
}

// GitDirOf is the git dir of the worktree at dir: dir/.git itself for a main
// worktree, the "gitdir: PATH" its .git file names for a linked one.
func GitDirOf(dir string) (string, error) {
	dotgit := filepath.Join(dir, ".git")
	fi, err := os.Stat(dotgit)
	if err != nil {
		return "", fmt.Errorf("git dir of %s: %w", dir, err)
	}
	if fi.IsDir() {
		return dotgit, nil
	}
	b, err := os.ReadFile(dotgit)
	if err != nil {
		return "", fmt.Errorf("git dir of %s: %w", dir, err)
	}
	p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return "", fmt.Errorf("git dir of %s: %s does not name one", dir, dotgit)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}

// Branches lists the branches under prefix ("teamctl/t/"), short names to their tips.
func (r *Repo) Branches(ctx context.Context, prefix string) (map[string]string, error) {
	out, err := r.git(ctx, "", nil, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/"+prefix)
	if err != nil {
		return nil, fmt.Errorf("list branches %s*: %w", prefix, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, hash, ok := strings.Cut(line, " "); ok {
			m[name] = hash
		}
	}
	return m, nil
}

// ResolveBranches is the tips of the named branches (short names), in one git process:
// those that do not exist are left out. (Resolve opens the repository each time, its
// config read anew: for hundreds of branches at once that is most of a check's cost.)
func (r *Repo) ResolveBranches(ctx context.Context, names []string) (map[string]string, error) {
	m := map[string]string{}
	if len(names) == 0 {
		return m, nil
	}
	args := []string{"for-each-ref", "--format=%(refname) %(objectname)"}
	for _, n := range names {
		args = append(args, "refs/heads/"+n)
	}
	out, err := r.git(ctx, "", nil, args...)
	if err != nil {
		return nil, fmt.Errorf("resolve %d branches: %w", len(names), err)
	}
	for _, line := range strings.Split(out, "\n") {
		if ref, hash, ok := strings.Cut(line, " "); ok {
			// Exact names only: for-each-ref also matches a pattern as a directory prefix.
			if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok && slices.Contains(names, name) {
				m[name] = hash
			}
		}
	}
	return m, nil
}

// LastHead is the commit the HEAD of the worktree at dir last stood on, from its reflog
// (the worktree's own, which outlives a branch deleted under it and is kept until the
// worktree is pruned, even when dir itself is gone). "" when there is none.
func (r *Repo) LastHead(dir string) (string, error) {
	gitDir, err := GitDirOf(dir)
	if err != nil {
		// dir is gone: find its admin dir by the path it records.
		if gitDir, err = r.adminDirOf(dir); err != nil || gitDir == "" {
			return "", err
		}
	}
	b, err := os.ReadFile(filepath.Join(gitDir, "logs", "HEAD"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reflog of %s: %w", dir, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// "OLD NEW NAME <EMAIL> TIME ZONE\tMESSAGE": NEW is where HEAD went.
	if f := strings.Fields(lines[len(lines)-1]); len(f) >= 2 && f[1] != strings.Repeat("0", len(f[1])) {
		return f[1], nil
	}
	return "", nil
}

// adminDirOf finds the admin dir (.git/worktrees/ID) of the linked worktree at dir by its
// gitdir file, which names dir/.git. "" when none does.
func (r *Repo) adminDirOf(dir string) (string, error) {
	entries, err := os.ReadDir(filepath.Join(r.CommonDir, "worktrees"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		admin := filepath.Join(r.CommonDir, "worktrees", e.Name())
		b, err := os.ReadFile(filepath.Join(admin, "gitdir"))
		if err == nil && SamePath(filepath.Dir(strings.TrimSpace(string(b))), dir) {
			return admin, nil
		}
	}
	return "", nil
}

// HasCommit reports whether rev names a commit the repository holds.
func (r *Repo) HasCommit(ctx context.Context, rev string) bool {
	_, err := r.git(ctx, "", nil, "cat-file", "-e", rev+"^{commit}")
	return err == nil
}

// MergeBase is the best common ancestor of commits a and b.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	out, err := r.git(ctx, "", nil, "merge-base", a, b)
	if err != nil {
		return "", fmt.Errorf("merge-base %s %s: %w", a, b, err)
	}
	return out, nil
}

// RefMove is one entry of a ref's reflog: the ref moved from Old to New by Email's process.
type RefMove struct {
	Old, New, Email, Message string
}

// RefMoves is branch's reflog, oldest first: git writes an entry for every update of a
// branch when core.logAllRefUpdates is on (the default outside bare repositories), with the
// committer identity of the process that moved it. None when it has no reflog.
func (r *Repo) RefMoves(branch string) ([]RefMove, error) {
	b, err := os.ReadFile(filepath.Join(r.CommonDir, "logs", "refs", "heads", filepath.FromSlash(branch)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reflog of %s: %w", branch, err)
	}
	var moves []RefMove
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		head, msg, _ := strings.Cut(line, "\t")
		f := strings.Fields(head)
		lt, gt := strings.IndexByte(head, '<'), strings.IndexByte(head, '>')
		if len(f) < 2 || lt < 0 || gt < lt {
			continue
		}
		moves = append(moves, RefMove{Old: f[0], New: f[1], Email: head[lt+1 : gt], Message: msg})
	}
	return moves, nil
}

// ZeroHash is the all-zero object name a reflog gives a ref that did not exist.
func ZeroHash(h string) bool { return strings.Trim(h, "0") == "" }

// CompleteCheckout finishes the checkout of a linked worktree whose `git worktree add` was
// killed before it wrote the index (its files are missing or partly there, and git would
// read them all as deleted). It reports whether there was one to finish. Files that are not
// the branch's are left alone. Killed before it pointed HEAD at branch, the add leaves the
// placeholder it writes first (the all-zero object name): HEAD is set to branch then.
func (r *Repo) CompleteCheckout(ctx context.Context, dir, branch string) (bool, error) {
	gitDir, err := GitDirOf(dir)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(gitDir, "index")); err == nil || !errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if head, err := os.ReadFile(filepath.Join(gitDir, "HEAD")); err == nil && ZeroHash(strings.TrimSpace(string(head))) {
		if _, err := r.git(ctx, dir, nil, "symbolic-ref", "HEAD", "refs/heads/"+branch); err != nil {
			return false, fmt.Errorf("finish the checkout of %s: %w", dir, err)
		}
	}
	if _, err := r.git(ctx, dir, nil, "reset", "--quiet", "--hard", "HEAD"); err != nil {
		return false, fmt.Errorf("finish the checkout of %s: %w", dir, err)
	}
	return true, nil
}

// AgentWrites are the paths of the repository that git needs to write for commits in the
// linked worktree dir on branch, and nothing else of it (DESIGN.md §11): the worktree, its
// admin dir (HEAD, index, its reflog), the objects every worktree shares, and the directories
// of branch's ref and reflog. Those two are made when missing, each holding an empty ".keep"
// directory: git removes a ref directory left empty (pack-refs --prune, a deleted branch) and
// a confined agent may not make it again; git and go-git skip a name that starts with a dot.
// A branch whose directory holds other refs (not named after it, "<branch>-…", as teamctl
// names one it sets aside) is refused: the agent could move those too.
func (r *Repo) AgentWrites(ctx context.Context, dir, branch string) ([]string, error) {
	admin, err := GitDirOf(dir)
	if err != nil {
		return nil, err
	}
	if samePath(admin, r.CommonDir) {
		return nil, fmt.Errorf("%s is the main worktree, not an agent's", dir)
	}
	ref := filepath.Join(r.CommonDir, "refs", "heads", filepath.FromSlash(path.Dir(branch)))
	reflog := filepath.Join(r.CommonDir, "logs", "refs", "heads", filepath.FromSlash(path.Dir(branch)))
	for _, d := range []string{ref, reflog} {
		if err := os.MkdirAll(filepath.Join(d, ".keep"), 0o755); err != nil {
			return nil, err
		}
	}
	strays, err := r.StrayRefs(ctx, branch)
	if err != nil {
		return nil, err
	}
	if len(strays) > 0 {
		return nil, fmt.Errorf("branch %s shares its ref directory with %s: a confined agent could move that one too", branch, strays[0].Name)
	}
	return []string{dir, admin, filepath.Join(r.CommonDir, "objects"), ref, reflog}, nil
}

// Ref is a ref and the object it names; Symref is the ref a symbolic one points at (its
// Hash is that ref's then).
type Ref struct{ Name, Hash, Symref string }

// RefsUnder are the refs whose full names start with prefix, sorted by name.
func (r *Repo) RefsUnder(ctx context.Context, prefix string) ([]Ref, error) {
	out, err := r.git(ctx, "", nil, "for-each-ref", "--format=%(objectname) %(refname) %(symref)", prefix)
	if err != nil {
		return nil, fmt.Errorf("list the refs under %s: %w", prefix, err)
	}
	var refs []Ref
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			ref := Ref{Hash: f[0], Name: f[1]}
			if len(f) > 2 {
				ref.Symref = f[2]
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// StrayRefs are the refs in branch's ref directory, at any depth, that are neither branch
// nor one teamctl set aside from it ("<branch>-…"): refs its confined agent made there past
// its worktree's hook (it may write that directory, to commit).
func (r *Repo) StrayRefs(ctx context.Context, branch string) ([]Ref, error) {
	refs, err := r.RefsUnder(ctx, "refs/heads/"+path.Dir(branch)+"/")
	if err != nil {
		return nil, err
	}
	return r.StraysAmong(branch, refs), nil
}

// StraysAmong is StrayRefs from refs, a listing (RefsUnder) that holds at least branch's
// directory: one listing serves every agent of a team.
func (r *Repo) StraysAmong(branch string, refs []Ref) []Ref {
	own := func(name string) bool {
		name = strings.TrimPrefix(name, "refs/heads/")
		return name == branch || strings.HasPrefix(name, branch+"-") && path.Dir(name) == path.Dir(branch)
	}
	var strays []Ref
	listed := map[string]bool{}
	mine := "refs/heads/" + path.Dir(branch) + "/"
	for _, ref := range refs {
		listed[ref.Name] = true
		if strings.HasPrefix(ref.Name, mine) && !own(ref.Name) {
			strays = append(strays, ref)
		}
	}
	// git lists no broken ref (a symbolic one to nothing, a file that is no ref): the
	// directory itself says what else is there.
	dir := filepath.Join(r.CommonDir, "refs", "heads", filepath.FromSlash(path.Dir(branch)))
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Join(r.CommonDir, "refs", "heads"), p)
		name := "refs/heads/" + filepath.ToSlash(rel)
		if listed[name] || own(name) || strings.HasSuffix(name, ".lock") {
			return nil
		}
		to, symbolic, _ := readRefFile(p)
		if !symbolic {
			to = "nothing (not a ref)"
		}
		strays = append(strays, Ref{Name: name, Symref: to})
		return nil
	})
	return strays
}

// DeleteRef deletes ref unless it has moved from hash (hash "": whatever it holds). A
// symbolic ref is deleted itself, never the ref it points at.
func (r *Repo) DeleteRef(ctx context.Context, ref, hash string) error {
	args := []string{"update-ref", "--no-deref", "-d", ref}
	if hash != "" {
		args = append(args, hash)
	}
	if _, err := r.git(ctx, "", nil, args...); err != nil {
		// A broken one (git will not read it) is a file to remove.
		loose := filepath.Join(r.CommonDir, filepath.FromSlash(ref))
		if b, rerr := os.ReadFile(loose); hash == "" && rerr == nil && !isHash(strings.TrimSpace(string(b))) {
			return os.Remove(loose)
		}
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return nil
}

func isHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// ErrNotCheckedOut is a worktree whose branch is not checked out as git would: its branch
// made a symbolic ref, or its HEAD pointing at another ref. teamctl's own commits and merges
// there would move that other ref.
var ErrNotCheckedOut = errors.New("not checked out as it should be")

// CheckedOut checks that branch is a plain ref and that the worktree dir's HEAD is it (or
// detached: a commit there moves no branch); dir "": the branch only. It says what is wrong otherwise
// (ErrNotCheckedOut).
func (r *Repo) CheckedOut(ctx context.Context, dir, branch string) error {
	if err := r.PlainBranch(ctx, branch); err != nil || dir == "" {
		return err
	}
	// Read as files, not with git: the guards look at every agent at every exit and merge.
	admin, err := GitDirOf(dir)
	if err != nil {
		return err
	}
	head, symbolic, err := readRefFile(filepath.Join(admin, "HEAD"))
	if err != nil {
		return fmt.Errorf("read the HEAD of %s: %w", dir, err)
	}
	if symbolic && head != "refs/heads/"+branch {
		return fmt.Errorf("%w: %s has %s checked out, not %s", ErrNotCheckedOut, dir, head, branch)
	}
	return nil // on its branch, or detached
}

// PlainBranch checks that branch is not a symbolic ref (ErrNotCheckedOut when it is). A
// symbolic ref is always a loose file: packed-refs holds none.
func (r *Repo) PlainBranch(ctx context.Context, branch string) error {
	to, symbolic, err := readRefFile(filepath.Join(r.CommonDir, "refs", "heads", filepath.FromSlash(branch)))
	if errors.Is(err, os.ErrNotExist) {
		return nil // packed, or gone
	}
	if err != nil {
		return fmt.Errorf("read branch %s: %w", branch, err)
	}
	if symbolic {
		return fmt.Errorf("%w: branch %s is a symbolic ref to %s", ErrNotCheckedOut, branch, to)
	}
	return nil
}

// readRefFile reads a loose ref or HEAD file: the ref it points at (symbolic) or its object.
func readRefFile(path string) (value string, symbolic bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	v := strings.TrimSpace(string(b))
	if to, ok := strings.CutPrefix(v, "ref:"); ok {
		return strings.TrimSpace(to), true, nil
	}
	return v, false, nil
}

// PinBranch makes branch a plain ref at hash again and the worktree dir's HEAD point at it,
// where CheckedOut found otherwise. The files in dir are left as they are.
func (r *Repo) PinBranch(ctx context.Context, dir, branch, hash string) error {
	if _, err := r.git(ctx, "", nil, "update-ref", "--no-deref", "refs/heads/"+branch, hash); err != nil {
		return fmt.Errorf("put branch %s back at %s: %w", branch, hash, err)
	}
	if dir != "" {
		if _, err := r.git(ctx, dir, nil, "symbolic-ref", "HEAD", "refs/heads/"+branch); err != nil {
			return fmt.Errorf("check out %s in %s again: %w", branch, dir, err)
		}
	}
	return nil
}

// MoveRef renames ref (at hash) to to: to is made first (refused when it exists), then ref
// deleted unless it has moved from hash; a failure between leaves both, never neither.
func (r *Repo) MoveRef(ctx context.Context, ref, hash, to string) error {
	if _, err := r.git(ctx, "", nil, "update-ref", to, hash, ""); err != nil {
		return fmt.Errorf("move %s to %s: %w", ref, to, err)
	}
	if err := r.DeleteRef(ctx, ref, hash); err != nil {
		return fmt.Errorf("move %s to %s: %w", ref, to, err)
	}
	return nil
}

// ForgetRefDirs removes what AgentWrites made for branch once it is deleted: the ".keep"
// directories, and the ref directories up to refs/heads (logs/refs/heads) that are left
// empty. Anything still in them stays.
func (r *Repo) ForgetRefDirs(branch string) {
	for _, root := range []string{filepath.Join(r.CommonDir, "refs", "heads"), filepath.Join(r.CommonDir, "logs", "refs", "heads")} {
		d := filepath.Join(root, filepath.FromSlash(path.Dir(branch)))
		_ = os.Remove(filepath.Join(d, ".keep"))
		for ; d != root && strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
}
