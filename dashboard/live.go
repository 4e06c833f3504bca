package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// Cost is what an agent's model calls cost, in US dollars; Estimated when some of it was
// priced from token counts rather than reported by its CLI.
type Cost struct {
	USD       float64
	Estimated bool
}

// Hooks connect the parts of the dashboard that other features provide. A nil hook leaves
// its part ErrNotAvailable, shown as such in the view.
type Hooks struct {
	// Messages lists the team's newest messages (at most limit), oldest first.
	Messages func(ctx context.Context, team string, limit int) ([]FeedItem, error)
	// Warnings lists the conflicts coming between live branches.
	Warnings func(ctx context.Context, team string) ([]Warning, error)
	// Costs is what each agent's model calls cost so far, by agent name.
	Costs func(ctx context.Context, team string) (map[string]Cost, error)
	// Answer answers a blocker as the human.
	Answer func(ctx context.Context, team string, blocker int64, text string) error
	// Send sends a message from the human to an agent.
	Send func(ctx context.Context, team, agent, text string) error
	// Nudge nudges an agent.
	Nudge func(ctx context.Context, team, agent string) error
	// Transcript opens an agent's readable conversation, following it (Read returns io.EOF
	// when nothing more is there yet). ErrNotAvailable (for an agent whose CLI gives none)
	// falls back to its log.
	Transcript func(ctx context.Context, team, agent string) (io.ReadCloser, error)
}

// Tuning of Live: how much work a poll may do.
const (
	// reloadEvery bounds how stale the store parts get when the journal says nothing: a
	// process that died with no supervisor left to journal it, a table no event covers.
	reloadEvery = 5 * time.Second
	// gitBudget is the most git commands (one per count) a poll runs: with 64 agents a
	// merge moves every agent's "ahead", and recounting all at once would stall a poll.
	gitBudget = 4
	// statEvery is how often the agents' logs and git files are looked at (a stat each)
	// when the journal says nothing: the journal is read every poll, for the states the
	// person acts on; last lines and git counts can be a second old.
	statEvery = time.Second
	// feedKeep is how many journal events the feed keeps.
	feedKeep = 50
	// eventPage is how many events a poll reads at once.
	eventPage = 500
	// tailBytes is how much of the end of a log is read for its last line.
	tailBytes = 4096
	// conversationTail is how much of a long log a conversation starts with.
	conversationTail = 256 << 10
)

// Live is the Source and Actions of one team of an opened workspace: the store's rows, the
// agents' logs and their branches and worktrees. A poll costs one indexed query of the
// journal; once a second (or after an event) a stat of each agent's log, ref and index too.
// The store is reloaded only when the journal grew (or every reloadEvery), and git runs
// only for what those stats say changed (see orchestrator.WorkStats).
type Live struct {
	ws      *orchestrator.Workspace
	team    string
	hooks   Hooks
	now     func() time.Time
	idle    map[string]time.Duration // each agent's nudge.idle, read with the team
	streams map[string]string        // each agent's preset where its log is its CLI's stream (not tmux)

	mu        sync.Mutex // one poll at a time
	lastEvent int64      // the newest journal event seen
	events    []FeedItem // the newest feedKeep journal events
	reloaded  time.Time  // when the store parts were last read
	statted   time.Time  // when the logs and git files were last looked at
	rows      rows       // the store parts
	logs      map[string]*logTail
	git       *orchestrator.WorkStats
	snap      Snapshot
	polled    bool
}

// rows are what one reload reads from the store.
type rows struct {
	status orchestrator.Status
	agents map[string]store.Agent
	merges []store.Merge
}

// NewLive returns the dashboard's source and actions for team (already resolved) of ws;
// run runs its git commands.
func NewLive(ctx context.Context, ws *orchestrator.Workspace, run worktree.Runner, team string, hooks Hooks) (*Live, error) {
	// The dashboard's own view of the repository, whose git commands never take a lock
	// they can do without: `git status` takes index.lock to write back the stat data it
	// refreshed, and that lock makes an agent's own `git add`/`git commit`, or the merge in
	// the leader worktree, fail ("Unable to write index") when they coincide. The dashboard
	// only looks; it must never break what it watches.
	repo, err := worktree.Open(ctx, noLocks{run}, ws.Root())
	if err != nil {
		return nil, err
	}
	return &Live{
		ws: ws, team: team, hooks: hooks, now: time.Now,
		logs: map[string]*logTail{},
		git:  orchestrator.NewWorkStats(repo),
	}, nil
}

// noLocks runs git with GIT_OPTIONAL_LOCKS=0 (see NewLive).
type noLocks struct{ run worktree.Runner }

func (n noLocks) Run(ctx context.Context, dir string, env []string, argv ...string) ([]byte, error) {
	return n.run.Run(ctx, dir, append(env[:len(env):len(env)], "GIT_OPTIONAL_LOCKS=0"), argv...)
}

// Poll implements Source.
func (l *Live) Poll(ctx context.Context) (Snapshot, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	grew, err := l.readJournal(ctx)
	if err != nil {
		return l.snap, false, err
	}
	dirty := grew || !l.polled
	if dirty || now.Sub(l.reloaded) >= reloadEvery {
		if err := l.reload(ctx); err != nil {
			return l.snap, false, err
		}
		l.reloaded = now
		dirty = true
	}
	if dirty || now.Sub(l.statted) >= statEvery {
		l.statted = now
		if l.files(ctx, now) {
			dirty = true
		}
	}
	if !dirty {
		return l.snap, false, nil
	}
	snap := l.assemble(ctx)
	changed := !l.polled || !reflect.DeepEqual(snap, l.snap)
	l.snap, l.polled = snap, true
	return snap, changed, nil
}

// files looks at the agents' logs and git files, and runs the git counts they call for;
// it reports whether anything shown changed.
func (l *Live) files(ctx context.Context, now time.Time) bool {
	dirty := false
	for _, a := range l.rows.status.Agents {
		t := l.logs[a.Name]
		if t == nil {
			t = &logTail{path: l.ws.AgentLog(l.team, a.Name), preset: l.streams[a.Name]}
			l.logs[a.Name] = t
		}
		if t.refresh(now) {
			dirty = true
		}
	}
	logged := func(agent string) time.Time {
		if t := l.logs[agent]; t != nil {
			return t.grew
		}
		return time.Time{}
	}
	return l.git.Refresh(ctx, now, l.rows.status, logged, gitBudget) || dirty
}

// readJournal reads the events after the newest one seen into the feed and reports
// whether there were any. With nothing new it is one indexed query returning no row.
func (l *Live) readJournal(ctx context.Context) (bool, error) {
	grew := false
	for {
		evs, err := l.ws.Events(ctx, l.team, l.lastEvent, eventPage)
		if err != nil {
			return grew, err
		}
		for _, e := range evs {
			l.lastEvent = e.ID
			if l.hooks.Messages != nil && orchestrator.FeedKind(e.Kind) {
				continue // the feed shows it, whole
			}
			if text, ok := eventText(e); ok {
				l.events = append(l.events, FeedItem{At: e.At, Text: text})
			}
		}
		if len(l.events) > feedKeep {
			l.events = append([]FeedItem(nil), l.events[len(l.events)-feedKeep:]...)
		}
		grew = grew || len(evs) > 0
		if len(evs) < eventPage {
			return grew, nil
		}
	}
}

// reload reads the store parts of the snapshot.
func (l *Live) reload(ctx context.Context) error {
	st, err := l.ws.Status(ctx, l.team)
	if err != nil {
		return err
	}
	if l.idle == nil {
		p, err := l.ws.Plan(ctx, l.team)
		if err != nil {
			return err
		}
		l.idle, l.streams = map[string]time.Duration{}, map[string]string{}
		for _, a := range p.Members() {
			l.idle[a.Name] = a.Nudge.Idle
			if a.Mode != plan.ModeTmux {
				l.streams[a.Name] = a.Preset
			}
		}
	}
	agents, err := l.ws.Agents(ctx, l.team)
	if err != nil {
		return err
	}
	merges, err := l.ws.Merges(ctx, l.team)
	if err != nil {
		return err
	}
	byName := make(map[string]store.Agent, len(agents))
	for _, a := range agents {
		byName[a.Name] = a
	}
	l.rows = rows{status: st, agents: byName, merges: merges}
	return nil
}

// assemble builds the snapshot from the store parts, the logs, git and the hooks.
func (l *Live) assemble(ctx context.Context) Snapshot {
	st := l.rows.status
	snap := Snapshot{
		Team: st.Team, State: st.State.String(), Supervised: st.Supervised, Base: st.Base, LeaderBranch: st.LeaderBranch,
		Tasks: len(st.Tasks), Gaps: map[Part]error{},
	}
	tasks := map[string]orchestrator.TaskStatus{}
	for _, t := range st.Tasks {
		tasks[t.ID] = t
		if t.State.Finished() {
			snap.Finished++
		}
	}
	costs := map[string]Cost{}
	if l.hooks.Costs == nil {
		snap.Gaps[PartCosts] = fmt.Errorf("costs: %w", ErrNotAvailable)
	} else if c, err := l.hooks.Costs(ctx, l.team); err != nil {
		snap.Gaps[PartCosts] = fmt.Errorf("costs: %w", err)
	} else {
		costs = c
	}
	for _, a := range st.Agents {
		ag := Agent{Name: a.Name, Role: a.Role, Spawner: a.Spawner, State: a.State, Running: a.State == "running", Task: a.Task,
			Since: l.rows.agents[a.Name].Updated, Ahead: Unknown, Dirty: Unknown, CostUSD: Unknown}
		if t, ok := tasks[a.Task]; ok {
			ag.State, ag.Since = t.State.String(), t.Since
			if t.State.WaitsOnHuman() {
				ag.Detail = t.Detail
			}
		}
		if c, ok := costs[a.Name]; ok {
			ag.CostUSD, ag.CostEstimated = c.USD, c.Estimated
		}
		if t := l.logs[a.Name]; t != nil {
			ag.Last = t.last
		}
		ag.Ahead, ag.Dirty = l.git.Counts(a.Name)
		if t := l.logs[a.Name]; t != nil && ag.Running && ag.Dirty > 0 && l.idle[a.Name] > 0 && !t.grew.IsZero() &&
			l.now().Sub(t.grew) >= l.idle[a.Name] {
			ag.IdleSince = t.grew
		}
		snap.Agents = append(snap.Agents, ag)
	}
	snap.Queue = queue(st.Tasks, l.rows.merges)
	for _, p := range st.Pauses {
		snap.Pauses = append(snap.Pauses, Pause{Provider: p.Provider, Kind: p.Kind, Until: p.Until, Agents: p.Agents, Probe: p.Probe})
	}
	for _, in := range st.Incidents {
		who := in.Agent
		if who == "" {
			who = "an unknown process"
		}
		snap.Incidents = append(snap.Incidents, who+" "+in.What)
	}
	for _, b := range st.Blockers {
		if b.State == "answered" {
			continue
		}
		snap.Blockers = append(snap.Blockers, Blocker{ID: b.ID, Agent: b.Agent, Task: b.Task, Text: b.Text,
			Human: b.Human || b.State == "escalated", State: b.State})
	}
	sort.SliceStable(snap.Blockers, func(i, j int) bool { return snap.Blockers[i].Human && !snap.Blockers[j].Human })

	snap.Feed = append([]FeedItem(nil), l.events...)
	if l.hooks.Messages == nil {
		snap.Gaps[PartMessages] = fmt.Errorf("messages: %w", ErrNotAvailable)
	} else if msgs, err := l.hooks.Messages(ctx, l.team, feedKeep); err != nil {
		snap.Gaps[PartMessages] = fmt.Errorf("messages: %w", err)
	} else {
		snap.Feed = append(snap.Feed, msgs...)
		sort.SliceStable(snap.Feed, func(i, j int) bool { return snap.Feed[i].At.Before(snap.Feed[j].At) })
		if len(snap.Feed) > feedKeep {
			snap.Feed = snap.Feed[len(snap.Feed)-feedKeep:]
		}
	}
	if l.hooks.Warnings == nil {
		snap.Gaps[PartWarnings] = fmt.Errorf("conflict warnings: %w", ErrNotAvailable)
	} else if w, err := l.hooks.Warnings(ctx, l.team); err != nil {
		snap.Gaps[PartWarnings] = fmt.Errorf("conflict warnings: %w", err)
	} else {
		snap.Warnings = w
	}
	return snap
}

// queue sorts the team's tasks and merge attempts into the merge queue's columns.
func queue(tasks []orchestrator.TaskStatus, merges []store.Merge) Queue {
	var q Queue
	last := map[string]store.Merge{} // each task's latest attempt
	state := map[string]orchestrator.TaskState{}
	for _, t := range tasks {
		state[t.ID] = t.State
	}
	for _, m := range merges {
		last[m.Task] = m
		switch m.Outcome {
		case "merged":
			if state[m.Task] == orchestrator.Merged {
				q.Merged = append(q.Merged, QueueItem{Task: m.Task, Agent: m.Agent, At: m.Ended})
			}
		case "flaky":
			q.Flaky = append(q.Flaky, QueueItem{Task: m.Task, Agent: m.Agent, Why: shorten.FirstLine(m.Output), At: m.Ended})
		}
	}
	for _, t := range tasks {
		switch t.State {
		case orchestrator.Queued:
			q.Ready = append(q.Ready, QueueItem{Task: t.ID, Agent: t.Agent, At: t.Since})
		case orchestrator.Merging:
			q.Testing = append(q.Testing, QueueItem{Task: t.ID, Agent: t.Agent, At: t.Since})
		case orchestrator.Merged:
			continue
		}
		m, ok := last[t.ID]
		if !ok || t.State == orchestrator.Merged {
			continue
		}
		switch m.Outcome {
		case "refused", "conflict", "tests-failed":
			why := shorten.FirstLine(m.Output)
			if m.Outcome == "conflict" {
				why = "conflicts in " + strings.Join(strings.Fields(m.Output), ", ")
			}
			q.Refused = append(q.Refused, QueueItem{Task: t.ID, Agent: t.Agent, Why: m.Outcome + ": " + why, At: m.Ended})
		}
	}
	sort.SliceStable(q.Ready, func(i, j int) bool { return q.Ready[i].At.Before(q.Ready[j].At) })
	return q
}

// eventText is how a journal event reads in the feed; false for events too frequent or
// too internal to be worth a line (an agent process starting or ending: its task's state
// says it better).
func eventText(e store.Event) (string, bool) {
	var d struct {
		From, To, Reason, Detail string
		Outcome, Commit          string
		Files                    int
	}
	_ = json.Unmarshal([]byte(e.Data), &d) // a malformed payload leaves the line generic
	switch e.Kind {
	case "agent.state":
		return "", false
	case "task.state":
		s := fmt.Sprintf("task %s (%s): %s → %s", e.Task, e.Agent, d.From, d.To)
		if to := orchestrator.TaskState(d.To); to == orchestrator.Running || to == orchestrator.Nudging {
			if d.Reason != "" && d.Reason != "task" {
				s += " (" + d.Reason + ")"
			}
		} else if d.Detail != "" {
			s += ": " + shorten.FirstLine(d.Detail)
		}
		return s, true
	case "team.state":
		return fmt.Sprintf("team: %s → %s", d.From, d.To), true
	case "merge":
		return fmt.Sprintf("merge of %s (%s): %s", e.Task, e.Agent, d.Outcome), true
	case "commit.auto":
		return fmt.Sprintf("%s left %d file(s) uncommitted: auto-committed %s", e.Agent, d.Files, shorten.Hash(d.Commit)), true
	case "team.created":
		return "team created", true
	case "team.accepted":
		return "accepted onto base", true
	}
	s := e.Kind
	if e.Agent != "" {
		s += " " + e.Agent
	}
	if e.Task != "" {
		s += " (task " + e.Task + ")"
	}
	return s, true
}

// Answer implements Actions.
func (l *Live) Answer(ctx context.Context, blocker int64, text string) error {
	if l.hooks.Answer == nil {
		return fmt.Errorf("answering blockers: %w", ErrNotAvailable)
	}
	return l.hooks.Answer(ctx, l.team, blocker, text)
}

// Send implements Actions.
func (l *Live) Send(ctx context.Context, agent, text string) error {
	if l.hooks.Send == nil {
		return fmt.Errorf("messages: %w", ErrNotAvailable)
	}
	return l.hooks.Send(ctx, l.team, agent, text)
}

// Nudge implements Actions.
func (l *Live) Nudge(ctx context.Context, agent string) error {
	if l.hooks.Nudge == nil {
		return fmt.Errorf("nudging from the dashboard: %w", ErrNotAvailable)
	}
	return l.hooks.Nudge(ctx, l.team, agent)
}

// Conversation implements Actions: the agent's transcript when the Transcript hook gives
// one, else its log from near its end (a log may hold days of output).
func (l *Live) Conversation(ctx context.Context, agent string) (io.ReadCloser, error) {
	if l.hooks.Transcript != nil {
		r, err := l.hooks.Transcript(ctx, l.team, agent)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrNotAvailable) {
			return nil, err
		}
	}
	if _, err := l.ws.Agent(ctx, l.team, agent); err != nil {
		return nil, err
	}
	path := l.ws.AgentLog(l.team, agent)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agent %s has not been launched yet: no log at %s", agent, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", agent, err)
	}
	if err := seekTail(f, conversationTail); err != nil {
		f.Close()
		return nil, fmt.Errorf("read the log of %s: %w", agent, err)
	}
	return f, nil
}

// seekTail positions f at the start of a line near max bytes before its end.
func seekTail(f *os.File, max int64) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() <= max {
		return err
	}
	off := fi.Size() - max
	buf := make([]byte, tailBytes)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		off += int64(i) + 1
	}
	_, err = f.Seek(off, io.SeekStart)
	return err
}

// Review implements Actions: the Markdown report of `teamctl review --format md`.
func (l *Live) Review(ctx context.Context) (string, error) {
	rv, err := l.ws.Review(ctx, l.team)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := rv.WriteMarkdown(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// logTail is the last line of an agent's log, read again only when the file changed.
type logTail struct {
	path   string
	preset string // its CLI's stream, read as words; "" for a plain program (or tmux)
	stamp  orchestrator.FileStamp
	last   string
	grew   time.Time // when the log was last seen to change
}

// refresh rereads the last line if the log changed; it reports whether the line did.
func (t *logTail) refresh(now time.Time) bool {
	s := orchestrator.StampOf(t.path)
	if s == t.stamp {
		return false
	}
	t.stamp, t.grew = s, now
	last := lastLine(t.path, t.preset)
	if last == t.last {
		return false
	}
	t.last = last
	return true
}

// lastLine is the last non-blank line in the end of the file at path, cleaned for a
// terminal; "" when there is none. The log of a CLI with a stream (preset) shows what the
// agent last said or did, as teamctl logs does, not the JSON it came in.
func lastLine(path, preset string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-tailBytes, 0)
	buf := make([]byte, tailBytes)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	if preset != "" {
		if words := agentproc.LastWords(preset, buf[:n]); words != "" {
			return sanitize(words)
		}
	}
	lines := strings.Split(string(buf[:n]), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if i == 0 && off > 0 {
			break // a line cut at the start of the window
		}
		if s := strings.TrimSpace(sanitize(lines[i])); s != "" {
			return launchLine(s)
		}
	}
	return ""
}

// launchLine shortens the header line agentproc writes before each launch
// ("=== teamctl TIME: launch agent=A task=T attempt=N reason=R argv=[...]"): its time and
// argv (the whole prompt) crowd out what matters in one line.
func launchLine(s string) string {
	rest, ok := strings.CutPrefix(s, "=== teamctl ")
	if !ok {
		return s
	}
	if _, after, ok := strings.Cut(rest, ": "); ok {
		rest = after
	}
	rest, _, _ = strings.Cut(rest, " argv=")
	return "[teamctl] " + rest
}
