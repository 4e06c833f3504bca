package agentproc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
)

func TestTrustClaudeWorktreeKeepsTheRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".claude.json")
	testsupport.WriteFile(t, cfg, `{"theme": "dark", "projects": {"/src/a": {"allowedTools": ["Bash"]}}}`)
	for _, wt := range []string{"/src/a", "/wt/b", "/wt/b"} {
		if err := agentproc.TrustClaudeWorktree(cfg, wt); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Theme    string                    `json:"theme"`
		Projects map[string]map[string]any `json:"projects"`
	}
	data, _ := os.ReadFile(cfg)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Theme != "dark" || got.Projects["/src/a"]["allowedTools"] == nil || len(got.Projects) != 2 {
		t.Errorf("other settings lost: %s", data)
	}
	for _, wt := range []string{"/src/a", "/wt/b"} {
		if got.Projects[wt]["hasTrustDialogAccepted"] != true {
			t.Errorf("%s not trusted: %s", wt, data)
		}
	}
	if err := agentproc.TrustClaudeWorktree(filepath.Join(dir, "new", ".claude.json"), "/x"); err == nil {
		t.Error("a config in a directory that does not exist: want an error")
	}
	if err := agentproc.TrustClaudeWorktree(filepath.Join(dir, "fresh.json"), "/x"); err != nil {
		t.Errorf("a config not written yet: %v", err)
	}
}
