package orchestrator

// Coordination (DESIGN.md §6): blockers agents raise, and their answers. How the
// supervisor hands them on and delivers the answers is in blockerflow.go.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/teamctl/teamctl/store"
)

// RaiseBlocker records a blocker of the calling agent on its current task. It goes to the
// leader agent, or to a person when human is set, when the team has no leader agent, or
// when the leader raises it.
func (p *Participant) RaiseBlocker(ctx context.Context, text string, human bool) (store.Blocker, error) {
	if p.me == Human {
		return store.Blocker{}, Errorf(ErrUsage, "blockers are raised by agents (set TEAMCTL_AGENT or --as); a person answers them")
	}
	if strings.TrimSpace(text) == "" {
		return store.Blocker{}, Errorf(ErrUsage, "the blocker is empty: say what you need")
	}
	a, _ := p.agent(p.me)
	if !p.plan.Leader.IsAgent() || a.Role == "leader" {
		human = true
	}
	return p.w.store.RaiseBlocker(ctx, store.Blocker{Team: p.team.Name, Agent: p.me, Task: p.currentTask(a), Text: text, Human: human})
}

// Blockers lists the team's blockers, those for a person first; all of them with all,
// else only those waiting for an answer.
func (w *Workspace) Blockers(ctx context.Context, c Caller, all bool) ([]store.Blocker, error) {
	t, err := w.ResolveTeam(ctx, c.Team)
	if err != nil {
		return nil, err
	}
	if all {
		return w.store.Blockers(ctx, t.Name)
	}
	return w.store.OpenBlockers(ctx, t.Name)
}

// blocker reads blocker id of the caller's team; ErrNoTeam when there is none.
func (p *Participant) blocker(ctx context.Context, id int64) (store.Blocker, error) {
	b, err := p.w.store.Blocker(ctx, p.team.Name, id)
	if errors.Is(err, store.ErrNotFound) {
		return b, Errorf(ErrNoTeam, "no blocker %d in team %s (teamctl blockers lists them)", id, p.team.Name)
	}
	return b, err
}

// Answer answers blocker id: the leader answers those raised for it, a person any. The
// answer is recorded durably; the supervisor (now, or on resume) relaunches the blocked
// agent with TEAMCTL_REASON=answer and the answer in its prompt.
func (p *Participant) Answer(ctx context.Context, id int64, text string) (store.Blocker, error) {
	if strings.TrimSpace(text) == "" {
		return store.Blocker{}, Errorf(ErrUsage, "the answer is empty")
	}
	b, err := p.blocker(ctx, id)
	if err != nil {
		return b, err
	}
	switch {
	case p.me == Human:
	case b.Human:
		if l, ok := p.w.Launcher(); ok {
			p.w.refused(ctx, l, fmt.Sprintf("tried to answer blocker %d, which waits for a person: refused", id))
		}
		return b, Errorf(ErrUsage, "blocker %d waits for a person; only %s answers it", id, Human)
	case !p.isLeader():
		return b, Errorf(ErrUsage, "blocker %d is for the leader (%s) to answer, not %s", id, p.plan.Leader.Name, p.me)
	}
	b, err = p.w.store.AnswerBlocker(ctx, p.team.Name, id, p.me, text)
	if errors.Is(err, store.ErrAnswered) {
		return b, Errorf(ErrUsage, "%v", err)
	}
	return b, err
}

// Escalate passes blocker id on from the leader to a person.
func (p *Participant) Escalate(ctx context.Context, id int64) (store.Blocker, error) {
	b, err := p.blocker(ctx, id)
	if err != nil {
		return b, err
	}
	switch {
	case !p.isLeader():
		return b, Errorf(ErrUsage, "only the leader (%s) escalates a blocker to a person; %s is not it", p.plan.Leader.Name, p.me)
	case b.State == store.BlockerAnswered:
		return b, Errorf(ErrUsage, "blocker %d was answered by %s", id, b.AnsweredBy)
	case b.Human:
		return b, Errorf(ErrUsage, "blocker %d already waits for a person", id)
	}
	return p.w.store.EscalateBlocker(ctx, p.team.Name, id, p.me)
}
