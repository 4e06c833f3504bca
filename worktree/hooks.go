package worktree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Hooks for one linked worktree only.
//
// git looks for hooks in core.hooksPath, else in the common dir's hooks/: every worktree of
// a repository shares them, so a hook put there would run in the user's main worktree too.
// The per-worktree config git offers (extensions.worktreeConfig + `git config --worktree`)
// cannot be used either: go-git v5 (up to at least v5.19.3, which teamctl reads with)
// refuses to open any repository that sets extensions.worktreeConfig ("core.repositoryformatversion
// does not support extension: worktreeconfig", go-git PR #1982/#2298), and so would every
// other go-git tool of the user. What works with both: a conditional include in the common
// config, [includeIf "gitdir:<the worktree's admin dir>"], naming a file that sets
// core.hooksPath. It matches only when git runs for that worktree (its git dir is
// <common>/worktrees/<name>), so the main worktree and every other one keep their hooks,
// and go-git parses it as an ordinary section. Measured with git 2.39: the pattern must be
// the admin dir exactly — with a trailing "/" (which git documents as "the dir and
// everything in it") it did not match the dir itself.
//
// With core.hooksPath set git looks nowhere else, so every hook the repository had must
// be chained: each hook of passThrough gets a wrapper that runs the user's own hook of that
// name, if there is one, and pre-commit runs teamctl's check first.

// passThrough are the client-side hooks (githooks(5)) a commit, merge, rebase, checkout,
// am or push in a worktree may run. Hooks whose mere presence costs something
// (reference-transaction runs on every ref update) are wrapped only when the user has them.
var passThrough = []string{
	"applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
	"prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout", "post-merge",
	"pre-push", "post-rewrite", "pre-auto-gc", "post-index-change", "sendemail-validate",
}

// hooksRoot is where teamctl keeps the hooks of agent worktrees.
func (r *Repo) hooksRoot() string { return filepath.Join(r.CommonDir, "teamctl", "hooks") }

// Marker files in a worktree's hook dir, to find and undo an install once the worktree is gone.
const (
	markWorktree = "worktree" // the worktree's path
	markSection  = "section"  // the includeIf subsection in the common config
)

// AgentHooks are the hooks of one agent's worktree.
type AgentHooks struct {
	// PreCommit runs before every commit (an argv; argv[0] is looked up on PATH by its base
	// name when that path is not executable any more); failing, it refuses the commit.
	PreCommit []string
	// Branch is the one branch a ref update from the worktree may move (reference-transaction
	// hook); "" installs no ref guard. Refused runs, with the refused refs appended, when one
	// is refused.
	Branch  string
	Refused []string
}

// InstallAgentHooks installs h in the linked worktree dir, and only there. The repository's
// own hooks still run in dir after them. Installing again replaces the earlier install.
func (r *Repo) InstallAgentHooks(ctx context.Context, dir string, h AgentHooks) error {
	preCommit := h.PreCommit
	if len(preCommit) == 0 {
		return errors.New("install hooks: empty pre-commit command")
	}
	gitDir, err := GitDirOf(dir)
	if err != nil {
		return fmt.Errorf("install hooks in %s: %w", dir, err)
	}
	if samePath(gitDir, r.CommonDir) {
		return fmt.Errorf("install hooks in %s: it is the main worktree, whose hooks are the user's", dir)
	}
	user, err := r.userHooksPath(ctx)
	if err != nil {
		return fmt.Errorf("install hooks in %s: %w", dir, err)
	}
	hd := filepath.Join(r.hooksRoot(), filepath.Base(gitDir))
	hooks := filepath.Join(hd, "hooks")
	scripts := map[string]string{}
	names := append([]string(nil), passThrough...)
	if abs := user; filepath.IsAbs(abs) {
		// Any other hook the user has (reference-transaction, a custom one) is chained too.
		if ents, err := os.ReadDir(abs); err == nil {
			for _, e := range ents {
				if n := e.Name(); !e.IsDir() && !strings.HasSuffix(n, ".sample") && !containsName(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	if h.Branch != "" && !containsName(names, "reference-transaction") {
		names = append(names, "reference-transaction")
	}
	for _, n := range names {
		body := chain(user, n)
		switch {
		case n == "pre-commit":
			body = check(preCommit) + body
		case n == "reference-transaction" && h.Branch != "":
			body = refGuard(h.Branch, h.Refused) + chainStdin(user, n)
		}
		scripts[n] = "#!/bin/sh\n# Installed by teamctl for the worktree " + dir + " only; see " + hd + ".\n" + body
	}
	section := "gitdir:" + globEscape(gitDir)
	if r.hooksInstalled(hd, dir, section, scripts) {
		return nil // as it would be written (resume installs them in every worktree again)
	}
	if err := os.RemoveAll(hd); err != nil {
		return fmt.Errorf("install hooks in %s: %w", dir, err)
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return fmt.Errorf("install hooks in %s: %w", dir, err)
	}
	for n, script := range scripts {
		if err := os.WriteFile(filepath.Join(hooks, n), []byte(script), 0o755); err != nil {
			return fmt.Errorf("install hooks in %s: %w", dir, err)
		}
	}
	cfg := filepath.Join(hd, "config")
	if _, err := r.git(ctx, "", nil, "config", "--file", cfg, "core.hooksPath", hooks); err != nil {
		return fmt.Errorf("install hooks in %s: %w", dir, err)
	}
	for name, content := range map[string]string{markWorktree: dir, markSection: section} {
		if err := os.WriteFile(filepath.Join(hd, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("install hooks in %s: %w", dir, err)
		}
	}
	if _, err := r.git(ctx, "", nil, "config", "--file", filepath.Join(r.CommonDir, "config"),
		"includeIf."+section+".path", cfg); err != nil {
		return fmt.Errorf("install hooks in %s: %w", dir, err)
	}
	// Check that git now sees it, and only there: a gitdir that matches differently (a
	// symlink, a pattern character in the path) would leave the worktree unguarded.
	got, err := r.git(ctx, dir, nil, "config", "core.hooksPath")
	if err != nil || got != hooks {
		return fmt.Errorf("install hooks in %s: git does not pick them up there (core.hooksPath = %q, %v)", dir, got, err)
	}
	return nil
}

// hooksInstalled reports whether hd holds exactly what InstallAgentHooks would write for
// dir (its scripts, its markers) and the common config includes it: reading a few small
// files instead of running git five times.
func (r *Repo) hooksInstalled(hd, dir, section string, scripts map[string]string) bool {
	if b, err := os.ReadFile(filepath.Join(hd, markWorktree)); err != nil || string(b) != dir {
		return false
	}
	if b, err := os.ReadFile(filepath.Join(hd, markSection)); err != nil || string(b) != section {
		return false
	}
	ents, err := os.ReadDir(filepath.Join(hd, "hooks"))
	if err != nil || len(ents) != len(scripts) {
		return false
	}
	for n, script := range scripts {
		if b, err := os.ReadFile(filepath.Join(hd, "hooks", n)); err != nil || string(b) != script {
			return false
		}
	}
	cfg, err := os.ReadFile(filepath.Join(r.CommonDir, "config"))
	return err == nil && strings.Contains(string(cfg), "[includeIf \""+section+"\"]\n\tpath = "+filepath.Join(hd, "config")+"\n")
}

// userHooksPath is where the repository's own hooks are, as its main worktree sees them:
// core.hooksPath (a relative one stays relative: git takes it from the worktree a hook runs
// in), else the common dir's hooks/.
func (r *Repo) userHooksPath(ctx context.Context) (string, error) {
	out, err := r.git(ctx, "", nil, "config", "core.hooksPath")
	switch {
	case exitCode(err) == 1: // unset
		return filepath.Join(r.CommonDir, "hooks"), nil
	case err != nil:
		return "", fmt.Errorf("read core.hooksPath: %w", err)
	}
	if strings.HasPrefix(out, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			out = filepath.Join(home, out[2:])
		}
	}
	if strings.HasPrefix(out, filepath.Join(r.hooksRoot())+string(filepath.Separator)) {
		return filepath.Join(r.CommonDir, "hooks"), nil // never chain to ourselves
	}
	return out, nil
}

// check is the part of the pre-commit wrapper that runs argv.
func check(argv []string) string {
	args := make([]string, len(argv)-1)
	for i, a := range argv[1:] {
		args[i] = shellQuote(a)
	}
	base := filepath.Base(argv[0])
	return fmt.Sprintf(`cmd=%s
if [ ! -x "$cmd" ]; then cmd=$(command -v %s) || cmd=; fi
if [ -n "$cmd" ]; then
	"$cmd" %s || exit $?
else
	echo "teamctl hook: %s not found: the commit is not checked against reservations" >&2
fi
`, shellQuote(argv[0]), shellQuote(base), strings.Join(args, " "), base)
}

// refGuard is the reference-transaction hook's check: in the prepared state (before any ref
// moves) every ref the transaction updates must be the worktree's own branch, or one that is
// the worktree's own (HEAD and the pseudo-refs of a merge, rebase, bisect), or holds nothing
// of anyone's work (the stash, remote-tracking refs); otherwise the whole transaction is
// refused, refused is run with the refs, and git says why. It reads the transaction from
// stdin into $input, for the user's own hook after it (chainStdin).
func refGuard(branch string, refused []string) string {
	run := ":"
	if len(refused) > 0 {
		args := make([]string, len(refused)-1)
		for i, a := range refused[1:] {
			args[i] = shellQuote(a)
		}
		run = fmt.Sprintf(`cmd=%s
		if [ ! -x "$cmd" ]; then cmd=$(command -v %s) || cmd=; fi
		[ -z "$cmd" ] || "$cmd" %s $bad >/dev/null 2>&1 </dev/null`, shellQuote(refused[0]), shellQuote(filepath.Base(refused[0])), strings.Join(args, " "))
	}
	return fmt.Sprintf(`input=$(cat)
if [ "$1" = prepared ]; then
	bad=
	while read -r old new ref; do
		case "$ref" in
		%s|HEAD|ORIG_HEAD|MERGE_HEAD|CHERRY_PICK_HEAD|REVERT_HEAD|REBASE_HEAD|AUTO_MERGE|FETCH_HEAD|BISECT_*|refs/bisect/*|refs/rewritten/*|refs/worktree/*|refs/stash|refs/remotes/*) ;;
		*) bad="$bad $ref" ;;
		esac
	done <<TEAMCTL_REFS
$input
TEAMCTL_REFS
	if [ -n "$bad" ]; then
		%s
		echo "teamctl: refused to move$bad: from this worktree only your own branch %s moves (teamctl merges it for you)" >&2
		exit 1
	fi
fi
`, shellQuote("refs/heads/"+branch), run, branch)
}

// chainStdin is chain for a hook whose stdin refGuard read into $input.
func chainStdin(userHooks, name string) string {
	return fmt.Sprintf(`hook=%s/%s
if [ -f "$hook" ] && [ -x "$hook" ]; then printf '%%s\n' "$input" | exec "$hook" "$@"; fi
exit 0
`, shellQuote(userHooks), name)
}

// chain is the end of a wrapper: run the user's own hook of that name, if any.
func chain(userHooks, name string) string {
	return fmt.Sprintf(`hook=%s/%s
if [ -f "$hook" ] && [ -x "$hook" ]; then exec "$hook" "$@"; fi
exit 0
`, shellQuote(userHooks), name)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// globEscape escapes the characters git's wildmatch treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// RemoveAgentHooks undoes InstallAgentHooks for the worktree dir, whether or not the
// worktree still exists; nothing installed is not an error.
func (r *Repo) RemoveAgentHooks(ctx context.Context, dir string) error {
	ents, err := os.ReadDir(r.hooksRoot())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove hooks of %s: %w", dir, err)
	}
	for _, e := range ents {
		hd := filepath.Join(r.hooksRoot(), e.Name())
		wt, err := os.ReadFile(filepath.Join(hd, markWorktree))
		if err != nil || filepath.Clean(string(wt)) != filepath.Clean(dir) {
			continue
		}
		if section, err := os.ReadFile(filepath.Join(hd, markSection)); err == nil {
			_, err := r.git(ctx, "", nil, "config", "--file", filepath.Join(r.CommonDir, "config"),
				"--remove-section", "includeIf."+string(section))
			// Exit 128: no such section (removed by hand already).
			if err != nil && exitCode(err) != 128 {
				return fmt.Errorf("remove hooks of %s: %w", dir, err)
			}
		}
		if err := os.RemoveAll(hd); err != nil {
			return fmt.Errorf("remove hooks of %s: %w", dir, err)
		}
	}
	return nil
}

// StagedFiles lists the repo-relative paths the commit being made in the worktree dir
// changes (deletions and both sides of a rename included). In a merge (MERGE_HEAD exists)
// only paths that differ from both parents count: what the merge brings from the other
// side unchanged is not this commit's change. index is the index to read ("" the
// worktree's own; relative to dir): for a pre-commit hook, the one git gave it in
// GIT_INDEX_FILE (`commit -a` and `commit PATH` use a temporary one).
func (r *Repo) StagedFiles(ctx context.Context, dir, index string) ([]string, error) {
	var env []string
	if idx := index; idx != "" {
		if !filepath.IsAbs(idx) {
			idx = filepath.Join(dir, idx)
		}
		env = []string{"GIT_INDEX_FILE=" + idx}
	}
	diff := func(against ...string) (map[string]bool, []string, error) {
		args := append([]string{"diff", "--cached", "--name-only", "-z", "--no-renames", "--no-ext-diff"}, against...)
		out, err := r.git(ctx, dir, env, args...)
		if err != nil {
			return nil, nil, fmt.Errorf("list staged files in %s: %w", dir, err)
		}
		set := map[string]bool{}
		var order []string
		for _, p := range strings.Split(out, "\x00") {
			if p != "" && !set[p] {
				set[p] = true
				order = append(order, p)
			}
		}
		return set, order, nil
	}
	_, files, err := diff()
	if err != nil {
		return nil, err
	}
	if _, err := r.git(ctx, dir, env, "rev-parse", "-q", "--verify", "MERGE_HEAD"); err != nil {
		if exitCode(err) == 1 {
			return files, nil // no merge in progress
		}
		return nil, fmt.Errorf("list staged files in %s: %w", dir, err)
	}
	theirs, _, err := diff("MERGE_HEAD")
	if err != nil {
		return nil, err
	}
	var own []string
	for _, f := range files {
		if theirs[f] {
			own = append(own, f)
		}
	}
	return own, nil
}
