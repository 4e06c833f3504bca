package orchestrator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// The leader worktree and a running agent's worktree removed by hand while the team runs:
// each is made again from its branch, the team finishes without a person, and review says
// what was made again and that what was uncommitted there is gone.
func TestWorktreesRemovedWhileTheTeamRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	// Its first launch waits with a file uncommitted; in a worktree made again it just commits.
	b := f.agent("b", fmt.Sprintf(`if [ "$TEAMCTL_ATTEMPT" = 1 ]; then
  echo draft > src/draft.txt; touch %[1]s/waiting
  while [ ! -e %[1]s/go ]; do sleep 0.05; done
fi
echo two > src/two.txt && git add src/two.txt && git commit -qm two`, marks))
	p := f.load(header + fmt.Sprintf(`agents:
  - {name: b, command: ['%s'], tasks: [{id: two, prompt: p}]}
`, b))
	done := make(chan error, 1)
	go func() { done <- f.run(p) }()
	testsupport.Eventually(t, time.Minute, "agent b waiting with a draft", func() bool {
		_, err := os.Stat(filepath.Join(marks, "waiting"))
		return err == nil
	})
	st := f.status("t")
	bWorktree := ""
	for _, a := range st.Agents {
		if a.Name == "b" {
			bWorktree = a.Worktree
		}
	}
	for _, dir := range []string{st.LeaderWorktree, bWorktree} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	testsupport.WriteFile(t, filepath.Join(marks, "go"), "go")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, f.logs.String())
	}
	if got := f.taskState(f.status("t"), "two"); got.State != orchestrator.Merged {
		t.Errorf("task two: %s (%s), want merged", got.State, got.Detail)
	}
	if got := f.git("show", "teamctl/t/lead/work:src/two.txt"); got != "two" {
		t.Errorf("src/two.txt on the leader branch: %q", got)
	}
	rv, err := f.workspace().Review(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	said := map[string]bool{}
	for _, r := range rv.Repairs {
		for _, dir := range []string{st.LeaderWorktree, bWorktree} {
			if strings.Contains(r.Text, dir) && strings.Contains(r.Text, "uncommitted") && strings.Contains(r.Text, "lost") {
				said[dir] = true
			}
		}
	}
	if !said[st.LeaderWorktree] || !said[bWorktree] {
		t.Errorf("review's repairs %+v do not name both worktrees made again and the loss", rv.Repairs)
	}
	for _, dir := range []string{st.LeaderWorktree, bWorktree} {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
			t.Errorf("worktree %s not made again: %v", dir, err)
		}
	}
}

// An agent's branch deleted by hand while the team was stopped: resume puts it back on the
// agent's last commit, which its worktree's HEAD reflog holds, and the commit is merged.
// When that commit is gone from the repository too, the branch starts again from the tested
// tip and review names the missing commit.
func TestBranchDeletedWhileStopped(t *testing.T) {
	t.Parallel()
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit lost=%v", lost), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			marks := t.TempDir()
			// The first launch commits, then waits to be killed; a relaunch finds its work done.
			a := f.agent("a", fmt.Sprintf(`if [ "$TEAMCTL_REASON" = task ]; then
  echo one > src/one.txt && git add -A && git commit -qm one && touch %[1]s/committed
  while :; do sleep 0.05; done
fi`, marks))
			child := f.startSupervisor(f.writePlan(header + fmt.Sprintf(`agents:
  - {name: a, command: ['%s'], tasks: [{id: one, prompt: p}]}
`, a)))
			testsupport.Eventually(t, time.Minute, "agent a's commit", func() bool {
				_, err := os.Stat(filepath.Join(marks, "committed"))
				return err == nil
			})
			commit := f.git("rev-parse", "teamctl/t/a/work")
			_ = child.Process.Kill()
			_ = child.Wait()
			f.killAgents("t")
			f.git("update-ref", "-d", "refs/heads/teamctl/t/a/work")
			if lost {
				// The reflog names a commit the repository no longer holds.
				missing := strings.Repeat("1", 40)
				reflog := filepath.Join(f.repo, ".git", "worktrees", "a", "logs", "HEAD")
				testsupport.WriteFile(t, reflog, commit+" "+missing+" x <x@x> 1 +0000\tcommit: gone\n")
				commit = missing
			}
			if err := f.resume("t"); err != nil {
				t.Fatalf("resume: %v\nlog:\n%s", err, f.logs.String())
			}
			rv, err := f.workspace().Review(context.Background(), "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(rv.Repairs) != 1 || !strings.Contains(rv.Repairs[0].Text, "teamctl/t/a/work") {
				t.Fatalf("repairs %+v, want one naming the branch", rv.Repairs)
			}
			text := rv.Repairs[0].Text
			if lost {
				if !strings.Contains(text, commit) || !strings.Contains(text, "lost") {
					t.Errorf("repair %q does not name the missing commit %s", text, commit)
				}
				return
			}
			if got := f.git("show", "teamctl/t/lead/work:src/one.txt"); got != "one" {
				t.Errorf("src/one.txt on the leader branch: %q: the agent's commit was not put back", got)
			}
			if !strings.Contains(text, "put back") {
				t.Errorf("repair %q, want it to say the branch was put back", text)
			}
			if tk := f.taskState(f.status("t"), "one"); tk.State != orchestrator.Merged {
				t.Errorf("task one: %s (%s), want merged", tk.State, tk.Detail)
			}
		})
	}
}
