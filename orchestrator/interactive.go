package orchestrator

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// Agents in mode: tmux run their CLI's own interface in a tmux session of the team's
// server (agentproc.startInTmux): a person can join it (teamctl attach) and type to it.
// Such an agent does not exit when its turn ends, so the supervisor watches what it says
// instead: `teamctl done` ends its session, and that end counts as exit 0 (onExit then
// commits, nudges and merges as for any agent). One that raises a blocker waits at its
// prompt; the answer is typed in when it comes (deliverTyped). One that sits idle with work
// left uncommitted gets the nudge typed in (DESIGN.md §4).

// idleCheckEvery is how often interactive agents' screens and worktrees are looked at.
const idleCheckEvery = 2 * time.Second

// watchInteractive ends the session of an interactive agent that said it is done, and
// nudges the idle ones.
func (s *supervisor) watchInteractive(ctx context.Context) error {
	for name, r := range s.procs {
		if !r.interactive || r.said != "" {
			continue
		}
		evs, err := s.ws.store.Events(ctx, s.team.Name, r.seen, 0)
		if err != nil {
			return err
		}
		for _, e := range evs {
			r.seen = e.ID
			if e.Agent == name && e.Task == r.task && e.Kind == "task.reported" {
				r.said = e.Kind
			}
		}
		if r.said != "" {
			s.log().Info("interactive agent finished its turn: ending its session", "agent", name, "task", r.task, "said", r.said)
			go r.proc.Stop(stopGrace) // its end comes back through s.exits
			continue
		}
		if err := s.watchForDialogs(ctx, name, r); err != nil {
			return err
		}
		s.nudgeIfIdle(ctx, name, r)
	}
	return nil
}

// prepareInteractive answers, before agent a's CLI starts in tmux, the dialogs it would
// stop at (Claude Code: its worktree's trust, the bypass-permissions warning, the API key
// teamctl passes it). A config that cannot be written is logged: watchForDialogs then says
// what the agent waits at.
func (s *supervisor) prepareInteractive(a plan.Agent, sa store.Agent) {
	if a.Preset != "claude" || len(a.Command) > 0 {
		return
	}
	key, ok := a.Env["ANTHROPIC_API_KEY"]
	if !ok {
		key = os.Getenv("ANTHROPIC_API_KEY")
	}
	cfg := agentproc.ClaudeConfigPath(a.Env)
	if err := agentproc.PrepareClaudeInteractive(cfg, sa.Worktree, key); err != nil {
		s.log().Warn("could not answer Claude Code's first dialogs in its config", "agent", a.Name, "config", cfg, "err", err)
	}
}

// prepareCLI sets, before agent a's CLI starts (headless or not), what it needs in its own
// settings to run as the plan says: the Gemini CLI with a base URL and an API key (it
// refuses them unless its settings choose the key).
func (s *supervisor) prepareCLI(a plan.Agent) {
	if a.Preset != "gemini" || len(a.Command) > 0 {
		return
	}
	changed, path, err := agentproc.PrepareGemini(a.Env)
	switch {
	case err != nil:
		s.log().Warn("could not choose the API key in the Gemini CLI's settings (with GOOGLE_GEMINI_BASE_URL it may refuse to start)", "agent", a.Name, "settings", path, "err", err)
	case changed:
		s.log().Info("the Gemini CLI's settings now choose its API key (it refuses GOOGLE_GEMINI_BASE_URL otherwise)", "agent", a.Name, "settings", path)
	}
}

// dialogWatch is how long after its launch an interactive agent's screen is looked at for
// a first-run dialog it stops at.
const dialogWatch = 2 * time.Minute

// watchForDialogs looks at the screen of an interactive agent in its first minutes: one
// stopped at a dialog its CLI shows before it works (one prepareInteractive could not
// answer) waits on a person, who is told which (a blocker), instead of the launch timing out.
func (s *supervisor) watchForDialogs(ctx context.Context, name string, r *running) error {
	a, _ := s.p.Agent(name)
	p, ok := agentproc.PresetNamed(a.Preset)
	if !ok || len(p.Screens) == 0 || r.dialog != "" || time.Since(r.started) > dialogWatch || time.Since(r.looked) < idleCheckEvery {
		return nil
	}
	r.looked = time.Now()
	screen, err := s.tmux.Capture(ctx, agentproc.SessionName(s.team.Name, name))
	if err != nil {
		return nil
	}
	d, shown := p.ScreenShown(screen)
	if !shown {
		return nil
	}
	r.dialog = d.Name
	text := fmt.Sprintf("%s stopped at %s before it started working: answer it in its session (teamctl attach %s, detach with Ctrl-b d), then answer this blocker", name, d.Name, name)
	b, err := s.ws.store.RaiseBlocker(ctx, store.Blocker{Team: s.team.Name, Agent: name, Task: r.task, Text: text, Human: true})
	if err != nil {
		return err
	}
	s.log().Warn("interactive agent stopped at a dialog: a person is asked", "agent", name, "dialog", d.Name, "blocker", b.ID)
	return nil
}

// watchAsInteractive makes an adopted tmux agent's launch watched as the interactive one it
// is: what it says from now on ends its turn, and so does a `teamctl done` it said while no
// supervisor watched (since its launch).
func (s *supervisor) watchAsInteractive(ctx context.Context, agent string, t store.Task) error {
	r := s.procs[agent]
	seen, err := s.ws.store.LastEventID(ctx, s.team.Name)
	if err != nil {
		return err
	}
	r.interactive, r.seen, r.started = true, seen, time.Now()
	said, err := s.ws.store.EventsOfKinds(ctx, s.team.Name, []string{"task.reported"}, 0)
	if err != nil {
		return err
	}
	for _, e := range said {
		if e.Agent == agent && e.Task == t.ID && !e.At.Before(t.Updated) {
			r.said = e.Kind
		}
	}
	if r.said != "" {
		s.log().Info("interactive agent finished its turn while no supervisor watched: ending its session", "agent", agent, "task", t.ID)
		go r.proc.Stop(stopGrace)
	}
	return nil
}

// nudgeIfIdle types the nudge into an interactive agent whose screen has not changed, and
// whose worktree has not changed, for its nudge.idle while it holds uncommitted work; at
// most once per idle period. One whose blocker is open is waiting, not idle.
func (s *supervisor) nudgeIfIdle(ctx context.Context, name string, r *running) {
	a, _ := s.p.Agent(name)
	if a.Nudge.Idle <= 0 || time.Since(r.checked) < idleCheckEvery {
		return
	}
	r.checked = time.Now()
	sa, err := s.ws.store.Agent(ctx, s.team.Name, name)
	if err != nil {
		return
	}
	changes, err := s.ws.repo.Status(ctx, sa.Worktree)
	if err != nil {
		return
	}
	sig := changeList(changes)
	if sig != r.files {
		r.files, r.filesAt = sig, time.Now()
	}
	if len(changes) == 0 {
		return
	}
	if _, waits, err := s.openBlocker(ctx, name, r.task); err != nil || waits {
		return // it waits at its prompt for its blocker's answer, as the protocol asks
	}
	session := agentproc.SessionName(s.team.Name, name)
	st, err := s.tmux.State(ctx, session)
	if err != nil || st.Dead {
		return
	}
	last := st.Activity
	for _, t := range []time.Time{r.filesAt, r.nudged, r.started} {
		if t.After(last) {
			last = t
		}
	}
	if time.Since(last) < a.Nudge.Idle {
		return
	}
	r.nudged = time.Now()
	s.log().Info("interactive agent idle with uncommitted work: nudge typed in", "agent", name, "task", r.task, "files", len(changes))
	s.typeInto(a, "teamctl: you have been idle for "+a.Nudge.Idle.String()+" with work left uncommitted:\n"+sig+
		"Commit it now (git add -A && git commit), then carry on; when the task is done, run teamctl done.")
}

// deliverTyped types the answer to its blocker into a running interactive agent, which
// waits for it at its prompt.
func (s *supervisor) deliverTyped(ctx context.Context, b store.Blocker) error {
	if err := s.ws.store.MarkBlockerDelivered(ctx, s.team.Name, b.ID); err != nil {
		return err
	}
	a, _ := s.p.Agent(b.Agent)
	s.log().Info("blocker answered: answer typed in", "agent", b.Agent, "task", b.Task, "blocker", b.ID, "by", b.AnsweredBy)
	s.typeInto(a, fmt.Sprintf("teamctl: your blocker %d was answered by %s. The answer: %s", b.ID, b.AnsweredBy, b.Answer))
	return nil
}

// typeInto types text (on one line) into agent a's session and submits it with its
// preset's key, without holding up the loop.
func (s *supervisor) typeInto(a plan.Agent, text string) {
	session := agentproc.SessionName(s.team.Name, a.Name)
	go func() {
		tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.tmux.Type(tctx, session, oneLineText(text), submitKeys(a)); err != nil {
			s.log().Warn("could not type into the agent's session", "agent", a.Name, "err", err)
		}
	}()
}

// submitKeys is how a line typed into agent a's session is sent: its preset's keys, or
// tmux's default (Enter) for a command of the plan's own.
func submitKeys(a plan.Agent) []string {
	if p, ok := agentproc.PresetNamed(a.Preset); ok && len(a.Command) == 0 {
		return p.Submit
	}
	return nil
}

// oneLineText joins text's lines: typed into a TUI, a newline could submit half of it.
func oneLineText(text string) string {
	return shorten.Fold(strings.ReplaceAll(text, "\n", " ; "))
}
