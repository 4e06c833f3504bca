package merge

import "time"

// Settle is how long the queue waits before a batch for branches about to arrive. A batch
// that fails costs a bisection; a branch that arrives just after it starts costs at least one
// more test run of its own (and one more bisection if the batch's bad branch is found then).
// So while other agents still work, a batch waits until no branch has arrived for Window, and
// never longer than Max after its oldest branch arrived: agents that finish a little apart
// are tested together.
type Settle struct {
	Window time.Duration // 0: a batch never waits
	Max    time.Duration
}

// AutoSettle is the settle window for test runs that take perRun (0: not measured yet): a
// quarter of a run, at most 30 s; Max is one run (four windows). Waiting a quarter of a run
// to save whole runs is cheap, and waiting longer than a run cannot pay: a branch that
// misses the batch costs it one run more. Before the first run is measured the window is
// 1 s and Max 2 s, nothing beside an agent's minutes of work.
func AutoSettle(perRun time.Duration) Settle {
	if perRun <= 0 {
		return Settle{Window: time.Second, Max: 2 * time.Second}
	}
	w := min(perRun/4, 30*time.Second)
	return Settle{Window: w, Max: 4 * w}
}

// Wait is how much longer a batch whose branches arrived from oldest to newest should
// wait at now: 0 to start it. It waits only while othersAtWork (agents that may still
// bring a branch to this batch).
func (s Settle) Wait(now, oldest, newest time.Time, othersAtWork bool) time.Duration {
	if !othersAtWork || s.Window <= 0 {
		return 0
	}
	wait := newest.Add(s.Window).Sub(now)
	if limit := oldest.Add(s.Max).Sub(now); limit < wait {
		wait = limit
	}
	return max(wait, 0)
}
