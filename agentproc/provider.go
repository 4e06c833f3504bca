package agentproc

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/teamctl/teamctl/plan"
)

// Provider is whose model API an agent calls: agents with the same preset, endpoint and
// credentials share a usage limit, so a limit one of them meets pauses them all.
type Provider struct {
	Key   string // equal for agents that share a limit; holds no secret (credentials are hashed)
	Label string // how a person names it: the preset, or the program of a custom command
}

// accountEnv are the variables that choose a CLI's endpoint and account, per preset: two
// agents that differ in one of them may have limits of their own.
var accountEnv = map[string][]string{
	"claude":   {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CONFIG_DIR", "HOME"},
	"codex":    {"OPENAI_BASE_URL", "OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME", "HOME"},
	"gemini":   {"GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_GENAI_USE_VERTEXAI", "HOME"},
	"opencode": {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY", "XDG_CONFIG_HOME", "HOME"},
	"pi":       {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "HOME"},
	"aider":    {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_API_BASE", "AIDER_MODEL", "HOME"},
}

// ProviderOf is agent a's provider, with env the plan's env: over this process's (what
// the agent inherits). A custom command is its program's provider; with a preset beside
// it (for its stream), the preset's.
func ProviderOf(a plan.Agent) Provider {
	label := a.Preset
	if label == "" && len(a.Command) > 0 {
		label = filepath.Base(a.Command[0])
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", label)
	for _, k := range accountEnv[a.Preset] {
		v, ok := a.Env[k]
		if !ok {
			v = os.Getenv(k)
		}
		fmt.Fprintf(h, "%s=%s\x00", k, v)
	}
	if a.Preset == "" {
		// A custom command: its environment is all there is to tell accounts apart.
		for _, k := range sortedKeys(a.Env) {
			fmt.Fprintf(h, "%s=%s\x00", k, a.Env[k])
		}
	}
	return Provider{Key: label + ":" + fmt.Sprintf("%x", h.Sum(nil))[:12], Label: label}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "GIT_") && !strings.HasPrefix(k, "TEAMCTL_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
