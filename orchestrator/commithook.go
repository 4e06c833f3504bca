package orchestrator

// The pre-commit hook of agent worktrees: a commit that changes a path another agent
// reserved is refused before it is made.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// InstallCommitHook installs, in the agent's linked worktree, the pre-commit hook that runs
// `teamctl hook pre-commit` (CheckCommit) before the repository's own pre-commit hook.
// The user's main worktree keeps its hooks untouched. Call it right after AddWorktree.
func (w *Workspace) InstallCommitHook(ctx context.Context, team, agent, worktreeDir string) error {
	bin := "teamctl"
	if w.env.BinDir != "" {
		bin = filepath.Join(w.env.BinDir, "teamctl")
	}
	return w.repo.InstallAgentHooks(ctx, worktreeDir, worktree.AgentHooks{
		PreCommit: []string{bin, "hook", "pre-commit", "--team", team, "--agent", agent},
		Branch:    BranchName(team, agent),
		Refused:   []string{bin, "hook", "ref-refused", "--team", team, "--agent", agent},
	})
}

// InstallCommitHooks installs the commit hook (InstallCommitHook) in every agent worktree
// of the team that exists, the leader's included; resume can use it for a team created
// before the hooks existed. It returns the worktrees it installed in.
func (w *Workspace) InstallCommitHooks(ctx context.Context, team string) ([]string, error) {
	t, err := w.ResolveTeam(ctx, team)
	if err != nil {
		return nil, err
	}
	agents, err := w.store.Agents(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, a := range agents {
		if _, err := os.Stat(a.Worktree); err != nil {
			continue
		}
		if err := w.InstallCommitHook(ctx, t.Name, a.Name, a.Worktree); err != nil {
			return done, err
		}
		done = append(done, a.Worktree)
	}
	return done, nil
}

// CommitCheck is what the pre-commit hook checked: the files of the commit against the
// team's reservations. Tokens are the fencing tokens of the agent's own reservations that
// cover some of the files; Seen the newest token granted in the store when it checked, so
// a later grant can be told from one the commit was checked against.
type CommitCheck struct {
	Team    string   `json:"team"`
	Agent   string   `json:"agent"`
	Files   []string `json:"files"`
	Tokens  []int64  `json:"tokens,omitempty"`
	Seen    int64    `json:"seen"`
	Refused string   `json:"refused,omitempty"`
}

// CheckCommit checks the commit being made in the worktree dir (with the index index, as
// StagedFiles reads it) by agent of team: refused
// (an error matching ErrReserved, naming holder and reason) when it changes a path another
// agent holds a live reservation on. The check is journaled ("commit.check", or
// "commit.refused" with the reason), tokens included.
func (w *Workspace) CheckCommit(ctx context.Context, team, agent, dir, index string) (CommitCheck, error) {
	t, err := w.ResolveTeam(ctx, team)
	if err != nil {
		return CommitCheck{}, err
	}
	files, err := w.repo.StagedFiles(ctx, dir, index)
	if err != nil {
		return CommitCheck{}, err
	}
	cc := CommitCheck{Team: t.Name, Agent: agent, Files: files}
	if cc.Seen, err = w.store.LatestToken(ctx); err != nil {
		return cc, err
	}
	res, err := w.ActiveReservations(ctx, t.Name)
	if err != nil {
		return cc, err
	}
	for _, r := range res {
		if r.Agent != agent {
			continue
		}
		for _, f := range files {
			if store.Overlaps(r.Path, f) {
				cc.Tokens = append(cc.Tokens, r.Token)
				break
			}
		}
	}
	cc.Refused = ReservedConflict(files, agent, res)
	kind := "commit.check"
	if cc.Refused != "" {
		kind = "commit.refused"
	}
	data, err := json.Marshal(cc)
	if err != nil {
		return cc, err
	}
	if _, err := w.store.AppendEvent(ctx, store.Event{Team: t.Name, Kind: kind, Agent: agent, Data: string(data)}); err != nil {
		return cc, err
	}
	if cc.Refused != "" {
		f, r, _ := store.FirstConflict(files, agent, res)
		return cc, reservedError(fmt.Sprintf("commit refused: it %s; unstage it (git restore --staged -- %s) or ask %s (teamctl msg send --to %s)",
			cc.Refused, f, r.Agent, r.Agent))
	}
	return cc, nil
}

// reservedError is a refusal because of another agent's reservation, said in full by its
// text: errors.Is(err, ErrReserved) holds.
type reservedError string

func (e reservedError) Error() string { return string(e) }

func (e reservedError) Is(target error) bool { return target == ErrReserved }
