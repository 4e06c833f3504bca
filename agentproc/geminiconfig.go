package agentproc

import (
	"os"
	"path/filepath"
)

// PrepareGemini makes the Gemini CLI (0.61) of an agent with env (its own over this
// process's) use its API key against a base URL: with GOOGLE_GEMINI_BASE_URL set and no
// auth type chosen in its settings, the CLI picks its "gateway" type, which its headless
// mode refuses ("Invalid auth method selected.", exit 41). With GEMINI_API_KEY set too, the
// settings' security.auth.selectedType is set to "gemini-api-key"; a type chosen already
// is kept. It reports whether it changed the settings, and their path.
func PrepareGemini(env map[string]string) (changed bool, path string, err error) {
	get := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	path = GeminiSettingsPath(env)
	if get("GOOGLE_GEMINI_BASE_URL") == "" || get("GEMINI_API_KEY") == "" {
		return false, path, nil
	}
	// ~/.gemini is the CLI's own: made as it would make it.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, path, err
	}
	err = editJSON(path, func(cfg map[string]any) bool {
		sec, _ := cfg["security"].(map[string]any)
		if sec == nil {
			sec = map[string]any{}
		}
		auth, _ := sec["auth"].(map[string]any)
		if auth == nil {
			auth = map[string]any{}
		}
		if t, _ := auth["selectedType"].(string); t != "" {
			return false
		}
		auth["selectedType"] = "gemini-api-key"
		sec["auth"] = auth
		cfg["security"] = sec
		changed = true
		return true
	})
	return changed, path, err
}

// GeminiSettingsPath is the Gemini CLI's user settings for an agent with env:
// $GEMINI_CLI_HOME/settings.json, else $HOME/.gemini/settings.json.
func GeminiSettingsPath(env map[string]string) string {
	get := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	if dir := get("GEMINI_CLI_HOME"); dir != "" {
		return filepath.Join(dir, "settings.json")
	}
	return filepath.Join(get("HOME"), ".gemini", "settings.json")
}
