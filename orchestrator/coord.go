package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// ErrReserved is a path reserved by another agent (exit 4): a reservation or a commit that
// would change it is refused. It is the store's sentinel, so its errors match as they are.
var ErrReserved = store.ErrReserved

// Human is the name of the person running the team, as a participant: the identity of a
// shell without TEAMCTL_AGENT, and a recipient of messages and blockers.
const Human = "human"

// Feed limits (DESIGN.md §6).
const (
	DefaultLimit = 20
	MaxLimit     = 400
)

// Caller is who runs a coordination command, and for which team.
type Caller struct {
	Team string // --team; "" = $TEAMCTL_TEAM, else the repository's only team
	As   string // --as; "" = $TEAMCTL_AGENT, else Human
	Dir  string // where the command runs: relative paths resolve against it; "" = the repository root
}

// party is a caller resolved against the store: its team, its name, and the team as it is now.
type party struct {
	team   store.Team
	plan   *plan.Plan
	me     string
	agents []store.Agent
	tasks  []store.Task
}

// who resolves the caller: the team, and the name, which must be Human or an agent of the team.
func (w *Workspace) who(ctx context.Context, c Caller) (party, error) {
	t, err := w.ResolveTeam(ctx, c.Team)
	if err != nil {
		return party{}, err
	}
	p, err := loadPlan(t)
	if err != nil {
		return party{}, err
	}
	pa := party{team: t, plan: p, me: c.As}
	if pa.me == "" {
		pa.me = os.Getenv("TEAMCTL_AGENT")
	}
	if pa.me == "" {
		pa.me = Human
	}
	if pa.agents, err = w.Store.Agents(ctx, t.Name); err != nil {
		return party{}, err
	}
	if pa.tasks, err = w.Store.Tasks(ctx, t.Name); err != nil {
		return party{}, err
	}
	if pa.me != Human {
		if _, ok := pa.agent(pa.me); !ok {
			return party{}, fmt.Errorf("%w: you are %q (from --as or TEAMCTL_AGENT), which is no agent of team %s (%s)",
				ErrNoTeam, pa.me, t.Name, pa.names())
		}
	}
	return pa, nil
}

func (p party) agent(name string) (store.Agent, bool) {
	for _, a := range p.agents {
		if a.Name == name {
			return a, true
		}
	}
	return store.Agent{}, false
}

func (p party) names() string {
	names := []string{Human}
	for _, a := range p.agents {
		names = append(names, a.Name)
	}
	return "participants: " + strings.Join(names, ", ")
}

// unknown is the error for a name that is neither an agent of the team nor Human.
func (p party) unknown(name string) error {
	return fmt.Errorf("%w: no agent %q in team %s (%s)", ErrNoTeam, name, p.team.Name, p.names())
}

// currentTask is what the agent works on: the task it was launched for, else its first
// task that is not merged or done; "" when it has none.
func (p party) currentTask(a store.Agent) string {
	if a.Task != "" {
		return a.Task
	}
	for _, t := range p.tasks {
		if t.Agent == a.Name && !Finished(t.State) {
			return t.ID
		}
	}
	return ""
}

// inactive says why agent a reads no messages any more ("" while it does): it has no
// program (a leader without a command), or the team or the agent's every task is finished
// and its process is gone.
func (p party) inactive(a store.Agent) string {
	if pa, ok := p.plan.Agent(a.Name); ok && !pa.IsAgent() {
		return fmt.Sprintf("team %s has no leader agent (no leader command): nothing reads %s's messages; write to %s instead", p.team.Name, a.Name, Human)
	}
	if agentproc.Alive(a.PID, a.ProcStart) {
		return ""
	}
	if p.team.State == TeamFinished {
		return fmt.Sprintf("team %s has finished", p.team.Name)
	}
	if a.Role == "leader" {
		return ""
	}
	n := 0
	for _, t := range p.tasks {
		if t.Agent != a.Name {
			continue
		}
		if !Finished(t.State) {
			return ""
		}
		n++
	}
	if n == 0 {
		return "" // no task yet: the leader may give it one, and its first prompt carries its unread messages
	}
	return fmt.Sprintf("agent %s has finished its %d task(s)", a.Name, n)
}

// recipient checks that name can be written to by the caller.
func (p party) recipient(name string) error {
	if name == p.me {
		return fmt.Errorf("%w: you cannot send a message to yourself (%s)", ErrUsage, name)
	}
	if name == Human {
		return nil
	}
	a, ok := p.agent(name)
	if !ok {
		return p.unknown(name)
	}
	if why := p.inactive(a); why != "" {
		return fmt.Errorf("%w: cannot send to %s: %s", ErrUsage, name, why)
	}
	return nil
}

func messageText(text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "", fmt.Errorf("%w: the message is empty: say something", ErrUsage)
	}
	return text, nil
}

// Send sends text from the caller to one participant (an agent of the team or Human).
func (w *Workspace) Send(ctx context.Context, c Caller, to, text string) (store.Message, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Message{}, err
	}
	if text, err = messageText(text); err != nil {
		return store.Message{}, err
	}
	if err := p.recipient(to); err != nil {
		return store.Message{}, err
	}
	ms, err := w.Store.SendMessage(ctx, p.team.Name, p.me, []string{to}, false, text)
	if err != nil {
		return store.Message{}, err
	}
	return ms[0], nil
}

// Broadcast sends text from the caller to every other agent that still reads messages.
// The human is not a recipient: it reads the feed.
func (w *Workspace) Broadcast(ctx context.Context, c Caller, text string) ([]store.Message, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return nil, err
	}
	if text, err = messageText(text); err != nil {
		return nil, err
	}
	var to []string
	for _, a := range p.agents {
		if a.Name != p.me && p.inactive(a) == "" {
			to = append(to, a.Name)
		}
	}
	if len(to) == 0 {
		return nil, fmt.Errorf("%w: no other active agent in team %s to broadcast to", ErrUsage, p.team.Name)
	}
	return w.Store.SendMessage(ctx, p.team.Name, p.me, to, true, text)
}

// Inbox returns the caller's unread messages, oldest first, and marks them read: of two
// readers at once, each message goes to one.
func (w *Workspace) Inbox(ctx context.Context, c Caller) ([]store.Message, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return nil, err
	}
	return w.Store.ReadInbox(ctx, p.team.Name, p.me)
}

// limit checks a --limit: 0 is the default.
func limit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, fmt.Errorf("%w: --limit %d: want 1 to %d", ErrUsage, n, MaxLimit)
	}
	return n, nil
}

// Thread returns the newest limit messages between the caller and peer, oldest first.
func (w *Workspace) Thread(ctx context.Context, c Caller, peer string, n int) ([]store.Message, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return nil, err
	}
	if n, err = limit(n); err != nil {
		return nil, err
	}
	switch _, ok := p.agent(peer); {
	case peer == "":
		return nil, fmt.Errorf("%w: name the peer whose thread to show", ErrUsage)
	case peer == p.me:
		return nil, fmt.Errorf("%w: a thread is between you (%s) and another participant", ErrUsage, p.me)
	case peer != Human && !ok:
		return nil, p.unknown(peer)
	}
	return w.Store.Thread(ctx, p.team.Name, p.me, peer, n)
}

// FeedEntry is one coordination act of the team: a message, an intent, a reservation or
// release, a blocker and what became of it, a delegated task, a done report.
type FeedEntry struct {
	ID    int64     `json:"id"` // the journal's event id
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"` // the journal's kind: msg, intent, reserve, release, blocker.raised, ...
	From  string    `json:"from"`
	To    []string  `json:"to,omitempty"`
	Task  string    `json:"task,omitempty"`
	Text  string    `json:"text"`
	Files []string  `json:"files,omitempty"`
}

// feedKinds are the journal's coordination events.
var feedKinds = []string{"msg", "intent", "reserve", "release", "blocker.raised", "blocker.answered",
	"blocker.escalated", "task.added", "task.reported", "commit.refused"}

// FeedKind says whether the journal's events of kind are in the feed.
func FeedKind(kind string) bool { return slices.Contains(feedKinds, kind) }

// Feed returns the team's newest n coordination acts, oldest first (0: DefaultLimit).
func (w *Workspace) Feed(ctx context.Context, c Caller, n int) ([]FeedEntry, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return nil, err
	}
	if n, err = limit(n); err != nil {
		return nil, err
	}
	events, err := w.Store.EventsOfKinds(ctx, p.team.Name, feedKinds, n)
	if err != nil {
		return nil, err
	}
	out := make([]FeedEntry, 0, len(events))
	for _, e := range events {
		out = append(out, feedEntry(e))
	}
	return out, nil
}

// feedEntry renders one journal event; the journal's data is this package's and the
// store's own JSON, so a field that fails to decode is left empty rather than failing the feed.
func feedEntry(e store.Event) FeedEntry {
	var d struct {
		To        []string `json:"to"`
		Broadcast bool     `json:"broadcast"`
		Text      string   `json:"text"`
		Files     []string `json:"files"`
		Reason    string   `json:"reason"`
		Why       string   `json:"why"`
		By        string   `json:"by"`
		Blocked   string   `json:"blocked"`
		ID        int64    `json:"id"`
		Human     bool     `json:"human"`
		Answer    string   `json:"answer"`
		From      string   `json:"from"`
		Summary   string   `json:"summary"`
		Refused   string   `json:"refused"`
		Granted   []struct {
			Path  string `json:"path"`
			Token int64  `json:"token"`
		} `json:"granted"`
		Kept []struct {
			Path  string `json:"path"`
			Token int64  `json:"token"`
		} `json:"kept"`
		Paths []struct {
			Path  string `json:"path"`
			Token int64  `json:"token"`
		} `json:"paths"`
		After []string `json:"after"`
	}
	_ = json.Unmarshal([]byte(e.Data), &d)
	f := FeedEntry{ID: e.ID, At: e.At, Kind: e.Kind, From: e.Agent, Task: e.Task}
	switch e.Kind {
	case "msg":
		f.To, f.Text = d.To, d.Text
		if d.Broadcast {
			f.To = []string{"*"}
		}
	case "intent":
		f.Text, f.Files = d.Text, d.Files
	case "reserve":
		for _, g := range append(d.Granted, d.Kept...) {
			f.Files = append(f.Files, g.Path)
		}
		f.Text = "reserved " + strings.Join(f.Files, ", ")
		if d.Reason != "" {
			f.Text += ": " + d.Reason
		}
	case "release":
		for _, g := range d.Paths {
			f.Files = append(f.Files, g.Path)
		}
		f.From = d.By
		f.Text = "released " + strings.Join(f.Files, ", ") + " of " + e.Agent + " (" + d.Why + ")"
	case "blocker.raised":
		to := "the leader"
		if d.Human {
			to = Human
		}
		f.Text = fmt.Sprintf("blocker %d for %s: %s", d.ID, to, d.Text)
	case "blocker.answered":
		f.To = []string{d.Blocked}
		f.Text = fmt.Sprintf("answered blocker %d: %s", d.ID, d.Answer)
	case "blocker.escalated":
		f.To = []string{Human}
		f.Text = fmt.Sprintf("escalated blocker %d of %s: %s", d.ID, d.From, d.Text)
	case "task.added":
		f.From, f.To = "", []string{e.Agent}
		f.Text = "task " + e.Task + " added for " + e.Agent
		if len(d.After) > 0 {
			f.Text += ", after " + strings.Join(d.After, ", ")
		}
	case "task.reported":
		f.Text = "done: " + d.Summary
	case "commit.refused":
		f.Files = d.Files
		f.Text = "commit refused: " + d.Refused
	}
	return f
}

// repoPath turns a path typed in dir into a repo-relative one: relative to the worktree
// that holds dir (any worktree of the repository has the same layout; dir "" is the top of
// one), a trailing "/" kept (a directory prefix). Absolute paths and paths that leave the
// repository are refused.
func repoPath(dir, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path: name a file, or a directory with a trailing /", ErrUsage)
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: path %q is absolute: give it relative to the repository root (or to the current directory inside a worktree)", ErrUsage, p)
	}
	prefix := ""
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if top, ok := worktreeTop(abs); ok {
			if prefix, err = filepath.Rel(top, abs); err != nil {
				return "", fmt.Errorf("resolve %s: %w", p, err)
			}
		}
	}
	slash := filepath.ToSlash(p)
	isDir := strings.HasSuffix(slash, "/") || path.Base(slash) == "." || path.Base(slash) == ".."
	joined := path.Join(filepath.ToSlash(prefix), slash)
	if isDir {
		joined += "/"
	}
	n, err := plan.NormalisePath(joined)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return n, nil
}

// worktreeTop is the top level of the git worktree holding dir: the nearest directory with
// a .git entry (a directory in the main worktree, a file in a linked one).
func worktreeTop(dir string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// repoPaths resolves every path (see repoPath), dropping duplicates.
func repoPaths(dir string, ps []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		n, err := repoPath(dir, p)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Reserve reserves paths for the caller, all or none: a path ending in "/" reserves
// everything under it. A conflict with another agent's live reservation is refused with
// an error matching ErrReserved that names holder and reason. The reservation lasts while
// the caller's process (the agent's recorded process) lives and its task runs, or until
// released; a holder whose process is gone loses it to the next claimant.
func (w *Workspace) Reserve(ctx context.Context, c Caller, paths []string, reason string) ([]store.Reservation, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: name the paths to reserve (a directory with a trailing /)", ErrUsage)
	}
	ps, err := repoPaths(c.Dir, paths)
	if err != nil {
		return nil, err
	}
	req := store.ReserveRequest{Team: p.team.Name, Agent: p.me, Paths: ps, Reason: reason, Alive: agentproc.Alive}
	req.PID, req.ProcStart = agentGroup(c, p.me)
	rs, err := w.Store.Reserve(ctx, req)
	if re, ok := errors.AsType[*store.ReservedError](err); ok {
		holder := re.Conflicts[0].Held.Agent
		return nil, fmt.Errorf("nothing reserved: %w; ask %s (teamctl msg send --to %s) or work elsewhere", err, holder, holder)
	}
	return rs, err
}

// agentGroup is the agent process this command runs under, when it runs under one: an
// agent is started as the leader of its own process group (agentproc), and the commands it
// runs stay in that group. It matters only in the moment after a launch, before the
// supervisor has recorded the agent's pid; the store prefers the recorded one. Only a
// caller identified by TEAMCTL_AGENT (not --as) counts, and never a group this process
// leads itself (a command typed in an interactive shell).
func agentGroup(c Caller, me string) (int, int64) {
	if c.As != "" || me == Human || os.Getenv("TEAMCTL_AGENT") != me {
		return 0, 0
	}
	pgid := syscall.Getpgrp()
	if pgid == os.Getpid() || pgid <= 1 {
		return 0, 0
	}
	// The group leader must be the agent itself: started by teamctl with TEAMCTL_AGENT=me
	// in the environment it was executed with.
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pgid))
	if err != nil || !bytes.Contains(append([]byte{0}, env...), []byte("\x00TEAMCTL_AGENT="+me+"\x00")) {
		return 0, 0
	}
	start, err := agentproc.StartTime(pgid)
	if err != nil {
		return 0, 0
	}
	return pgid, start
}

// Release ends the caller's reservations of paths (as reserved), or all of its
// reservations when paths is empty. Nothing is released when one path is not held.
func (w *Workspace) Release(ctx context.Context, c Caller, paths []string) ([]store.Reservation, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return nil, err
	}
	ps, err := repoPaths(c.Dir, paths)
	if err != nil {
		return nil, err
	}
	rs, err := w.Store.Release(ctx, p.team.Name, p.me, ps, "released by "+p.me)
	if errors.Is(err, store.ErrNotHeld) {
		return nil, fmt.Errorf("%w: nothing released: %v", ErrUsage, err)
	}
	return rs, err
}

// Reservations lists the team's live reservations by path.
func (w *Workspace) Reservations(ctx context.Context, c Caller) ([]store.Reservation, error) {
	t, err := w.ResolveTeam(ctx, c.Team)
	if err != nil {
		return nil, err
	}
	return w.ActiveReservations(ctx, t.Name)
}

// ActiveReservations lists a team's live reservations: leases whose holder process is gone
// or whose task has moved on are released on the way. The merge step checks a branch's
// files against these (ReservedConflict).
func (w *Workspace) ActiveReservations(ctx context.Context, team string) ([]store.Reservation, error) {
	return w.Store.Reservations(ctx, team, agentproc.Alive)
}

// ReservedConflict is the reason to refuse a branch of agent that changes files (repo-relative)
// when one of them is reserved by another agent in res; "" when none is.
func ReservedConflict(files []string, agent string, res []store.Reservation) string {
	f, r, ok := store.FirstConflict(files, agent, res)
	if !ok {
		return ""
	}
	return fmt.Sprintf("changes %s, which %s has reserved (%s)", f, r.Agent, describe(r))
}

// describe is a reservation as a person reads it: path, reason, token.
func describe(r store.Reservation) string {
	s := r.Path
	if r.Reason != "" {
		s += fmt.Sprintf(": %q", r.Reason)
	}
	return s + fmt.Sprintf(", token %d", r.Token)
}

// RaiseBlocker records a blocker of the calling agent on its current task. It goes to the
// leader agent, or to a person when human is set, when the team has no leader agent, or
// when the leader raises it.
func (w *Workspace) RaiseBlocker(ctx context.Context, c Caller, text string, human bool) (store.Blocker, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Blocker{}, err
	}
	if p.me == Human {
		return store.Blocker{}, fmt.Errorf("%w: blockers are raised by agents (set TEAMCTL_AGENT or --as); a person answers them", ErrUsage)
	}
	if strings.TrimSpace(text) == "" {
		return store.Blocker{}, fmt.Errorf("%w: the blocker is empty: say what you need", ErrUsage)
	}
	a, _ := p.agent(p.me)
	if !p.plan.Leader.IsAgent() || a.Role == "leader" {
		human = true
	}
	return w.Store.RaiseBlocker(ctx, store.Blocker{Team: p.team.Name, Agent: p.me, Task: p.currentTask(a), Text: text, Human: human})
}

// Blockers lists the team's blockers, those for a person first; all of them with all,
// else only those waiting for an answer.
func (w *Workspace) Blockers(ctx context.Context, c Caller, all bool) ([]store.Blocker, error) {
	t, err := w.ResolveTeam(ctx, c.Team)
	if err != nil {
		return nil, err
	}
	if all {
		return w.Store.Blockers(ctx, t.Name)
	}
	return w.Store.OpenBlockers(ctx, t.Name)
}

// blocker reads blocker id of the caller's team; ErrNoTeam when there is none.
func (w *Workspace) blocker(ctx context.Context, p party, id int64) (store.Blocker, error) {
	b, err := w.Store.Blocker(ctx, p.team.Name, id)
	if errors.Is(err, store.ErrNotFound) {
		return b, fmt.Errorf("%w: no blocker %d in team %s (teamctl blockers lists them)", ErrNoTeam, id, p.team.Name)
	}
	return b, err
}

func (p party) isLeader() bool { return p.me == p.plan.Leader.Name }

// Answer answers blocker id: the leader answers those raised for it, a person any. The
// answer is recorded durably; the supervisor (now, or on resume) relaunches the blocked
// agent with TEAMCTL_REASON=answer and the answer in its prompt.
func (w *Workspace) Answer(ctx context.Context, c Caller, id int64, text string) (store.Blocker, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Blocker{}, err
	}
	if strings.TrimSpace(text) == "" {
		return store.Blocker{}, fmt.Errorf("%w: the answer is empty", ErrUsage)
	}
	b, err := w.blocker(ctx, p, id)
	if err != nil {
		return b, err
	}
	switch {
	case p.me == Human:
	case b.Human:
		return b, fmt.Errorf("%w: blocker %d waits for a person; only %s answers it", ErrUsage, id, Human)
	case !p.isLeader():
		return b, fmt.Errorf("%w: blocker %d is for the leader (%s) to answer, not %s", ErrUsage, id, p.plan.Leader.Name, p.me)
	}
	b, err = w.Store.AnswerBlocker(ctx, p.team.Name, id, p.me, text)
	if errors.Is(err, store.ErrAnswered) {
		return b, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return b, err
}

// Escalate passes blocker id on from the leader to a person.
func (w *Workspace) Escalate(ctx context.Context, c Caller, id int64) (store.Blocker, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Blocker{}, err
	}
	b, err := w.blocker(ctx, p, id)
	if err != nil {
		return b, err
	}
	switch {
	case !p.isLeader():
		return b, fmt.Errorf("%w: only the leader (%s) escalates a blocker to a person; %s is not it", ErrUsage, p.plan.Leader.Name, p.me)
	case b.State == store.BlockerAnswered:
		return b, fmt.Errorf("%w: blocker %d was answered by %s", ErrUsage, id, b.AnsweredBy)
	case b.Human:
		return b, fmt.Errorf("%w: blocker %d already waits for a person", ErrUsage, id)
	}
	return w.Store.EscalateBlocker(ctx, p.team.Name, id, p.me)
}

// Intent records what the caller is about to do (files, if any, repo-relative): it shows
// in the feed and grants nothing.
func (w *Workspace) Intent(ctx context.Context, c Caller, text string, files []string) (store.Intent, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Intent{}, err
	}
	if strings.TrimSpace(text) == "" {
		return store.Intent{}, fmt.Errorf("%w: the intent is empty: say what you are about to do", ErrUsage)
	}
	fs, err := repoPaths(c.Dir, files)
	if err != nil {
		return store.Intent{}, err
	}
	task := ""
	if a, ok := p.agent(p.me); ok {
		task = p.currentTask(a)
	}
	return w.Store.RecordIntent(ctx, store.Intent{Team: p.team.Name, Agent: p.me, Task: task, Text: text, Files: fs})
}

// ReportDone stores the calling agent's report on its current task (`teamctl done`).
func (w *Workspace) ReportDone(ctx context.Context, c Caller, summary string) (store.Task, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Task{}, err
	}
	a, ok := p.agent(p.me)
	if !ok {
		return store.Task{}, fmt.Errorf("%w: done is an agent's word on its task (set TEAMCTL_AGENT or --as)", ErrUsage)
	}
	task := p.currentTask(a)
	if task == "" {
		return store.Task{}, fmt.Errorf("%w: agent %s has no task to report on", ErrUsage, p.me)
	}
	return w.Store.ReportDone(ctx, p.team.Name, task, p.me, summary)
}

// AddTaskOptions are the options of `teamctl task add`.
type AddTaskOptions struct {
	Agent  string
	ID     string
	Prompt string
	After  []string
}

// AddTask delegates a new task to a dev agent: the leader or a person may. A running
// supervisor picks it up; a stopped team on resume.
func (w *Workspace) AddTask(ctx context.Context, c Caller, o AddTaskOptions) (store.Task, error) {
	p, err := w.who(ctx, c)
	if err != nil {
		return store.Task{}, err
	}
	if p.me != Human && !p.isLeader() {
		return store.Task{}, fmt.Errorf("%w: only the leader (%s) or a person adds tasks; %s can ask the leader (teamctl msg send --to %s)",
			ErrUsage, p.plan.Leader.Name, p.me, p.plan.Leader.Name)
	}
	if !plan.ValidName(o.ID) {
		return store.Task{}, fmt.Errorf("%w: task id %q: must match [a-z0-9][a-z0-9-]{0,39}", ErrUsage, o.ID)
	}
	if plan.ReservedTaskID(o.ID) {
		return store.Task{}, fmt.Errorf("%w: task id %q is reserved for the leader's own tasks: choose another", ErrUsage, o.ID)
	}
	if strings.TrimSpace(o.Prompt) == "" {
		return store.Task{}, fmt.Errorf("%w: the task's prompt is empty: say what to do", ErrUsage)
	}
	a, ok := p.agent(o.Agent)
	if !ok {
		return store.Task{}, p.unknown(o.Agent)
	}
	if a.Role != "dev" {
		return store.Task{}, fmt.Errorf("%w: %s is the leader: tasks go to dev agents", ErrUsage, o.Agent)
	}
	ids := map[string]bool{}
	for _, t := range p.tasks {
		ids[t.ID] = true
	}
	for _, dep := range o.After {
		if !ids[dep] {
			return store.Task{}, fmt.Errorf("%w: --after %s: no such task in team %s", ErrUsage, dep, p.team.Name)
		}
	}
	t := store.Task{Team: p.team.Name, ID: o.ID, Agent: o.Agent, Prompt: o.Prompt, After: o.After, State: Pending}
	err = w.Store.AddTask(ctx, t)
	if errors.Is(err, store.ErrExists) {
		return store.Task{}, fmt.Errorf("%w: team %s already has a task %q: pick another id", ErrUsage, p.team.Name, o.ID)
	}
	if err != nil {
		return store.Task{}, err
	}
	return w.Store.Task(ctx, p.team.Name, o.ID)
}

// InstallCommitHook installs, in the agent's linked worktree, the pre-commit hook that runs
// `teamctl hook pre-commit` (CheckCommit) before the repository's own pre-commit hook.
// The user's main worktree keeps its hooks untouched. Call it right after AddWorktree.
func (w *Workspace) InstallCommitHook(ctx context.Context, team, agent, worktreeDir string) error {
	bin := "teamctl"
	if w.env.BinDir != "" {
		bin = filepath.Join(w.env.BinDir, "teamctl")
	}
	return w.Repo.InstallAgentHooks(ctx, worktreeDir, []string{bin, "hook", "pre-commit", "--team", team, "--agent", agent})
}

// InstallCommitHooks installs the commit hook (InstallCommitHook) in every agent worktree
// of the team that exists, the leader's included; resume can use it for a team created
// before the hooks existed. It returns the worktrees it installed in.
func (w *Workspace) InstallCommitHooks(ctx context.Context, team string) ([]string, error) {
	t, err := w.ResolveTeam(ctx, team)
	if err != nil {
		return nil, err
	}
	agents, err := w.Store.Agents(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, a := range agents {
		if _, err := os.Stat(a.Worktree); err != nil {
			continue
		}
		if err := w.InstallCommitHook(ctx, t.Name, a.Name, a.Worktree); err != nil {
			return done, err
		}
		done = append(done, a.Worktree)
	}
	return done, nil
}

// CommitCheck is what the pre-commit hook checked: the files of the commit against the
// team's reservations. Tokens are the fencing tokens of the agent's own reservations that
// cover some of the files; Seen the newest token granted in the store when it checked, so
// a later grant can be told from one the commit was checked against.
type CommitCheck struct {
	Team    string   `json:"team"`
	Agent   string   `json:"agent"`
	Files   []string `json:"files"`
	Tokens  []int64  `json:"tokens,omitempty"`
	Seen    int64    `json:"seen"`
	Refused string   `json:"refused,omitempty"`
}

// CheckCommit checks the commit being made in the worktree dir by agent of team: refused
// (an error matching ErrReserved, naming holder and reason) when it changes a path another
// agent holds a live reservation on. The check is journaled ("commit.check", or
// "commit.refused" with the reason), tokens included.
func (w *Workspace) CheckCommit(ctx context.Context, team, agent, dir string) (CommitCheck, error) {
	t, err := w.ResolveTeam(ctx, team)
	if err != nil {
		return CommitCheck{}, err
	}
	files, err := w.Repo.StagedFiles(ctx, dir)
	if err != nil {
		return CommitCheck{}, err
	}
	cc := CommitCheck{Team: t.Name, Agent: agent, Files: files}
	if cc.Seen, err = w.Store.LatestToken(ctx); err != nil {
		return cc, err
	}
	res, err := w.ActiveReservations(ctx, t.Name)
	if err != nil {
		return cc, err
	}
	for _, r := range res {
		if r.Agent != agent {
			continue
		}
		for _, f := range files {
			if store.Overlaps(r.Path, f) {
				cc.Tokens = append(cc.Tokens, r.Token)
				break
			}
		}
	}
	cc.Refused = ReservedConflict(files, agent, res)
	kind := "commit.check"
	if cc.Refused != "" {
		kind = "commit.refused"
	}
	data, err := json.Marshal(cc)
	if err != nil {
		return cc, err
	}
	if _, err := w.Store.AppendEvent(ctx, store.Event{Team: t.Name, Kind: kind, Agent: agent, Data: string(data)}); err != nil {
		return cc, err
	}
	if cc.Refused != "" {
		f, r, _ := store.FirstConflict(files, agent, res)
		return cc, reservedError(fmt.Sprintf("commit refused: it %s; unstage it (git restore --staged -- %s) or ask %s (teamctl msg send --to %s)",
			cc.Refused, f, r.Agent, r.Agent))
	}
	return cc, nil
}

// reservedError is a refusal because of another agent's reservation, said in full by its
// text: errors.Is(err, ErrReserved) holds.
type reservedError string

func (e reservedError) Error() string        { return string(e) }
func (e reservedError) Is(target error) bool { return target == ErrReserved }
