package orchestrator

// `teamctl accept`: the person lands what the team merged on its base branch.

import (
	"context"
	"fmt"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/store"
)

// Accept fast-forwards the team's base branch to the leader branch: only when the leader
// tip passed the tests and base has not moved away from where the team can fast-forward it.
// It returns the commit base now points at.
func (w *Workspace) Accept(ctx context.Context, name string) (string, error) {
	if err := w.PersonOnly(ctx, "teamctl accept"); err != nil {
		return "", err
	}
	t, err := w.ResolveTeam(ctx, name)
	if err != nil {
		return "", err
	}
	// A base or leader branch an agent moved is put back first (DESIGN §11).
	if p, err := loadPlan(t); err == nil {
		found, err := w.guardRefs(ctx, t, membersOf(p), nil)
		for _, in := range found {
			w.env.logger().Warn("incident: an agent moved a ref; put back", "agent", in.Agent, "what", in.What)
			if _, rerr := w.RecordIncident(ctx, t.Name, in); rerr != nil && err == nil {
				err = rerr
			}
		}
		if err != nil {
			return "", err
		}
	}
	tip, err := w.repo.Resolve(ctx, t.LeaderBranch)
	if err != nil {
		return "", err
	}
	if tip != t.TestedHead {
		// The merge queue moves the ref to a tested candidate, then records it: a tip made
		// only of the team's merges passed the tests and is not recorded yet.
		if ours, err := w.oursSince(ctx, t.Name, t.TestedHead, tip, map[string]string{}); err == nil && ours {
			if supervised(w.repo.CommonDir, t.Name) {
				return "", Errorf(ErrRefused, "refused for now: %s at %s passed the tests and is being landed: accept again in a moment", t.LeaderBranch, shorten.Hash(tip))
			}
			return "", Errorf(ErrRefused, "refused: %s at %s passed the tests, but its supervisor stopped before recording it: teamctl resume %s records it, then accept",
				t.LeaderBranch, shorten.Hash(tip), t.Name)
		}
		return "", Errorf(ErrRefused, "refused: %s is at %s, which has not passed the tests (last tested: %s)", t.LeaderBranch, shorten.Hash(tip), shorten.Hash(t.TestedHead))
	}
	baseTip, err := w.repo.Resolve(ctx, t.Base)
	if err != nil {
		return "", err
	}
	if baseTip == tip {
		return tip, nil
	}
	if ok, err := w.repo.IsAncestor(ctx, baseTip, tip); err != nil {
		return "", err
	} else if !ok {
		return "", Errorf(ErrRefused, "refused: %s moved to %s since the team started from %s: it is not an ancestor of %s, so it cannot be fast-forwarded; merge %s into %s yourself",
			t.Base, shorten.Hash(baseTip), shorten.Hash(t.BaseHead), t.LeaderBranch, t.LeaderBranch, t.Base)
	}
	if err := w.repo.FastForward(ctx, t.Base, tip); err != nil {
		return "", Errorf(ErrRefused, "refused: %w", err)
	}
	_, err = w.store.AppendEvent(ctx, store.Event{Team: t.Name, Kind: "team.accepted", Data: fmt.Sprintf(`{"base":%q,"from":%q,"to":%q}`, t.Base, baseTip, tip)})
	return tip, err
}
