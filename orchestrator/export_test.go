package orchestrator

import (
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// TestStore and TestRepo give the package's tests the workspace's store and repository,
// which the layers above reach only through the workspace's API.
func (w *Workspace) TestStore() *store.Store  { return w.store }
func (w *Workspace) TestRepo() *worktree.Repo { return w.repo }

// Transitions lists every move of the lifecycle as "from -> to", for tests that check a
// journal against it.
func Transitions() []string {
	out := make([]string, len(edges))
	for i, e := range edges {
		out[i] = string(e.from) + " -> " + string(e.to)
	}
	return out
}
