package merge

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// trial is one candidate tested in a parallel round: a prefix of the batch's entries, or a
// speculation — the entries after one assumed bad, chained on the prefix before it.
type trial struct {
	prefix int // 1..n for a prefix
	spec   int // the entry assumed bad, for a speculation (prefix 0)
	commit string
	reqs   []int // the requests the candidate holds beyond the leader tip
}

// carried is a speculation that failed: the branches after a bad one, chained on the new
// tip, whose whole candidate is known to fail. The next round starts from it.
type carried struct {
	c      chained
	output string
}

// roundParallel is round with the candidates tested len(TestDirs)+1 at a time (Zuul's and
// GitLab's merge trains test ahead the same way). The first parallel round tests the whole
// batch and evenly spaced prefixes of it: when the whole batch passes it lands at once (the
// others are stopped), else the first bad branch lies between the longest passing prefix and
// the shortest failing one. Each next round splits that gap again, and as soon as the gap is
// small enough for its slots it also tests, for each branch that may be the bad one, the
// branches after it merged without it: the round that names the bad branch then also has
// the candidate to land next, tested. One bad branch in 8 with 4 slots: 2 rounds, 1 test
// run's time each.
//
// Blame needs the failure reproduced as round's does (1 + TestRetries failing runs on trees
// with the branch), prefix failures above it counting. A passing prefix above a failing one
// makes that failure flaky: the longest passing prefix is what lands.
func (m *Merger) roundParallel(ctx context.Context, reqs []Request, br *BatchResult, pending []int, carry *carried) ([]int, *carried, error) {
	var c chained
	if carry != nil {
		c = carry.c
		c.apply(br, pending)
	} else {
		var err error
		if c, err = m.chain(ctx, reqs, br, br.After, pending); err != nil {
			return nil, nil, err
		}
		c.apply(br, pending)
	}
	entries, n := c.entries, len(c.entries)
	if n == 0 {
		return nil, nil, nil
	}
	slots := len(m.TestDirs) + 1
	fails := make([]int, n+1)
	passed := make([]bool, n+1)
	passed[0] = true
	outputs := map[int]string{} // prefix → its last failing run's output
	specs := map[int]*specTrial{}
	lo, hi := 0, -1
	if carry != nil {
		fails[n], outputs[n], hi = 1, carry.output, n
	}
	prefixTrial := func(k int) trial {
		t := trial{prefix: k, commit: entries[k-1].commit}
		for _, e := range entries[:k] {
			t.reqs = append(t.reqs, e.req)
		}
		return t
	}
	for {
		var trials []trial
		switch {
		case hi < 0:
			for _, k := range append(interior(0, n, slots-1), n) {
				trials = append(trials, prefixTrial(k))
			}
		case hi == lo+1:
			if reproduced(fails, hi) >= 1+m.TestRetries {
				return m.blame(ctx, reqs, br, pending, entries, lo, outputs, specs[lo], passed, fails)
			}
			trials = append(trials, prefixTrial(hi)) // the failure is run again
			if st, err := m.speculate(ctx, reqs, br, pending, entries, lo, specs); err != nil {
				return nil, nil, err
			} else if st != nil {
				trials = append(trials, st.trial)
			}
		case (hi-lo-1)+(hi-lo) <= slots:
			for k := lo + 1; k < hi; k++ {
				trials = append(trials, prefixTrial(k))
			}
			for j := lo; j < hi; j++ {
				st, err := m.speculate(ctx, reqs, br, pending, entries, j, specs)
				if err != nil {
					return nil, nil, err
				}
				if st != nil {
					trials = append(trials, st.trial)
				}
			}
		default:
			for _, k := range interior(lo, hi, slots) {
				trials = append(trials, prefixTrial(k))
			}
		}
		// A spare slot reruns the shortest failing prefix while its failure is not
		// reproduced yet: when its last branch is the bad one, that is the run blame waits for.
		if hi > 0 && len(trials) < slots && reproduced(fails, hi) < 1+m.TestRetries &&
			!slices.ContainsFunc(trials, func(t trial) bool { return t.prefix == hi }) {
			trials = append(trials, prefixTrial(hi))
		}
		results, err := m.runTrials(ctx, br, trials, n)
		if err != nil {
			return nil, nil, err
		}
		for i, t := range trials {
			r := results[i]
			if !r.ran {
				continue
			}
			if t.prefix == 0 {
				specs[t.spec].ran, specs[t.spec].passed, specs[t.spec].output = true, r.passed, r.output
				continue
			}
			if r.passed {
				passed[t.prefix] = true
			} else {
				fails[t.prefix]++
				outputs[t.prefix] = r.output
			}
		}
		for k := n; k >= 0; k-- {
			if passed[k] {
				lo = k
				break
			}
		}
		if lo == n {
			m.noteFlaky(reqs, br, entries, lo, outputs, fails)
			return nil, nil, m.land(ctx, br, entries)
		}
		hi = firstFailing(fails, lo)
		if hi < 0 {
			hi = n // not tested yet (only before the first round); test it with the rest
		}
	}
}

// specTrial is the speculation that entry spec is the bad one: the requests after it
// chained without it on the prefix before it.
type specTrial struct {
	trial
	c              chained
	ran, passed    bool
	output         string
	nothingToMerge bool // no branch after the bad one merges: nothing to test
}

// speculate makes (once) the speculation that entry j is the bad one; nil when it needs
// no test run of its own.
func (m *Merger) speculate(ctx context.Context, reqs []Request, br *BatchResult, pending []int, entries []entry, j int, specs map[int]*specTrial) (*specTrial, error) {
	if st, ok := specs[j]; ok {
		if st.ran || st.nothingToMerge {
			return nil, nil
		}
		return st, nil
	}
	base := br.After
	if j > 0 {
		base = entries[j-1].commit
	}
	var rest []int
	for _, i := range pending {
		if i > entries[j].req {
			rest = append(rest, i)
		}
	}
	c, err := m.chain(ctx, reqs, br, base, rest)
	if err != nil {
		return nil, err
	}
	st := &specTrial{c: c, trial: trial{spec: j}}
	specs[j] = st
	if len(c.entries) == 0 {
		st.nothingToMerge = true
		return nil, nil
	}
	st.commit = c.entries[len(c.entries)-1].commit
	for _, e := range entries[:j] {
		st.reqs = append(st.reqs, e.req)
	}
	for _, e := range c.entries {
		st.reqs = append(st.reqs, e.req)
	}
	return st, nil
}

// blame ends a parallel round: entry bad (== good, the longest passing prefix) broke the
// tests. The good prefix lands; when its speculation was tested and passed, the branches
// after it land too, else they are carried to the next round (with what is known of them).
func (m *Merger) blame(ctx context.Context, reqs []Request, br *BatchResult, pending []int, entries []entry, good int, outputs map[int]string, st *specTrial, passed []bool, fails []int) ([]int, *carried, error) {
	m.noteFlaky(reqs, br, entries, good, outputs, fails)
	if good > 0 {
		if err := m.land(ctx, br, entries[:good]); err != nil {
			return nil, nil, err
		}
	}
	bad := entries[good].req
	br.Results[bad].Outcome, br.Results[bad].Output = TestsFailed, outputs[good+1]
	var rest []int
	for _, i := range pending {
		if i > bad {
			rest = append(rest, i)
		}
	}
	switch {
	case st == nil || !st.ran:
		return rest, nil, nil // built again on the new tip by the next round
	case st.passed:
		st.c.apply(br, rest)
		return nil, nil, m.land(ctx, br, st.c.entries)
	default:
		return rest, &carried{c: st.c, output: st.output}, nil
	}
}

// noteFlaky reports the prefixes that failed though a longer one (up to good) passed.
func (m *Merger) noteFlaky(reqs []Request, br *BatchResult, entries []entry, good int, outputs map[int]string, fails []int) {
	for k := 1; k <= good; k++ {
		if fails[k] == 0 {
			continue
		}
		f := Flaky{Commit: entries[k-1].commit, Output: outputs[k]}
		for _, e := range entries[:k] {
			f.Tasks = append(f.Tasks, reqs[e.req].Task)
		}
		br.Flaky = append(br.Flaky, f)
	}
}

// interior returns up to k prefixes strictly between lo and hi that split the branches
// which may be the bad one (entries lo..hi-1) into k+1 groups as even as they come.
func interior(lo, hi, k int) []int {
	var ks []int
	for j := 1; j <= k; j++ {
		p := lo + (j*(hi-lo)+(k+1)/2)/(k+1)
		if p > lo && p < hi && (len(ks) == 0 || ks[len(ks)-1] != p) {
			ks = append(ks, p)
		}
	}
	return ks
}

// trialResult is one trial's test run: ran is false when it was stopped because another
// decided the round first.
type trialResult struct {
	ran, passed bool
	output      string
}

// runTrials tests the trials at once, one per worktree (Dir, then TestDirs). A passing
// trial of the whole batch (prefix n) decides the round: the others are stopped.
func (m *Merger) runTrials(ctx context.Context, br *BatchResult, trials []trial, n int) ([]trialResult, error) {
	dirs := append([]string{m.Dir}, m.TestDirs...)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	results := make([]trialResult, len(trials))
	errs := make([]error, len(trials))
	took := make([]time.Duration, len(trials))
	br.Waves++
	var wg sync.WaitGroup
	for i, t := range trials {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Repo.ResetHard(rctx, dirs[i], t.commit); err != nil {
				errs[i] = err
				return
			}
			started := time.Now()
			passed, out, err := m.runTestsIn(rctx, dirs[i])
			took[i] = time.Since(started)
			if err != nil {
				errs[i] = err
				return
			}
			results[i] = trialResult{ran: true, passed: passed, output: out}
			if passed && t.prefix == n {
				stop()
			}
		}()
	}
	wg.Wait()
	tested := strings.TrimSpace(m.Test) != ""
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, t := range trials {
		// Once a trial decided the round (rctx stopped), the others' errors are the stop's.
		if errs[i] != nil && rctx.Err() == nil {
			return nil, errs[i]
		}
		if tested && (results[i].ran || took[i] > 0) { // a run stopped half way was a run too
			br.TestRuns++
			br.TestTime += took[i]
			for _, r := range t.reqs {
				br.Results[r].TestRuns++
			}
		}
	}
	return results, nil
}
