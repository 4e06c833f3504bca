// Package plan owns the plan file: its schema, strict parsing with file:line:col errors,
// validation and defaults. It knows nothing of git, processes or the store.
package plan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// DefaultLeader is the leader's name when the plan gives none.
const DefaultLeader = "lead"

// presets are the known agent CLIs a plan may name with `preset:` (agentproc gives their
// argv). Unexported, so that no importer can change what every plan may say.
var presets = []string{"claude", "codex", "gemini", "opencode", "pi", "aider"}

// Presets is every preset a plan may name, in the order messages list them. The slice is
// the caller's own.
func Presets() []string { return slices.Clone(presets) }

// Modes an agent may run in (`mode:`): its CLI's headless mode, or its own interface in a
// tmux session teamctl types nudges into.
const (
	ModeHeadless = "headless"
	ModeTmux     = "tmux"
)

// modes is every mode, in the order messages list them (unexported: see presets).
var modes = []string{ModeHeadless, ModeTmux}

// Modes is every mode an agent may run in, in the order messages list them. The slice is
// the caller's own.
func Modes() []string { return slices.Clone(modes) }

// ErrInvalid is matched (errors.Is) by every error Load and Parse return, so callers map it to exit 2.
var ErrInvalid = errors.New("invalid plan")

// Error is one problem in a plan file, located at File:Line:Col (1-based).
type Error struct {
	File      string
	Line, Col int
	Msg       string

	err error // what Errorf wrapped with %w, if anything
}

// Error renders "file:line:col: msg" ("line:col: msg" for a plan parsed without a name).
func (e *Error) Error() string {
	if e.File == "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the error an Errorf format wrapped with %w, so a caller that located a
// disk problem in the plan (a missing base branch) can still match its cause.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in one plan file, in file order. It is what Load and Parse
// return when the plan is invalid; Error() joins them one per line.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 0 {
		return ErrInvalid.Error()
	}
	// A mistake repeated a thousand times (an alias reused) is told by its first few.
	const shown = 20
	lines := make([]string, 0, min(len(es), shown)+1)
	for i, e := range es {
		if i == shown {
			lines = append(lines, fmt.Sprintf("… and %d more problem(s) in %s", len(es)-shown, e.File))
			break
		}
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

func (es Errors) Is(target error) bool { return target == ErrInvalid }

// Plan is a parsed, validated plan with every default filled in.
type Plan struct {
	File        string        // absolute path of the plan file ("" when parsed from memory without a name)
	Version     int           // always 1
	Team        string        // [a-z0-9][a-z0-9-]{0,39}
	Repo        string        // absolute path; default: the directory holding the plan file
	Base        string        // "" = the repo's current branch (resolved by the caller)
	Test        string        // shell command run with sh -c; "" = no test
	TestTimeout time.Duration // default 10m
	Worktrees   string        // absolute root for worktrees; "" = default (<repo-parent>/<repo-name>.teamctl)
	Escalate    []string      // argv run when a blocker reaches the human; nil = none
	MaxParallel int           // most agents running at once; 0 = all
	Merge       Merge
	Spawn       Spawn            // what teamctl spawn may start (DESIGN.md §13)
	Budget      Budget           // the whole team's limit; zero fields are no limit
	Prices      map[string]Price // budget.prices: per model, what the agents' token counts cost where their CLI gives no cost; nil = the presets' tables
	Limits      Limits           // the plan's own words for its agents' provider errors
	Copy        []string         // files copied from the main worktree into every agent's (ignored ones like .env); repo-relative, "dir/" copies a directory
	Sandbox     Sandbox          // how agents are confined (DESIGN.md §11)
	Notify      Notify           // where the person is told what needs them (DESIGN.md §12)
	Leader      Agent            // Role "leader"; Name defaults to "lead"
	Agents      []Agent          // the dev agents (Role "dev"), in file order
	// Depth is how deep in teams the teamctl run that made the team ran (its
	// TEAMCTL_DEPTH; never written in a plan file): the team's agents are one deeper.
	Depth int `json:",omitempty"`

	pos map[string]Position // key path ("repo", "base", "agents.0.command", ...) → where it was written
	// name is the plan file as the user named it: messages show what they typed, not
	// the absolute File.
	name string
}

// Position is a 1-based line and column in the plan file.
type Position struct{ Line, Col int }

// SandboxMode is how agents are confined: sandbox.mode.
type SandboxMode string

const (
	SandboxDefault  SandboxMode = ""         // not written: Landlock where the kernel has it, else a warning at start
	SandboxLandlock SandboxMode = "landlock" // Landlock; a run refuses to start where the kernel has none
	SandboxOff      SandboxMode = "off"      // not confined, said on purpose: no warning
)

// Sandbox holds the `sandbox:` options.
type Sandbox struct {
	Mode       SandboxMode
	AllowWrite []string // absolute paths every agent may write besides its own (DESIGN.md §11)
}

// Notify holds the `notify:` options: where what needs the person is sent.
type Notify struct {
	Ntfy    string        // an ntfy topic URL (https://ntfy.sh/TOPIC): a phone with the ntfy app, no account
	Webhook string        // a URL that takes JSON (Slack-compatible: a "text" field)
	Desktop bool          // notify-send, or osascript on macOS, where there is one
	Command []string      // a command, the notice in TEAMCTL_NOTIFY_* variables
	Repeat  time.Duration // an unanswered blocker is sent again after this (at most twice); 0: DefaultNotifyRepeat
	Link    string        // the base URL of teamctl serve for links; "": the last serve's
}

// DefaultNotifyRepeat is how long an unanswered blocker waits before it is sent again.
const DefaultNotifyRepeat = 4 * time.Hour

// Any says whether anything is to be notified.
func (n Notify) Any() bool { return n.Ntfy != "" || n.Webhook != "" || n.Desktop || len(n.Command) > 0 }

// Merge holds the `merge:` options.
type Merge struct {
	Batch       int // most branches merged and tested together; default 8
	TestRetries int // reruns of a failing test to tell a flaky test from a bad branch; default 1
	// Settle is how long a batch waits for more branches while other agents still work:
	// 0 is "auto" (a quarter of a test run as measured, 1 s before the first; also what a
	// plan stored before the key has), NoSettle is off (`settle: 0s`).
	Settle time.Duration
	// Parallel is how many candidate test runs may run at once, each in a leader worktree
	// of its own kept warm; 0 and 1 are one at a time.
	Parallel int
}

// NoSettle is merge.settle: 0s, a batch that never waits for more branches.
const NoSettle time.Duration = -1

// Spawn holds the `spawn:` options: the limits of teamctl spawn, an agent's own workers.
// A zero field is its default (a plan stored before the key existed has none).
type Spawn struct {
	MaxTasks    int // tasks (workers) one call may start; default 8
	Concurrency int // most workers of one call running at once (and at most its tasks); default 4
	MaxDepth    int // a caller this deep in teams may not spawn (an agent of the team is 1); default 2
}

// Limits is s with the defaults in place of zero fields.
func (s Spawn) Limits() Spawn {
	if s.MaxTasks <= 0 {
		s.MaxTasks = DefaultSpawnTasks
	}
	if s.Concurrency <= 0 {
		s.Concurrency = DefaultSpawnConcurrency
	}
	if s.MaxDepth <= 0 {
		s.MaxDepth = DefaultSpawnDepth
	}
	return s
}

// The defaults of spawn:.
const (
	DefaultSpawnTasks       = 8
	DefaultSpawnConcurrency = 4
	DefaultSpawnDepth       = 2
)

// Agent is one agent after defaults were applied.
type Agent struct {
	Name    string
	Role    string            // "leader" or "dev"
	Command []string          // argv template (text/template over the launch fields); nil when Preset is set or the leader has no agent
	Preset  string            // one of Presets(), or ""
	Env     map[string]string // defaults.env merged with the agent's own (agent wins); never nil
	Timeout time.Duration     // one launch; default 30m
	Retries int               // relaunches after a failed exit; default 1
	Nudge   Nudge
	Mode    string   // ModeHeadless (default) or ModeTmux
	Setup   string   // shell command (sh -c) run in the worktree before the agent's first launch; "" = none
	Budget  Budget   // this agent's limit, per key over defaults'; zero fields are no limit
	Owns    []string // normalised repo-relative slash paths; a directory keeps its trailing "/"
	Prompt  string   // the leader's prompt (the team's goal); "" for devs
	Tasks   []Task   // devs only, in file order
	// A worker teamctl spawn started (never written in a plan file): the agent that spawned
	// it, whose branch it is made from and merged into; the call's number among that
	// agent's spawns, and how many of the call's workers run at once.
	Spawner     string `json:",omitempty"`
	SpawnCall   int    `json:",omitempty"`
	Concurrency int    `json:",omitempty"`
}

// IsAgent reports whether this agent has a program to launch. A leader without one is not
// launched: the orchestrator merges alone and blockers go to the human.
func (a Agent) IsAgent() bool { return len(a.Command) > 0 || a.Preset != "" }

// Nudge holds the `nudge:` options.
type Nudge struct {
	Idle       time.Duration // default 2m
	Max        int           // relaunches with reason nudge; default 2
	AutoCommit bool          // default true
}

// Budget is a spending limit over what the agents' CLIs report they used. A zero field
// is no limit.
type Budget struct {
	USD    float64 // cost in US dollars
	Tokens int64   // input and output tokens together
}

// Price is what one million tokens cost, in US dollars (budget.prices.MODEL).
type Price struct {
	Input      float64
	Output     float64
	CacheRead  float64
	CacheWrite float64
}

// Limits holds the `limits:` options: what a provider error looks like in an agent's
// output where teamctl's presets do not know it (a custom command), and how agents come
// back after a pause.
type Limits struct {
	Patterns []LimitPattern
	Stagger  time.Duration // between the agents relaunched after a pause; default 2s
	// Backoff is the first wait on a limit whose reset time the provider did not say
	// (half of it on an overload), doubling on each limit met again up to MaxBackoff.
	Backoff    time.Duration // default 1m
	MaxBackoff time.Duration // default 30m
}

// LimitPattern is one regular expression (RE2) over the lines of a failed launch; a match
// means the provider error Kind. A group named until captures the reset time.
type LimitPattern struct {
	Match string
	Kind  string // one of LimitKinds(); default "limit"
}

// limitKinds are the provider errors a pattern can name (agentproc.FaultKind's values).
var limitKinds = []string{"limit", "overload", "auth", "network"}

// LimitKinds is every kind a limits pattern may name.
func LimitKinds() []string { return slices.Clone(limitKinds) }

// IsZero reports whether the budget sets no limit.
func (b Budget) IsZero() bool { return b == Budget{} }

// Task is one task of a dev agent.
type Task struct {
	ID     string
	Agent  string
	Prompt string
	After  []string // ids of tasks that must be merged (or done) first
}

// Load reads, parses and validates the plan file at path. Relative paths in it (repo,
// worktrees) resolve against the file's directory.
//
// Only a regular file of at most MaxFileSize is read: a FIFO would block, /dev/zero never end.
func Load(path string) (*Plan, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &readError{name: path, err: err}
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, &readError{name: path, err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
	case fi.Size() > MaxFileSize:
		return nil, &readError{name: path, err: fmt.Errorf("%d bytes: a plan is at most %d (1 MiB)", fi.Size(), MaxFileSize)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &readError{name: path, err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &readError{name: path, err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &readError{name: path, err: fmt.Errorf("grew past %d bytes while read: a plan is at most 1 MiB", MaxFileSize)}
	}
	return Parse(path, data)
}

// Bounds of a plan, refused at file:line:col past them: a plan that validates can run.
const (
	MaxFileSize = 1 << 20  // bytes of a plan file
	MaxAgents   = 1024     // dev agents
	MaxTasks    = 1024     // tasks of the whole plan
	MaxPrompt   = 64 << 10 // bytes of one prompt: it reaches the agent in its argv and TEAMCTL_PROMPT, which the kernel caps at 128 KiB, with teamctl's protocol and what a relaunch adds
)

// readError is a plan file that could not be read. It matches ErrInvalid like every other
// error of Load (a plan the user named but that is not there is bad input, exit 2) and
// still unwraps to the fs error (errors.Is(err, fs.ErrNotExist)).
type readError struct {
	name string
	err  error
}

func (e *readError) Error() string {
	cause := e.err
	// *PathError repeats the operation and the path; say it once, our way.
	var pe *os.PathError
	if errors.As(cause, &pe) {
		cause = pe.Err
	}
	return fmt.Sprintf("read plan %s: %v", e.name, cause)
}

func (e *readError) Unwrap() error        { return e.err }
func (e *readError) Is(target error) bool { return target == ErrInvalid }

// Parse parses and validates data as the plan file named file (used in messages and to
// resolve relative paths). On failure the error is Errors, every problem found, in file order.
func Parse(file string, data []byte) (*Plan, error) {
	d := &decoder{file: file, pos: map[string]Position{}}
	p := d.decode(data)
	if len(d.errs) > 0 {
		return nil, d.errors()
	}
	p.File = absPath(file)
	p.name = file
	p.pos = d.pos
	return p, nil
}

// Errorf returns an *Error located at the plan key named by key ("repo", "base",
// "worktrees", "agents.1.command", ...), or at 1:1 when the key was not written.
// Callers that check the plan against the disk (repo exists, base exists) use it.
// format may wrap an error with %w. A key an agent inherited (agents.1.command when only
// defaults.command was written) points at the defaults; a key not written falls back to
// the nearest written parent (agents.1.command → agents.1).
func (p *Plan) Errorf(key, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	name := p.name
	if name == "" {
		name = p.File // a plan that came back from JSON has lost its display name
	}
	at := p.position(key)
	return &Error{File: name, Line: at.Line, Col: at.Col, Msg: err.Error(), err: err}
}

// position finds where key was written, or where what it stands for was.
func (p *Plan) position(key string) Position {
	if at, ok := p.pos[key]; ok {
		return at
	}
	// agents.N.F or leader.F that the agent inherited: the defaults wrote it.
	parts := strings.Split(key, ".")
	field := ""
	switch {
	case len(parts) >= 2 && parts[0] == "leader":
		field = strings.Join(parts[1:], ".")
	case len(parts) >= 3 && parts[0] == "agents":
		field = strings.Join(parts[2:], ".")
	}
	if field != "" {
		if at, ok := p.pos["defaults."+field]; ok {
			return at
		}
	}
	for i := len(parts) - 1; i > 0; i-- {
		if at, ok := p.pos[strings.Join(parts[:i], ".")]; ok {
			return at
		}
	}
	return Position{Line: 1, Col: 1}
}

// Tasks returns every dev task in plan order (agents in file order, each agent's tasks in order).
func (p *Plan) Tasks() []Task {
	var tasks []Task
	for _, a := range p.Agents {
		tasks = append(tasks, a.Tasks...)
	}
	return tasks
}

// Members returns the leader, then every dev agent in file order.
func (p *Plan) Members() []Agent {
	return append([]Agent{p.Leader}, p.Agents...)
}

// Agent returns the agent (leader or dev) with that name.
func (p *Plan) Agent(name string) (Agent, bool) {
	if p.Leader.Name == name {
		return p.Leader, true
	}
	for _, a := range p.Agents {
		if a.Name == name {
			return a, true
		}
	}
	return Agent{}, false
}

// Leader tasks are the tasks teamctl gives a leader agent: its start, its review at the
// end, one per blocker it is asked to answer and one per branch it is asked to land.
const (
	LeaderStartTask     = "lead-start"
	LeaderReviewTask    = "lead-review"
	LeaderBlockerPrefix = "lead-blocker-"
	LeaderFixPrefix     = "lead-fix-"
)

// ReservedTaskID reports whether id is one teamctl gives the leader's own tasks: a plan's
// or an added task may not take it.
func ReservedTaskID(id string) bool {
	return id == LeaderStartTask || id == LeaderReviewTask ||
		strings.HasPrefix(id, LeaderBlockerPrefix) || strings.HasPrefix(id, LeaderFixPrefix)
}

// namePattern is ValidName's rule as the messages show it.
const namePattern = "[a-z0-9][a-z0-9-]{0,39}"

// ValidName reports whether s is a valid team, agent or task name: [a-z0-9][a-z0-9-]{0,39}.
// Names become branch and directory names (teamctl/<team>/<agent>), hence the narrow set.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 40 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// NormalisePath cleans a repo-relative path as `owns:` and reservations use it: slashes,
// no "./", a trailing "/" kept for directories. It refuses absolute paths and paths that
// leave the repository.
func NormalisePath(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty path: want a path relative to the repository root")
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("path %q is absolute: want a path relative to the repository root", p)
	}
	// The trailing "/" is what tells a directory prefix ("docs/") from a file ("docs").
	dir := strings.HasSuffix(p, "/")
	clean := path.Clean(p)
	switch {
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return "", fmt.Errorf("path %q leaves the repository", p)
	case clean == ".":
		return "", fmt.Errorf("path %q is the whole repository: name a file or directory inside it", p)
	}
	if dir {
		clean += "/"
	}
	return clean, nil
}

// absPath makes the plan file's name absolute; "" (a plan from memory) stays "".
func absPath(file string) string {
	if file == "" {
		return ""
	}
	return abs(file)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		// Only a vanished working directory gets here; a clean relative path is the best left.
		return filepath.Clean(p)
	}
	return a
}

// sortErrors puts errors in file order and drops exact repeats, which a YAML alias used
// in several places produces.
func sortErrors(es Errors) Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
	out := es[:0]
	seen := map[Error]bool{}
	for _, e := range es {
		k := Error{File: e.File, Line: e.Line, Col: e.Col, Msg: e.Msg}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
