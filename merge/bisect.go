package merge

import "context"

// probe runs the test command on the candidate with the first k entries of a batch merged
// (1 ≤ k ≤ n) and reports whether it passed.
type probe func(ctx context.Context, k int) (passed bool, err error)

// verdict is what search concluded about one candidate sequence.
type verdict struct {
	good  int   // longest prefix that passed a test run; 0 = none (the leader tip, tested before)
	bad   int   // the first bad entry (0-based; always == good), or -1 when prefix n passed
	flaky []int // prefixes whose failure did not reproduce: a rerun of the same tree passed
}

// search finds the first bad entry of a batch with as few test runs as it can. It tests the
// whole batch (prefix n) first: one run when everything passes. On a failure it bisects over
// prefixes — the leader tip (prefix 0) is known good, prefix n bad — until the first failing
// prefix hi sits next to a passing one: entry hi-1 broke the tests. That takes ⌈log2 n⌉ runs.
//
// Before it blames entry hi-1, the failure must have reproduced: at least 1+retries runs on
// trees that contain that entry (prefix hi and the longer prefixes tried on the way) failed.
// When fewer did (the blamed entry is the last one, or retries > 1), prefix hi is rerun as is;
// a rerun that passes makes that failure flaky — reported, blamed on no one — and the search
// goes on above hi. Counting the failures of the longer prefixes instead of always rerunning
// the first failure at once is what keeps one bad branch in 8 at 1 + 3 + 1 runs with the
// default retries: the bisection's own failing runs are the reruns. A flaky test costs more
// this way (it is found by the same bisection), which is the rarer case to pay for.
//
// probe's errors (the context ended, git broke) end the search at once.
func search(ctx context.Context, n, retries int, test probe) (verdict, error) {
	fails := make([]int, n+1) // failing runs per prefix
	passed := make([]bool, n+1)
	passed[0] = true
	run := func(k int) (bool, error) {
		ok, err := test(ctx, k)
		if err != nil {
			return false, err
		}
		if ok {
			passed[k] = true
		} else {
			fails[k]++
		}
		return ok, nil
	}
	var v verdict
	if ok, err := run(n); err != nil || ok {
		return verdict{good: n, bad: -1}, err
	}
	lo, hi := 0, n
	for {
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			ok, err := run(mid)
			if err != nil {
				return v, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		for reproduced(fails, hi) < 1+retries {
			ok, err := run(hi)
			if err != nil {
				return v, err
			}
			if ok {
				break
			}
		}
		if !passed[hi] {
			v.good, v.bad = lo, hi-1
			return v, nil
		}
		// The failure of prefix hi was flaky. Any longer prefix that failed still needs
		// explaining: continue above hi, up to the shortest of them.
		v.flaky = append(v.flaky, hi)
		lo = hi
		hi = firstFailing(fails, lo)
		if hi < 0 {
			v.good, v.bad = lo, -1
			return v, nil
		}
	}
}

// reproduced counts the failing runs on prefixes from k up: every one contains entry k-1.
func reproduced(fails []int, k int) int {
	n := 0
	for _, f := range fails[k:] {
		n += f
	}
	return n
}

// firstFailing is the shortest prefix longer than lo with a failing run, -1 if none.
func firstFailing(fails []int, lo int) int {
	for k := lo + 1; k < len(fails); k++ {
		if fails[k] > 0 {
			return k
		}
	}
	return -1
}
