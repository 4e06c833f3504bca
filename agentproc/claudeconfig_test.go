package agentproc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

// TestPrepareGemini: with a base URL and an API key in the agent's environment, the Gemini
// CLI's settings choose the API key's auth type (else it picks "gateway" and its headless
// mode refuses to start); a type the person chose stays, and without a base URL nothing is
// written.
func TestPrepareGemini(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{"HOME": home, "GEMINI_API_KEY": "k", "GOOGLE_GEMINI_BASE_URL": ""}
	if changed, path, err := agentproc.PrepareGemini(env); err != nil || changed {
		t.Fatalf("no base URL: changed %v, %v", changed, err)
	} else if _, err := os.Stat(path); err == nil {
		t.Errorf("no base URL: %s written", path)
	}
	env["GOOGLE_GEMINI_BASE_URL"] = "http://127.0.0.1:9"
	changed, path, err := agentproc.PrepareGemini(env)
	if err != nil || !changed || path != filepath.Join(home, ".gemini", "settings.json") {
		t.Fatalf("changed %v, path %s, %v", changed, path, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"selectedType": "gemini-api-key"`) {
		t.Errorf("settings:\n%s", b)
	}
	if err := os.WriteFile(path, []byte(`{"security":{"auth":{"selectedType":"vertex-ai"}},"ui":{"theme":"x"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, _, err := agentproc.PrepareGemini(env); err != nil || changed {
		t.Errorf("a chosen type: changed %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"vertex-ai"`) || !strings.Contains(string(b), `"theme":"x"`) {
		t.Errorf("the person's settings changed:\n%s", b)
	}
}
