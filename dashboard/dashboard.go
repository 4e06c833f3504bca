// Package dashboard is `teamctl watch`: a live terminal view of one team (its agents, merge
// queue, blockers waiting on the human, message feed and early conflict warnings) from which
// a person opens any agent's conversation, answers blockers, messages and nudges agents.
//
// The view (a bubbletea model) knows the team only through two small interfaces: a Source
// that loads a Snapshot, cheaply when nothing changed, and Actions for what the keys do.
// Live implements both over an orchestrator.Workspace.
package dashboard

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/teamctl/teamctl/orchestrator"
)

// ErrNotAvailable is a part of the dashboard whose feature this teamctl does not provide
// yet (or a hook the caller left nil). The view shows it in place of the part.
var ErrNotAvailable = errors.New("not available yet")

// Unknown is a count or cost that has not been measured (yet).
const Unknown = orchestrator.Unknown

// Snapshot is everything the dashboard shows, read at one moment.
type Snapshot struct {
	Team         string
	State        string // the team's: creating, running, waiting, stopped, finished, crashed
	Supervised   bool   // a supervisor process holds the team
	Base         string
	LeaderBranch string
	Tasks        int // tasks in the team
	Finished     int // tasks merged or done
	Agents       []Agent
	Queue        Queue
	Blockers     []Blocker  // open blockers, those waiting on the human first
	Feed         []FeedItem // messages and journal events, oldest first
	Warnings     []Warning  // conflicts coming between live branches
	Pauses       []Pause    // providers nothing is launched into until they come back
	Incidents    []string   // agents' attempts teamctl refused or undid, newest last, as one line each
	// Gaps says why a part is empty or partial: errors.Is(err, ErrNotAvailable) while the
	// feature that fills it has not landed, another error when loading it failed.
	Gaps map[Part]error
}

// Pause is one provider's pause (a usage limit, an overload): its agents wait until Until.
type Pause struct {
	Provider string // the preset, or a custom command's program
	Kind     string // limit, overload, network
	Until    time.Time
	Agents   int    // agents whose task waits on it
	Probe    string // the agent that tries it first, once until has come
}

// Part names a part of a Snapshot that may be missing.
type Part string

const (
	PartMessages Part = "messages"
	PartWarnings Part = "warnings"
	PartCosts    Part = "costs"
)

// Agent is one agent's line on the dashboard.
type Agent struct {
	Name    string
	Role    string // "leader" or "dev"
	State   string // its task's state while it has one (running, queued, blocked...), else its process's (idle, stopped, gone)
	Running bool   // its process lives
	Task    string
	Since   time.Time // when it entered State
	Spawner string    // a worker of teamctl spawn: the agent it works for; "" otherwise
	Ahead   int       // commits on its branch not on the leader branch (the leader: not on base); Unknown until counted
	Dirty   int       // uncommitted files in its worktree; Unknown until counted
	CostUSD float64   // what its model calls cost so far; Unknown when not reported
	// CostEstimated says some of CostUSD is priced from token counts (its CLI has not given
	// its own figure yet, or gives none): shown as "~$0.04".
	CostEstimated bool
	Last          string // the last line of its output
	// IdleSince is set while it runs with uncommitted files and its output has not grown
	// for its nudge.idle: since when its output has been still (DESIGN.md §4: a headless
	// agent's idleness is shown, an interactive one's is nudged).
	IdleSince time.Time
	Detail    string // why it waits, when it does
}

// Queue is the merge queue.
type Queue struct {
	Ready   []QueueItem // queued for merging, oldest first
	Testing []QueueItem // being merged and tested now
	Merged  []QueueItem // merged into the leader branch, oldest first
	Refused []QueueItem // whose last attempt was refused, conflicted or failed the tests; Why says why
	Flaky   []QueueItem // test failures that did not reproduce on a rerun
}

// QueueItem is one task in the merge queue.
type QueueItem struct {
	Task  string
	Agent string
	Why   string
	At    time.Time
}

// Blocker is an open question an agent cannot get past alone.
type Blocker struct {
	ID    int64
	Agent string
	Task  string
	Text  string
	Human bool   // waits on the human (raised with --human, or escalated by the leader)
	State string // "open", "escalated"
}

// FeedItem is a message between agents (From and To set; To "*" for a broadcast) or a
// journal event (From and To empty).
type FeedItem struct {
	At   time.Time
	From string
	To   string
	Text string
}

// Warning is a conflict coming between two live branches, seen before either is done.
type Warning struct {
	Agents []string
	Files  []string
}

// Source loads the team for the dashboard.
type Source interface {
	// Poll returns the team as it is now and whether it changed since the previous call.
	// It is called every few hundred milliseconds and must be cheap when nothing changed.
	Poll(ctx context.Context) (Snapshot, bool, error)
}

// Actions are what the dashboard's keys do. Each may return an error wrapping
// ErrNotAvailable; the view shows it.
type Actions interface {
	// Answer answers blocker id with text: the blocked agent is relaunched with it.
	Answer(ctx context.Context, blocker int64, text string) error
	// Send sends a message from the human to agent.
	Send(ctx context.Context, agent, text string) error
	// Nudge asks agent to carry on (or commit what it has).
	Nudge(ctx context.Context, agent string) error
	// Conversation opens agent's conversation: its readable transcript when its agent CLI
	// gives one, else its log. Read returning io.EOF means nothing more for now: the view
	// reads again a little later, so the conversation follows live. Close ends it.
	Conversation(ctx context.Context, agent string) (io.ReadCloser, error)
	// Review is the report of what the team merged, as text.
	Review(ctx context.Context) (string, error)
}
