package orchestrator

// What a launch of an agent runs: its argv (a preset's, continuing its session where the
// CLI can) and what every launch of it shares.

import (
	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// sessionFor is the session a launch of agent a on task t (before this launch is counted)
// runs in: the one the task's earlier launches ran in, continued (resume), so the agent keeps
// its context (nudge, fix, answer, resume); else a new one, with an id teamctl picks where
// the CLI takes one (store it: chosen says so). The log's word wins where the CLI's stream
// names its session; a tmux agent's log is its screen, so the stored id is all there is.
func (s *supervisor) sessionFor(a plan.Agent, t store.Task) (id string, resume, chosen bool) {
	p, known := agentproc.PresetNamed(a.Preset)
	if len(a.Command) > 0 || !known {
		return "", false, false
	}
	if t.Attempt > 0 && p.CanResume() {
		id = t.Session
		if a.Mode != plan.ModeTmux {
			if tr, err := s.transcript(a); err == nil && tr.TaskSession(t.ID) != "" {
				id = tr.TaskSession(t.ID)
				if !tr.TaskAnswered(t.ID, id) {
					// Nothing to continue: the model never answered (its first call met a
					// provider error), and the CLI may have kept no session ("No previous
					// sessions found", gemini's exit 42).
					s.log().Info("a new session: the model never answered in the last one", "agent", a.Name, "task", t.ID, "session", id)
					id = ""
				}
			}
		}
		if id != "" {
			s.log().Info("continuing the agent's session", "agent", a.Name, "task", t.ID, "session", id)
			return id, true, false
		}
	}
	return agentproc.NewSessionID(), false, p.NewSession != nil
}

// baseLaunch is what every launch of agent a shares: where, who, the environment.
func (s *supervisor) baseLaunch(a plan.Agent, sa store.Agent) agentproc.Launch {
	return agentproc.Launch{
		Team: s.team.Name, Agent: a.Name, Role: a.Role,
		Worktree: sa.Worktree, Branch: sa.Branch, LeaderBranch: s.team.LeaderBranch,
		Env: a.Env, Timeout: a.Timeout, LogPath: s.logPath(a.Name), Files: s.files(a.Name), BinDir: s.ws.env.BinDir,
		Depth: Depth(s.p, a.Name),
	}
}
