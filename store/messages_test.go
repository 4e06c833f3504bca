package store

import (
	"errors"
	"reflect"
	"sort"
	"sync"
	"testing"
)

func texts(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func TestMessages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	seed(t, s, "paste")
	send := func(from string, to []string, broadcast bool, text string) {
		t.Helper()
		if _, err := s.SendMessage(ctx, "paste", Outgoing{From: from, To: to, Broadcast: broadcast, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("alice", []string{"bob"}, false, "parser API is in")
	send("bob", []string{"alice"}, false, "thanks")
	send("lead", []string{"alice", "bob"}, true, "freeze at 5")
	send("alice", []string{"bob"}, false, "one more")

	unread, err := s.Unread(ctx, "paste", "bob")
	if err != nil || !reflect.DeepEqual(texts(unread), []string{"parser API is in", "freeze at 5", "one more"}) {
		t.Fatalf("Unread(bob) = %v, %v", texts(unread), err)
	}
	if !unread[1].Broadcast || unread[1].From != "lead" {
		t.Errorf("broadcast as bob has it: %+v", unread[1])
	}
	if err := s.MarkRead(ctx, "paste", "bob", []int64{unread[0].ID}); err != nil {
		t.Fatal(err)
	}
	inbox, err := s.ReadInbox(ctx, "paste", "bob")
	if err != nil || !reflect.DeepEqual(texts(inbox), []string{"freeze at 5", "one more"}) {
		t.Errorf("ReadInbox(bob) = %v, %v; want what MarkRead left", texts(inbox), err)
	}
	if again, err := s.ReadInbox(ctx, "paste", "bob"); err != nil || len(again) != 0 {
		t.Errorf("second ReadInbox(bob) = %v, %v; want nothing", texts(again), err)
	}
	// alice's copy of the broadcast is still unread: each recipient has its own mark.
	if a, err := s.Unread(ctx, "paste", "alice"); err != nil || !reflect.DeepEqual(texts(a), []string{"thanks", "freeze at 5"}) {
		t.Errorf("Unread(alice) = %v, %v", texts(a), err)
	}
	th, err := s.Thread(ctx, "paste", "alice", "bob", 2)
	if err != nil || !reflect.DeepEqual(texts(th), []string{"thanks", "one more"}) {
		t.Errorf("Thread(alice, bob, 2) = %v, %v; want the newest two, oldest first", texts(th), err)
	}
	feed, err := s.EventsOfKinds(ctx, "paste", []string{"msg"}, 3)
	if err != nil || len(feed) != 3 || feed[0].Agent != "bob" || feed[2].Agent != "alice" {
		t.Errorf("EventsOfKinds(msg, 3) = %+v, %v", feed, err)
	}
	if _, err := s.SendMessage(ctx, "nope", Outgoing{From: "a", To: []string{"b"}, Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SendMessage to a missing team = %v, want ErrNotFound", err)
	}
}

// TestReadInboxConcurrently has readers on two connections race for one inbox: every
// message is delivered exactly once.
func TestReadInboxConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := Path(t.TempDir())
	s := openAt(t, path)
	seed(t, s, "paste")
	const n = 200
	readers := []*Store{openAt(t, path), openAt(t, path)}
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ms, err := r.ReadInbox(ctx, "paste", "bob")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, messageIDs(ms)...)
				mu.Unlock()
				select {
				case <-done:
					if len(ms) == 0 {
						return
					}
				default:
				}
			}
		}()
	}
	for i := range n {
		if _, err := s.SendMessage(ctx, "paste", Outgoing{From: "alice", To: []string{"bob"}, Text: string(rune('a' + i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if len(got) != n {
		t.Fatalf("readers got %d messages, want %d", len(got), n)
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("message %d delivered twice", got[i])
		}
	}
}
