package agentproc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/plan"
)

// TestPresetConformance is one suite run against every preset (STYLE.md habit 13).
func TestPresetConformance(t *testing.T) {
	t.Parallel()
	var names []string
	for _, p := range agentproc.Presets() {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, plan.Presets()) {
		t.Fatalf("agentproc presets %v, plan accepts %v: keep them the same", names, plan.Presets())
	}
	for _, p := range agentproc.Presets() {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			conformance(t, p)
		})
	}
}

func conformance(t *testing.T, p agentproc.Preset) {
	const prompt = "fix the {{parser}} -- and say \"done\""
	const session = "0e5c4b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
	render := func(cmd []string) []string {
		t.Helper()
		argv, err := agentproc.Argv(agentproc.Launch{Agent: "alice", Prompt: prompt, Command: cmd})
		if err != nil {
			t.Fatalf("render %q: %v", cmd, err)
		}
		return argv
	}
	t.Run("headless argv carries the prompt once, verbatim", func(t *testing.T) {
		for _, resume := range []bool{false, true} {
			argv := render(p.Command(agentproc.ModeHeadless, session, resume))
			if argv[0] != p.Program {
				t.Errorf("argv[0] = %q, want %q", argv[0], p.Program)
			}
			if n := count(argv, prompt); n != 1 {
				t.Errorf("resume=%v: prompt appears %d times in %q", resume, n, argv)
			}
		}
	})
	t.Run("resume names the session", func(t *testing.T) {
		argv := render(p.Command(agentproc.ModeHeadless, session, true))
		if p.CanResume() && p.Stream != "text" && count(argv, session) != 1 {
			t.Errorf("resume argv %q does not name session %s once", argv, session)
		}
		if !p.CanResume() && count(argv, session) != 0 {
			t.Errorf("preset cannot resume but its argv %q names the session", argv)
		}
		fresh := render(p.Command(agentproc.ModeHeadless, session, false))
		if p.NewSession != nil && count(fresh, session) != 1 {
			t.Errorf("fresh argv %q does not give the chosen session id", fresh)
		}
		if p.NewSession == nil && count(fresh, session) != 0 {
			t.Errorf("fresh argv %q names a session the CLI cannot be given", fresh)
		}
		if anon := render(p.Command(agentproc.ModeHeadless, "", false)); slices.Contains(anon, "--session-id") {
			t.Errorf("argv without a session id still passes --session-id: %q", anon)
		}
	})
	t.Run("interactive argv", func(t *testing.T) {
		for _, resume := range []bool{false, true} {
			argv := render(p.Command(agentproc.ModeTmux, session, resume))
			if argv[0] != p.Program {
				t.Errorf("argv[0] = %q, want %q", argv[0], p.Program)
			}
			if slices.Contains(argv, "-p") && p.Name != "gemini" || slices.Contains(argv, "--json") {
				t.Errorf("interactive argv %q asks for headless mode", argv)
			}
		}
		if len(p.Submit) == 0 {
			t.Error("no submit key for typed-in nudges")
		}
	})
	t.Run("stream has a parser", func(t *testing.T) {
		if _, err := agentproc.ParseTranscript(p.Name, strings.NewReader("")); err != nil {
			t.Errorf("ParseTranscript(%s) of an empty log: %v", p.Name, err)
		}
	})
	t.Run("every flag is in the CLI's --help", func(t *testing.T) {
		if p.Package == "" {
			t.Skipf("%s installs from PyPI, which is not reachable here: its flags were taken from its documented options (aider/args.py)", p.Name)
		}
		testsupport.NodeOnPath(t)
		bin := testsupport.AgentCLI(t, p.Program)
		version := helpOutput(t, bin, "--version")
		if !strings.Contains(version, p.Version) {
			t.Logf("installed %s is %q, the preset was checked against %s", p.Name, strings.TrimSpace(version), p.Version)
		}
		for help, flags := range p.Flags() {
			out := helpOutput(t, bin, strings.Fields(help)[0:]...)
			for _, f := range flags {
				if !documents(out, f) {
					t.Errorf("%s %s does not document %s, which the preset passes:\n%s", p.Program, help, f, out)
				}
			}
		}
	})
}

func count(argv []string, s string) int {
	n := 0
	for _, a := range argv {
		if a == s {
			n++
		}
	}
	return n
}

// documents reports whether help text lists flag as an option: at the start of a word,
// followed by a separator, so --resume does not match --resume-last.
func documents(help, flag string) bool {
	re := regexp.MustCompile(`(^|[\s,\[(])` + regexp.QuoteMeta(flag) + `($|[\s,=\])<|])`)
	return re.MatchString(help)
}

// helpOutput runs the CLI with a fresh HOME (a CLI may write its config there) and
// returns stdout and stderr.
func helpOutput(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "NO_COLOR=1", "CI=true")
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestFlagsGroupsFlagsByHelpCommand(t *testing.T) {
	t.Parallel()
	codex, _ := agentproc.PresetNamed("codex")
	got := codex.Flags()
	want := map[string][]string{
		"exec --help":        {"--json", "--dangerously-bypass-approvals-and-sandbox", "-c"},
		"exec resume --help": {"--json", "--dangerously-bypass-approvals-and-sandbox", "-c"},
		"--help":             {"--dangerously-bypass-approvals-and-sandbox", "-c"},
		"resume --help":      {"--dangerously-bypass-approvals-and-sandbox", "-c"},
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("Flags()[%q] = %q, want %q (all: %q)", k, got[k], v, got)
		}
	}
	claude, _ := agentproc.PresetNamed("claude")
	if f := claude.Flags()["--help"]; !slices.Contains(f, "--session-id") || !slices.Contains(f, "--resume") {
		t.Errorf("claude flags %q miss --session-id or --resume", f)
	}
}

func TestCommandPutsTheSessionIDInVerbatim(t *testing.T) {
	t.Parallel()
	claude, _ := agentproc.PresetNamed("claude")
	// A session id is data, never template: one with braces must come out as written.
	odd := `x}}{{.Agent}}"`
	argv, err := agentproc.Argv(agentproc.Launch{Agent: "alice", Prompt: "p", Command: claude.Command(agentproc.ModeHeadless, odd, true)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(argv, odd) {
		t.Errorf("argv %q does not hold the session id %q", argv, odd)
	}
	fresh, _ := agentproc.Argv(agentproc.Launch{Prompt: "p", Command: claude.Command(agentproc.ModeHeadless, "abc", false)})
	want := []string{"claude", "--session-id", "abc", "-p", "p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"}
	if !slices.Equal(fresh, want) {
		t.Errorf("fresh argv = %q, want %q", fresh, want)
	}
}

func TestNewSessionIDIsAUUIDv4(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := agentproc.NewSessionID(), agentproc.NewSessionID()
	if !re.MatchString(a) || a == b {
		t.Errorf("NewSessionID() = %q, %q", a, b)
	}
}

// TestMakefileInstallsThePinnedCLIs keeps `make test`'s npm pins and the presets' checked
// versions one list: a bump in one place only would test one version and claim another.
func TestMakefileInstallsThePinnedCLIs(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TEST_CLIS\s*:?=\s*(.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Makefile has no TEST_CLIS")
	}
	var want []string
	for _, p := range agentproc.Presets() {
		if p.Package != "" {
			want = append(want, p.Package+"@"+p.Version)
		}
	}
	if got := strings.Fields(string(m[1])); !slices.Equal(got, want) {
		t.Errorf("Makefile TEST_CLIS = %q, presets want %q", got, want)
	}
}

func TestCommandFor(t *testing.T) {
	t.Parallel()
	const sid = "0e5c4b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
	tests := []struct {
		name   string
		agent  plan.Agent
		resume bool
		want   []string // rendered with prompt "P"
	}{
		{"own command wins", plan.Agent{Command: []string{"./dev.sh", "{{.Prompt}}"}, Preset: "claude"}, true, []string{"./dev.sh", "P"}},
		{"claude fresh with a chosen id", plan.Agent{Preset: "claude", Mode: plan.ModeHeadless}, false,
			[]string{"claude", "--session-id", sid, "-p", "P", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"}},
		{"claude resumed", plan.Agent{Preset: "claude", Mode: plan.ModeHeadless}, true,
			[]string{"claude", "-p", "P", "--resume", sid, "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"}},
		{"codex resumed", plan.Agent{Preset: "codex", Mode: plan.ModeHeadless}, true,
			[]string{"codex", "exec", "resume", "--json", "--dangerously-bypass-approvals-and-sandbox", "-c", "allow_login_shell=false", sid, "P"}},
		{"claude in tmux", plan.Agent{Preset: "claude", Mode: plan.ModeTmux}, true,
			[]string{"claude", "--dangerously-skip-permissions", "--resume", sid, "P"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, ok := agentproc.CommandFor(tt.agent, sid, tt.resume)
			if !ok {
				t.Fatal("no command")
			}
			argv, err := agentproc.Argv(agentproc.Launch{Prompt: "P", Command: cmd})
			if err != nil || !slices.Equal(argv, tt.want) {
				t.Errorf("argv %q, %v\nwant %q", argv, err, tt.want)
			}
		})
	}
	if _, ok := agentproc.CommandFor(plan.Agent{}, "", false); ok {
		t.Error("an agent with neither command nor preset has a command")
	}
}
