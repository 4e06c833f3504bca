package merge_test

import (
	"testing"
	"time"

	"github.com/teamctl/teamctl/merge"
)

func TestAutoSettle(t *testing.T) {
	for _, c := range []struct{ perRun, window, max time.Duration }{
		{0, time.Second, 2 * time.Second}, // not measured yet
		{200 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond},
		{4 * time.Minute, 30 * time.Second, 2 * time.Minute}, // a quarter would be a minute: capped
	} {
		if got := merge.AutoSettle(c.perRun); got.Window != c.window || got.Max != c.max {
			t.Errorf("AutoSettle(%v) = %+v, want window %v, max %v", c.perRun, got, c.window, c.max)
		}
	}
}

func TestSettleWait(t *testing.T) {
	s := merge.Settle{Window: 10 * time.Second, Max: 20 * time.Second}
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name                string
		now, oldest, newest time.Duration // after t0
		others              bool
		want                time.Duration
	}{
		{"a branch just arrived", 1 * time.Second, 0, 0, true, 9 * time.Second},
		{"quiet for the window", 10 * time.Second, 0, 0, true, 0},
		{"a later branch restarts the window", 12 * time.Second, 0, 8 * time.Second, true, 6 * time.Second},
		{"never past Max after the oldest", 15 * time.Second, 0, 14 * time.Second, true, 5 * time.Second},
		{"past Max", 25 * time.Second, 0, 24 * time.Second, true, 0},
		{"nobody else at work", 1 * time.Second, 0, 0, false, 0},
	} {
		got := s.Wait(t0.Add(c.now), t0.Add(c.oldest), t0.Add(c.newest), c.others)
		if got != c.want {
			t.Errorf("%s: Wait = %v, want %v", c.name, got, c.want)
		}
	}
	if got := (merge.Settle{}).Wait(t0, t0, t0, true); got != 0 {
		t.Errorf("no window: Wait = %v, want 0", got)
	}
}
