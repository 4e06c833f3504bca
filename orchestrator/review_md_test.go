package orchestrator

import (
	"strings"
	"testing"
	"time"
)

func TestMarkdownParts(t *testing.T) {
	t.Parallel()
	rv := Review{
		Team: "t", Base: "main", LeaderBranch: "teamctl/t/lead/work", Tip: "0123456789abcdef", Tested: false, Test: "make test",
		Commits: 2, Diffstat: Diffstat{Files: []FileStat{{Path: "a.go", Insertions: 3}}},
		Tasks: []ReviewTask{
			{ID: "a", Agent: "alice", State: Merged, Merge: "fedcba9876543210", Tests: "passed", TestRuns: 1,
				Commits:  []ReviewCommit{{Hash: "1111111111aa", Subject: "fix *all* the `bugs` | quickly", Author: "alice"}},
				Diffstat: Diffstat{Files: []FileStat{{Path: "a.go", Insertions: 3}}},
				Summary:  "## Summary\nDid it."},
			{ID: "b", Agent: "bob", State: Failed, Detail: "refused: changes x outside its owns: y/", Tests: "not run"},
		},
		Refused: []ReviewMerge{{Task: "b", Agent: "bob", Outcome: "refused", Why: "has ``` fences\nand more", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		Blockers: []BlockerStatus{{ID: 3, Agent: "bob", Task: "b", Text: "Which\nDB?", Human: true, State: "open"},
			{ID: 4, Agent: "alice", Text: "ok?", State: "open"}},
		Costs: []AgentCost{{Agent: "alice", USD: 1.5}, {Agent: "bob", USD: 0.25, Estimated: true}, {Agent: "tom", Unknown: true}},
	}
	var b strings.Builder
	if err := rv.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"- Tests: `make test` **has not passed** on the tip\n",
		"Not ready to accept: the tip of `teamctl/t/lead/work` has not passed the tests.\n",
		"### bob\n\n- Tasks: `b` (failed)\n- Merged: nothing\n",
		"- Merge commits: `fedcba9876` (a)\n",
		"  - `1111111111` fix \\*all\\* the \\`bugs\\` \\| quickly — alice\n",
		"- Why: refused: changes x outside its owns: y/\n",
		"> ## Summary\n> Did it.\n",
		"- `b` (bob): **refused** at 2026-01-02 03:04:05Z\n\n  ````\n  has ``` fences\n  and more\n  ````\n",
		"- #3 from bob (task `b`), waiting on the human: Which DB?\n",
		"- #4 from alice, waiting on the leader: ok?\n",
		"| alice | 1.50 |\n| bob | ~0.25 |\n| tom | unknown (tmux) |\n| **total** | **~1.75 + unknown** |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// Money in JSON is to the cent: 0.1014 is not 0.10139999999999999.
func TestCents(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]float64{0.10139999999999999: 0.1, 0.105: 0.11, 1.994: 1.99, 0: 0} {
		if got := cents(in); got != want {
			t.Errorf("cents(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestMarkdownCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain": "`plain`", "": "` `", "a`b": "`` a`b ``", "`x": "`` `x ``", "a``b": "``` a``b ```",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

// A spawner's merge brings its worker's work: "Who changed what" counts that work under the
// worker only — its commits not among the spawner's, its lines off the spawner's files.
func TestMarkdownWorkersNotCountedTwice(t *testing.T) {
	t.Parallel()
	rv := Review{
		Team: "t", Base: "main", LeaderBranch: "teamctl/t/lead/work", Tip: "0123456789abcdef", Tested: true,
		Tasks: []ReviewTask{
			{ID: "w1", Agent: "alice-w1", State: Merged, Into: "teamctl/t/alice/work", Merge: "mmmmmmmmmmmm", Tests: "passed",
				Commits:  []ReviewCommit{{Hash: "wwwwwwwwwwww", Subject: "worker's", Author: "alice-w1"}},
				Diffstat: Diffstat{Files: []FileStat{{Path: "w.go", Insertions: 5}, {Path: "shared.go", Insertions: 1}}}},
			{ID: "a", Agent: "alice", State: Merged, Merge: "aaaaaaaaaaaa", Tests: "passed",
				Commits: []ReviewCommit{{Hash: "111111111111", Subject: "mine", Author: "alice"},
					{Hash: "wwwwwwwwwwww", Subject: "worker's", Author: "alice-w1"},
					{Hash: "mmmmmmmmmmmm", Subject: "Merge teamctl/t/alice-w1/work", Author: "alice"}},
				Diffstat: Diffstat{Files: []FileStat{{Path: "a.go", Insertions: 2}, {Path: "logo.png"}, {Path: "shared.go", Insertions: 4}, {Path: "w.go", Insertions: 5}}}},
		},
	}
	var b strings.Builder
	if err := rv.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	want := "### alice\n\n- Tasks: `a` (merged)\n- Merge commits: `aaaaaaaaaa` (a)\n- Commits: 1\n- Files:\n" +
		"  - `a.go` +2 −0\n  - `logo.png` +0 −0\n  - `shared.go` +3 −0\n\n"
	if !strings.Contains(md, want) {
		t.Errorf("report lacks %q:\n%s", want, md)
	}
	if !strings.Contains(md, "### alice-w1\n\n- Tasks: `w1` (merged)\n- Merge commits: `mmmmmmmmmm` (w1)\n- Commits: 1\n- Files:\n  - `shared.go` +1 −0\n  - `w.go` +5 −0\n") {
		t.Errorf("the worker's work is not under it:\n%s", md)
	}
}
