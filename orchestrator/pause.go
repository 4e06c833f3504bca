package orchestrator

// Pauses (DESIGN.md §10): a launch that ends on its provider's limit, overload or outage is
// not the agent's failure. Its task is paused until the provider comes back, with every
// agent of the same provider (nothing is launched into a known limit); at until one agent
// is relaunched first, as a probe; once its calls go through, the others follow, one per
// limits.stagger. A pause is in the store, so a supervisor killed during one resumes it.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// logOptions is how agent a's log is read: the plan's words for provider errors, and its
// prices for the cost a CLI does not report.
func logOptions(p *plan.Plan, a plan.Agent) agentproc.Options {
	var opts agentproc.Options
	for _, pat := range p.Limits.Patterns {
		re, err := regexp.Compile(pat.Match)
		if err != nil {
			continue // plan validation compiled it already
		}
		opts.Limits.Patterns = append(opts.Limits.Patterns, agentproc.LimitPattern{Match: re, Kind: agentproc.FaultKind(pat.Kind)})
	}
	prices := map[string]agentproc.Price{}
	for model, pr := range p.Prices {
		prices[model] = agentproc.Price(pr)
	}
	opts.Prices = agentproc.PricesFor(a.Preset, prices)
	return opts
}

// transcript reads agent a's log with the plan's options.
func (s *supervisor) transcript(a plan.Agent) (agentproc.Transcript, error) {
	return agentproc.ReadLog(a.Preset, s.logPath(a.Name), logOptions(s.p, a))
}

// launchFault is the provider error the agent's latest launch of task ended on, if any.
func (s *supervisor) launchFault(a plan.Agent, task string) *agentproc.Fault {
	tr, err := s.transcript(a)
	if err != nil {
		return nil
	}
	for i := len(tr.Launches) - 1; i >= 0; i-- {
		if l := tr.Launches[i]; !l.Setup {
			if l.Task() != task {
				return nil
			}
			return l.Fault
		}
	}
	return nil
}

func (s *supervisor) providerOf(agent string) agentproc.Provider {
	a, _ := s.p.Agent(agent)
	return agentproc.ProviderOf(a)
}

// backoff is how long a pause waits when the provider did not say: limits.backoff (half of
// it on an overload or outage), doubling with each limit met again, at most max_backoff.
func (s *supervisor) backoff(kind agentproc.FaultKind, level int) time.Duration {
	l := s.p.Limits
	d := l.Backoff
	if kind != agentproc.FaultLimit {
		d /= 2
	}
	for i := 0; i < level && d < l.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, l.MaxBackoff)
}

// pauseOn pauses task t, whose launch ended on fault (nil: teamctl stopped it because
// another agent of its provider met one), and with it its provider: until the reset time
// the provider gave, else a backoff; the longer of this and a pause already there.
func (s *supervisor) pauseOn(ctx context.Context, t store.Task, fault *agentproc.Fault) error {
	pv := s.providerOf(t.Agent)
	now := time.Now()
	var pause store.Pause
	var err error
	if fault == nil {
		pause, err = s.ws.store.Pause(ctx, s.team.Name, pv.Key)
		if errors.Is(err, store.ErrNotFound) {
			pause, err = store.Pause{Label: pv.Label, Until: now, Why: "its provider's pause ended"}, nil
		}
	} else {
		pause, err = s.ws.store.SetPause(ctx, s.team.Name, pv.Key, func(p *store.Pause, ok bool) bool {
			level := 0
			if ok {
				level = p.Level
				if p.State == store.PauseProbing && p.Probe == t.Agent {
					level++ // the probe met it again: wait twice as long
				}
			}
			until := fault.Until
			if !until.After(now) {
				until = now.Add(s.backoff(fault.Kind, level))
			}
			if ok && p.State == store.PausePaused && !until.After(p.Until) {
				return false // another agent met it first: that pause stands
			}
			p.Label, p.Kind, p.Why, p.Until, p.Level, p.State, p.Probe = pv.Label, string(fault.Kind), fault.Text, until, level, store.PausePaused, ""
			return true
		})
	}
	if err != nil {
		return err
	}
	if _, err := s.move(ctx, t.ID, Paused, pauseWhy(pause), func(t *store.Task) {
		t.Until, t.HeldReason, t.HeldExtra = pause.Until, "", ""
	}); err != nil {
		return err
	}
	if fault != nil {
		s.log().Warn("provider paused: nothing is launched into it until then", "provider", pv.Label, "until", pause.Until.Local().Format(time.TimeOnly), "why", fault)
		s.notify(ctx, Notice{Kind: "paused", Title: fmt.Sprintf("teamctl: %s paused in team %s", pv.Label, s.team.Name),
			Text: fmt.Sprintf("nothing is launched into it until %s: %v", pause.Until.Local().Format(time.TimeOnly), fault)})
	}
	return s.holdProvider(ctx, pv, pause)
}

// pauseWhy is a paused task's why: "usage limit, claude: <the provider's words>".
func pauseWhy(p store.Pause) string {
	why := agentproc.FaultKind(p.Kind).Words() + ", " + p.Label
	if p.Why != "" {
		why += ": " + p.Why
	}
	return why
}

// holdProvider stops every running agent of provider pv (their ends pause their tasks)
// and gives every paused task of it the pause's until.
func (s *supervisor) holdProvider(ctx context.Context, pv agentproc.Provider, pause store.Pause) error {
	for name, r := range s.procs {
		if r.held || s.providerOf(name).Key != pv.Key {
			continue
		}
		s.log().Info("stopping agent: its provider is paused", "agent", name, "provider", pv.Label)
		r.held = true
		go r.proc.Stop(stopGrace) // its exit comes back through the loop
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if stateOf(t) == Paused && t.Until.Before(pause.Until) && s.providerOf(t.Agent).Key == pv.Key {
			if _, err := s.move(ctx, t.ID, Paused, pauseWhy(pause), func(t *store.Task) { t.Until = pause.Until }); err != nil {
				return err
			}
		}
	}
	return nil
}

// held reports whether a launch of agent would go into its provider's pause, which it
// returns for the task's why.
func (s *supervisor) held(ctx context.Context, agent string) (store.Pause, bool, error) {
	pv := s.providerOf(agent)
	p, err := s.ws.store.Pause(ctx, s.team.Name, pv.Key)
	if err == nil {
		return p, true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return p, false, err
	}
	return store.Pause{}, false, nil
}

// holdLaunch pauses a launch of task t that would go into its provider's pause: it is made
// (reason, extra) once the pause ends. count is counted now, as the launch would have.
func (s *supervisor) holdLaunch(ctx context.Context, t store.Task, pause store.Pause, reason, extra string, count func(*store.Task)) error {
	s.log().Info("launch held: its provider is paused", "agent", t.Agent, "task", t.ID, "reason", reason, "until", pause.Until.Local().Format(time.TimeOnly))
	_, err := s.move(ctx, t.ID, Paused, pauseWhy(pause), func(t *store.Task) {
		t.Until, t.HeldReason, t.HeldExtra = pause.Until, reason, extra
		if count != nil {
			count(t)
		}
	})
	return err
}

// tendPauses moves pauses on: at until, a paused provider's first paused task is relaunched
// as its probe; once the probe's calls go through (or it ends on anything but the
// provider) the pause ends; tasks paused on a provider no longer paused are relaunched,
// one per limits.stagger.
func (s *supervisor) tendPauses(ctx context.Context) error {
	pauses, err := s.ws.store.Pauses(ctx, s.team.Name)
	if err != nil {
		return err
	}
	if len(pauses) == 0 && !s.mayBePaused {
		return nil // the common turn: no pause, no paused task since the last look
	}
	tasks, err := s.ws.store.Tasks(ctx, s.team.Name)
	if err != nil {
		return err
	}
	s.mayBePaused = anyPaused(tasks)
	paused := map[string]bool{}
	for _, p := range pauses {
		paused[p.Provider] = true
		if err := s.tendPause(ctx, p, tasks); err != nil {
			return err
		}
	}
	for _, t := range tasks {
		if stateOf(t) != Paused || s.procs[t.Agent] != nil {
			continue
		}
		pv := s.providerOf(t.Agent)
		if paused[pv.Key] || time.Since(s.released[pv.Key]) < s.p.Limits.Stagger {
			continue
		}
		s.released[pv.Key] = time.Now()
		if err := s.unpause(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (s *supervisor) tendPause(ctx context.Context, p store.Pause, tasks []store.Task) error {
	switch p.State {
	case store.PausePaused:
		if time.Now().Before(p.Until) {
			return nil
		}
		for _, t := range tasks {
			if stateOf(t) != Paused || s.procs[t.Agent] != nil || s.providerOf(t.Agent).Key != p.Provider {
				continue
			}
			if _, err := s.ws.store.SetPause(ctx, s.team.Name, p.Provider, func(q *store.Pause, ok bool) bool {
				q.State, q.Probe = store.PauseProbing, t.Agent
				return ok
			}); err != nil {
				return err
			}
			s.log().Info("provider pause over: one agent tries it first", "provider", p.Label, "probe", t.Agent)
			return s.unpause(ctx, t)
		}
		// Nothing paused is left to try it with: what comes next launches as usual.
		return s.endPause(ctx, p, "no paused task is left to try it")
	case store.PauseProbing:
		a, _ := s.p.Agent(p.Probe)
		if s.procs[p.Probe] != nil {
			if s.probeThrough(a) {
				return s.endPause(ctx, p, "the probe's calls go through")
			}
			return nil
		}
		for _, t := range tasks {
			if t.Agent == p.Probe && stateOf(t) == Paused {
				// Its relaunch was held or cut (a supervisor that died while it probed): try again.
				_, err := s.ws.store.SetPause(ctx, s.team.Name, p.Provider, func(q *store.Pause, ok bool) bool {
					q.State, q.Probe = store.PausePaused, ""
					return ok
				})
				return err
			}
		}
		return s.endPause(ctx, p, "the probe's launch ended without a provider error")
	}
	return nil
}

func (s *supervisor) endPause(ctx context.Context, p store.Pause, why string) error {
	s.log().Info("provider back: paused agents are relaunched one by one", "provider", p.Label, "why", why)
	s.released[p.Provider] = time.Now()
	return s.ws.store.EndPause(ctx, s.team.Name, p.Provider, why)
}

// probeThrough reports whether the probe's current launch had a model call answered: the
// assistant said something or called a tool, and the launch did not end on a fault.
func (s *supervisor) probeThrough(a plan.Agent) bool {
	tr, err := s.transcript(a)
	if err != nil || len(tr.Launches) == 0 {
		return false
	}
	l := tr.Launches[len(tr.Launches)-1]
	if l.Fault != nil {
		return false
	}
	return l.Usage.Tokens() > 0 || l.Answered()
}

// unpause relaunches a paused task: the launch the pause held back, or (the provider cut
// its launch) a resume of its own session that says what happened.
func (s *supervisor) unpause(ctx context.Context, t store.Task) error {
	reason, extra := t.HeldReason, t.HeldExtra
	if reason == "" {
		sa, err := s.ws.store.Agent(ctx, s.team.Name, t.Agent)
		if err != nil {
			return err
		}
		reason = agentproc.ReasonResume
		extra = fmt.Sprintf("Your previous launch was cut short by your model provider (%s); teamctl paused you until it came back. Nothing you committed or left in your worktree is lost: check it and continue the task.\n%s",
			t.Detail, s.tree(sa).summary(ctx))
	}
	return s.launch(ctx, t, reason, extra, func(t *store.Task) { t.Until, t.HeldReason, t.HeldExtra = time.Time{}, "", "" })
}

func anyPaused(tasks []store.Task) bool {
	for _, t := range tasks {
		if stateOf(t) == Paused {
			return true
		}
	}
	return false
}
