package merge

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"testing"
)

// ceilLog2 is ⌈log2 n⌉ for n ≥ 1.
func ceilLog2(n int) int { return bits.Len(uint(n - 1)) }

// scripted is a test command over prefixes: prefix k passes when bad(k) is false, except
// that the runs listed in flakyRuns (1-based run numbers) fail whatever the tree.
type scripted struct {
	bad       func(k int) bool
	flakyRuns []int
	runs      []int // the prefixes tested, in order
}

func (s *scripted) test(_ context.Context, k int) (bool, error) {
	s.runs = append(s.runs, k)
	if slices.Contains(s.flakyRuns, len(s.runs)) {
		return false, nil
	}
	return !s.bad(k), nil
}

func TestSearchOneBadAtEveryPosition(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 32; n++ {
		for b := 0; b < n; b++ {
			s := &scripted{bad: func(k int) bool { return k > b }}
			v, err := search(context.Background(), n, 1, s.test)
			if err != nil {
				t.Fatal(err)
			}
			if v.bad != b || v.good != b || len(v.flaky) != 0 {
				t.Fatalf("n=%d bad=%d: verdict %+v (runs %v)", n, b, v, s.runs)
			}
			// The whole batch, ⌈log2 n⌉ bisection steps, and a rerun only when the last
			// branch is to blame (no other failing run confirms it then).
			limit := 1 + ceilLog2(n)
			if b == n-1 {
				limit++
			}
			if len(s.runs) > limit {
				t.Fatalf("n=%d bad=%d: %d runs %v, want at most %d", n, b, len(s.runs), s.runs, limit)
			}
		}
	}
}

func TestSearchCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		n         int
		retries   int
		bad       func(k int) bool
		flakyRuns []int
		want      verdict
		runs      []int
	}{
		{name: "all pass in one run", n: 8, retries: 1, bad: func(int) bool { return false },
			want: verdict{good: 8, bad: -1}, runs: []int{8}},
		{name: "first run flaky", n: 8, retries: 1, bad: func(int) bool { return false }, flakyRuns: []int{1},
			want: verdict{good: 8, bad: -1, flaky: []int{8}}, runs: []int{8, 4, 6, 7, 8}},
		{name: "flaky with no retries is blamed", n: 8, retries: 0, bad: func(int) bool { return false }, flakyRuns: []int{1},
			want: verdict{good: 7, bad: 7}, runs: []int{8, 4, 6, 7}},
		{name: "bad entry 3", n: 8, retries: 1, bad: func(k int) bool { return k > 3 },
			want: verdict{good: 3, bad: 3}, runs: []int{8, 4, 2, 3}},
		{name: "last entry bad is confirmed by a rerun", n: 8, retries: 1, bad: func(k int) bool { return k > 7 },
			want: verdict{good: 7, bad: 7}, runs: []int{8, 4, 6, 7, 8}},
		{name: "two retries rerun the blamed prefix", n: 8, retries: 2, bad: func(k int) bool { return k > 3 },
			want: verdict{good: 3, bad: 3}, runs: []int{8, 4, 2, 3, 4}},
		{name: "two bad: the first is found", n: 8, retries: 1, bad: func(k int) bool { return k > 2 },
			want: verdict{good: 2, bad: 2}, runs: []int{8, 4, 2, 3}},
		// Prefix 6 fails once by chance while entry 6 really is bad. With two retries the
		// blamed prefix itself must fail again: its rerun passes, and the search goes on
		// above it to explain the whole batch's failure.
		{name: "flaky step during a real failure", n: 8, retries: 2, bad: func(k int) bool { return k > 6 }, flakyRuns: []int{3},
			want: verdict{good: 6, bad: 6, flaky: []int{6}}, runs: []int{8, 4, 6, 5, 6, 7, 7}},
		// With one retry the batch's own failure counts as the reproduction: the chance
		// failure is trusted and entry 5 blamed (the documented price of 5 runs, not 6).
		{name: "flaky step during a real failure with one retry", n: 8, retries: 1, bad: func(k int) bool { return k > 6 }, flakyRuns: []int{3},
			want: verdict{good: 5, bad: 5}, runs: []int{8, 4, 6, 5}},
		{name: "single entry bad", n: 1, retries: 1, bad: func(k int) bool { return k > 0 },
			want: verdict{good: 0, bad: 0}, runs: []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scripted{bad: tt.bad, flakyRuns: tt.flakyRuns}
			v, err := search(context.Background(), tt.n, tt.retries, s.test)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(v) != fmt.Sprint(tt.want) {
				t.Errorf("verdict %+v, want %+v", v, tt.want)
			}
			if !slices.Equal(s.runs, tt.runs) {
				t.Errorf("tested prefixes %v, want %v", s.runs, tt.runs)
			}
		})
	}
}

func TestSearchStopsOnError(t *testing.T) {
	t.Parallel()
	calls := 0
	_, err := search(context.Background(), 8, 1, func(ctx context.Context, k int) (bool, error) {
		calls++
		if calls == 2 {
			return false, context.Canceled
		}
		return false, nil
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Fatalf("err %v after %d calls, want context.Canceled after 2", err, calls)
	}
}
