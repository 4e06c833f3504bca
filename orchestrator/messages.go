package orchestrator

// Coordination (DESIGN.md §6): messages between participants, and the team's feed.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teamctl/teamctl/store"
)

// Feed limits (DESIGN.md §6).
const (
	DefaultLimit = 20
	MaxLimit     = 400
)

func messageText(text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "", Errorf(ErrUsage, "the message is empty: say something")
	}
	return text, nil
}

// Send sends text from the caller to one participant (an agent of the team or Human).
func (p *Participant) Send(ctx context.Context, to, text string) (store.Message, error) {
	return p.Reply(ctx, 0, to, text)
}

// Reply sends text from the caller as an answer to message id (0: to nothing), to to; with
// to "", to whoever sent message id to the caller (or, for the caller's own message, whom it
// went to). The caller must have sent or received message id.
func (p *Participant) Reply(ctx context.Context, id int64, to, text string) (store.Message, error) {
	text, err := messageText(text)
	if err != nil {
		return store.Message{}, err
	}
	if id != 0 {
		m, err := p.w.store.Message(ctx, p.team.Name, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Message{}, Errorf(ErrUsage, "--reply-to %d: team %s has no message %d", id, p.team.Name, id)
		} else if err != nil {
			return store.Message{}, err
		}
		other := ""
		switch p.me {
		case m.To:
			other = m.From
		case m.From:
			other = m.To
		default:
			return store.Message{}, Errorf(ErrUsage, "--reply-to %d: message %d went from %s to %s, not to or from you (%s)", id, id, m.From, m.To, p.me)
		}
		if to == "" {
			to = other
		}
	}
	if to == "" {
		return store.Message{}, Errorf(ErrUsage, "whom to? --to NAME (or --reply-to ID to answer a message)")
	}
	if err := p.recipient(to); err != nil {
		return store.Message{}, err
	}
	ms, err := p.w.store.SendMessage(ctx, p.team.Name, store.Outgoing{From: p.me, To: []string{to}, Text: text, ReplyTo: id})
	if err != nil {
		return store.Message{}, err
	}
	return ms[0], nil
}

// Broadcast sends text from the caller to every other agent that still reads messages.
// The human is not a recipient: it reads the feed.
func (p *Participant) Broadcast(ctx context.Context, text string) ([]store.Message, error) {
	text, err := messageText(text)
	if err != nil {
		return nil, err
	}
	var to []string
	for _, a := range p.agents {
		if a.Name != p.me && p.inactive(a) == "" {
			to = append(to, a.Name)
		}
	}
	if len(to) == 0 {
		return nil, Errorf(ErrUsage, "no other active agent in team %s to broadcast to", p.team.Name)
	}
	return p.w.store.SendMessage(ctx, p.team.Name, store.Outgoing{From: p.me, To: to, Broadcast: true, Text: text})
}

// Inbox returns the caller's unread messages, oldest first, and marks them read: of two
// readers at once, each message goes to one.
func (p *Participant) Inbox(ctx context.Context) ([]store.Message, error) {
	return p.w.store.ReadInbox(ctx, p.team.Name, p.me)
}

// limit checks a --limit: 0 is the default.
func limit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, Errorf(ErrUsage, "--limit %d: want 1 to %d", n, MaxLimit)
	}
	return n, nil
}

// Thread returns the newest limit messages between the caller and peer, oldest first.
func (p *Participant) Thread(ctx context.Context, peer string, n int) ([]store.Message, error) {
	n, err := limit(n)
	if err != nil {
		return nil, err
	}
	switch _, ok := p.agent(peer); {
	case peer == "":
		return nil, Errorf(ErrUsage, "name the peer whose thread to show")
	case peer == p.me:
		return nil, Errorf(ErrUsage, "a thread is between you (%s) and another participant", p.me)
	case peer != Human && !ok:
		return nil, p.unknown(peer)
	}
	return p.w.store.Thread(ctx, p.team.Name, p.me, peer, n)
}

// MessagesOf is every message agent sent or received, whoever the other side: the person
// running the team may read every thread.
func (p *Participant) MessagesOf(ctx context.Context, agent string, n int) ([]store.Message, error) {
	n, err := limit(n)
	if err != nil {
		return nil, err
	}
	if p.me != Human {
		return nil, Errorf(ErrUsage, "only the person running the team reads every thread (you are %s): msg thread %s shows yours with it", p.me, agent)
	}
	if _, ok := p.agent(agent); !ok {
		return nil, p.unknown(agent)
	}
	return p.w.store.MessagesOf(ctx, p.team.Name, agent, n)
}

// FeedEntry is one coordination act of the team: a message, an intent, a reservation or
// release, a blocker and what became of it, a delegated task, a done report.
type FeedEntry struct {
	ID    int64     `json:"id"` // the journal's event id
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"` // the journal's kind: msg, intent, reserve, release, blocker.raised, ...
	From  string    `json:"from"`
	To    []string  `json:"to,omitempty"`
	Task  string    `json:"task,omitempty"`
	Text  string    `json:"text"`
	Files []string  `json:"files,omitempty"`
}

// feedKinds are the journal's coordination events.
var feedKinds = []string{"msg", "intent", "reserve", "release", "blocker.raised", "blocker.answered",
	"blocker.escalated", "task.added", "task.reported", "commit.refused"}

// FeedKind says whether the journal's events of kind are in the feed.
func FeedKind(kind string) bool { return slices.Contains(feedKinds, kind) }

// Feed returns the team's newest n coordination acts, oldest first (0: DefaultLimit).
func (p *Participant) Feed(ctx context.Context, n int) ([]FeedEntry, error) {
	n, err := limit(n)
	if err != nil {
		return nil, err
	}
	events, err := p.w.store.EventsOfKinds(ctx, p.team.Name, feedKinds, n)
	if err != nil {
		return nil, err
	}
	out := make([]FeedEntry, 0, len(events))
	for _, e := range events {
		out = append(out, p.feedEntry(e))
	}
	return out, nil
}

// feedEntry renders one journal event; the journal's data is this package's and the
// store's own JSON, so a field that fails to decode is left empty rather than failing the feed.
// To names whom an act is for (a message's recipients, a blocker's answerer); acts for
// no one in particular (a reservation, an intent, a report) have none.
func (p party) feedEntry(e store.Event) FeedEntry {
	var d struct {
		To        []string `json:"to"`
		Broadcast bool     `json:"broadcast"`
		Text      string   `json:"text"`
		Files     []string `json:"files"`
		Reason    string   `json:"reason"`
		Why       string   `json:"why"`
		By        string   `json:"by"`
		Blocked   string   `json:"blocked"`
		ID        int64    `json:"id"`
		Human     bool     `json:"human"`
		Answer    string   `json:"answer"`
		From      string   `json:"from"`
		Summary   string   `json:"summary"`
		Refused   string   `json:"refused"`
		Granted   []struct {
			Path  string `json:"path"`
			Token int64  `json:"token"`
		} `json:"granted"`
		Kept []struct {
			Path  string `json:"path"`
			Token int64  `json:"token"`
		} `json:"kept"`
		Paths []struct {
			Path  string `json:"path"`
			Token int64  `json:"token"`
		} `json:"paths"`
		After []string `json:"after"`
	}
	_ = json.Unmarshal([]byte(e.Data), &d)
	f := FeedEntry{ID: e.ID, At: e.At, Kind: e.Kind, From: e.Agent, Task: e.Task}
	switch e.Kind {
	case "msg":
		f.To, f.Text = d.To, d.Text
		if d.Broadcast {
			f.To = []string{"*"}
		}
	case "intent":
		f.Text, f.Files = d.Text, d.Files
	case "reserve":
		for _, g := range append(d.Granted, d.Kept...) {
			f.Files = append(f.Files, g.Path)
		}
		f.Text = "reserved " + strings.Join(f.Files, ", ")
		if d.Reason != "" {
			f.Text += ": " + d.Reason
		}
	case "release":
		for _, g := range d.Paths {
			f.Files = append(f.Files, g.Path)
		}
		f.From = d.By
		f.Text = "released " + strings.Join(f.Files, ", ") + " of " + e.Agent + " (" + d.Why + ")"
	case "blocker.raised":
		to := Human
		if !d.Human && p.plan.Leader.IsAgent() {
			to = p.plan.Leader.Name
		}
		f.To = []string{to}
		f.Text = fmt.Sprintf("blocker %d: %s", d.ID, d.Text)
	case "blocker.answered":
		f.To = []string{d.Blocked}
		f.Text = fmt.Sprintf("answered blocker %d: %s", d.ID, d.Answer)
	case "blocker.escalated":
		f.To = []string{Human}
		f.Text = fmt.Sprintf("escalated blocker %d of %s: %s", d.ID, d.From, d.Text)
	case "task.added":
		f.From, f.To = "", []string{e.Agent}
		f.Text = "task " + e.Task + " added for " + e.Agent
		if len(d.After) > 0 {
			f.Text += ", after " + strings.Join(d.After, ", ")
		}
	case "task.reported":
		f.Text = "done: " + d.Summary
	case "commit.refused":
		f.Files = d.Files
		f.Text = "commit refused: " + d.Refused
	}
	return f
}
