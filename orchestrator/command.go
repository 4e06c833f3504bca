package orchestrator

// What a launch of an agent runs: its argv (a preset's, continuing its session where the
// CLI can) and what every launch of it shares.

import (
	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// commandFor is the argv template of a launch of agent a on task t (t.Attempt counts this
// launch). An agent of a known CLI continues its own session on a relaunch (nudge, fix,
// answer, resume) when the CLI can, so it keeps its context; otherwise, and on the first
// launch of a task, it starts a new session (with an id teamctl picks where the CLI takes
// one), and the prompt carries what the earlier launches left.
func (s *supervisor) commandFor(a plan.Agent, t store.Task) []string {
	p, known := agentproc.PresetNamed(a.Preset)
	if len(a.Command) > 0 || !known {
		argv, _ := agentproc.CommandFor(a, "", false)
		return argv
	}
	session, resume := "", false
	if t.Attempt > 1 && p.CanResume() {
		if tr, err := s.transcript(a); err == nil {
			if id := tr.TaskSession(t.ID); id != "" {
				session, resume = id, true
				s.log().Info("continuing the agent's session", "agent", a.Name, "task", t.ID, "session", id)
			}
		}
	}
	if !resume {
		session = agentproc.NewSessionID()
	}
	argv, _ := agentproc.CommandFor(a, session, resume)
	return argv
}

// baseLaunch is what every launch of agent a shares: where, who, the environment.
func (s *supervisor) baseLaunch(a plan.Agent, sa store.Agent) agentproc.Launch {
	return agentproc.Launch{
		Team: s.team.Name, Agent: a.Name, Role: a.Role,
		Worktree: sa.Worktree, Branch: sa.Branch, LeaderBranch: s.team.LeaderBranch,
		Env: a.Env, Timeout: a.Timeout, LogPath: s.logPath(a.Name), Files: s.files(a.Name), BinDir: s.ws.env.BinDir,
	}
}
