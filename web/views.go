package web

// What the pages and the API show, read from the orchestrator.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// TeamSummary is one team in the list of the repository's teams.
type TeamSummary struct {
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Base      string    `json:"base"`
	Agents    int       `json:"agents"`
	Blockers  int       `json:"blockers"`  // open, for a person or not
	Incidents int       `json:"incidents"` // refused or undone attempts
	Updated   time.Time `json:"updated"`
}

func (s *Server) teams(ctx context.Context) ([]TeamSummary, error) {
	ts, err := s.ws.Teams(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TeamSummary, 0, len(ts))
	for _, t := range ts {
		sum := TeamSummary{Name: t.Name, State: t.State, Base: t.Base, Updated: t.Updated}
		if st, err := s.ws.Status(ctx, t.Name); err == nil {
			sum.State, sum.Agents, sum.Blockers, sum.Incidents = string(st.State), len(st.Agents), len(st.Blockers), len(st.Incidents)
		}
		out = append(out, sum)
	}
	return out, nil
}

// AgentRow is an agent as the team page shows it: its status, what it has not merged, for
// how long it has been in its state, and its last words.
type AgentRow struct {
	orchestrator.AgentStatus
	orchestrator.AgentWork
	Since    time.Time `json:"since"`
	LastWord string    `json:"last_output,omitempty"`
}

// teamView is everything of a team's page.
type teamView struct {
	Status orchestrator.Status
	Agents []AgentRow
	Feed   []orchestrator.FeedEntry
	Human  []orchestrator.BlockerStatus // blockers for a person, first on the page
	Others []orchestrator.BlockerStatus // blockers for the leader (a person may answer them too)
}

// tailBytes is how much of an agent's log its last words are read from.
const tailBytes = 16 << 10

// teamCache is what a team's page loads share: the git counts (redone only for what a stat
// says changed: at rest a page load runs no git at all) and each agent's last words (read
// again only when its log changed).
type teamCache struct {
	work *orchestrator.WorkStats

	mu    sync.Mutex
	words map[string]lastWord // by agent
}

type lastWord struct {
	stamp orchestrator.FileStamp
	text  string
}

func (s *Server) cache(team string) *teamCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.teamc[team]
	if c == nil {
		c = &teamCache{work: s.ws.WorkStats(), words: map[string]lastWord{}}
		s.teamc[team] = c
	}
	return c
}

// lastWords is agent's last words, from the cache while its log is unchanged.
func (c *teamCache) lastWords(agent, preset, logPath string) lastWord {
	st := orchestrator.StampOf(logPath)
	c.mu.Lock()
	w, ok := c.words[agent]
	c.mu.Unlock()
	if ok && w.stamp == st {
		return w
	}
	w = lastWord{stamp: st, text: lastWords(preset, logPath)}
	c.mu.Lock()
	c.words[agent] = w
	c.mu.Unlock()
	return w
}

func (s *Server) team(ctx context.Context, name string) (teamView, error) {
	var v teamView
	st, err := s.ws.Status(ctx, name)
	if err != nil {
		return v, err
	}
	v.Status = st
	t, err := s.ws.ResolveTeam(ctx, st.Team)
	if err != nil {
		return v, err
	}
	agents, err := s.ws.Agents(ctx, t.Name)
	if err != nil {
		return v, err
	}
	byName := map[string]store.Agent{}
	for _, a := range agents {
		byName[a.Name] = a
	}
	p, _ := s.ws.Plan(ctx, t.Name)
	c := s.cache(t.Name)
	words := make(map[string]lastWord, len(st.Agents))
	for _, a := range st.Agents {
		preset := ""
		if p != nil {
			if pa, ok := p.Agent(a.Name); ok {
				preset = pa.Preset
			}
		}
		words[a.Name] = c.lastWords(a.Name, preset, s.ws.AgentLog(t.Name, a.Name))
	}
	// Every stale count now (a page shows them all), the git commands a few at once.
	c.work.Refresh(ctx, time.Now(), st, func(agent string) time.Time { return words[agent].stamp.Mod() }, -1)
	v.Agents = make([]AgentRow, len(st.Agents))
	for i, a := range st.Agents {
		row := AgentRow{AgentStatus: a, LastWord: words[a.Name].text}
		row.Ahead, row.Uncommitted = c.work.Counts(a.Name)
		if sa, ok := byName[a.Name]; ok {
			row.Since = sa.Updated
		}
		v.Agents[i] = row
	}
	for _, b := range st.Blockers {
		if b.Human {
			v.Human = append(v.Human, b)
		} else {
			v.Others = append(v.Others, b)
		}
	}
	if hp, err := s.human(ctx, t.Name); err == nil {
		v.Feed, _ = hp.Feed(ctx, 40)
	}
	return v, nil
}

// lastWords is the last thing an agent said, in words: its CLI's stream read as a
// conversation, or a plain command's last line of output.
func lastWords(preset, logPath string) string {
	tail, err := readTail(logPath, tailBytes)
	if err != nil {
		return ""
	}
	if preset != "" {
		return agentproc.LastWords(preset, tail)
	}
	// A plain command: its last line of output (teamctl's own lines are not its words).
	lines := strings.Split(strings.TrimRight(string(tail), "\n"), "\n")
	for i := len(lines) - 1; i > 0; i-- { // not the first: the window may cut it
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "=== teamctl ") {
			return l
		}
	}
	return ""
}

// Conversation is an agent's conversation as `teamctl logs` renders it, and read as data
// where its CLI's stream allows.
type Conversation struct {
	Team       string                `json:"team"`
	Agent      string                `json:"agent"`
	Text       string                `json:"text"`                 // as teamctl logs prints it
	Transcript *agentproc.Transcript `json:"transcript,omitempty"` // nil for a plain command's log
}

// maxLogShown bounds a plain command's log shown whole: its end is what matters.
const maxLogShown = 256 << 10

func (s *Server) conversation(ctx context.Context, team, agent string) (Conversation, error) {
	t, err := s.ws.ResolveTeam(ctx, team)
	if err != nil {
		return Conversation{}, err
	}
	if _, err := s.ws.Agent(ctx, t.Name, agent); err != nil {
		return Conversation{}, orchestrator.Errorf(orchestrator.ErrNoTeam, "team %s has no agent %q", t.Name, agent)
	}
	c := Conversation{Team: t.Name, Agent: agent}
	rc, err := s.ws.Transcript(ctx, t.Name, agent)
	if err == nil {
		rc.Close()
		tr, err := s.ws.AgentTranscript(ctx, t.Name, agent)
		if err != nil {
			return c, err
		}
		var b bytes.Buffer
		_ = tr.Render(&b, agentproc.RenderOptions{})
		c.Text, c.Transcript = b.String(), &tr
		return c, nil
	}
	if !errors.Is(err, orchestrator.ErrNoTranscript) {
		return c, err
	}
	b, err := readTail(s.ws.AgentLog(t.Name, agent), maxLogShown)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	c.Text = string(b)
	return c, nil
}

func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	return io.ReadAll(f)
}
