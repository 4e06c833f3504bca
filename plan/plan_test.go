package plan_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teamctl/teamctl/plan"
)

func mustParse(t *testing.T, file, yaml string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse(file, []byte(yaml))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return p
}

// exported copies what a caller can see of a plan, so two plans compare with DeepEqual.
func exported(p *plan.Plan) plan.Plan {
	return plan.Plan{
		File: p.File, Version: p.Version, Team: p.Team, Repo: p.Repo, Base: p.Base, Test: p.Test,
		TestTimeout: p.TestTimeout, Worktrees: p.Worktrees, Escalate: p.Escalate,
		MaxParallel: p.MaxParallel, Merge: p.Merge, Budget: p.Budget, Copy: p.Copy, Sandbox: p.Sandbox, Leader: p.Leader, Agents: p.Agents,
	}
}

const full = `version: 1
team: paste-support
repo: ..
base: main
test: go test ./...
test_timeout: 5m
worktrees: ../../paste.teamctl
escalate: [notify-send, "blocker {{.ID}}"]
max_parallel: 2
merge: {batch: 4, test_retries: 0}
budget: {usd: 20, tokens: 5000000}
copy: [.env, ./.claude/settings.local.json, config/local/]
sandbox: {mode: landlock, allow_write: [../../cache, /var/tmp/paste]}
defaults:
  command: [claude, -p, "{{.Prompt}}"]
  mode: tmux
  setup: npm ci
  budget: {usd: 2.5, tokens: 2000000}
  env: {SHARED: "1", LEVEL: default}
  timeout: 20m
  retries: 2
  nudge: {idle: 3m, max: 1, auto_commit: false}
leader:
  name: boss
  prompt: Ship paste support.
  env: {LEVEL: leader}
agents:
  - name: alice
    preset: codex
    mode: headless
    setup: make deps
    budget: {usd: 1}
    env: {LEVEL: alice, OWN: "yes"}
    timeout: 1h
    retries: 0
    nudge: {idle: 1m}
    owns: [./internal/paste/, docs//paste.md]
    tasks:
      - id: parser
        prompt: Implement the paste parser.
      - id: docs
        prompt: Document it.
        after: [parser]
  - name: bob
    tasks:
      - id: cli
        prompt: |
          Add the paste command.
        after: [parser, docs]
  - name: carol
`

func TestParseFullPlan(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "/home/me/proj/plans/team.yaml", full)
	defNudge := plan.Nudge{Idle: 3 * time.Minute, Max: 1, AutoCommit: false}
	claude := []string{"claude", "-p", "{{.Prompt}}"}
	defBudget := plan.Budget{USD: 2.5, Tokens: 2000000}
	want := plan.Plan{
		File:        "/home/me/proj/plans/team.yaml",
		Version:     1,
		Team:        "paste-support",
		Repo:        "/home/me/proj",
		Base:        "main",
		Test:        "go test ./...",
		TestTimeout: 5 * time.Minute,
		Worktrees:   "/home/me/paste.teamctl",
		Escalate:    []string{"notify-send", "blocker {{.ID}}"},
		MaxParallel: 2,
		Merge:       plan.Merge{Batch: 4, TestRetries: 0},
		Budget:      plan.Budget{USD: 20, Tokens: 5000000},
		Copy:        []string{".env", ".claude/settings.local.json", "config/local/"},
		Sandbox:     plan.Sandbox{Mode: plan.SandboxLandlock, AllowWrite: []string{"/home/me/cache", "/var/tmp/paste"}},
		Leader: plan.Agent{
			Name: "boss", Role: "leader", Command: claude, Mode: "tmux", Setup: "npm ci", Budget: defBudget,
			Env:     map[string]string{"SHARED": "1", "LEVEL": "leader"},
			Timeout: 20 * time.Minute, Retries: 2, Nudge: defNudge,
			Prompt: "Ship paste support.",
		},
		Agents: []plan.Agent{
			{
				Name: "alice", Role: "dev", Preset: "codex", Mode: "headless", Setup: "make deps",
				// usd from alice, tokens from the defaults: a budget merges per key.
				Budget:  plan.Budget{USD: 1, Tokens: 2000000},
				Env:     map[string]string{"SHARED": "1", "LEVEL": "alice", "OWN": "yes"},
				Timeout: time.Hour, Retries: 0,
				Nudge: plan.Nudge{Idle: time.Minute, Max: 1, AutoCommit: false},
				Owns:  []string{"internal/paste/", "docs/paste.md"},
				Tasks: []plan.Task{
					{ID: "parser", Agent: "alice", Prompt: "Implement the paste parser."},
					{ID: "docs", Agent: "alice", Prompt: "Document it.", After: []string{"parser"}},
				},
			},
			{
				Name: "bob", Role: "dev", Command: claude, Mode: "tmux", Setup: "npm ci", Budget: defBudget,
				Env:     map[string]string{"SHARED": "1", "LEVEL": "default"},
				Timeout: 20 * time.Minute, Retries: 2, Nudge: defNudge,
				Tasks: []plan.Task{{ID: "cli", Agent: "bob", Prompt: "Add the paste command.\n", After: []string{"parser", "docs"}}},
			},
			{
				Name: "carol", Role: "dev", Command: claude, Mode: "tmux", Setup: "npm ci", Budget: defBudget,
				Env:     map[string]string{"SHARED": "1", "LEVEL": "default"},
				Timeout: 20 * time.Minute, Retries: 2, Nudge: defNudge,
			},
		},
	}
	if got := exported(p); !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n got %+v\nwant %+v", got, want)
	}
	if !p.Leader.IsAgent() || !p.Agents[0].IsAgent() {
		t.Errorf("leader and alice must be agents")
	}

	// The orchestrator stores the plan as JSON and runs a resumed team from it.
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back plan.Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(exported(&back), want) {
		t.Errorf("after a JSON round trip:\n got %+v\nwant %+v", exported(&back), want)
	}
}

func TestBuiltInDefaults(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "", head+alice)
	if p.File != "" {
		t.Errorf("File %q, want \"\" for a plan without a name", p.File)
	}
	wd, _ := os.Getwd()
	if p.Repo != wd {
		t.Errorf("Repo %q, want the working directory %q", p.Repo, wd)
	}
	if p.TestTimeout != 10*time.Minute || p.Merge != (plan.Merge{Batch: 8, TestRetries: 1}) || p.MaxParallel != 0 || p.Spawn != (plan.Spawn{MaxTasks: 8, Concurrency: 4, MaxDepth: 2}) {
		t.Errorf("plan defaults: test_timeout %v merge %+v max_parallel %d", p.TestTimeout, p.Merge, p.MaxParallel)
	}
	if p.Worktrees != "" || p.Escalate != nil || p.Base != "" || p.Test != "" || !p.Budget.IsZero() || p.Copy != nil {
		t.Errorf("unset options must stay empty: %+v", exported(p))
	}
	wantNudge := plan.Nudge{Idle: 2 * time.Minute, Max: 2, AutoCommit: true}
	for _, a := range []plan.Agent{p.Leader, p.Agents[0]} {
		if a.Timeout != 30*time.Minute || a.Retries != 1 || a.Nudge != wantNudge {
			t.Errorf("%s: timeout %v retries %d nudge %+v", a.Name, a.Timeout, a.Retries, a.Nudge)
		}
		if a.Env == nil {
			t.Errorf("%s: Env is nil", a.Name)
		}
		if a.Mode != plan.ModeHeadless || a.Setup != "" || !a.Budget.IsZero() {
			t.Errorf("%s: mode %q setup %q budget %+v, want headless, none, none", a.Name, a.Mode, a.Setup, a.Budget)
		}
	}
	if p.Leader.Name != plan.DefaultLeader || p.Leader.Role != "leader" || p.Leader.IsAgent() {
		t.Errorf("leader %+v, want lead, role leader, no agent", p.Leader)
	}
	if a := p.Agents[0]; a.Role != "dev" || a.Owns != nil || a.Tasks[0].After != nil {
		t.Errorf("alice %+v", a)
	}
}

func TestDefaultsMerge(t *testing.T) {
	t.Parallel()
	yaml := head + `defaults:
  preset: claude
  env: {A: a, B: b}
  nudge: {idle: 5m, max: 4, auto_commit: false}
agents:
  - name: inherits
  - name: own-command
    command: [mine]
    env: {B: mine, C: c}
    nudge: {idle: 1m}
  - name: own-preset
    preset: aider
    nudge: {auto_commit: true}
`
	p := mustParse(t, "team.yaml", yaml)
	cases := []struct {
		name    string
		command []string
		preset  string
		env     map[string]string
		nudge   plan.Nudge
	}{
		{"inherits", nil, "claude", map[string]string{"A": "a", "B": "b"}, plan.Nudge{Idle: 5 * time.Minute, Max: 4}},
		{"own-command", []string{"mine"}, "", map[string]string{"A": "a", "B": "mine", "C": "c"}, plan.Nudge{Idle: time.Minute, Max: 4}},
		{"own-preset", nil, "aider", map[string]string{"A": "a", "B": "b"}, plan.Nudge{Idle: 5 * time.Minute, Max: 4, AutoCommit: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, ok := p.Agent(c.name)
			if !ok {
				t.Fatalf("no agent %s", c.name)
			}
			if !reflect.DeepEqual(a.Command, c.command) || a.Preset != c.preset {
				t.Errorf("command %q preset %q, want %q %q", a.Command, a.Preset, c.command, c.preset)
			}
			if !reflect.DeepEqual(a.Env, c.env) {
				t.Errorf("env %v, want %v", a.Env, c.env)
			}
			if a.Nudge != c.nudge {
				t.Errorf("nudge %+v, want %+v", a.Nudge, c.nudge)
			}
		})
	}
}

func TestDefaultCommandDroppedByPreset(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "team.yaml", head+"defaults: {command: [dev, x]}\n"+strings.Replace(alice, "command: [dev]", "preset: gemini", 1)+"  - name: bob\n  - name: carol\n")
	if a := p.Agents[0]; a.Command != nil || a.Preset != "gemini" {
		t.Errorf("alice: command %q preset %q, want only the preset", a.Command, a.Preset)
	}
	// Agents that inherit a command must not share its backing array.
	p.Agents[1].Command[1] = "changed"
	if got := p.Agents[2].Command; got[1] != "x" {
		t.Errorf("changing bob's command changed carol's: %q", got)
	}
}

func TestLeaderIsAgent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		defaults string
		leader   string
		command  []string
		preset   string
	}{
		{"no leader section", "defaults: {command: [dev]}\n", "", nil, ""},
		{"name only", "defaults: {command: [dev]}\n", "leader: {name: boss}\n", nil, ""},
		{"own command", "", "leader: {command: [boss, \"{{.Prompt}}\"]}\n", []string{"boss", "{{.Prompt}}"}, ""},
		{"own preset over a default command", "defaults: {command: [dev]}\n", "leader: {preset: claude}\n", nil, "claude"},
		{"prompt with a default command", "defaults: {command: [dev]}\n", "leader: {prompt: Lead.}\n", []string{"dev"}, ""},
		{"prompt with a default preset", "defaults: {preset: pi}\n", "leader: {prompt: Lead.}\n", nil, "pi"},
		{"prompt without any command", "", "leader: {prompt: Lead.}\n", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, "team.yaml", head+c.defaults+c.leader+alice)
			l := p.Leader
			if !reflect.DeepEqual(l.Command, c.command) || l.Preset != c.preset {
				t.Errorf("leader command %q preset %q, want %q %q", l.Command, l.Preset, c.command, c.preset)
			}
			if l.IsAgent() != (c.command != nil || c.preset != "") {
				t.Errorf("IsAgent() = %v", l.IsAgent())
			}
			if l.Role != "leader" || l.Env == nil {
				t.Errorf("leader role %q env %v", l.Role, l.Env)
			}
		})
	}
}

func TestZeroTaskAgentAllowed(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "team.yaml", head+"agents:\n  - name: idle\n    command: [dev]\n    tasks: []\n")
	if len(p.Agents) != 1 || len(p.Tasks()) != 0 {
		t.Errorf("agents %d tasks %d", len(p.Agents), len(p.Tasks()))
	}
}

func TestTasksAndAgent(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "/p/team.yaml", full)
	var ids []string
	for _, task := range p.Tasks() {
		ids = append(ids, task.Agent+"/"+task.ID)
	}
	if got := strings.Join(ids, " "); got != "alice/parser alice/docs bob/cli" {
		t.Errorf("Tasks() = %s", got)
	}
	for _, name := range []string{"boss", "alice", "carol"} {
		if a, ok := p.Agent(name); !ok || a.Name != name {
			t.Errorf("Agent(%q) = %v, %v", name, a.Name, ok)
		}
	}
	if _, ok := p.Agent("lead"); ok {
		t.Errorf("Agent(lead) found, but the leader is called boss")
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "plans", "team.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(head+"worktrees: ../wt\n"+alice), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.File != path || p.Repo != filepath.Dir(path) || p.Worktrees != filepath.Join(dir, "wt") {
		t.Errorf("File %q Repo %q Worktrees %q", p.File, p.Repo, p.Worktrees)
	}

	missing := filepath.Join(dir, "nope.yaml")
	_, err = plan.Load(missing)
	if !errors.Is(err, plan.ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrInvalid and fs.ErrNotExist", err)
	}
	if want := "read plan " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Load(missing) = %v, want %s", err, want)
	}
}

func TestMessagesNameTheFileAsGiven(t *testing.T) {
	t.Parallel()
	_, err := plan.Parse("plans/team.yaml", []byte("version: 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "plans/team.yaml:1:1: ") {
		t.Errorf("got %v, want it to start with plans/team.yaml:1:1:", err)
	}
	p := mustParse(t, "plans/team.yaml", head+alice)
	wd, _ := os.Getwd()
	if p.File != filepath.Join(wd, "plans", "team.yaml") || p.Repo != filepath.Join(wd, "plans") {
		t.Errorf("File %q Repo %q, want them absolute", p.File, p.Repo)
	}
	if got := p.Errorf("team", "x").Error(); got != "plans/team.yaml:2:7: x" {
		t.Errorf("Errorf = %s", got)
	}
}

var errNoRef = errors.New("no such ref")

func TestErrorf(t *testing.T) {
	t.Parallel()
	yaml := head + "base: main\ndefaults: {command: [dev], timeout: 1m}\n" + alice
	p := mustParse(t, "team.yaml", yaml)
	cases := []struct {
		key  string
		want string
	}{
		{"base", "team.yaml:3:7: "},
		{"team", "team.yaml:2:7: "},
		{"agents.0.command", "team.yaml:7:14: "},
		{"agents.0.tasks.0.id", "team.yaml:9:14: "},
		{"agents.0.timeout", "team.yaml:4:37: "}, // inherited: where defaults set it
		{"leader.command", "team.yaml:4:21: "},   // the same for the leader
		{"agents.0.owns", "team.yaml:6:5: "},     // not written, no default: the agent
		{"repo", "team.yaml:1:1: "},              // not written at all
		{"no.such.key", "team.yaml:1:1: "},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			t.Parallel()
			err := p.Errorf(c.key, "base branch %q does not exist: %w", "main", errNoRef)
			if got, want := err.Error(), c.want+`base branch "main" does not exist: no such ref`; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if !errors.Is(err, plan.ErrInvalid) || !errors.Is(err, errNoRef) {
				t.Errorf("errors.Is: ErrInvalid %v, wrapped %v", errors.Is(err, plan.ErrInvalid), errors.Is(err, errNoRef))
			}
			var e *plan.Error
			if !errors.As(err, &e) || e.File != "team.yaml" {
				t.Errorf("error %T %+v, want *plan.Error in team.yaml", err, e)
			}
		})
	}

	// A plan that came back from the store has no positions; it still names its file.
	data, _ := json.Marshal(p)
	var back plan.Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := back.Errorf("base", "gone").Error(), p.File+":1:1: gone"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"a": true, "0": true, "paste-support": true, "a-": true, "9lives": true,
		strings.Repeat("a", 40): true, strings.Repeat("a", 41): false,
		"": false, "-a": false, "A": false, "a_b": false, "a/b": false, "..": false, "a.b": false,
		"a b": false, " a": false, "é": false,
	}
	for s, want := range cases {
		if got := plan.ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNormalisePath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want, err string
	}{
		{in: "internal/paste/", want: "internal/paste/"},
		{in: "./internal/paste/", want: "internal/paste/"},
		{in: "a//b", want: "a/b"},
		{in: "a/../b", want: "b"},
		{in: "a/b/..", want: "a"},
		{in: "a/b/../", want: "a/"},
		{in: "docs//", want: "docs/"},
		{in: "README.md", want: "README.md"},
		{in: "..foo", want: "..foo"},
		{in: "", err: "empty path: want a path relative to the repository root"},
		{in: "/etc/passwd", err: `path "/etc/passwd" is absolute: want a path relative to the repository root`},
		{in: "..", err: `path ".." leaves the repository`},
		{in: "../x", err: `path "../x" leaves the repository`},
		{in: "a/../../x/", err: `path "a/../../x/" leaves the repository`},
		{in: "./", err: `path "./" is the whole repository: name a file or directory inside it`},
		{in: "a/..", err: `path "a/.." is the whole repository: name a file or directory inside it`},
		{in: "a\x00b", err: `path "a\x00b" contains a NUL byte`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := plan.NormalisePath(c.in)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Errorf("NormalisePath(%q) = %q, %v; want error %s", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("NormalisePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
}

// escalate is run as written: it is not an agent command, so it is not checked as a template.
func TestEscalateIsNotTemplated(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "team.yaml", head+`escalate: [notify, "{{ not a template"]`+"\n"+alice)
	if got := strings.Join(p.Escalate, " "); got != "notify {{ not a template" {
		t.Errorf("Escalate = %q", p.Escalate)
	}
}

// TestPresetsAndModesAreCopies checks that what Presets and Modes return is the caller's:
// changing it changes neither the next call's answer nor what a plan may say.
func TestPresetsAndModesAreCopies(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		list func() []string
		want []string
		yaml string // a plan that names want[0]
	}{
		{"presets", plan.Presets, []string{"claude", "codex", "gemini", "opencode", "pi", "aider"},
			"version: 1\nteam: t\nagents:\n  - {name: alice, preset: claude}\n"},
		{"modes", plan.Modes, []string{plan.ModeHeadless, plan.ModeTmux},
			"version: 1\nteam: t\nagents:\n  - {name: alice, command: [dev], mode: headless}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := c.list()
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s() = %v, want %v", c.name, got, c.want)
			}
			got[0] = "changed"
			if again := c.list(); !reflect.DeepEqual(again, c.want) {
				t.Errorf("after changing what %s() returned, it returns %v", c.name, again)
			}
			mustParse(t, "team.yaml", c.yaml)
		})
	}
}

// A plan is read only from a regular file of at most 1 MiB, with at most 1,024 agents and
// 1,024 tasks and prompts of at most 64 KiB: past any of them it is refused before anything
// is made, at file:line:col where there is a place to point at.
func TestPlanBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("version: 1\n# "+strings.Repeat("x", plan.MaxFileSize)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:        "not a regular file",
		big:         "a plan is at most 1048576 (1 MiB)",
		"/dev/zero": "not a regular file",
		dir:         "not a regular file",
	} {
		_, err := plan.Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, plan.ErrInvalid) {
			t.Errorf("Load(%s): %v, want %q (invalid)", path, err, want)
		}
	}
	head := "version: 1\nteam: t\ndefaults: {command: [dev]}\nagents:\n"
	var many strings.Builder
	for i := 0; i <= plan.MaxAgents; i++ {
		fmt.Fprintf(&many, "  - {name: a%d, tasks: [{id: t%d, prompt: p}]}\n", i, i)
	}
	var tasks strings.Builder
	tasks.WriteString("  - name: a\n    tasks:\n")
	for i := 0; i <= plan.MaxTasks; i++ {
		fmt.Fprintf(&tasks, "      - {id: t%d, prompt: p}\n", i)
	}
	long := "  - {name: a, tasks: [{id: t, prompt: " + strings.Repeat("w", plan.MaxPrompt+1) + "}]}\n"
	// An 85 KB plan standing for a million tasks: one list of 1,000 reused by 1,000 agents.
	var list, reused strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&list, "{id: t%d, prompt: p}, ", i)
		fmt.Fprintf(&reused, "  - {name: a%d, tasks: *t}\n", i)
	}
	bomb := "version: 1\nteam: t\ndefaults: {command: [dev], env: {X: &t [" + list.String() + "]}}\nagents:\n" + reused.String()
	// Mistakes repeated: the first 20 are told, then how many more.
	repeated := head + strings.Repeat("  - {name: a, tasks: [{id: t, prompt: p}]}\n", 50)
	for name, c := range map[string]struct{ yaml, want string }{
		"aliases":  {bomb, "t.yaml:5:23: the plan stands for more than 200000 YAML nodes once its aliases (*name) are expanded"},
		"repeated": {repeated, "… and 78 more problem(s) in t.yaml"},
		"agents":   {head + many.String(), "t.yaml:5:3: 1025 agents: a plan has at most 1024"},
		"tasks":    {head + tasks.String(), "t.yaml:1031:9: task 1025 of the plan: a plan has at most 1024 tasks"},
		"prompt":   {head + long, "t.yaml:5:39: prompt of 65537 bytes: at most 65536 (64 KiB)"},
	} {
		_, err := plan.Parse("t.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, shortErr(err), c.want)
		}
	}
}

func shortErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// TestAllowWriteFollowsLinks: a symbolic link to the repository, or to the home directory,
// is what it points at.
func TestAllowWriteFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	for _, l := range [][2]string{{repo, "to-repo"}, {home, "to-home"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "team.yaml")
	body := "version: 1\nteam: t\nrepo: repo\nsandbox: {allow_write: [to-repo, to-home/x/..]}\nagents:\n  - {name: a, command: [x], tasks: [{id: a, prompt: p}]}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = plan.Load(path)
	if err == nil || !strings.Contains(err.Error(), `"to-repo" holds the repository`) {
		t.Errorf("a link to the repository: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), `"to-home/x/.." holds your home directory`) {
		t.Errorf("a link to the home directory: %v", err)
	}
}

func TestMergeSettleAndParallel(t *testing.T) {
	const head = "version: 1\nteam: t\nbase: main\nagents: [{name: a, command: [x], tasks: [{id: t1, prompt: p}]}]\n"
	for _, c := range []struct {
		merge string
		want  plan.Merge
	}{
		{"", plan.Merge{Batch: 8, TestRetries: 1}},
		{"merge: {settle: auto}\n", plan.Merge{Batch: 8, TestRetries: 1}},
		{"merge: {settle: 0s}\n", plan.Merge{Batch: 8, TestRetries: 1, Settle: plan.NoSettle}},
		{"merge: {settle: off, parallel: 1}\n", plan.Merge{Batch: 8, TestRetries: 1, Settle: plan.NoSettle, Parallel: 1}},
		{"merge: {settle: 1m, parallel: 4}\n", plan.Merge{Batch: 8, TestRetries: 1, Settle: time.Minute, Parallel: 4}},
	} {
		if got := mustParse(t, "team.yaml", head+c.merge).Merge; got != c.want {
			t.Errorf("%q: merge %+v, want %+v", c.merge, got, c.want)
		}
	}
}
