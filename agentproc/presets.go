package agentproc

// Preset is the headless argv of a known agent CLI. {{.Prompt}} is the launch's prompt.
// The flags are each CLI's documented non-interactive mode with the permissions an
// unattended agent in its own worktree needs.
type Preset struct {
	Name string
	Argv []string
}

var presets = map[string]Preset{
	"claude":   {Name: "claude", Argv: []string{"claude", "-p", "{{.Prompt}}", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"}},
	"codex":    {Name: "codex", Argv: []string{"codex", "exec", "--json", "--full-auto", "{{.Prompt}}"}},
	"gemini":   {Name: "gemini", Argv: []string{"gemini", "--yolo", "--output-format", "stream-json", "-p", "{{.Prompt}}"}},
	"opencode": {Name: "opencode", Argv: []string{"opencode", "run", "--format", "json", "{{.Prompt}}"}},
	"pi":       {Name: "pi", Argv: []string{"pi", "--mode", "json", "-p", "{{.Prompt}}"}},
	"aider":    {Name: "aider", Argv: []string{"aider", "--yes-always", "--no-auto-commits", "--message", "{{.Prompt}}"}},
}

// PresetArgv returns the argv template of a preset, and whether it is known.
func PresetArgv(name string) ([]string, bool) {
	p, ok := presets[name]
	if !ok {
		return nil, false
	}
	return append([]string(nil), p.Argv...), true
}
