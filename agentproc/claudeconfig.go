package agentproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// TrustClaudeWorktree marks worktree as trusted in the Claude Code configuration at
// configPath (~/.claude.json), so its interactive interface (mode: tmux) starts working
// instead of asking "Is this a project you trust?" on every new worktree: in tmux nobody
// answers that dialog. Headless (-p) mode skips the dialog and needs none of this.
// Other keys of the file are kept as they are.
func TrustClaudeWorktree(configPath, worktree string) error {
	return editJSON(configPath, func(cfg map[string]any) bool { trust(cfg, worktree); return true })
}

// PrepareClaudeInteractive answers, in the Claude Code configuration at configPath, the
// dialogs its interface (mode: tmux) would otherwise stop at before it starts working —
// nobody answers them in a tmux session teamctl runs:
//   - "Is this a project you created or one you trust?" for the agent's new worktree: the
//     worktree is teamctl's own checkout of the person's repository;
//   - the Bypass Permissions warning: the preset runs --dangerously-skip-permissions, which
//     the plan chose;
//   - "Detected a custom API key in your environment. Do you want to use this API key?" for
//     apiKey (ANTHROPIC_API_KEY as the agent gets it; "" for none): teamctl passes it on
//     purpose. Claude Code keeps the key's last 20 characters; a key the person rejected
//     stays rejected.
func PrepareClaudeInteractive(configPath, worktree, apiKey string) error {
	return editJSON(configPath, func(cfg map[string]any) bool {
		trust(cfg, worktree)
		cfg["bypassPermissionsModeAccepted"] = true
		if apiKey == "" {
			return true
		}
		tail := apiKey[max(len(apiKey)-20, 0):]
		resp, _ := cfg["customApiKeyResponses"].(map[string]any)
		if resp == nil {
			resp = map[string]any{}
		}
		approved, _ := resp["approved"].([]any)
		rejected, _ := resp["rejected"].([]any)
		if slices.Contains(approved, any(tail)) || slices.Contains(rejected, any(tail)) {
			return true
		}
		if rejected == nil {
			rejected = []any{}
		}
		resp["approved"], resp["rejected"] = append(approved, tail), rejected
		cfg["customApiKeyResponses"] = resp
		return true
	})
}

// ClaudeConfigPath is where Claude Code keeps the configuration these edit, for an agent
// with env (its own over this process's): $CLAUDE_CONFIG_DIR/.claude.json, else
// $HOME/.claude.json.
func ClaudeConfigPath(env map[string]string) string {
	get := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	if dir := get("CLAUDE_CONFIG_DIR"); dir != "" {
		return filepath.Join(dir, ".claude.json")
	}
	return filepath.Join(get("HOME"), ".claude.json")
}

func trust(cfg map[string]any, worktree string) {
	projects, _ := cfg["projects"].(map[string]any)
	if projects == nil {
		projects = map[string]any{}
	}
	p, _ := projects[worktree].(map[string]any)
	if p == nil {
		p = map[string]any{}
	}
	p["hasTrustDialogAccepted"] = true
	projects[worktree] = p
	cfg["projects"] = projects
}

// editJSON changes a CLI's JSON configuration file at configPath with edit, keeping every
// other key. edit reports whether it changed anything: a file left as it was is not written.
func editJSON(configPath string, edit func(map[string]any) bool) error {
	cfg := map[string]any{}
	data, err := os.ReadFile(configPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", configPath, err)
	default:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return fmt.Errorf("%s is not JSON: %w", configPath, err)
		}
	}
	if !edit(cfg) {
		return nil
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	// Write beside it and rename: a CLI reading the file never sees half of it.
	tmp, err := os.CreateTemp(filepath.Dir(configPath), "."+filepath.Base(configPath)+".teamctl-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", configPath, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", configPath, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", configPath, err)
	}
	if err := os.Rename(tmp.Name(), configPath); err != nil {
		return fmt.Errorf("write %s: %w", configPath, err)
	}
	return nil
}
