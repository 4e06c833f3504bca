package orchestrator

import (
	"context"
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
// executable file there (or outside it, for a path that leaves it); a bare name must be on
// the agent's PATH (the plan's env PATH, else teamctl's own).
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
		var why string
		switch {
		case !strings.Contains(prog, "/"):
			pathVar := os.Getenv("PATH")
			if v, ok := a.Env["PATH"]; ok {
				pathVar = v
			}
			if _, err := agentproc.LookPath(prog, []string{"PATH=" + pathVar}); err != nil {
				why = fmt.Sprintf("%s is not on the agent's PATH (%s)", prog, pathVar)
				if a.Preset != "" && len(a.Command) == 0 {
					why += ": install the " + a.Preset + " CLI, or set command:"
				}
			}
		case filepath.IsAbs(prog):
			if !executable(prog) {
				why = fmt.Sprintf("%s is not an executable file", prog)
			}
		default:
			full := filepath.Join(wt, prog)
			rel, err := filepath.Rel(wt, full)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				if !executable(full) {
					why = fmt.Sprintf("%s (relative to the agent's worktree %s) is %s, not an executable file", prog, wt, full)
				}
				break
			}
			if a.Setup != "" || len(p.Copy) > 0 {
				break // its setup: or the plan's copy: may put it there
			}
			exists, exec, err := w.Repo.FileAt(ctx, base, path.Clean(filepath.ToSlash(rel)))
			if err != nil {
				return nil, err
			}
			if !exists || !exec {
				why = fmt.Sprintf("%s is not an executable file committed on %s (the agent runs it from its worktree, which starts there)", prog, base)
			}
		}
		if why != "" {
			missing = append(missing, p.Errorf(key, "agent %s: %s", a.Name, why))
		}
	}
	return missing, nil
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
