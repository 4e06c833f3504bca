// Package plan owns the plan file: its schema, strict parsing with file:line:col errors,
// validation and defaults. It knows nothing of git, processes or the store.
package plan

import (
	"errors"
	"time"
)

// DefaultLeader is the leader's name when the plan gives none.
const DefaultLeader = "lead"

// Presets are the known agent CLIs a plan may name with `preset:` (agentproc gives their argv).
var Presets = []string{"claude", "codex", "gemini", "opencode", "pi", "aider"}

// ErrInvalid is matched (errors.Is) by every error Load and Parse return, so callers map it to exit 2.
var ErrInvalid = errors.New("invalid plan")

// Error is one problem in a plan file, located at File:Line:Col (1-based).
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

// Error renders "file:line:col: msg".
func (e *Error) Error() string { panic("todo") }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem found in one plan file, in file order. It is what Load and Parse
// return when the plan is invalid; Error() joins them one per line.
type Errors []*Error

func (es Errors) Error() string        { panic("todo") }
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
	Leader      Agent   // Role "leader"; Name defaults to "lead"
	Agents      []Agent // the dev agents (Role "dev"), in file order

	pos map[string]Position // key path ("repo", "base", "agents.0.command", ...) → where it was written
}

// Position is a 1-based line and column in the plan file.
type Position struct{ Line, Col int }

// Merge holds the `merge:` options.
type Merge struct {
	Batch       int // most branches merged and tested together; default 8
	TestRetries int // reruns of a failing test to tell a flaky test from a bad branch; default 1
}

// Agent is one agent after defaults were applied.
type Agent struct {
	Name    string
	Role    string            // "leader" or "dev"
	Command []string          // argv template (text/template over the launch fields); nil when Preset is set or the leader has no agent
	Preset  string            // one of Presets, or ""
	Env     map[string]string // defaults.env merged with the agent's own (agent wins); never nil
	Timeout time.Duration     // one launch; default 30m
	Retries int               // relaunches after a failed exit; default 1
	Nudge   Nudge
	Owns    []string // normalised repo-relative slash paths; a directory keeps its trailing "/"
	Prompt  string   // the leader's prompt (the team's goal); "" for devs
	Tasks   []Task   // devs only, in file order
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

// Task is one task of a dev agent.
type Task struct {
	ID     string
	Agent  string
	Prompt string
	After  []string // ids of tasks that must be merged (or done) first
}

// Load reads, parses and validates the plan file at path. Relative paths in it (repo,
// worktrees) resolve against the file's directory.
func Load(path string) (*Plan, error) { panic("todo") }

// Parse parses and validates data as the plan file named file (used in messages and to
// resolve relative paths).
func Parse(file string, data []byte) (*Plan, error) { panic("todo") }

// Errorf returns an *Error located at the plan key named by key ("repo", "base",
// "worktrees", "agents.1.command", ...), or at 1:1 when the key was not written.
// Callers that check the plan against the disk (repo exists, base exists) use it.
func (p *Plan) Errorf(key, format string, args ...any) error { panic("todo") }

// Tasks returns every dev task in plan order (agents in file order, each agent's tasks in order).
func (p *Plan) Tasks() []Task { panic("todo") }

// Agent returns the agent (leader or dev) with that name.
func (p *Plan) Agent(name string) (Agent, bool) { panic("todo") }

// ValidName reports whether s is a valid team, agent or task name: [a-z0-9][a-z0-9-]{0,39}.
func ValidName(s string) bool { panic("todo") }

// NormalisePath cleans a repo-relative path as `owns:` and reservations use it: slashes,
// no "./", a trailing "/" kept for directories. It refuses absolute paths and paths that
// leave the repository.
func NormalisePath(p string) (string, error) { panic("todo") }
