package dashboard

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/teamctl/teamctl/orchestrator"
)

// costsEvery is how long the agents' costs (read by parsing their logs) are reused.
const costsEvery = 2 * time.Second

// WorkspaceHooks are the hooks of a dashboard on ws, acting as the person at the screen
// (orchestrator.Human): the coordination feed, conflict warnings, costs from the agents'
// own streams, answers, messages, nudges and readable transcripts.
func WorkspaceHooks(ws *orchestrator.Workspace) Hooks {
	human := func(ctx context.Context, team string) (*orchestrator.Participant, error) {
		return ws.Participant(ctx, orchestrator.Caller{Team: team, As: orchestrator.Human})
	}
	var mu sync.Mutex
	var costs map[string]Cost
	var costsAt time.Time
	return Hooks{
		Messages: func(ctx context.Context, team string, limit int) ([]FeedItem, error) {
			p, err := human(ctx, team)
			if err != nil {
				return nil, err
			}
			entries, err := p.Feed(ctx, limit)
			if err != nil {
				return nil, err
			}
			items := make([]FeedItem, 0, len(entries))
			for _, e := range entries {
				text := e.Text
				if e.Kind != "msg" {
					text = e.Kind + ": " + text
				}
				items = append(items, FeedItem{At: e.At, From: e.From, To: strings.Join(e.To, ","), Text: text})
			}
			return items, nil
		},
		Warnings: func(ctx context.Context, team string) ([]Warning, error) {
			ws, err := ws.Warnings(ctx, team)
			if err != nil {
				return nil, err
			}
			out := make([]Warning, 0, len(ws))
			for _, w := range ws {
				agents := []string{w.A}
				if w.B != "" {
					agents = append(agents, w.B)
				}
				out = append(out, Warning{Agents: agents, Files: w.Files})
			}
			return out, nil
		},
		Costs: func(ctx context.Context, team string) (map[string]Cost, error) {
			mu.Lock()
			defer mu.Unlock()
			if costs != nil && time.Since(costsAt) < costsEvery {
				return costs, nil
			}
			usage, err := ws.Usage(ctx, team)
			if err != nil {
				return nil, err
			}
			costs = make(map[string]Cost, len(usage))
			for name, u := range usage {
				costs[name] = Cost{USD: u.CostUSD, Estimated: u.Estimated}
			}
			costsAt = time.Now()
			return costs, nil
		},
		Answer: func(ctx context.Context, team string, blocker int64, text string) error {
			p, err := human(ctx, team)
			if err == nil {
				_, err = p.Answer(ctx, blocker, text)
			}
			return err
		},
		Send: func(ctx context.Context, team, agent, text string) error {
			p, err := human(ctx, team)
			if err == nil {
				_, err = p.Send(ctx, agent, text)
			}
			return err
		},
		Nudge: func(ctx context.Context, team, agent string) error {
			p, err := human(ctx, team)
			if err == nil {
				_, err = p.Nudge(ctx, agent)
			}
			return err
		},
		Transcript: func(ctx context.Context, team, agent string) (io.ReadCloser, error) {
			r, err := ws.Transcript(ctx, team, agent)
			if errors.Is(err, orchestrator.ErrNoTranscript) {
				return nil, ErrNotAvailable
			}
			return r, err
		},
	}
}
