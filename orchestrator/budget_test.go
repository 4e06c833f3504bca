package orchestrator_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/orchestrator"
)

// TestBudgetStopsWithinOneCall: Claude Code says what a launch cost only in its final
// result, so a budget is checked against the usage of each assistant message as it comes,
// priced by the model's list price: an agent that spends $0.30 a call (one every 3 s)
// against a $1 budget is stopped at its 4th call, not when it finishes, and a person is asked.
func TestBudgetStopsWithinOneCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	marks := t.TempDir()
	// 100,000 input tokens of claude-sonnet-4-5 at $3 per million: $0.30 a call.
	f.agent("alice", fmt.Sprintf(`echo '{"type":"system","subtype":"init","session_id":"11111111-2222-4333-8444-555555555555"}'
i=0
while [ $i -lt 40 ]; do
  i=$((i+1)); echo $i > %s/calls
  echo '{"type":"assistant","message":{"id":"m'$i'","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"step '$i'"}],"usage":{"input_tokens":100000,"output_tokens":0}}}'
  sleep 3 # a model call's time: the stop must come before the next one, whatever the machine's load
done`, marks))
	f.fakeCLI("claude")
	p := f.load(header + `agents:
  - {name: alice, preset: claude, budget: {usd: 1}, tasks: [{id: ta, prompt: p}]}
`)
	if err := f.run(p); err == nil {
		t.Fatal("run ended with nothing waiting on a person")
	}
	data, _ := os.ReadFile(filepath.Join(marks, "calls"))
	var calls int
	fmt.Sscan(strings.TrimSpace(string(data)), &calls)
	if calls < 4 || calls > 5 {
		t.Errorf("stopped after %d calls: want the 4th ($1.20 > $1), or the one under way then", calls)
	}
	st := f.status("t")
	if got := f.taskState(st, "ta"); got.State != orchestrator.Blocked || !strings.Contains(got.Detail, "budget") {
		t.Errorf("ta: %s (%s), want blocked on its budget", got.State, got.Detail)
	}
	for _, a := range st.Agents {
		if a.Name == "alice" && (a.CostUSD < 1.0 || a.CostUSD > 1.6 || !a.CostEstimated) {
			t.Errorf("alice's cost %v (estimated %v): want the estimate past $1", a.CostUSD, a.CostEstimated)
		}
	}
}
