package agentproc_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/plan"
)

func TestOverBudget(t *testing.T) {
	t.Parallel()
	used := agentproc.Usage{InputTokens: 1500, OutputTokens: 500, CostUSD: 2.5}
	tests := []struct {
		name  string
		limit plan.Budget
		want  []string // in the message; nil: within budget
	}{
		{"no budget", plan.Budget{}, nil},
		{"within both", plan.Budget{USD: 3, Tokens: 2000}, nil},
		{"exactly at the limit is within it", plan.Budget{USD: 2.5, Tokens: 2000}, nil},
		{"past the cost", plan.Budget{USD: 2}, []string{"alice spent $2.50 of its $2.00 budget"}},
		{"past the tokens", plan.Budget{Tokens: 1999}, []string{"used 2000 tokens of its 1999 budget"}},
		{"past both", plan.Budget{USD: 1, Tokens: 10}, []string{"$2.50 of its $1.00", "2000 tokens of its 10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := agentproc.OverBudget("alice", tt.limit, used)
			if tt.want == nil {
				if err != nil {
					t.Errorf("OverBudget = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, agentproc.ErrOverBudget) {
				t.Fatalf("OverBudget = %v, want ErrOverBudget", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

// TestBudgetFromARealLog checks a budget against what the claude fixture's two launches
// cost, the figures the supervisor reads after each launch.
func TestBudgetFromARealLog(t *testing.T) {
	t.Parallel()
	tr, err := agentproc.ReadLog("claude", filepath.Join("testdata", "claude.log"), agentproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := agentproc.OverBudget("alice", plan.Budget{USD: 0.30}, tr.Usage); err != nil {
		t.Errorf("$0.25 over a $0.30 budget: %v", err)
	}
	if err := agentproc.OverBudget("alice", plan.Budget{USD: 0.20}, tr.Usage); !errors.Is(err, agentproc.ErrOverBudget) {
		t.Errorf("$0.25 over a $0.20 budget: %v", err)
	}
	empty, err := agentproc.ReadLog("claude", filepath.Join(t.TempDir(), "never.log"), agentproc.Options{})
	if err != nil || empty.Status != agentproc.StatusNone || empty.Usage != (agentproc.Usage{}) {
		t.Errorf("a log never written: %+v, %v", empty, err)
	}
}
