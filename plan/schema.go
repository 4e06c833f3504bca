package plan

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The keys of each mapping, in the order messages list them.
var (
	planKeys       = []string{"version", "team", "repo", "base", "test", "test_timeout", "worktrees", "escalate", "max_parallel", "merge", "spawn", "budget", "limits", "copy", "sandbox", "notify", "defaults", "leader", "agents"}
	teamBudgetKeys = []string{"usd", "tokens", "prices"}
	priceKeys      = []string{"input", "output", "cache_read", "cache_write"}
	limitsKeys     = []string{"patterns", "stagger", "backoff", "max_backoff"}
	patternKeys    = []string{"match", "kind"}
	mergeKeys      = []string{"batch", "test_retries", "settle", "parallel"}
	spawnKeys      = []string{"max_tasks", "concurrency", "max_depth"}
	notifyKeys     = []string{"ntfy", "webhook", "desktop", "command", "repeat", "link"}
	sandboxKeys    = []string{"mode", "allow_write"}
	defaultsKeys   = []string{"command", "preset", "mode", "env", "setup", "timeout", "retries", "nudge", "budget"}
	leaderKeys     = []string{"name", "command", "preset", "mode", "env", "setup", "timeout", "retries", "nudge", "budget", "prompt"}
	agentKeys      = []string{"name", "command", "preset", "mode", "env", "setup", "timeout", "retries", "nudge", "budget", "owns", "tasks"}
	budgetKeys     = []string{"usd", "tokens"}
	nudgeKeys      = []string{"idle", "max", "auto_commit"}
	taskKeys       = []string{"id", "prompt", "after"}
)

// Built-in values for what neither the agent nor defaults: sets.
const (
	defaultTestTimeout = 10 * time.Minute
	defaultBatch       = 8
	defaultTestRetries = 1
	defaultTimeout     = 30 * time.Minute
	defaultRetries     = 1
	defaultIdle        = 2 * time.Minute
	defaultNudgeMax    = 2
	defaultAutoCommit  = true
	defaultMode        = ModeHeadless
	defaultStagger     = 2 * time.Second
	defaultBackoff     = time.Minute
	defaultMaxBackoff  = 30 * time.Minute
)

// spec is one agent section (defaults:, leader: or an item of agents:) as written, before
// defaults apply. Pointers and launcher tell "not written" from a zero value.
type spec struct {
	node       *yaml.Node // the mapping; nil when the section is absent
	hasName    bool       // name: written, whatever its value
	named      bool       // name: written as a string (name and nameNode are set)
	name       string
	nameNode   *yaml.Node
	command    []string
	preset     string
	launcher   bool // command or preset written, even if invalid: no "has no command" on top
	env        map[string]string
	timeout    *time.Duration
	retries    *int
	idle       *time.Duration
	max        *int
	autoCommit *bool
	mode       string
	setup      *string
	budget     budgetSpec
	owns       []string
	prompt     string
	tasks      []taskSpec
}

// budgetSpec is a budget: as written; nil is "not set here".
type budgetSpec struct {
	usd    *float64
	tokens *int64
	prices map[string]Price // the team's budget only
}

// taskSpec is one task as written.
type taskSpec struct {
	node      *yaml.Node
	id        string
	idNode    *yaml.Node
	prompt    string
	after     []string
	afterNode *yaml.Node   // the list, where a cycle is reported
	afterIDs  []*yaml.Node // each id in it, where an unknown one is reported
}

// decode turns data into a Plan, recording every problem in d.errs. The Plan is only
// meaningful when no error was recorded.
func (d *decoder) decode(data []byte) *Plan {
	root := d.document(data)
	if root == nil {
		return nil
	}
	f, ok := d.fields(root, "", "plan", planKeys)
	if !ok {
		return nil
	}
	p := &Plan{
		Version:     1,
		TestTimeout: defaultTestTimeout,
		Merge:       Merge{Batch: defaultBatch, TestRetries: defaultTestRetries},
		Limits:      Limits{Stagger: defaultStagger, Backoff: defaultBackoff, MaxBackoff: defaultMaxBackoff},
	}
	d.version(f)
	if v := d.required(f, "team", "plan", "the team's name, "+namePattern); v != nil {
		if s, ok := d.str(v, "team"); ok {
			if !ValidName(s) {
				d.errorf(v, "team name %q: must match %s", s, namePattern)
			}
			p.Team = s
		}
	}
	dir := planDir(d.file)
	p.Repo = dir
	if v := f.get("repo"); v != nil {
		if s, ok := d.dirPath(v, "repo"); ok {
			p.Repo = resolve(dir, s)
		}
	}
	if v := f.get("base"); v != nil {
		if s, ok := d.str(v, "base"); ok {
			// base reaches git's argv; a leading "-" would be read as an option.
			if strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\n\x00") {
				d.errorf(v, "base %q: want a branch name (no leading -, no spaces)", s)
			}
			p.Base = s
		}
	}
	if v := f.get("test"); v != nil {
		p.Test, _ = d.str(v, "test")
	}
	if v := f.get("test_timeout"); v != nil {
		if t, ok := d.duration(v, "test_timeout"); ok {
			p.TestTimeout = t
		}
	}
	if v := f.get("worktrees"); v != nil {
		if s, ok := d.dirPath(v, "worktrees"); ok {
			p.Worktrees = resolve(dir, s)
		}
	}
	if v := f.get("escalate"); v != nil {
		p.Escalate, _ = d.argv(v, "escalate", "escalate", false)
	}
	if v := f.get("max_parallel"); v != nil {
		p.MaxParallel, _ = d.integer(v, "max_parallel", 0)
	}
	if v := f.get("merge"); v != nil {
		d.merge(v, &p.Merge)
	}
	p.Spawn = Spawn{}.Limits()
	if v := f.get("spawn"); v != nil {
		d.spawn(v, &p.Spawn)
	}
	if v := f.get("budget"); v != nil {
		var b budgetSpec
		d.budget(v, "budget", &b, teamBudgetKeys)
		p.Budget = b.resolve(Budget{})
		p.Prices = b.prices
	}
	if v := f.get("limits"); v != nil {
		d.limits(v, &p.Limits)
	}
	if v := f.get("copy"); v != nil {
		p.Copy = d.copyPaths(v, "copy")
	}
	if v := f.get("sandbox"); v != nil {
		repo := p.Repo
		if repo == "" {
			repo = dir
		}
		wts := p.Worktrees
		if wts == "" {
			wts = filepath.Join(filepath.Dir(repo), filepath.Base(repo)+".teamctl") // as orchestrator.WorktreeRoot
		}
		d.sandbox(v, dir, map[string]string{repo: "the repository", wts: "the team's worktrees"}, &p.Sandbox)
	}
	if v := f.get("notify"); v != nil {
		d.notify(v, &p.Notify)
	}
	def := d.spec(f.get("defaults"), "defaults", "defaults", defaultsKeys)
	leader := d.spec(f.get("leader"), "leader", "leader", leaderKeys)
	devs := d.agents(f)
	d.check(def, leader, devs)

	p.Leader = resolveAgent(def, leader, "leader")
	p.Leader.Name = DefaultLeader
	if leader.named {
		p.Leader.Name = leader.name
	}
	// The leader runs only when the plan asks for it: its own command or preset, or a
	// prompt (a goal to work on) with a command the defaults give every agent.
	if !leader.launcher && leader.prompt == "" {
		p.Leader.Command, p.Leader.Preset = nil, ""
	}
	for _, s := range devs {
		a := resolveAgent(def, s, "dev")
		for _, t := range s.tasks {
			a.Tasks = append(a.Tasks, Task{ID: t.id, Agent: a.Name, Prompt: t.prompt, After: t.after})
		}
		p.Agents = append(p.Agents, a)
	}
	return p
}

func (d *decoder) version(f fields) {
	v := d.required(f, "version", "plan", "version: 1")
	if v == nil {
		return
	}
	var version int
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&version) != nil {
		d.errorf(v, "version: want 1, got %s", describe(v))
		return
	}
	if version != 1 {
		d.errorf(v, "version %s is not supported: want version: 1", v.Value)
	}
}

// dirPath is a path option (repo, worktrees): a string, and not "", which would silently
// mean the plan's own directory.
func (d *decoder) dirPath(n *yaml.Node, label string) (string, bool) {
	s, ok := d.str(n, label)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(n, "%s is empty: want a path, absolute or relative to the plan file", label)
		return "", false
	}
	return s, ok
}

// notify reads notify: where the person is told what needs them (DESIGN.md §12).
func (d *decoder) notify(n *yaml.Node, nt *Notify) {
	f, ok := d.fields(n, "notify", "notify", notifyKeys)
	if !ok {
		return
	}
	httpURL := func(key string) string {
		v := f.get(key)
		if v == nil {
			return ""
		}
		s, ok := d.str(v, "notify."+key)
		if !ok {
			return ""
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(v, "notify.%s %q: want an http:// or https:// URL", key, s)
			return ""
		}
		return s
	}
	nt.Ntfy, nt.Webhook, nt.Link = httpURL("ntfy"), httpURL("webhook"), httpURL("link")
	if v := f.get("desktop"); v != nil {
		nt.Desktop, _ = d.boolean(v, "notify.desktop")
	}
	if v := f.get("command"); v != nil {
		nt.Command, _ = d.argv(v, "notify.command", "notify.command", false)
	}
	if v := f.get("repeat"); v != nil {
		if r, ok := d.duration(v, "notify.repeat"); ok {
			if r < time.Second {
				d.errorf(v, "notify.repeat %s: want at least 1s (a blocker is sent again after it)", r)
			}
			nt.Repeat = r
		}
	}
}

// spawn reads spawn: the limits of teamctl spawn (DESIGN.md §13).
func (d *decoder) spawn(n *yaml.Node, s *Spawn) {
	f, ok := d.fields(n, "spawn", "spawn", spawnKeys)
	if !ok {
		return
	}
	for i, dst := range []*int{&s.MaxTasks, &s.Concurrency, &s.MaxDepth} {
		key := spawnKeys[i]
		if v := f.get(key); v != nil {
			if k, ok := d.integer(v, "spawn."+key, 1); ok {
				*dst = k
			}
		}
	}
}

func (d *decoder) merge(n *yaml.Node, m *Merge) {
	f, ok := d.fields(n, "merge", "merge", mergeKeys)
	if !ok {
		return
	}
	if v := f.get("batch"); v != nil {
		if b, ok := d.integer(v, "merge.batch", 1); ok {
			m.Batch = b
		}
	}
	if v := f.get("test_retries"); v != nil {
		if r, ok := d.integer(v, "merge.test_retries", 0); ok {
			m.TestRetries = r
		}
	}
	if v := f.get("settle"); v != nil {
		switch {
		case v.Kind == yaml.ScalarNode && v.Value == "auto":
			m.Settle = 0
		case v.Kind == yaml.ScalarNode && (v.Value == "0" || v.Value == "0s" || v.Value == "off"):
			m.Settle = NoSettle
		case v.Kind == yaml.ScalarNode && !isNull(v):
			if t, err := time.ParseDuration(v.Value); err == nil && t > 0 {
				m.Settle = t
			} else {
				d.errorf(v, "merge.settle %q: want auto, 0s (a batch never waits) or a duration like 5s", v.Value)
			}
		default:
			d.errorf(v, "merge.settle: want auto, 0s (a batch never waits) or a duration like 5s, got %s", describe(v))
		}
	}
	if v := f.get("parallel"); v != nil {
		if k, ok := d.integer(v, "merge.parallel", 1); ok {
			if k > MaxParallelTests {
				d.errorf(v, "merge.parallel %d: want at most %d (each is a leader worktree and a test run at once)", k, MaxParallelTests)
			} else {
				m.Parallel = k
			}
		}
	}
}

// MaxParallelTests bounds merge.parallel.
const MaxParallelTests = 16

// sandbox reads sandbox: how agents are confined (DESIGN.md §11). kept are the directories
// (path → what it is) that no allow_write path may hold: writable, they would undo the
// confinement.
func (d *decoder) sandbox(n *yaml.Node, dir string, kept map[string]string, sb *Sandbox) {
	f, ok := d.fields(n, "sandbox", "sandbox", sandboxKeys)
	if !ok {
		return
	}
	if v := f.get("mode"); v != nil {
		if s, ok := d.str(v, "sandbox.mode"); ok {
			switch SandboxMode(s) {
			case SandboxLandlock, SandboxOff:
				sb.Mode = SandboxMode(s)
			default:
				d.errorf(v, "sandbox.mode %q: want %s or %s", s, SandboxLandlock, SandboxOff)
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		kept[filepath.Clean(home)] = "your home directory"
	}
	if v := f.get("allow_write"); v != nil {
		paths, nodes, ok := d.stringList(v, "sandbox.allow_write", "sandbox.allow_write")
		if !ok {
			return
		}
		for i, s := range paths {
			if strings.TrimSpace(s) == "" {
				d.errorf(nodes[i], "sandbox.allow_write: an empty path: want a path, absolute, ~/…, or relative to the plan file")
				continue
			}
			if strings.HasPrefix(s, "~") && !strings.HasPrefix(s, "~/") && s != "~" {
				d.errorf(nodes[i], "sandbox.allow_write %q: only ~/ (your own home directory) is understood", s)
				continue
			}
			p := resolveHome(dir, s)
			if what, ok := holds(p, kept); ok {
				d.errorf(nodes[i], "sandbox.allow_write %q %s: an agent could write what its confinement keeps from it; name only the directories it needs, outside the repository", s, what)
				continue
			}
			sb.AllowWrite = append(sb.AllowWrite, p)
		}
	}
}

// holds reports whether directory p is, holds or is inside one of kept (symbolic links
// followed, where the paths exist), and says how.
func holds(p string, kept map[string]string) (string, bool) {
	p = realPath(p)
	for _, k := range slices.Sorted(maps.Keys(kept)) {
		kr := realPath(k)
		switch {
		case kr == p || strings.HasPrefix(kr, strings.TrimSuffix(p, string(filepath.Separator))+string(filepath.Separator)):
			return "holds " + kept[k] + " " + k, true
		case kept[k] != "your home directory" && strings.HasPrefix(p, kr+string(filepath.Separator)):
			return "is inside " + kept[k] + " " + k, true
		}
	}
	return "", false
}

// realPath is p with its symbolic links resolved, as far as it exists.
func realPath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if d := filepath.Dir(p); d != p {
		return filepath.Join(realPath(d), filepath.Base(p))
	}
	return p
}

// resolveHome is resolve, with a leading ~/ standing for the home directory of whoever
// runs the team (kept as written when there is none: the sandbox then has no such path).
func resolveHome(dir, p string) string {
	if p == "~" {
		p = "~/"
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return resolve(dir, p)
}

// spec reads one agent section. keys decides which options the section may have.
func (d *decoder) spec(n *yaml.Node, path, where string, keys []string) *spec {
	s := &spec{node: n}
	if n == nil {
		return s
	}
	f, ok := d.fields(n, path, where, keys)
	if !ok {
		return s
	}
	if v, ok := f.vals["name"]; ok {
		s.hasName = true
		if isNull(v) {
			d.errorf(v, "name is empty: want %s", namePattern)
		} else if name, ok := d.str(v, "name"); ok {
			s.name, s.nameNode, s.named = name, v, true
		}
	}
	cmd, preset := f.get("command"), f.get("preset")
	if cmd != nil {
		s.launcher = true
		s.command, _ = d.argv(cmd, join(path, "command"), "command", true)
	}
	if preset != nil {
		s.launcher = true
		if name, ok := d.str(preset, "preset"); ok {
			if !slices.Contains(presets, name) {
				d.errorf(preset, "unknown preset %q (want one of: %s)", name, strings.Join(presets, ", "))
			}
			s.preset = name
		}
	}
	if cmd != nil && preset != nil {
		second := preset
		if position(cmd).Line > position(preset).Line {
			second = cmd
		}
		d.errorf(second, "command and preset are both set in %s: keep one", where)
	}
	if v := f.get("mode"); v != nil {
		if m, ok := d.str(v, "mode"); ok {
			if !slices.Contains(modes, m) {
				d.errorf(v, "unknown mode %q (want one of: %s)", m, strings.Join(modes, ", "))
			} else {
				s.mode = m
			}
		}
	}
	if v := f.get("env"); v != nil {
		s.env, _ = d.env(v, "env")
	}
	if v := f.get("setup"); v != nil {
		if cmd, ok := d.str(v, "setup"); ok {
			if strings.TrimSpace(cmd) == "" {
				d.errorf(v, "setup is empty: want a shell command run in the worktree before the first launch, like npm ci")
			} else {
				s.setup = &cmd
			}
		}
	}
	if v := f.get("budget"); v != nil {
		d.budget(v, join(path, "budget"), &s.budget, budgetKeys)
	}
	if v := f.get("timeout"); v != nil {
		if t, ok := d.duration(v, "timeout"); ok {
			s.timeout = &t
		}
	}
	if v := f.get("retries"); v != nil {
		if r, ok := d.integer(v, "retries", 0); ok {
			s.retries = &r
		}
	}
	if v := f.get("nudge"); v != nil {
		d.nudge(v, join(path, "nudge"), s)
	}
	if v := f.get("prompt"); v != nil {
		s.prompt, _ = d.str(v, "prompt")
		if len(s.prompt) > MaxPrompt {
			d.errorf(v, "prompt of %d bytes: at most %d (64 KiB) — put the long part in a file of the repository and name it in the prompt", len(s.prompt), MaxPrompt)
		}
	}
	if v := f.get("owns"); v != nil {
		s.owns = d.owns(v, join(path, "owns"))
	}
	if v := f.get("tasks"); v != nil {
		s.tasks = d.tasks(v, join(path, "tasks"))
	}
	return s
}

func (d *decoder) nudge(n *yaml.Node, path string, s *spec) {
	f, ok := d.fields(n, path, "nudge", nudgeKeys)
	if !ok {
		return
	}
	if v := f.get("idle"); v != nil {
		if t, ok := d.duration(v, "nudge.idle"); ok {
			s.idle = &t
		}
	}
	if v := f.get("max"); v != nil {
		if m, ok := d.integer(v, "nudge.max", 0); ok {
			s.max = &m
		}
	}
	if v := f.get("auto_commit"); v != nil {
		if b, ok := d.boolean(v, "nudge.auto_commit"); ok {
			s.autoCommit = &b
		}
	}
}

// budget reads a budget: mapping, each limit optional but at least one given.
// The team's budget (keys) may also say prices:.
func (d *decoder) budget(n *yaml.Node, path string, b *budgetSpec, keys []string) {
	f, ok := d.fields(n, path, "budget", keys)
	if !ok {
		return
	}
	if len(f.vals) == 0 {
		d.errorf(n, "budget is empty: want usd, tokens or both, like {usd: 2.5, tokens: 2000000}")
		return
	}
	if v := f.get("prices"); v != nil {
		b.prices = d.prices(v, join(path, "prices"))
	}
	if v := f.get("usd"); v != nil {
		var usd float64
		switch {
		case v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!int" && v.ShortTag() != "!!float") || v.Decode(&usd) != nil:
			d.errorf(v, "budget.usd: want an amount in US dollars like 2.5, got %s", describe(v))
		case usd <= 0 || usd != usd || usd > 1e9:
			d.errorf(v, "budget.usd %s: want an amount greater than 0", v.Value)
		default:
			b.usd = &usd
		}
	}
	if v := f.get("tokens"); v != nil {
		if t, ok := d.integer(v, "budget.tokens", 1); ok {
			t64 := int64(t)
			b.tokens = &t64
		}
	}
}

// prices reads budget.prices: a mapping of model name to its price per million tokens.
func (d *decoder) prices(n *yaml.Node, path string) map[string]Price {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "budget.prices: want a mapping of model to price, like {claude-sonnet-4-5: {input: 3, output: 15}}, got %s", describe(n))
		return nil
	}
	out := map[string]Price{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		model := k.Value
		if k.Kind != yaml.ScalarNode || strings.TrimSpace(model) == "" {
			d.errorf(k, "budget.prices: want a model name as the key, got %s", describe(k))
			continue
		}
		label := "budget.prices." + model
		f, ok := d.fields(v, join(path, model), label, priceKeys)
		if !ok {
			continue
		}
		var pr Price
		for key, dst := range map[string]*float64{"input": &pr.Input, "output": &pr.Output, "cache_read": &pr.CacheRead, "cache_write": &pr.CacheWrite} {
			if x := f.get(key); x != nil {
				*dst, _ = d.amount(x, label+"."+key)
			}
		}
		if f.get("input") == nil || f.get("output") == nil {
			d.errorf(v, "%s: want at least input and output, in US dollars per million tokens, like {input: 3, output: 15}", label)
		}
		out[model] = pr
	}
	return out
}

// amount is a price: a number of US dollars, 0 or more.
func (d *decoder) amount(n *yaml.Node, label string) (float64, bool) {
	var x float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&x) != nil || x < 0 || x != x || x > 1e6 {
		d.errorf(n, "%s: want US dollars per million tokens like 3 or 0.3, got %s", label, describe(n))
		return 0, false
	}
	return x, true
}

// limits reads limits:, the plan's words for provider errors.
func (d *decoder) limits(n *yaml.Node, l *Limits) {
	f, ok := d.fields(n, "limits", "limits", limitsKeys)
	if !ok {
		return
	}
	for key, dst := range map[string]*time.Duration{"stagger": &l.Stagger, "backoff": &l.Backoff, "max_backoff": &l.MaxBackoff} {
		if v := f.get(key); v != nil {
			if t, ok := d.duration(v, "limits."+key); ok {
				*dst = t
			}
		}
	}
	if l.MaxBackoff < l.Backoff {
		d.errorf(n, "limits.max_backoff %s is shorter than limits.backoff %s", l.MaxBackoff, l.Backoff)
	}
	v := f.get("patterns")
	if v == nil {
		return
	}
	items, ok := d.list(v, "limits.patterns", "limits.patterns", `a list of regular expressions, like ["usage limit.*resets (?P<until>\S+)"]`)
	if !ok {
		return
	}
	for i, it := range items {
		label := fmt.Sprintf("limits.patterns[%d]", i)
		pat := LimitPattern{Kind: "limit"}
		var at *yaml.Node
		if it.Kind == yaml.ScalarNode {
			pat.Match, at = it.Value, it
		} else {
			pf, ok := d.fields(it, join("limits.patterns", fmt.Sprint(i)), label, patternKeys)
			if !ok {
				continue
			}
			at = d.required(pf, "match", label, "a regular expression")
			if at == nil {
				continue
			}
			if pat.Match, ok = d.str(at, label+".match"); !ok {
				continue
			}
			if k := pf.get("kind"); k != nil {
				if s, ok := d.str(k, label+".kind"); ok {
					if !slices.Contains(limitKinds, s) {
						d.errorf(k, "%s.kind %q: want one of %s", label, s, strings.Join(limitKinds, ", "))
					}
					pat.Kind = s
				}
			}
		}
		_, err := regexp.Compile(pat.Match)
		switch {
		case strings.TrimSpace(pat.Match) == "":
			d.errorf(at, "%s is empty: want a regular expression", label)
			continue
		case err != nil:
			d.errorf(at, "%s: %v", label, err)
			continue
		}
		l.Patterns = append(l.Patterns, pat)
	}
}

// resolve lays the limits written here over base.
func (b budgetSpec) resolve(base Budget) Budget {
	if b.usd != nil {
		base.USD = *b.usd
	}
	if b.tokens != nil {
		base.Tokens = *b.tokens
	}
	return base
}

// copyPaths reads copy:, files the worktrees need that git does not carry (they are
// ignored or untracked): each a path inside the repository.
func (d *decoder) copyPaths(n *yaml.Node, path string) []string {
	paths, nodes, ok := d.stringList(n, path, "copy")
	if !ok {
		return nil
	}
	out := make([]string, 0, len(paths))
	seen := map[string]*yaml.Node{}
	for i, p := range paths {
		clean, err := NormalisePath(p)
		if err != nil {
			d.errorf(nodes[i], "copy: %v", err)
			continue
		}
		if first, dup := seen[strings.TrimSuffix(clean, "/")]; dup {
			d.errorf(nodes[i], "copy: %q is listed twice (first at %s)", p, at(first))
			continue
		}
		seen[strings.TrimSuffix(clean, "/")] = nodes[i]
		out = append(out, clean)
	}
	return out
}

func (d *decoder) owns(n *yaml.Node, path string) []string {
	paths, nodes, ok := d.stringList(n, path, "owns")
	if !ok {
		return nil
	}
	if len(paths) == 0 {
		// An empty list would read as "may change nothing" and refuse every merge.
		d.errorf(n, "owns is empty: list the paths this agent may change, or leave owns out")
		return nil
	}
	out := make([]string, 0, len(paths))
	for i, p := range paths {
		clean, err := NormalisePath(p)
		if err != nil {
			d.errorf(nodes[i], "owns: %v", err)
			continue
		}
		out = append(out, clean)
	}
	return out
}

// agents reads agents:, at least one dev agent: without one the team has no one to give
// a task to, not even the leader's `teamctl task add`.
func (d *decoder) agents(f fields) []*spec {
	want := "a list of dev agents, each with a name, a command or preset, and tasks"
	v := d.required(f, "agents", "plan", want)
	if v == nil {
		return nil
	}
	items, ok := d.list(v, "agents", "agents", "agents")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(v, "agents is empty: want %s", want)
		return nil
	}
	if len(items) > MaxAgents {
		d.errorf(v, "%d agents: a plan has at most %d", len(items), MaxAgents)
		return nil
	}
	devs := make([]*spec, len(items))
	for i, n := range items {
		where := fmt.Sprintf("agents[%d]", i)
		if name := scalarValue(n, "name"); name != "" {
			where = fmt.Sprintf("agent %q", name)
		}
		devs[i] = d.spec(n, fmt.Sprintf("agents.%d", i), where, agentKeys)
		if devs[i].node != nil && devs[i].node.Kind == yaml.MappingNode && !devs[i].hasName {
			d.errorf(n, "missing key %q in %s: want the agent's name, %s", "name", where, namePattern)
		}
	}
	return devs
}

func (d *decoder) tasks(n *yaml.Node, path string) []taskSpec {
	items, ok := d.list(n, path, "tasks", "tasks")
	if !ok {
		return nil
	}
	tasks := make([]taskSpec, 0, len(items))
	for i, it := range items {
		tpath := join(path, fmt.Sprint(i))
		where := fmt.Sprintf("tasks[%d]", i)
		if id := scalarValue(it, "id"); id != "" {
			where = fmt.Sprintf("task %q", id)
		}
		f, ok := d.fields(it, tpath, where, taskKeys)
		if !ok {
			continue
		}
		t := taskSpec{node: it}
		if v := d.required(f, "id", where, "the task's id, "+namePattern); v != nil {
			t.idNode = v
			t.id, _ = d.str(v, "id")
		}
		if v := d.required(f, "prompt", where, "what the agent should do"); v != nil {
			if s, ok := d.str(v, "prompt"); ok {
				switch {
				case strings.TrimSpace(s) == "":
					d.errorf(v, "prompt is empty: want what the agent should do")
				case len(s) > MaxPrompt:
					d.errorf(v, "prompt of %d bytes: at most %d (64 KiB) — put the long part in a file of the repository and name it in the prompt", len(s), MaxPrompt)
				}
				t.prompt = s
			}
		}
		if v := f.get("after"); v != nil {
			t.afterNode = v
			t.after, t.afterIDs, _ = d.stringList(v, join(tpath, "after"), "after")
		}
		tasks = append(tasks, t)
	}
	return tasks
}

// scalarValue peeks at a mapping's key before it is decoded, to name the mapping in messages.
func scalarValue(n *yaml.Node, key string) string {
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k != nil && k.Kind == yaml.ScalarNode && k.Value == key && v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
			return v.Value
		}
	}
	return ""
}

// resolveAgent applies defaults, then the agent's own settings, over the built-in values.
func resolveAgent(def, s *spec, role string) Agent {
	a := Agent{
		Name:    s.name,
		Role:    role,
		Env:     map[string]string{},
		Timeout: defaultTimeout,
		Retries: defaultRetries,
		Nudge:   Nudge{Idle: defaultIdle, Max: defaultNudgeMax, AutoCommit: defaultAutoCommit},
		Mode:    defaultMode,
		Owns:    s.owns,
		Prompt:  s.prompt,
	}
	for _, layer := range []*spec{def, s} {
		// command and preset are two ways to say what to run: whichever a layer sets
		// replaces both, so an agent's own command is never shadowed by an inherited preset.
		switch {
		case layer.command != nil:
			a.Command, a.Preset = slices.Clone(layer.command), ""
		case layer.preset != "":
			a.Command, a.Preset = nil, layer.preset
		}
		for k, v := range layer.env {
			a.Env[k] = v
		}
		if layer.timeout != nil {
			a.Timeout = *layer.timeout
		}
		if layer.retries != nil {
			a.Retries = *layer.retries
		}
		if layer.idle != nil {
			a.Nudge.Idle = *layer.idle
		}
		if layer.max != nil {
			a.Nudge.Max = *layer.max
		}
		if layer.autoCommit != nil {
			a.Nudge.AutoCommit = *layer.autoCommit
		}
		if layer.mode != "" {
			a.Mode = layer.mode
		}
		if layer.setup != nil {
			a.Setup = *layer.setup
		}
		a.Budget = layer.budget.resolve(a.Budget)
	}
	return a
}

// planDir is the absolute directory relative paths in the plan resolve against: the plan
// file's, or the working directory for a plan parsed from memory.
func planDir(file string) string {
	if file == "" {
		return abs(".")
	}
	return abs(filepath.Dir(file))
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}
