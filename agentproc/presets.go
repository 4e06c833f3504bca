package agentproc

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/teamctl/teamctl/plan"
)

// Modes an agent runs in (the plan's `mode:`).
const (
	// ModeHeadless runs the CLI's non-interactive mode: one prompt per launch, its JSON
	// stream to the log; a nudge is a relaunch that resumes the session.
	ModeHeadless = plan.ModeHeadless
	// ModeTmux runs the CLI's own interface in a tmux session on a socket of the team's;
	// a nudge is typed into it (see Tmux).
	ModeTmux = plan.ModeTmux
)

// Preset is everything teamctl knows about one agent CLI. Each argv is a template over
// the launch fields ({{.Prompt}}, ...), like a plan's command; where a session id goes,
// the argv says {{.SessionID}} and Preset.Command fills it in.
//
// Every flag here was checked against the CLI's own --help at Version (the conformance
// test in presets_test.go does it again against whatever is installed).
type Preset struct {
	Name    string
	Program string // the executable
	Package string // where it installs from: an npm package, or "" (aider comes from PyPI)
	Version string // the version whose --help the flags were checked against

	// Headless is a fresh non-interactive launch with the prompt; its output is Stream.
	Headless []string
	// Resume continues session {{.SessionID}} with a new prompt, or nil when the CLI
	// cannot resume a given session headless.
	Resume []string
	// NewSession are flags that give a fresh session an id teamctl chose ({{.SessionID}}),
	// so the id is known before the agent prints anything (and survives a supervisor
	// that dies mid-launch); nil when the CLI makes up its own.
	NewSession []string
	// Interactive runs the CLI's own interface (mode: tmux) with the prompt as its first
	// message; InteractiveResume does the same in session {{.SessionID}}.
	Interactive       []string
	InteractiveResume []string
	// Stream names the parser of the headless output (ParseTranscript): "claude",
	// "codex", "gemini", "opencode", "pi", or "text" for a CLI with no JSON stream.
	Stream string
	// Submit is how a line typed into the interactive interface is sent (tmux key names).
	Submit []string
	// Screens are the first-run dialogs its interface can stop at before it works (mode:
	// tmux), each known by a line of its text: nobody in a tmux session answers them.
	Screens []Screen
	// State is what the CLI writes of its own, relative to the home directory (a trailing
	// "/" marks a directory): a confined agent may write there (DESIGN.md §11).
	State []string
}

// Screen is a dialog an interactive CLI shows, and text on the pane that says it is there.
type Screen struct {
	Name, Text string
}

// ScreenShown is the first-run dialog of the preset's interface that screen (a capture of
// its pane) shows, if any.
func (p Preset) ScreenShown(screen string) (Screen, bool) {
	for _, s := range p.Screens {
		if strings.Contains(screen, s.Text) {
			return s, true
		}
	}
	return Screen{}, false
}

// SessionIDField is the template field a preset argv uses for the session id.
const SessionIDField = "{{.SessionID}}"

var presets = []Preset{
	{
		Name: "claude", Program: "claude", Package: "@anthropic-ai/claude-code", Version: "2.1.330",
		// --verbose is required with -p and stream-json (the CLI refuses the pair without it).
		// --dangerously-skip-permissions: nobody is there to answer a permission prompt; as
		// root the CLI also wants IS_SANDBOX=1 in the environment.
		Headless:          []string{"claude", "-p", "{{.Prompt}}", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"},
		Resume:            []string{"claude", "-p", "{{.Prompt}}", "--resume", SessionIDField, "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"},
		NewSession:        []string{"--session-id", SessionIDField},
		Interactive:       []string{"claude", "--dangerously-skip-permissions", "{{.Prompt}}"},
		InteractiveResume: []string{"claude", "--dangerously-skip-permissions", "--resume", SessionIDField, "{{.Prompt}}"},
		Stream:            "claude",
		State:             []string{".claude/", ".claude.json", ".claude.json.backup"},
		Submit:            []string{"Enter"},
		// Seen with 2.1.330 in tmux with a HOME of {"hasCompletedOnboarding": true} only, in
		// this order; PrepareClaudeInteractive answers the first three before a launch.
		Screens: []Screen{
			{"the folder trust dialog (\"Is this a project you created or one you trust?\")", "Is this a project you created or one you trust?"},
			{"the API key approval (\"Do you want to use this API key?\")", "Do you want to use this API key?"},
			{"the Bypass Permissions warning", "Claude Code running in Bypass Permissions mode"},
			{"the login screen", "Select login method"},
			{"the theme picker (first run)", "Choose the text style"},
		},
	},
	{
		Name: "codex", Program: "codex", Package: "@openai/codex", Version: "0.169.0",
		// codex 0.169 has no --full-auto any more; the workspace-write sandbox would refuse
		// `git commit` in a linked worktree (its git dir is outside the worktree), so the
		// agent runs unsandboxed in its own worktree, as claude does. Its commands run in a
		// plain shell (allow_login_shell=false): a login shell (bash -lc, its default) reads
		// /etc/profile, which on Debian sets PATH anew, and teamctl on the agent's PATH is
		// gone ("teamctl: command not found", seen here).
		Headless:          []string{"codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "-c", "allow_login_shell=false", "{{.Prompt}}"},
		Resume:            []string{"codex", "exec", "resume", "--json", "--dangerously-bypass-approvals-and-sandbox", "-c", "allow_login_shell=false", SessionIDField, "{{.Prompt}}"},
		Interactive:       []string{"codex", "--dangerously-bypass-approvals-and-sandbox", "-c", "allow_login_shell=false", "{{.Prompt}}"},
		InteractiveResume: []string{"codex", "resume", "--dangerously-bypass-approvals-and-sandbox", "-c", "allow_login_shell=false", SessionIDField, "{{.Prompt}}"},
		Stream:            "codex",
		State:             []string{".codex/"},
		Submit:            []string{"Enter"},
	},
	{
		Name: "gemini", Program: "gemini", Package: "@google/gemini-cli", Version: "0.61.0",
		// --skip-trust: a new worktree is an untrusted folder, and headless mode cannot ask.
		// --resume takes a session UUID too ("--resume {uuid}" in its own error message).
		Headless:          []string{"gemini", "-p", "{{.Prompt}}", "--output-format", "stream-json", "--yolo", "--skip-trust"},
		Resume:            []string{"gemini", "-p", "{{.Prompt}}", "--resume", SessionIDField, "--output-format", "stream-json", "--yolo", "--skip-trust"},
		NewSession:        []string{"--session-id", SessionIDField},
		Interactive:       []string{"gemini", "--yolo", "--skip-trust", "-i", "{{.Prompt}}"},
		InteractiveResume: []string{"gemini", "--yolo", "--skip-trust", "--resume", SessionIDField, "-i", "{{.Prompt}}"},
		Stream:            "gemini",
		State:             []string{".gemini/"},
		Submit:            []string{"Enter"},
	},
	{
		Name: "opencode", Program: "opencode", Package: "opencode-ai", Version: "1.18.33",
		// --auto approves what the configuration does not deny; without it a permission
		// request in `run` waits for nobody.
		Headless:          []string{"opencode", "run", "--format", "json", "--auto", "{{.Prompt}}"},
		Resume:            []string{"opencode", "run", "--format", "json", "--auto", "--session", SessionIDField, "{{.Prompt}}"},
		Interactive:       []string{"opencode", "--prompt", "{{.Prompt}}"},
		InteractiveResume: []string{"opencode", "--session", SessionIDField, "--prompt", "{{.Prompt}}"},
		Stream:            "opencode",
		State:             []string{".config/opencode/", ".local/share/opencode/", ".local/state/opencode/"},
		Submit:            []string{"Enter"},
	},
	{
		Name: "pi", Program: "pi", Package: "@mariozechner/pi-coding-agent", Version: "0.73.1",
		// pi asks no permissions: its tools run as they are called.
		Headless:          []string{"pi", "-p", "--mode", "json", "{{.Prompt}}"},
		Resume:            []string{"pi", "-p", "--mode", "json", "--session", SessionIDField, "{{.Prompt}}"},
		Interactive:       []string{"pi", "{{.Prompt}}"},
		InteractiveResume: []string{"pi", "--session", SessionIDField, "{{.Prompt}}"},
		Stream:            "pi",
		State:             []string{".pi/"},
		Submit:            []string{"Enter"},
	},
	{
		// aider installs from PyPI, which this project's machines cannot reach: its flags
		// come from its documented options (aider/args.py), not from a --help run here.
		// It has no JSON stream and no session id; --restore-chat-history reloads the chat
		// it keeps in .aider.chat.history.md in the worktree. It commits its own edits.
		Name: "aider", Program: "aider", Version: "0.86 (docs)",
		Headless:          []string{"aider", "--yes-always", "--no-pretty", "--no-stream", "--no-check-update", "--message", "{{.Prompt}}"},
		Resume:            []string{"aider", "--yes-always", "--no-pretty", "--no-stream", "--no-check-update", "--restore-chat-history", "--message", "{{.Prompt}}"},
		Interactive:       []string{"aider", "--yes-always", "--no-check-update"},
		InteractiveResume: []string{"aider", "--yes-always", "--no-check-update", "--restore-chat-history"},
		Stream:            "text",
		State:             []string{".aider/"},
		Submit:            []string{"Enter"},
	},
}

// Presets is every known preset, in a stable order.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		out[i] = p.clone()
	}
	return out
}

// PresetNamed returns the preset called name, and whether there is one.
func PresetNamed(name string) (Preset, bool) {
	for _, p := range presets {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return Preset{}, false
}

// PresetArgv returns the argv template of a preset's fresh headless launch, and whether
// the preset is known.
func PresetArgv(name string) ([]string, bool) {
	p, ok := PresetNamed(name)
	if !ok {
		return nil, false
	}
	return p.Headless, true
}

func (p Preset) clone() Preset {
	p.Headless = slices.Clone(p.Headless)
	p.Resume = slices.Clone(p.Resume)
	p.NewSession = slices.Clone(p.NewSession)
	p.Interactive = slices.Clone(p.Interactive)
	p.InteractiveResume = slices.Clone(p.InteractiveResume)
	p.Submit = slices.Clone(p.Submit)
	p.Screens = slices.Clone(p.Screens)
	return p
}

// CanResume reports whether the preset can continue a session of its own.
func (p Preset) CanResume() bool { return p.Resume != nil }

// Command is the argv template (Launch.Command) of one launch in mode (ModeHeadless or
// ModeTmux). With resume it continues session; else it starts a fresh session, with
// the id session when the CLI lets teamctl choose it (session "" lets the CLI choose).
// The session id is put in as a template literal, so Argv renders it verbatim.
// A preset that cannot resume starts afresh: the caller's prompt then has to carry
// what the earlier launches did.
func (p Preset) Command(mode string, session string, resume bool) []string {
	interactive := mode == ModeTmux
	var argv []string
	switch {
	case resume && session != "" && interactive && p.InteractiveResume != nil:
		argv = p.InteractiveResume
	case resume && session != "" && !interactive && p.Resume != nil:
		argv = p.Resume
	case interactive:
		argv = p.withNewSession(p.Interactive, session)
	default:
		argv = p.withNewSession(p.Headless, session)
	}
	lit := "{{" + strconv.Quote(session) + "}}"
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, SessionIDField, lit)
	}
	return out
}

// withNewSession inserts NewSession right after the program (before any positional
// prompt, which some parsers want last).
func (p Preset) withNewSession(argv []string, session string) []string {
	if session == "" || p.NewSession == nil {
		return argv
	}
	out := append([]string{argv[0]}, p.NewSession...)
	return append(out, argv[1:]...)
}

// Flags is every option (an argument starting with "-") the preset passes, per help
// command that documents it: the program's leading subcommands plus --help, e.g.
// "codex exec resume --help". The conformance test checks each against the real CLI.
func (p Preset) Flags() map[string][]string {
	out := map[string][]string{}
	for _, argv := range [][]string{p.Headless, p.Resume, p.NewSession, p.Interactive, p.InteractiveResume} {
		if len(argv) == 0 {
			continue
		}
		if argv[0] != p.Program { // NewSession: flags of the fresh launch's program
			argv = append([]string{p.Program}, argv...)
		}
		help := []string{}
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "-") || strings.Contains(a, "{{") {
				break
			}
			help = append(help, a)
		}
		key := strings.Join(append(help, "--help"), " ")
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "-") && !slices.Contains(out[key], a) {
				out[key] = append(out[key], a)
			}
		}
		if _, ok := out[key]; !ok {
			out[key] = nil
		}
	}
	return out
}

// NewSessionID returns a random RFC 4122 version 4 UUID, the session id form claude and
// gemini accept for a fresh session (--session-id).
func NewSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CommandFor is the argv template (Launch.Command) of a launch of agent a: its own
// command as the plan gives it, else its preset's for its mode. With resume it continues
// session if the preset can; a fresh launch passes session as the new session's id where
// the CLI takes one (see NewSessionID). ok is false for an agent with neither.
func CommandFor(a plan.Agent, session string, resume bool) (argv []string, ok bool) {
	if len(a.Command) > 0 {
		return slices.Clone(a.Command), true
	}
	p, known := PresetNamed(a.Preset)
	if !known {
		return nil, false
	}
	return p.Command(a.Mode, session, resume), true
}

// StateOf is what agent a's CLI writes of its own, relative to the home directory
// (Preset.State): its preset's, or, for a command, the preset whose program it runs.
func StateOf(a plan.Agent) []string {
	if p, ok := PresetNamed(a.Preset); ok {
		return p.State
	}
	if len(a.Command) > 0 {
		for _, p := range presets {
			if filepath.Base(a.Command[0]) == p.Program {
				return p.State
			}
		}
	}
	return nil
}
