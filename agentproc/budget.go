package agentproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/teamctl/teamctl/plan"
)

// ErrOverBudget is an agent or a team that used more than its plan's budget allows.
var ErrOverBudget = errors.New("over budget")

// OverBudget says whether used passes limit: nil when within it (a zero limit field is no
// limit), else an error matching ErrOverBudget that says which limit and by how much,
// fit for the blocker the supervisor raises to the human. who names the agent or team.
func OverBudget(who string, limit plan.Budget, used Usage) error {
	var over []string
	if limit.USD > 0 && used.CostUSD > limit.USD {
		over = append(over, fmt.Sprintf("spent $%.2f of its $%.2f budget", used.CostUSD, limit.USD))
	}
	if limit.Tokens > 0 && used.Tokens() > limit.Tokens {
		over = append(over, fmt.Sprintf("used %d tokens of its %d budget", used.Tokens(), limit.Tokens))
	}
	if over == nil {
		return nil
	}
	return fmt.Errorf("%w: %s %s; raise budget: in the plan and resume the team, or stop it", ErrOverBudget, who, strings.Join(over, " and "))
}

// ReadLog parses the agent log at path as a transcript of preset, with the plan's options.
// A log that does not exist yet (the agent was never launched) is an empty transcript, not
// an error.
func ReadLog(preset, path string, opts Options) (Transcript, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ParseLog(preset, strings.NewReader(""), opts)
	}
	if err != nil {
		return Transcript{}, fmt.Errorf("read agent log: %w", err)
	}
	defer f.Close()
	return ParseLog(preset, f, opts)
}
