package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
)

// checkPrograms looks for every agent's program before anything is made and returns one
// error per program that cannot be found, located at its plan line. The run goes on (the
// contract: a missing program fails its task, with a blocker a person can answer once it
// is installed), but says so at once rather than when the task starts. A program named with
// a relative path runs in the agent's worktree, which starts as base: it must be an
// executable file committed there. Any other program is checked as its launch will check it
// (agentproc.CheckProgram): a bare name must be on the agent's PATH (the plan's env PATH,
// else teamctl's own), a path that leaves the worktree must be an executable file.
func (w *Workspace) checkPrograms(ctx context.Context, p *plan.Plan, base, root string) ([]error, error) {
	var missing []error
	for i, a := range p.Members() {
		argv, ok := agentproc.CommandFor(a, "", false)
		if !a.IsAgent() || !ok || len(argv) == 0 {
			continue
		}
		key := "leader.command"
		if i > 0 {
			key = fmt.Sprintf("agents.%d.command", i-1)
		}
		if len(a.Command) == 0 {
			key = strings.TrimSuffix(key, "command") + "preset"
		}
		prog := argv[0]
		wt := filepath.Join(root, p.Team, a.Name)
		pathVar := os.Getenv("PATH")
		if v, ok := a.Env["PATH"]; ok {
			pathVar = v
		}
		var why string
		switch rel, inside := inWorktree(wt, prog); {
		case inside && (a.Setup != "" || len(p.Copy) > 0):
			// Its setup: or the plan's copy: may put it there.
		case inside:
			// The worktree is not made yet: it starts with what base holds.
			exists, exec, err := w.repo.FileAt(ctx, base, path.Clean(filepath.ToSlash(rel)))
			if err != nil {
				return nil, err
			}
			if !exists || !exec {
				why = fmt.Sprintf("%s is not an executable file committed on %s (the agent runs it from its worktree, which starts there)", prog, base)
			}
		default:
			err := agentproc.CheckProgram(prog, wt, []string{"PATH=" + pathVar})
			if errors.Is(err, agentproc.ErrNotOnPath) {
				why = fmt.Sprintf("%s is not on the agent's PATH (%s)", prog, pathVar)
				if a.Preset != "" && len(a.Command) == 0 {
					why += ": install the " + a.Preset + " CLI, or set command:"
				}
			} else if err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			missing = append(missing, p.Errorf(key, "agent %s: %s", a.Name, why))
		}
	}
	return missing, nil
}

// inWorktree is prog's path inside the worktree wt, when prog is a relative path that
// stays in it.
func inWorktree(wt, prog string) (string, bool) {
	if !strings.Contains(prog, "/") || filepath.IsAbs(prog) {
		return "", false
	}
	rel, err := filepath.Rel(wt, filepath.Join(wt, prog))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}
