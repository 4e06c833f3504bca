package gitenv_test

import (
	"slices"
	"testing"

	"github.com/teamctl/teamctl/internal/gitenv"
)

func TestScrub(t *testing.T) {
	t.Parallel()
	env := []string{
		"HOME=/home/a", "GIT_DIR=/other/.git", "GIT_WORK_TREE=/other", "GIT_INDEX_FILE=/other/.git/index",
		"GIT_PREFIX=sub/", "GIT_COMMON_DIR=/other/.git", "GIT_OBJECT_DIRECTORY=/other/.git/objects",
		"GIT_AUTHOR_NAME=alice", "GIT_DIRX=kept", "PATH=/bin",
	}
	want := []string{"HOME=/home/a", "GIT_AUTHOR_NAME=alice", "GIT_DIRX=kept", "PATH=/bin"}
	if got := gitenv.Scrub(env); !slices.Equal(got, want) {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
}
