package agentproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrSetup is a worktree set-up command (the plan's setup:) that failed.
var ErrSetup = errors.New("worktree setup failed")

// CopyFiles copies paths (repo-relative, as plan.Copy holds them; "dir/" is a whole
// directory) from the worktree from into the worktree to: the files git does not carry
// that agents need, like .env. A path missing in from is skipped and not returned; what
// was copied is. Files keep their mode; an existing file in to is overwritten.
func CopyFiles(from, to string, paths []string) ([]string, error) {
	var copied []string
	for _, p := range paths {
		rel := filepath.FromSlash(strings.TrimSuffix(p, "/"))
		src, dst := filepath.Join(from, rel), filepath.Join(to, rel)
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return copied, fmt.Errorf("copy %s: %w", p, err)
		}
		if fi.IsDir() {
			err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				r, _ := filepath.Rel(src, path)
				return copyEntry(path, filepath.Join(dst, r), d)
			})
		} else {
			err = copyEntry(src, dst, fs.FileInfoToDirEntry(fi))
		}
		if err != nil {
			return copied, fmt.Errorf("copy %s into %s: %w", p, to, err)
		}
		copied = append(copied, p)
	}
	return copied, nil
}

func copyEntry(src, dst string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case d.IsDir():
		return os.MkdirAll(dst, info.Mode().Perm()|0o700)
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		_ = os.Remove(dst)
		return os.Symlink(target, dst)
	case !info.Mode().IsRegular():
		return nil // sockets, fifos: nothing an agent could use
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Runner runs one command to completion in dir, env added to the current environment, in a
// process group of its own that is killed when ctx ends. worktree.ExecRunner is the one
// teamctl passes (agentproc needs no more of it than this); its errors unwrap to os/exec's,
// which RunSetup's message quotes.
type Runner interface {
	Run(ctx context.Context, dir string, env []string, argv ...string) (stdout []byte, err error)
}

// RunSetup runs the plan's setup: command with sh -c in the launch's worktree, with the
// environment the agent will have, before its first launch, through run. Its output goes to
// the agent's log under a header line, so `teamctl logs` shows why a set-up failed. A
// failure or a cancelled ctx (which kills the command's whole process group) returns ErrSetup.
func RunSetup(ctx context.Context, run Runner, l Launch, command string) error {
	if err := os.MkdirAll(filepath.Dir(l.LogPath), 0o755); err != nil {
		return fmt.Errorf("agent %s log: %w", l.Agent, err)
	}
	logf, err := os.OpenFile(l.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("agent %s log: %w", l.Agent, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== teamctl %s: setup agent=%s command=%q\n", stamp(), l.Agent, command)
	// sh appends its output, and its children's, to the log itself, as it comes and in
	// its order: a Runner hands back what it captured only at the end, stderr apart (and
	// only on a failure), and `teamctl logs` must show a long `npm ci` as it goes. The log
	// is "$1", shifted away so that the command sees what `sh -c command` would ($0 sh, no
	// arguments). The environment is the whole of the agent's; the Runner adds it to its
	// own, and the later value of a variable wins.
	script := "exec >>\"$1\" 2>&1 || exit\nshift\n" + command
	_, err = run.Run(ctx, l.Worktree, Environ(l), "sh", "-c", script, "sh", l.LogPath)
	var ee *exec.ExitError
	switch {
	case err != nil && ctx.Err() != nil:
		err = ctx.Err()
	case errors.As(err, &ee):
		err = ee // "exit status 3": the runner's own words name the script, not the command
	}
	fmt.Fprintf(logf, "=== teamctl %s: setup %s\n", stamp(), setupResult(err))
	if err != nil {
		return fmt.Errorf("%w for %s: `%s`: %v (teamctl logs %s --raw shows its output)", ErrSetup, l.Agent, command, err, l.Agent)
	}
	return nil
}

func setupResult(err error) string {
	if err == nil {
		return "done"
	}
	return "failed: " + err.Error()
}
