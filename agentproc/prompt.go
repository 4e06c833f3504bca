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
	LeaderBranch        string
}

// Prompt builds the full prompt of a launch: the task, what this launch is for, and the
// protocol block that tells the agent how to work with teamctl.
func Prompt(in PromptInput) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(in.Task))
	b.WriteString("\n")
	if why := reasonText(in.Reason); why != "" {
		fmt.Fprintf(&b, "\n## Why you are launched again\n%s\n", why)
	}
	if x := strings.TrimSpace(in.Extra); x != "" {
		b.WriteString("\n")
		b.WriteString(x)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, `
## teamctl protocol
You are agent %s of team %s, working on task %s on branch %s, in your own git worktree.
- Commit your work with git (git add -A && git commit -m "...") before you exit. Uncommitted
  work gets you relaunched, then is auto-committed under your name.
- When the task is done, exit with status 0. teamctl then merges your branch into %s and
  runs the project's tests there.
- If you cannot finish, exit non-zero; you may be retried.
`, in.Agent, in.Team, in.TaskID, in.Branch, in.LeaderBranch)
	return b.String()
}

func reasonText(reason string) string {
	switch reason {
	case ReasonNudge:
		return "You exited with uncommitted changes in your worktree. Finish the task and commit everything that belongs to it (git add -A && git commit), then exit 0."
	case ReasonFixConflict:
		return "Your branch conflicted with the leader branch. The leader branch has been merged into yours and the merge is in progress in your worktree: resolve the conflicts below, keep both sides' intent, commit the merge, then exit 0."
	case ReasonFixTests:
		return "Your branch merged cleanly but the project's tests failed with it. Fix your branch so the tests pass (the output's tail is below), commit, then exit 0."
	case ReasonAnswer:
		return "Your blocker was answered (below). Continue the task with it."
	case ReasonResume:
		return "teamctl was restarted while you worked on this task. Your worktree still holds your work (below); continue from there."
	}
	return ""
}
