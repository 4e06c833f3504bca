package agentproc

import (
	"fmt"
	"strings"
)

// PromptInput is what a launch's prompt is made of.
type PromptInput struct {
	Team, Agent, TaskID string
	Task                string // the task's own prompt
	Reason              string
	Extra               string // what the reason needs: the conflict's files, the tests' tail, the answer, what the worktree holds
	Branch              string
	LeaderBranch        string // the branch the agent's is merged into (a worker's: its spawner's)
	// CanSpawn: the agent may start workers of its own (teamctl spawn; not past the plan's
	// spawn.max_depth).
	CanSpawn bool
	// Interactive: the agent runs in tmux (mode: tmux), where it does not exit to end its
	// turn: teamctl done ends it, and answers are typed in at its prompt.
	Interactive bool
	// Confined: the agent runs confined (DESIGN.md §11); AllowWrite are the plan's
	// sandbox.allow_write paths, which it may write too.
	Confined   bool
	AllowWrite []string
}

// Prompt builds the full prompt of a launch: the task, what this launch is for, and the
// protocol block that tells the agent how to work with teamctl.
func Prompt(in PromptInput) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(in.Task))
	b.WriteString("\n")
	if why := reasonText(in.Reason, in.LeaderBranch); why != "" {
		fmt.Fprintf(&b, "\n## Why you are launched again\n%s\n", why)
	}
	if x := strings.TrimSpace(in.Extra); x != "" {
		b.WriteString("\n")
		b.WriteString(x)
		b.WriteString("\n")
	}
	blocker := "commit what you have, and exit 0. You are launched again with the\n  answer."
	finish := "exit with status 0"
	if in.Interactive {
		blocker = "commit what you have, and wait at your prompt: the answer is typed in\n  there (starting \"teamctl: your blocker\")."
		finish = "stop: teamctl done ends your session"
	}
	fmt.Fprintf(&b, `
## teamctl protocol
You are agent %s of team %s, working on task %s on branch %s, in your own git worktree.
Other agents work on the same repository at the same time, each in its own worktree.
- Commit as you go: git add -A && git commit -m "what and why". Work left uncommitted when
  you exit gets you launched again, then is auto-committed under your name.
- Before you change files another agent may also change, reserve them:
  teamctl reserve PATH... --reason "why"   (dir/ reserves everything under it)
  Exit code 4 means another agent holds one: the message names who and why; work elsewhere
  or ask them. A commit that changes a path another agent reserved is refused.
  teamctl release [PATH...] gives back what you no longer need (all of it without PATH).
- Say what you are about to do: teamctl intent "TEXT" --files PATH,...  (reserves nothing)
- Messages: teamctl msg inbox reads yours (look between steps); teamctl msg send --to NAME
  "TEXT" writes to another agent or to human (--reply-to ID answers message [ID]); teamctl
  msg broadcast "TEXT" to every agent; teamctl msg feed shows what the team did lately.
- Who is who: teamctl whoami (your task, branch, reservations, unread messages); teamctl
  agents (every agent: state, task, intent, reservations, last seen).
- If you cannot go on without an answer: teamctl blocker "QUESTION" (add --human when only
  a person can answer), %s
- When the task is done, commit everything, report with
    teamctl done --summary - <<'REPORT'
    ## Summary
    ## Files Changed
    ## Validation
    ## Notes
    REPORT
  (what you did; the files; how you checked it; anything the reviewer should know), then
  %s. teamctl merges your branch into %s and runs the project's tests there.
- If you cannot finish, exit non-zero; you may be retried.
- If you are the team's leader: teamctl task add --agent NAME --id ID "TEXT" delegates work;
  teamctl blockers lists questions, teamctl answer ID "TEXT" answers one, teamctl escalate ID
  passes it on to the person running the team.
`, in.Agent, in.Team, in.TaskID, in.Branch, blocker, finish, in.LeaderBranch)
	if in.CanSpawn {
		b.WriteString(`- Work that splits into parts: teamctl spawn --task "TEXT" [--task "TEXT"]... [--wait]
  starts one worker per task on a branch made from yours; their work is merged into your
  branch (yours is merged on once they have ended) and each one's report comes to you as a
  message (--wait waits and prints them).
`)
	}
	if in.Confined {
		also := ""
		if len(in.AllowWrite) > 0 {
			also = ", " + strings.Join(in.AllowWrite, ", ")
		}
		fmt.Fprintf(&b, `- You run confined: you may write your worktree, $TMPDIR (use it, not /tmp), your
  tools' caches (~/.cache, ~/.npm, Go's) and your CLI's own state%s. Anything else (the
  main checkout, other worktrees, other branches, tags, notes, git config and hooks) is
  refused with "Permission denied": that is the rule, not a fault; do not chmod, sudo or
  remove lock files to get past it. git stash cannot work here: commit work in progress
  instead. A branch you make beside yours is taken away and reported to the person.
`, also)
	}
	return b.String()
}

// orBranch is b, or "the leader branch" when it is not known.
func orBranch(b string) string {
	if b == "" {
		return "the leader branch"
	}
	return b
}

// reasonText says why a launch is a relaunch; into is the branch the agent's is merged into.
func reasonText(reason, into string) string {
	switch reason {
	case ReasonNudge:
		return "You exited with uncommitted changes in your worktree. Finish the task and commit everything that belongs to it (git add -A && git commit), then exit 0."
	case ReasonFixConflict:
		return fmt.Sprintf("Your branch conflicted with %s, which it is merged into. %s has been merged into yours and the merge is in progress in your worktree: resolve the conflicts below, keep both sides' intent, commit the merge, then exit 0.", orBranch(into), orBranch(into))
	case ReasonFixTests:
		return "Your branch merged cleanly but the project's tests failed with it. Fix your branch so the tests pass (the output's tail is below), commit, then exit 0."
	case ReasonAnswer:
		return "Your blocker was answered (below). Continue the task with it."
	case ReasonResume:
		return "teamctl was restarted while you worked on this task. Your worktree still holds your work (below); continue from there."
	}
	return ""
}
