// Package worktree owns every git operation teamctl makes: opening the repository, branches,
// linked worktrees, status, ahead/behind, commits, auto-commit, merges and cleanup. go-git
// answers reads (refs, commits, ancestry); the git CLI does every write, status, worktree and
// merge (see DESIGN.md "go-git and the git CLI" for why). Callers never know which one answered.
package worktree

import (
	"context"
	"errors"
	"time"
)

// Runner runs one external command to completion. It is the single seam for external
// processes: git here, the test command in merge. env is added to the current environment.
type Runner interface {
	Run(ctx context.Context, dir string, env []string, argv ...string) (stdout []byte, err error)
}

// ExitError is a command that ran and failed: non-zero exit, or killed (ExitCode -1).
type ExitError struct {
	Argv     []string
	Dir      string
	ExitCode int
	Stderr   string
}

func (e *ExitError) Error() string { panic("todo") }

// ExecRunner runs commands with os/exec, each in its own process group; when ctx ends the
// whole group is killed, so a test command's children die with it.
type ExecRunner struct{}

func (ExecRunner) Run(ctx context.Context, dir string, env []string, argv ...string) ([]byte, error) {
	panic("todo")
}

var (
	ErrNotRepo         = errors.New("not a git repository")
	ErrNoRef           = errors.New("no such branch or revision")
	ErrNothingToCommit = errors.New("nothing to commit")
)

// ConflictError is a merge that stopped on conflicts; Files are the conflicted paths.
type ConflictError struct{ Files []string }

func (e *ConflictError) Error() string { panic("todo") }

// Repo is one git repository (its main worktree and common dir).
type Repo struct {
	Root      string // absolute path of the main worktree's top level
	CommonDir string // absolute git common dir (shared by every linked worktree)
	// unexported: the runner, the go-git repository
}

// Open finds the repository that holds path (any of its worktrees). ErrNotRepo if none.
func Open(ctx context.Context, run Runner, path string) (*Repo, error) { panic("todo") }

// CurrentBranch is the branch checked out in the main worktree ("" when detached).
func (r *Repo) CurrentBranch(ctx context.Context) (string, error) { panic("todo") }

// Resolve returns the full commit hash rev names (branch, tag, hash). ErrNoRef if none.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) { panic("todo") }

// BranchExists reports whether refs/heads/name exists.
func (r *Repo) BranchExists(ctx context.Context, name string) (bool, error) { panic("todo") }

// CreateBranch creates branch name at from (a rev). Fails if it exists.
func (r *Repo) CreateBranch(ctx context.Context, name, from string) error { panic("todo") }

// DeleteBranch force-deletes branch name; a missing branch is not an error.
func (r *Repo) DeleteBranch(ctx context.Context, name string) error { panic("todo") }

// AddWorktree adds a linked worktree at path with branch checked out (the branch exists).
func (r *Repo) AddWorktree(ctx context.Context, path, branch string) error { panic("todo") }

// RemoveWorktree removes the linked worktree at path (forced) and prunes; a path that is
// not a worktree any more is not an error.
func (r *Repo) RemoveWorktree(ctx context.Context, path string) error { panic("todo") }

// Worktree is one entry of `git worktree list --porcelain`.
type Worktree struct {
	Path     string
	Head     string
	Branch   string // short name ("teamctl/t/alice"), "" when detached
	Prunable bool
}

// Worktrees lists the repository's worktrees, the main one first.
func (r *Repo) Worktrees(ctx context.Context) ([]Worktree, error) { panic("todo") }

// Prune removes administrative data of worktrees whose directory is gone.
func (r *Repo) Prune(ctx context.Context) error { panic("todo") }

// Change is one path of `git status --porcelain=v2 -z` (untracked included, ignored not).
type Change struct {
	Path string
	Code string // "M", "A", "D", "R", "C", "T", "U" (unmerged), "?" (untracked)
}

// Status lists what is uncommitted in the worktree at dir.
func (r *Repo) Status(ctx context.Context, dir string) ([]Change, error) { panic("todo") }

// CommitAll stages everything in dir (untracked too, ignored not) and commits it with msg.
// env sets the author/committer (GIT_AUTHOR_NAME=...). ErrNothingToCommit when clean.
func (r *Repo) CommitAll(ctx context.Context, dir, msg string, env []string) (hash string, err error) {
	panic("todo")
}

// Merge merges rev into the branch checked out at dir with --no-ff and message msg and
// returns the merge commit. On conflicts it returns *ConflictError and leaves the merge in
// progress for the caller to inspect and abort.
func (r *Repo) Merge(ctx context.Context, dir, rev, msg string, env []string) (hash string, err error) {
	panic("todo")
}

// Sync brings rev into the branch checked out at dir: a fast-forward when possible, else a
// merge commit (message: git's default). On conflicts it returns *ConflictError and leaves the
// merge in progress (the agent is relaunched to resolve it).
func (r *Repo) Sync(ctx context.Context, dir, rev string, env []string) error { panic("todo") }

// MergeInProgress reports whether dir has MERGE_HEAD (a merge stopped half-way).
func (r *Repo) MergeInProgress(ctx context.Context, dir string) (bool, error) { panic("todo") }

// AbortMerge aborts a merge in progress at dir (no-op when none).
func (r *Repo) AbortMerge(ctx context.Context, dir string) error { panic("todo") }

// ResetHard puts the worktree at dir and its branch exactly at rev: reset --hard, then
// removes untracked files (not ignored ones) a failed merge or test left behind.
func (r *Repo) ResetHard(ctx context.Context, dir, rev string) error { panic("todo") }

// MergeTree checks the merge of a and b without a worktree (git merge-tree --write-tree).
// It returns the merged tree, or the conflicting paths (and tree "") on a conflict.
func (r *Repo) MergeTree(ctx context.Context, a, b string) (tree string, conflicts []string, err error) {
	panic("todo")
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) commit b.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) { panic("todo") }

// AheadBehind counts commits in b not in a (ahead) and in a not in b (behind).
func (r *Repo) AheadBehind(ctx context.Context, a, b string) (ahead, behind int, err error) {
	panic("todo")
}

// Commit is one commit, for review.
type Commit struct {
	Hash, Subject, Body string
	Author, Email       string
	When                time.Time
	Parents             []string
}

// Commits lists commits reachable from to and not from from, newest first.
func (r *Repo) Commits(ctx context.Context, from, to string) ([]Commit, error) { panic("todo") }

// ChangedFiles lists paths changed between the merge base of from and to, and to.
func (r *Repo) ChangedFiles(ctx context.Context, from, to string) ([]string, error) { panic("todo") }

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

func (r *Repo) DiffStat(ctx context.Context, from, to string) (DiffStat, error) { panic("todo") }

// FastForward moves branch to rev, which must descend from it. Where the branch is checked
// out in a worktree it runs `merge --ff-only` there (refusing if that would touch
// uncommitted work); otherwise it updates the ref, checking its old value.
func (r *Repo) FastForward(ctx context.Context, branch, rev string) error { panic("todo") }
