package orchestrator

import (
	"context"

	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// TestStore and TestRepo give the package's tests the workspace's store and repository,
// which the layers above reach only through the workspace's API.
func (w *Workspace) TestStore() *store.Store  { return w.store }
func (w *Workspace) TestRepo() *worktree.Repo { return w.repo }

// Transitions lists every move of the lifecycle as "from -> to", for tests that check a
// journal against it.
func Transitions() []string {
	out := make([]string, len(edges))
	for i, e := range edges {
		out[i] = string(e.from) + " -> " + string(e.to)
	}
	return out
}

// TestCaller lets the package's tests give a coordination command as c in one call, as the
// command line does (resolve the participant, then act): ws.As(c).Send(ctx, to, text). A
// caller that does not resolve fails the call with the resolution's error.
type TestCaller struct {
	w *Workspace
	c Caller
}

func (w *Workspace) As(c Caller) TestCaller { return TestCaller{w, c} }

func act[T any](ctx context.Context, t TestCaller, do func(*Participant) (T, error)) (T, error) {
	p, err := t.w.Participant(ctx, t.c)
	if err != nil {
		var zero T
		return zero, err
	}
	return do(p)
}

func (t TestCaller) Send(ctx context.Context, to, text string) (store.Message, error) {
	return act(ctx, t, func(p *Participant) (store.Message, error) { return p.Send(ctx, to, text) })
}
func (t TestCaller) Broadcast(ctx context.Context, text string) ([]store.Message, error) {
	return act(ctx, t, func(p *Participant) ([]store.Message, error) { return p.Broadcast(ctx, text) })
}
func (t TestCaller) Inbox(ctx context.Context) ([]store.Message, error) {
	return act(ctx, t, func(p *Participant) ([]store.Message, error) { return p.Inbox(ctx) })
}
func (t TestCaller) Thread(ctx context.Context, peer string, n int) ([]store.Message, error) {
	return act(ctx, t, func(p *Participant) ([]store.Message, error) { return p.Thread(ctx, peer, n) })
}
func (t TestCaller) Feed(ctx context.Context, n int) ([]FeedEntry, error) {
	return act(ctx, t, func(p *Participant) ([]FeedEntry, error) { return p.Feed(ctx, n) })
}
func (t TestCaller) Reserve(ctx context.Context, paths []string, reason string) ([]store.Reservation, error) {
	return act(ctx, t, func(p *Participant) ([]store.Reservation, error) { return p.Reserve(ctx, paths, reason) })
}
func (t TestCaller) Release(ctx context.Context, paths []string) ([]store.Reservation, error) {
	return act(ctx, t, func(p *Participant) ([]store.Reservation, error) { return p.Release(ctx, paths) })
}
func (t TestCaller) RaiseBlocker(ctx context.Context, text string, human bool) (store.Blocker, error) {
	return act(ctx, t, func(p *Participant) (store.Blocker, error) { return p.RaiseBlocker(ctx, text, human) })
}
func (t TestCaller) Answer(ctx context.Context, id int64, text string) (store.Blocker, error) {
	return act(ctx, t, func(p *Participant) (store.Blocker, error) { return p.Answer(ctx, id, text) })
}
func (t TestCaller) Escalate(ctx context.Context, id int64) (store.Blocker, error) {
	return act(ctx, t, func(p *Participant) (store.Blocker, error) { return p.Escalate(ctx, id) })
}
func (t TestCaller) Intent(ctx context.Context, text string, files []string) (store.Intent, error) {
	return act(ctx, t, func(p *Participant) (store.Intent, error) { return p.Intent(ctx, text, files) })
}
func (t TestCaller) ReportDone(ctx context.Context, summary string) (store.Task, error) {
	return act(ctx, t, func(p *Participant) (store.Task, error) { return p.ReportDone(ctx, summary) })
}
func (t TestCaller) AddTask(ctx context.Context, o AddTaskOptions) (store.Task, error) {
	return act(ctx, t, func(p *Participant) (store.Task, error) { return p.AddTask(ctx, o) })
}
func (t TestCaller) Nudge(ctx context.Context, agent string) (store.Message, error) {
	return act(ctx, t, func(p *Participant) (store.Message, error) { return p.Nudge(ctx, agent) })
}

// HoldSupervisorLock takes team's supervisor lock, as a live supervisor holds it.
func HoldSupervisorLock(commonDir, team string) (release func(), err error) {
	l, err := acquireLock(commonDir, team)
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
func (t TestCaller) MessagesOf(ctx context.Context, agent string, n int) ([]store.Message, error) {
	return act(ctx, t, func(p *Participant) ([]store.Message, error) { return p.MessagesOf(ctx, agent, n) })
}
