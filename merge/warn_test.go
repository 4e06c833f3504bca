package merge_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/merge"
)

// lines is a file of n numbered lines, with the lines in edits replaced.
func lines(n int, edits map[int]string) string {
	s := ""
	for i := 1; i <= n; i++ {
		if e, ok := edits[i]; ok {
			s += e + "\n"
		} else {
			s += fmt.Sprintf("line %d\n", i)
		}
	}
	return s
}

func branches(agents ...string) map[string]string {
	m := map[string]string{}
	for _, a := range agents {
		m[a] = "teamctl/t/" + a + "/work"
	}
	return m
}

// advanceLeader commits files onto the leader branch in its worktree.
func (f *fixture) advanceLeader(files map[string]string) {
	f.t.Helper()
	for p, content := range files {
		testsupport.WriteFile(f.t, filepath.Join(f.leader, p), content)
	}
	testsupport.Git(f.t, f.leader, "add", "-A")
	testsupport.Git(f.t, f.leader, "commit", "-qm", "leader: merged work")
}

func TestConflictPairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(f *fixture) map[string]string
		want  []merge.Warning
	}{
		{
			name: "two branches clean against the leader conflict with each other",
			setup: func(f *fixture) map[string]string {
				f.branch("alice", "main", map[string]string{"shared.txt": "one\nTWO by alice\nthree\n"})
				f.branch("bob", "main", map[string]string{"shared.txt": "one\nTWO by bob\nthree\n"})
				f.branch("carol", "main", map[string]string{"src/carol.txt": "ok\n"})
				return branches("alice", "bob", "carol")
			},
			want: []merge.Warning{{A: "alice", B: "bob", Files: []string{"shared.txt"}}},
		},
		{
			name: "a pair is reported when one branch is behind the leader",
			setup: func(f *fixture) map[string]string {
				f.advanceLeader(map[string]string{"src/merged.txt": "ok\n"})
				f.branch("alice", leaderBranch, map[string]string{"shared.txt": "one\nTWO by alice\nthree\n"})
				f.branch("bob", "main", map[string]string{"shared.txt": "one\nTWO by bob\nthree\n"})
				return branches("alice", "bob")
			},
			want: []merge.Warning{{A: "alice", B: "bob", Files: []string{"shared.txt"}}},
		},
		{
			name: "a branch that conflicts with merged work is reported alone",
			setup: func(f *fixture) map[string]string {
				f.advanceLeader(map[string]string{"shared.txt": "one\nTWO merged\nthree\n"})
				f.branch("alice", "main", map[string]string{"shared.txt": "one\nTWO by alice\nthree\n"})
				f.branch("bob", leaderBranch, map[string]string{"src/bob.txt": "ok\n"})
				return branches("alice", "bob")
			},
			want: []merge.Warning{{A: "alice", Files: []string{"shared.txt"}}},
		},
		{
			name: "a file where the other branch has a directory",
			setup: func(f *fixture) map[string]string {
				f.branch("alice", "main", map[string]string{"src/d": "a file\n"})
				f.branch("bob", "main", map[string]string{"src/d/x.txt": "in a directory\n"})
				return branches("alice", "bob")
			},
			// git names the file it moves aside src/d~<commit>.
			want: []merge.Warning{{A: "alice", B: "bob", Files: []string{"src/d~"}}},
		},
		{
			name: "edits far apart in one file and missing branches give no warning",
			setup: func(f *fixture) map[string]string {
				f.advanceLeader(map[string]string{"big.txt": lines(30, nil)})
				f.branch("alice", leaderBranch, map[string]string{"big.txt": lines(30, map[int]string{2: "alice"})})
				f.branch("bob", leaderBranch, map[string]string{"big.txt": lines(30, map[int]string{20: "bob"})})
				return branches("alice", "bob", "nobody")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			got, err := merge.ConflictPairs(context.Background(), f.repo, leaderBranch, tt.setup(f))
			if err != nil {
				t.Fatal(err)
			}
			if !sameWarnings(got, tt.want) {
				t.Errorf("warnings %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The checker merges again only what changed: a branch whose head moved and the pairs it is
// in; everything when the leader tip moved. Pairs whose changes touch no common path are
// never merged together.
func TestPairCheckerRechecksOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.advanceLeader(map[string]string{"big.txt": lines(30, nil)})
	for i, a := range []string{"alice", "bob", "carol"} {
		f.branch(a, leaderBranch, map[string]string{"big.txt": lines(30, map[int]string{1 + 10*i: a})})
	}
	f.branch("dave", leaderBranch, map[string]string{"src/dave.txt": "ok\n"})
	live := branches("alice", "bob", "carol", "dave")
	c := merge.NewPairChecker(f.repo)
	ctx := context.Background()
	check := func(wantMerges int, what string) {
		t.Helper()
		before := c.Merges()
		w, err := c.Check(ctx, leaderBranch, live)
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != 0 {
			t.Errorf("%s: warnings %+v", what, w)
		}
		if got := c.Merges() - before; got != wantMerges {
			t.Errorf("%s: %d merges, want %d", what, got, wantMerges)
		}
	}
	// 4 branches with the tip, and the 3 pairs among alice, bob, carol (dave shares no path).
	check(4+3, "first check")
	check(0, "nothing changed")
	testsupport.Git(t, f.dir, "checkout", "-q", "teamctl/t/carol/work")
	testsupport.WriteFile(t, filepath.Join(f.dir, "src/carol.txt"), "more\n")
	testsupport.Git(t, f.dir, "add", "-A")
	testsupport.Git(t, f.dir, "commit", "-qm", "carol: more")
	testsupport.Git(t, f.dir, "checkout", "-q", "main")
	check(1+2, "carol moved")
	f.advanceLeader(map[string]string{"src/other.txt": "ok\n"})
	check(4+3, "the leader moved")

	// A conflict appears when bob rewrites carol's line: reported, with its key stable.
	testsupport.Git(t, f.dir, "checkout", "-q", "teamctl/t/bob/work")
	testsupport.WriteFile(t, filepath.Join(f.dir, "big.txt"), lines(30, map[int]string{11: "bob", 21: "bob was here"}))
	testsupport.Git(t, f.dir, "commit", "-qam", "bob: touch line 21")
	testsupport.Git(t, f.dir, "checkout", "-q", "main")
	w, err := c.Check(ctx, leaderBranch, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || w[0].A != "bob" || w[0].B != "carol" || !slices.Equal(w[0].Files, []string{"big.txt"}) {
		t.Fatalf("warnings %+v", w)
	}
	again, err := c.Check(ctx, leaderBranch, live)
	if err != nil || len(again) != 1 || again[0].Key() != w[0].Key() {
		t.Fatalf("second check: %+v, %v", again, err)
	}
}

// sameWarnings compares warnings; a wanted file ending in "~" matches any path it prefixes.
func sameWarnings(got, want []merge.Warning) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.A != w.A || g.B != w.B || len(g.Files) != len(w.Files) {
			return false
		}
		for j, p := range w.Files {
			if g.Files[j] != p && !(strings.HasSuffix(p, "~") && strings.HasPrefix(g.Files[j], p)) {
				return false
			}
		}
	}
	return true
}
