package fakeanthropic

import (
	"fmt"
	"sync"
)

// Log is what a fake of any model API keeps: every request it got, the ids it handed out,
// and the faults it serves. Each fake embeds one; its methods are the fake's. Safe for
// concurrent use; the zero value is ready.
type Log struct {
	mu      sync.Mutex
	reqs    []Request
	seq     int
	fail    func(Request) *Fault
	faulted map[int]int
}

// Record keeps req.
func (l *Log) Record(req Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, req)
	l.mu.Unlock()
}

// Requests is every request received so far, side requests included.
func (l *Log) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.reqs...)
}

// Conversations is every conversation request (one that offers tools) received so far.
func (l *Log) Conversations() []Request {
	var out []Request
	for _, r := range l.Requests() {
		if r.Conversation() {
			out = append(out, r)
		}
	}
	return out
}

// NextID is a new id: prefix and a number, unique in this fake.
func (l *Log) NextID(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return fmt.Sprintf("%s%06d", prefix, l.seq)
}

// SetFaults makes the fake ask fail, before each model request (side requests too),
// whether to answer it with a fault (nil: answer as usual). Safe while it serves.
func (l *Log) SetFaults(fail func(req Request) *Fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = fail
}

// Faulted counts the faults served so far, by HTTP status.
func (l *Log) Faulted() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for k, v := range l.faulted {
		out[k] = v
	}
	return out
}

// FaultFor is the fault SetFaults chose for req (nil: none), counted as served.
func (l *Log) FaultFor(req Request) *Fault {
	l.mu.Lock()
	fail := l.fail
	l.mu.Unlock()
	if fail == nil {
		return nil
	}
	f := fail(req)
	if f == nil {
		return nil
	}
	l.mu.Lock()
	if l.faulted == nil {
		l.faulted = map[int]int{}
	}
	l.faulted[f.Status]++
	l.mu.Unlock()
	return f
}
