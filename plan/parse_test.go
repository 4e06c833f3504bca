package plan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/plan"
)

// head is a valid start of a plan; cases append their agents: or break a line of it.
const head = "version: 1\nteam: t\n"

// alice is one valid dev agent, on lines 3-7 after head.
const alice = `agents:
  - name: alice
    command: [dev]
    tasks:
      - {id: one, prompt: do it}
`

const planKeys = "version, team, repo, base, test, test_timeout, worktrees, escalate, max_parallel, merge, spawn, budget, limits, copy, sandbox, notify, defaults, leader, agents"

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		yaml string
		want []string // every error, in order, exactly
	}{
		{"unknown top-level key", head + "agnets: []\n" + alice, []string{
			`team.yaml:3:1: unknown key "agnets" in plan (want one of: ` + planKeys + ")",
		}},
		{"unknown key in an agent", head + "agents:\n  - name: alice\n    comand: [dev]\n", []string{
			`team.yaml:4:5: agent "alice" has no command: set command or preset on it, or under defaults`,
			`team.yaml:5:5: unknown key "comand" in agent "alice" (want one of: name, command, preset, mode, env, setup, timeout, retries, nudge, budget, owns, tasks)`,
		}},
		{"unknown key in a task", head + alice + "  - name: bob\n    command: [dev]\n    tasks:\n      - id: two\n        prompt: p\n        afetr: [one]\n", []string{
			`team.yaml:13:9: unknown key "afetr" in task "two" (want one of: id, prompt, after)`,
		}},
		{"unknown key in defaults, nudge, merge and leader", head + "defaults: {comand: [x], nudge: {idel: 1m}}\nmerge: {bach: 2}\nleader: {owns: [x]}\n" + alice, []string{
			`team.yaml:3:12: unknown key "comand" in defaults (want one of: command, preset, mode, env, setup, timeout, retries, nudge, budget)`,
			`team.yaml:3:33: unknown key "idel" in nudge (want one of: idle, max, auto_commit)`,
			`team.yaml:4:9: unknown key "bach" in merge (want one of: batch, test_retries, settle, parallel)`,
			`team.yaml:5:10: unknown key "owns" in leader (want one of: name, command, preset, mode, env, setup, timeout, retries, nudge, budget, prompt)`,
		}},
		{"duplicate key", head + "team: u\n" + alice, []string{
			`team.yaml:3:1: duplicate key "team" in plan (first at 2:1)`,
		}},
		{"malformed YAML", head + "agents: [\n  - name: x\n", []string{
			`team.yaml:3:1: invalid YAML: did not find expected node content`,
		}},
		{"malformed YAML without a line", "\tversion: 1\n", []string{
			`team.yaml:1:1: invalid YAML: found character that cannot start any token`,
		}},
		{"empty file", "", []string{
			`team.yaml:1:1: empty plan: want a mapping with version: 1, team and agents`,
		}},
		{"not a mapping", "- version: 1\n", []string{
			`team.yaml:1:1: plan: want a mapping of keys (` + planKeys + `), got a list`,
		}},
		{"two documents", head + alice + "---\nteam: u\n", []string{
			`team.yaml:8:1: a second YAML document: a plan file holds one (remove the ---)`,
		}},
		{"version missing", "team: t\n" + alice, []string{
			`team.yaml:1:1: missing key "version" in plan: want version: 1`,
		}},
		{"version 2", "version: 2\nteam: t\n" + alice, []string{
			`team.yaml:1:10: version 2 is not supported: want version: 1`,
		}},
		{"version as a string", "version: \"1\"\nteam: t\n" + alice, []string{
			`team.yaml:1:10: version: want 1, got the string "1"`,
		}},
		{"version empty", "version:\nteam: t\n" + alice, []string{
			`team.yaml:1:9: version is empty: want version: 1`,
		}},
		{"team missing", "version: 1\n" + alice, []string{
			`team.yaml:1:1: missing key "team" in plan: want the team's name, [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"team wrong type", "version: 1\nteam: {name: t}\n" + alice, []string{
			`team.yaml:2:7: team: want a string, got a mapping`,
		}},
		{"team name with a slash", "version: 1\nteam: a/b\n" + alice, []string{
			`team.yaml:2:7: team name "a/b": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"team name with dots", "version: 1\nteam: ..\n" + alice, []string{
			`team.yaml:2:7: team name "..": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"team name with a space", "version: 1\nteam: my team\n" + alice, []string{
			`team.yaml:2:7: team name "my team": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"team name too long", "version: 1\nteam: " + strings.Repeat("a", 41) + "\n" + alice, []string{
			`team.yaml:2:7: team name "` + strings.Repeat("a", 41) + `": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"agent name upper case", head + strings.Replace(alice, "alice", "Alice", 1), []string{
			`team.yaml:4:11: agent name "Alice": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"agent name empty", head + strings.Replace(alice, "alice", `""`, 1), []string{
			`team.yaml:4:11: agent name "": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"agent name null", head + strings.Replace(alice, "alice", "", 1), []string{
			`team.yaml:4:10: name is empty: want [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"agent name missing", head + "agents:\n  - command: [dev]\n", []string{
			`team.yaml:4:5: missing key "name" in agents[0]: want the agent's name, [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"agent name human", head + strings.Replace(alice, "alice", "human", 1), []string{
			`team.yaml:4:11: agent name "human" is reserved for the person running the team: choose another`,
		}},
		{"leader name upper case", head + "leader: {name: Lead}\n" + alice, []string{
			`team.yaml:3:16: leader name "Lead": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"task id with a slash", head + strings.Replace(alice, "id: one", "id: a/b", 1), []string{
			`team.yaml:7:14: task id "a/b": must match [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"task id of a leader task", head + strings.Replace(alice, "id: one", "id: lead-fix-one", 1), []string{
			`team.yaml:7:14: task id "lead-fix-one" is reserved for the leader's own tasks (lead-start, lead-review, lead-blocker-*, lead-fix-*): choose another`,
		}},
		{"duplicate agent names", head + alice + "  - name: alice\n    command: [dev]\n", []string{
			`team.yaml:8:11: duplicate agent name "alice" (first at 4:11)`,
		}},
		{"agent named like the default leader", head + strings.Replace(alice, "alice", "lead", 1), []string{
			`team.yaml:4:11: agent name "lead" is the leader's name: rename the agent or set leader.name`,
		}},
		{"agent named like a named leader", head + "leader: {name: alice}\n" + alice, []string{
			`team.yaml:5:11: agent name "alice" is the leader's name: rename the agent or set leader.name`,
		}},
		{"duplicate task ids across agents", head + alice + "  - name: bob\n    command: [dev]\n    tasks: [{id: one, prompt: p}]\n", []string{
			`team.yaml:10:18: duplicate task id "one" (first at 7:14)`,
		}},
		{"after an unknown task", head + strings.Replace(alice, "prompt: do it", "prompt: do it, after: [two]", 1), []string{
			`team.yaml:7:42: after: unknown task id "two"`,
		}},
		{"after itself", head + strings.Replace(alice, "prompt: do it", "prompt: do it, after: [one]", 1), []string{
			`team.yaml:7:41: after: cycle one -> one: a task cannot wait for itself`,
		}},
		{"after cycle across agents", head + `agents:
  - name: alice
    command: [dev]
    tasks:
      - id: a
        prompt: p
        after: [c]
      - id: b
        prompt: p
        after: [a]
  - name: bob
    command: [dev]
    tasks:
      - id: c
        prompt: p
        after:
          - b
`, []string{
			`team.yaml:9:16: after: cycle a -> c -> b -> a: these tasks would wait for each other forever`,
		}},
		{"after not a list", head + strings.Replace(alice, "prompt: do it", "prompt: do it, after: one", 1), []string{
			`team.yaml:7:41: after: want a list of strings, got the string "one"`,
		}},
		{"dev agent without command", head + "agents:\n  - name: alice\n    tasks: []\n", []string{
			`team.yaml:4:5: agent "alice" has no command: set command or preset on it, or under defaults`,
		}},
		{"unknown preset", head + strings.Replace(alice, "command: [dev]", "preset: claud", 1), []string{
			`team.yaml:5:13: unknown preset "claud" (want one of: claude, codex, gemini, opencode, pi, aider)`,
		}},
		{"command and preset on one agent", head + strings.Replace(alice, "command: [dev]", "command: [dev]\n    preset: claude", 1), []string{
			`team.yaml:6:13: command and preset are both set in agent "alice": keep one`,
		}},
		{"command and preset in defaults", head + "defaults:\n  preset: pi\n  command: [dev]\n" + alice, []string{
			`team.yaml:5:12: command and preset are both set in defaults: keep one`,
		}},
		{"command a string", head + strings.Replace(alice, "command: [dev]", "command: claude -p", 1), []string{
			`team.yaml:5:14: command: want a non-empty list of strings (argv) like [my-agent, "{{.Prompt}}"], got the string "claude -p"`,
		}},
		{"command empty", head + strings.Replace(alice, "command: [dev]", "command: []", 1), []string{
			`team.yaml:5:14: command: want a non-empty list of strings (argv) like [my-agent, "{{.Prompt}}"], got an empty list`,
		}},
		{"command with a mapping", head + strings.Replace(alice, "command: [dev]", "command: [dev, {a: b}]", 1), []string{
			`team.yaml:5:20: command[1]: want a string, got a mapping`,
		}},
		{"command with an empty program", head + strings.Replace(alice, "command: [dev]", `command: ["", x]`, 1), []string{
			`team.yaml:5:15: command[0] is empty: want the program to run`,
		}},
		{"command template", head + strings.Replace(alice, "command: [dev]", `command: [dev, "{{.Prompt"]`, 1), []string{
			`team.yaml:5:20: command[1] "{{.Prompt": not a valid Go template: unclosed action`,
		}},
		{"command template naming no launch field", head + strings.Replace(alice, "command: [dev]", `command: [dev, "{{.Nope}}"]`, 1), []string{
			`team.yaml:5:20: command[1] "{{.Nope}}": no launch field is called Nope; a template may name {{.Prompt}}, {{.PromptFile}}, {{.Team}}, {{.Agent}}, {{.Role}}, {{.TaskID}}, {{.Worktree}}, {{.Branch}}, {{.LeaderBranch}}, {{.Attempt}}, {{.Reason}}`,
		}},
		{"command template function", head + strings.Replace(alice, "command: [dev]", `command: [dev, "{{shout .Prompt}}"]`, 1), []string{
			`team.yaml:5:20: command[1] "{{shout .Prompt}}": not a valid Go template: function "shout" not defined`,
		}},
		{"escalate not a list", head + "escalate: notify-send\n" + alice, []string{
			`team.yaml:3:11: escalate: want a non-empty list of strings (argv) like [my-agent, "{{.Prompt}}"], got the string "notify-send"`,
		}},
		{"test_timeout without unit", head + "test_timeout: 10\n" + alice, []string{
			`team.yaml:3:15: test_timeout "10": want a duration like 90s, 30m or 1h30m (missing unit in duration "10")`,
		}},
		{"timeout negative", head + "defaults: {command: [dev], timeout: -1m}\n" + alice, []string{
			`team.yaml:3:37: timeout "-1m": want a duration greater than 0`,
		}},
		{"nudge idle zero", head + strings.Replace(alice, "command: [dev]", "command: [dev]\n    nudge: {idle: 0s}", 1), []string{
			`team.yaml:6:19: nudge.idle "0s": want a duration greater than 0`,
		}},
		{"timeout a list", head + "defaults: {command: [dev], timeout: [1m]}\n" + alice, []string{
			`team.yaml:3:37: timeout: want a duration like 90s, 30m or 1h30m, got a list`,
		}},
		{"negative retries and max", head + "defaults: {command: [dev], retries: -1, nudge: {max: -2}}\n" + alice, []string{
			`team.yaml:3:37: retries -1: want 0 or more`,
			`team.yaml:3:54: nudge.max -2: want 0 or more`,
		}},
		{"retries not a number", head + "defaults: {command: [dev], retries: 1.5}\n" + alice, []string{
			`team.yaml:3:37: retries: want a whole number, got the number 1.5`,
		}},
		{"auto_commit not a boolean", head + "defaults: {command: [dev], nudge: {auto_commit: sometimes}}\n" + alice, []string{
			`team.yaml:3:49: nudge.auto_commit: want true or false, got the string "sometimes"`,
		}},
		{"merge batch zero and max_parallel negative", head + "merge: {batch: 0, test_retries: -1}\nmax_parallel: -1\n" + alice, []string{
			`team.yaml:3:16: merge.batch 0: want 1 or more`,
			`team.yaml:3:33: merge.test_retries -1: want 0 or more`,
			`team.yaml:4:15: max_parallel -1: want 0 or more`,
		}},
		{"merge settle not a duration, parallel out of range", head + "merge: {settle: soon, parallel: 0}\n" + alice, []string{
			`team.yaml:3:17: merge.settle "soon": want auto, 0s (a batch never waits) or a duration like 5s`,
			`team.yaml:3:33: merge.parallel 0: want 1 or more`,
		}},
		{"merge parallel too many", head + "merge: {parallel: 17}\n" + alice, []string{
			`team.yaml:3:19: merge.parallel 17: want at most 16 (each is a leader worktree and a test run at once)`,
		}},
		{"owns absolute and escaping", head + strings.Replace(alice, "command: [dev]", "command: [dev]\n    owns: [/etc/, ../x, a/../../y, ok/]", 1), []string{
			`team.yaml:6:12: owns: path "/etc/" is absolute: want a path relative to the repository root`,
			`team.yaml:6:19: owns: path "../x" leaves the repository`,
			`team.yaml:6:25: owns: path "a/../../y" leaves the repository`,
		}},
		{"owns empty", head + strings.Replace(alice, "command: [dev]", "command: [dev]\n    owns: []", 1), []string{
			`team.yaml:6:11: owns is empty: list the paths this agent may change, or leave owns out`,
		}},
		{"task prompt blank", head + strings.Replace(alice, "prompt: do it", `prompt: "  "`, 1), []string{
			`team.yaml:7:27: prompt is empty: want what the agent should do`,
		}},
		{"task prompt missing", head + strings.Replace(alice, ", prompt: do it", "", 1), []string{
			`team.yaml:7:9: missing key "prompt" in task "one": want what the agent should do`,
		}},
		{"task id missing", head + strings.Replace(alice, "id: one, ", "", 1), []string{
			`team.yaml:7:9: missing key "id" in tasks[0]: want the task's id, [a-z0-9][a-z0-9-]{0,39}`,
		}},
		{"tasks not a list", head + strings.Replace(alice, "    tasks:\n      - {id: one, prompt: do it}\n", "    tasks: {id: one}\n", 1), []string{
			`team.yaml:6:12: tasks: want a list of tasks, got a mapping`,
		}},
		{"env not a mapping and a list value", head + "defaults: {command: [dev], env: [A=1]}\n" + strings.Replace(alice, "command: [dev]", "env: {A: [1]}", 1), []string{
			`team.yaml:3:33: env: want a mapping of variable names to values, got a list`,
			`team.yaml:6:14: env.A: want a string, got a list`,
		}},
		{"env name with =", head + strings.Replace(alice, "command: [dev]", "command: [dev]\n    env: {\"A=B\": x}", 1), []string{
			`team.yaml:6:11: env: variable name "A=B": want a name without = or NUL`,
		}},
		{"repo empty", head + "repo: \"\"\n" + alice, []string{
			`team.yaml:3:7: repo is empty: want a path, absolute or relative to the plan file`,
		}},
		{"base like an option", head + "base: --force\n" + alice, []string{
			`team.yaml:3:7: base "--force": want a branch name (no leading -, no spaces)`,
		}},
		{"agents missing", head, []string{
			`team.yaml:1:1: missing key "agents" in plan: want a list of dev agents, each with a name, a command or preset, and tasks`,
		}},
		{"agents empty", head + "agents: []\n", []string{
			`team.yaml:3:9: agents is empty: want a list of dev agents, each with a name, a command or preset, and tasks`,
		}},
		{"budget not a mapping", head + "budget: 5\n" + alice, []string{
			`team.yaml:3:9: budget: want a mapping of keys (usd, tokens, prices), got the number 5`,
		}},
		{"budget empty", head + "budget: {}\n" + alice, []string{
			`team.yaml:3:9: budget is empty: want usd, tokens or both, like {usd: 2.5, tokens: 2000000}`,
		}},
		{"budget with bad limits", head + "defaults: {budget: {usd: -1, tokens: lots, cents: 3}}\n" + alice, []string{
			`team.yaml:3:26: budget.usd -1: want an amount greater than 0`,
			`team.yaml:3:38: budget.tokens: want a whole number, got the string "lots"`,
			`team.yaml:3:44: unknown key "cents" in budget (want one of: usd, tokens)`,
		}},
		{"budget usd as a string", head + "agents:\n  - name: alice\n    command: [dev]\n    budget: {usd: \"$3\"}\n", []string{
			`team.yaml:6:19: budget.usd: want an amount in US dollars like 2.5, got the string "$3"`,
		}},
		{"tokens zero", head + "budget: {tokens: 0}\n" + alice, []string{
			`team.yaml:3:18: budget.tokens 0: want 1 or more`,
		}},
		{"unknown mode", head + "defaults: {command: [x], mode: tumx}\n" + alice, []string{
			`team.yaml:3:32: unknown mode "tumx" (want one of: headless, tmux)`,
		}},
		{"mode not a string", head + "agents:\n  - name: alice\n    command: [dev]\n    mode: [tmux]\n", []string{
			`team.yaml:6:11: mode: want a string, got a list`,
		}},
		{"setup empty", head + "defaults: {command: [x], setup: \"  \"}\n" + alice, []string{
			`team.yaml:3:33: setup is empty: want a shell command run in the worktree before the first launch, like npm ci`,
		}},
		{"setup as a list", head + "leader: {setup: [npm, ci]}\n" + alice, []string{
			`team.yaml:3:17: setup: want a string, got a list`,
		}},
		{"copy paths", head + "copy: [/etc/passwd, ../x, .env, ./.env, \"\"]\n" + alice, []string{
			`team.yaml:3:8: copy: path "/etc/passwd" is absolute: want a path relative to the repository root`,
			`team.yaml:3:21: copy: path "../x" leaves the repository`,
			`team.yaml:3:33: copy: "./.env" is listed twice (first at 3:27)`,
			`team.yaml:3:41: copy: empty path: want a path relative to the repository root`,
		}},
		{"sandbox mode", head + "sandbox: {mode: docker, allow_write: [\"\"]}\n" + alice, []string{
			`team.yaml:3:17: sandbox.mode "docker": want landlock or off`,
			`team.yaml:3:39: sandbox.allow_write: an empty path: want a path, absolute, ~/…, or relative to the plan file`,
		}},
		// A path that holds what confinement keeps from an agent would undo it.
		{"sandbox allow_write", head + "sandbox: {allow_write: [/, .., \"~\", ~bob/x, ~/.cache/x, /tmp/x]}\n" + alice, []string{
			`team.yaml:3:25: sandbox.allow_write "/" holds `,
			`team.yaml:3:28: sandbox.allow_write ".." holds the repository `,
			`team.yaml:3:32: sandbox.allow_write "~" holds your home directory `,
			`team.yaml:3:37: sandbox.allow_write "~bob/x": only ~/ (your own home directory) is understood`,
		}},
		// Nor one inside the repository (its git directory included) or the worktrees.
		{"sandbox allow_write inside", head + "sandbox: {allow_write: [.git, sub/dir, ../plan.teamctl/t]}\n" + alice, []string{
			`team.yaml:3:25: sandbox.allow_write ".git" is inside the repository `,
			`team.yaml:3:31: sandbox.allow_write "sub/dir" is inside the repository `,
			`team.yaml:3:40: sandbox.allow_write "../plan.teamctl/t" is inside the team's worktrees `,
		}},
		{"notify", head + "notify: {ntfy: ntfy.sh/x, webhook: ftp://h/x, repeat: 10ms, desktop: maybe, pager: x}\n" + alice, []string{
			`team.yaml:3:16: notify.ntfy "ntfy.sh/x": want an http:// or https:// URL`,
			`team.yaml:3:36: notify.webhook "ftp://h/x": want an http:// or https:// URL`,
			`team.yaml:3:55: notify.repeat 10ms: want at least 1s`,
			`team.yaml:3:70: notify.desktop: want true or false`,
			`team.yaml:3:77: unknown key "pager" in notify (want one of: ntfy, webhook, desktop, command, repeat, link)`,
		}},
		{"spawn", head + "spawn: {max_tasks: 0, concurrency: two, max_depth: 1, depth: 3}\n" + alice, []string{
			`team.yaml:3:20: spawn.max_tasks 0: want 1 or more`,
			`team.yaml:3:36: spawn.concurrency: want a whole number, got the string "two"`,
			`team.yaml:3:55: unknown key "depth" in spawn (want one of: max_tasks, concurrency, max_depth)`,
		}},
		{"sandbox key", head + "sandbox: {mode: off, write: [x]}\n" + alice, []string{
			`team.yaml:3:22: unknown key "write" in sandbox (want one of: mode, allow_write)`,
		}},
		{"copy not a list", head + "copy: .env\n" + alice, []string{
			`team.yaml:3:7: copy: want a list of strings, got the string ".env"`,
		}},
		{"copy at agent level", head + "agents:\n  - name: alice\n    command: [dev]\n    copy: [.env]\n", []string{
			`team.yaml:6:5: unknown key "copy" in agent "alice"`,
		}},
		{"bad prices", head + "budget: {usd: 1, prices: {claude-x: {input: 3}, gpt: {input: -1, output: 2, tip: 1}}}\n" + alice, []string{
			`team.yaml:3:37: budget.prices.claude-x: want at least input and output, in US dollars per million tokens, like {input: 3, output: 15}`,
			`team.yaml:3:62: budget.prices.gpt.input: want US dollars per million tokens like 3 or 0.3, got the number -1`,
			`team.yaml:3:77: unknown key "tip" in budget.prices.gpt (want one of: input, output, cache_read, cache_write)`,
		}},
		{"prices in an agent's budget", head + "defaults: {budget: {usd: 1, prices: {}}}\n" + alice, []string{
			`team.yaml:3:29: unknown key "prices" in budget (want one of: usd, tokens)`,
		}},
		{"bad limits", head + "limits: {stagger: soon, backoff: 10m, max_backoff: 1m, patterns: ['(', {kind: limit}, {match: x, kind: maybe}, '']}\n" + alice, []string{
			`team.yaml:3:9: limits.max_backoff 1m0s is shorter than limits.backoff 10m0s`,
			`team.yaml:3:19: limits.stagger "soon": want a duration like 90s, 30m or 1h30m`,
			`team.yaml:3:67: limits.patterns[0]: error parsing regexp: missing closing ): ` + "`(`",
			`team.yaml:3:72: missing key "match" in limits.patterns[1]: want a regular expression`,
			`team.yaml:3:104: limits.patterns[2].kind "maybe": want one of limit, overload, auth, network`,
			`team.yaml:3:112: limits.patterns[3] is empty: want a regular expression`,
		}},
		{"agent not a mapping", head + "agents: [alice]\n", []string{
			`team.yaml:3:10: agents[0]: want a mapping of keys (name, command, preset, mode, env, setup, timeout, retries, nudge, budget, owns, tasks), got the string "alice"`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := plan.Parse("team.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want errors:\n%s", p, strings.Join(c.want, "\n"))
			}
			if p != nil {
				t.Errorf("Parse returned a plan with its error")
			}
			if !errors.Is(err, plan.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			var es plan.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want plan.Errors", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(c.want) {
				t.Fatalf("got %d errors:\n%s\nwant %d:\n%s", len(got), err, len(c.want), strings.Join(c.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestParseCollectsEverything checks that one bad plan reports all its problems in file
// order, not just the first.
func TestParseCollectsEverything(t *testing.T) {
	t.Parallel()
	yaml := `agents:
  - name: Bob
    tasks: [{id: x, prompt: p, after: [y]}]
team: T
version: 3
`
	_, err := plan.Parse("bad.yaml", []byte(yaml))
	var es plan.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T %v, want plan.Errors", err, err)
	}
	want := []plan.Position{{Line: 2, Col: 5}, {Line: 2, Col: 11}, {Line: 3, Col: 40}, {Line: 4, Col: 7}, {Line: 5, Col: 10}}
	if len(es) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(es), len(want), err)
	}
	for i, e := range es {
		if (plan.Position{Line: e.Line, Col: e.Col}) != want[i] || e.File != "bad.yaml" {
			t.Errorf("error %d at %s:%d:%d, want bad.yaml:%d:%d (%s)", i, e.File, e.Line, e.Col, want[i].Line, want[i].Col, e.Msg)
		}
	}
}

func TestMergeKeyRefused(t *testing.T) {
	t.Parallel()
	yaml := head + `defaults: &d {command: [dev]}
leader:
  <<: *d
` + alice
	_, err := plan.Parse("team.yaml", []byte(yaml))
	want := "team.yaml:5:3: merge keys (<<) are not supported in a plan: use defaults: to share settings between agents"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	t.Parallel()
	yaml := head + `agents:
  - name: alice
    command: &cmd [dev, "{{.Prompt}}"]
    tasks: [{id: one, prompt: p}]
  - name: bob
    command: *cmd
`
	p, err := plan.Parse("team.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Agents[1].Command; len(got) != 2 || got[0] != "dev" {
		t.Errorf("bob's command %q, want alice's", got)
	}
}
