package agentproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TrustClaudeWorktree marks worktree as trusted in the Claude Code configuration at
// configPath (~/.claude.json), so its interactive interface (mode: tmux) starts working
// instead of asking "Is this a project you trust?" on every new worktree: in tmux nobody
// answers that dialog. Headless (-p) mode skips the dialog and needs none of this.
// Other keys of the file are kept as they are.
func TrustClaudeWorktree(configPath, worktree string) error {
	cfg := map[string]any{}
	data, err := os.ReadFile(configPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read claude config: %w", err)
	default:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return fmt.Errorf("claude config %s is not JSON: %w", configPath, err)
		}
	}
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
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	// Write beside it and rename: a claude process reading the file never sees half of it.
	tmp, err := os.CreateTemp(filepath.Dir(configPath), ".claude.json.teamctl-*")
	if err != nil {
		return fmt.Errorf("write claude config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write claude config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write claude config: %w", err)
	}
	if err := os.Rename(tmp.Name(), configPath); err != nil {
		return fmt.Errorf("write claude config: %w", err)
	}
	return nil
}
