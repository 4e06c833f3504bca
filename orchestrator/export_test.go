package orchestrator

import (
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// TestStore and TestRepo give the package's tests the workspace's store and repository,
// which the layers above reach only through the workspace's API.
func (w *Workspace) TestStore() *store.Store  { return w.store }
func (w *Workspace) TestRepo() *worktree.Repo { return w.repo }
