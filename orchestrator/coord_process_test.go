package orchestrator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
	"github.com/teamctl/teamctl/worktree"
)

// The coordination tests run real processes: this test binary again, in a helper mode
// (TestCoordHelper), each process opening the repository's store on its own, as every
// `teamctl` command an agent runs does.
const (
	helperMode  = "TEAMCTL_COORD_HELPER" // reserve-and-wait, hold, reserve-loop, inbox-reader
	helperRepo  = "TEAMCTL_COORD_REPO"
	helperPaths = "TEAMCTL_COORD_PATHS" // comma-separated
	helperN     = "TEAMCTL_COORD_N"
	helperStop  = "TEAMCTL_COORD_STOP" // a file whose existence ends inbox-reader
	// helperAgent is the agent a helper acts for: testsupport.Main clears TEAMCTL_AGENT in
	// every test process, so the helper sets it again from this.
	helperAgent = "TEAMCTL_COORD_AGENT"
	helperHold  = "TEAMCTL_COORD_HOLD" // reserve-loop: hold each grant up to 3ms (1) or not at all
)

// helperDeadline bounds every wait on a helper process: a shared 2-core machine can be slow.
const helperDeadline = 2 * time.Minute

// TestCoordHelper is not a test: it is the body of the helper processes.
func TestCoordHelper(t *testing.T) {
	mode := os.Getenv(helperMode)
	if mode == "" {
		t.Skip("helper process for the coordination process tests")
	}
	ctx := context.Background()
	ws, err := orchestrator.Open(ctx, orchestrator.Env{Runner: worktree.ExecRunner{}}, os.Getenv(helperRepo))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	paths := strings.Split(os.Getenv(helperPaths), ",")
	me := os.Getenv(helperAgent)
	os.Setenv("TEAMCTL_AGENT", me)
	c := orchestrator.Caller{Team: "t"}
	switch mode {
	case "reserve-and-wait": // an agent process: reserve, then live on
		if _, err := ws.As(c).Reserve(ctx, paths, "held by a live process"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
	case "hold": // record this process as the agent's, reserve, say so, live on until killed
		start, err := agentproc.StartTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.TestStore().UpdateAgent(ctx, "t", me, func(a *store.Agent) error {
			a.State, a.Task, a.PID, a.ProcStart = "running", "task-"+me, os.Getpid(), start
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := ws.As(orchestrator.Caller{Team: "t", As: me}).Reserve(ctx, paths, "holding"); err != nil {
			t.Fatal(err)
		}
		fmt.Println("held")
		time.Sleep(time.Hour)
	case "reserve-loop": // claim random overlapping sets, release what was granted
		n, _ := strconv.Atoi(os.Getenv(helperN))
		hold := os.Getenv(helperHold) == "1"
		rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 7))
		granted, refused := 0, 0
		start := time.Now()
		for range n {
			var want []string
			for _, p := range paths {
				if rng.IntN(3) == 0 {
					want = append(want, p)
				}
			}
			if len(want) == 0 {
				want = []string{paths[rng.IntN(len(paths))]}
			}
			_, err := ws.As(orchestrator.Caller{Team: "t", As: me}).Reserve(ctx, want, "loop")
			switch {
			case errors.Is(err, orchestrator.ErrReserved):
				refused++
				continue
			case err != nil:
				t.Fatal(err)
			}
			granted++
			if hold {
				// Hold it a moment, as an agent would while it works, so claims overlap in time.
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
			}
			if _, err := ws.As(orchestrator.Caller{Team: "t", As: me}).Release(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("granted %d refused %d seconds %f\n", granted, refused, time.Since(start).Seconds())
	case "inbox-reader": // read the inbox until told to stop and it is empty; print each id
		stop := os.Getenv(helperStop)
		for {
			_, stopped := os.Stat(stop)
			ms, err := ws.As(orchestrator.Caller{Team: "t", As: me}).Inbox(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				fmt.Println("id", m.ID)
			}
			if stopped == nil && len(ms) == 0 {
				return
			}
		}
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}

// helper starts this test binary in a helper mode as agent with the extra environment.
func helper(t testing.TB, repo, agent, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCoordHelper$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), append([]string{helperMode + "=" + mode, helperRepo + "=" + repo,
		helperAgent + "=" + agent}, env...)...)
	cmd.Stderr = &strings.Builder{}
	return cmd
}

// TestReserveProcessesOneOwner has 8 processes claim random overlapping sets of paths at
// once, many times each. Replaying the journal's grants and releases in order, no path is
// ever held by two agents whose reservations overlap.
func TestReserveProcessesOneOwner(t *testing.T) {
	t.Parallel()
	if os.Getenv(helperMode) != "" {
		t.Skip("in a helper process")
	}
	devs := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	ws, repo := coordTeam(t, false, devs...)
	universe := "src/,src/a.go,src/b.go,src/lex/,src/lex/l.go,docs/,docs/x.md,README"
	const rounds = 40
	var wg sync.WaitGroup
	outs := make([]string, len(devs))
	for i, d := range devs {
		cmd := helper(t, repo, d, "reserve-loop", helperPaths+"="+universe, helperN+"="+strconv.Itoa(rounds), helperHold+"=1")
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.Output()
			outs[i] = string(out)
			if err != nil {
				t.Errorf("helper %s: %v\n%s", d, err, cmd.Stderr)
			}
		}()
	}
	wg.Wait()
	grants, refusals := 0, 0
	for _, o := range outs {
		var g, r int
		for _, line := range strings.Split(o, "\n") {
			fmt.Sscanf(line, "granted %d refused %d", &g, &r)
		}
		grants += g
		refusals += r
	}
	if grants+refusals != rounds*len(devs) {
		t.Fatalf("helpers report %d grants and %d refusals, want %d attempts:\n%s", grants, refusals, rounds*len(devs), strings.Join(outs, ""))
	}
	events, err := ws.TestStore().EventsOfKinds(t.Context(), "t", []string{"reserve", "release"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Replay: the journal's order is the commit order of the transactions.
	type held struct{ agent, path string }
	active := map[int64]held{}
	replayed := 0
	for _, e := range events {
		var d struct {
			Granted []struct {
				Path  string
				Token int64
			}
			Paths []struct {
				Path  string
				Token int64
			}
		}
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			t.Fatal(err)
		}
		if e.Kind == "release" {
			for _, p := range d.Paths {
				if _, ok := active[p.Token]; !ok {
					t.Errorf("event %d releases token %d, which is not held", e.ID, p.Token)
				}
				delete(active, p.Token)
			}
			continue
		}
		replayed++
		for _, g := range d.Granted {
			for tok, h := range active {
				if h.agent != e.Agent && store.Overlaps(h.path, g.Path) {
					t.Errorf("event %d grants %s to %s (token %d) while %s holds %s (token %d)", e.ID, g.Path, e.Agent, g.Token, h.agent, h.path, tok)
				}
			}
			active[g.Token] = held{e.Agent, g.Path}
		}
	}
	if replayed != grants {
		t.Errorf("the journal has %d grants, the helpers made %d", replayed, grants)
	}
	if len(active) != 0 {
		t.Errorf("%d reservations still held after every helper released all", len(active))
	}
	if refusals == 0 {
		t.Logf("no refusals in %d attempts: the helpers never overlapped in time", grants)
	}
	t.Logf("%d grants, %d refusals over %d processes", grants, refusals, len(devs))
}

// TestLeaseFollowsTheHolderProcess: a holder stopped with SIGSTOP still lives and keeps
// its reservation; one killed with SIGKILL loses it to the next claimant.
func TestLeaseFollowsTheHolderProcess(t *testing.T) {
	t.Parallel()
	if os.Getenv(helperMode) != "" {
		t.Skip("in a helper process")
	}
	for _, sig := range []syscall.Signal{syscall.SIGSTOP, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			ws, repo := coordTeam(t, false, "alice", "bob")
			cmd := helper(t, repo, "alice", "hold", helperPaths+"=src/")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			if ok, read := waitLine(out, "held", helperDeadline); !ok {
				t.Fatalf("the holder never said it holds src/:\n%s%s", read, cmd.Stderr)
			}
			ctx := t.Context()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if sig == syscall.SIGKILL {
				cmd.Wait() // reaped: /proc has no trace of it left
			} else {
				testsupport.Eventually(t, helperDeadline, "the holder stopped", func() bool { return procState(cmd.Process.Pid) == "T" })
			}
			_, err = ws.As(as("bob")).Reserve(ctx, []string{"src/a.go"}, "")
			if sig == syscall.SIGSTOP {
				if !errors.Is(err, orchestrator.ErrReserved) || !strings.Contains(err.Error(), "reserved by alice as src/") {
					t.Errorf("reserve while the holder is stopped = %v, want refused naming alice", err)
				}
				cmd.Process.Signal(syscall.SIGCONT)
				return
			}
			if err != nil {
				t.Fatalf("reserve after the holder was killed = %v, want granted", err)
			}
			hist, err := ws.TestStore().ReservationHistory(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			if hist[0].Agent != "alice" || !strings.HasPrefix(hist[0].ReleaseWhy, "holder gone: process "+strconv.Itoa(cmd.Process.Pid)) {
				t.Errorf("alice's lease: %+v, want released because its process is gone", hist[0])
			}
		})
	}
}

// waitLine reads r until a line equal to want (true), or EOF, or the deadline; it
// returns what it read before.
func waitLine(r io.Reader, want string, within time.Duration) (bool, string) {
	type result struct {
		ok   bool
		read string
	}
	found := make(chan result, 1)
	go func() {
		var read strings.Builder
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == want {
				found <- result{true, read.String()}
				io.Copy(io.Discard, r)
				return
			}
			read.WriteString(sc.Text() + "\n")
		}
		found <- result{false, read.String()}
	}()
	select {
	case r := <-found:
		return r.ok, r.read
	case <-time.After(within):
		return false, "(nothing within " + within.String() + ")"
	}
}

// procState is the state letter of /proc/PID/stat ("T" stopped), "" if unreadable.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if f := strings.Fields(s[i+1:]); len(f) > 0 {
		return f[0]
	}
	return ""
}

// TestInboxTwoReaderProcesses has two processes read one inbox while messages arrive:
// every message is delivered, none twice.
func TestInboxTwoReaderProcesses(t *testing.T) {
	t.Parallel()
	if os.Getenv(helperMode) != "" {
		t.Skip("in a helper process")
	}
	ws, repo := coordTeam(t, false, "alice", "bob")
	stop := filepath.Join(t.TempDir(), "stop")
	readers := make([]*exec.Cmd, 2)
	outs := make([]string, 2)
	var wg sync.WaitGroup
	for i := range readers {
		readers[i] = helper(t, repo, "bob", "inbox-reader", helperStop+"="+stop)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := readers[i].Output()
			outs[i] = string(out)
			if err != nil {
				t.Errorf("reader %d: %v\n%s", i, err, readers[i].Stderr)
			}
		}()
	}
	const n = 150
	var sent []int64
	for i := range n {
		m, err := ws.As(as("alice")).Send(t.Context(), "bob", fmt.Sprint("message ", i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m.ID)
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var got []int64
	per := make([]int, 2)
	for i, o := range outs {
		for _, line := range strings.Split(o, "\n") {
			if id, ok := strings.CutPrefix(line, "id "); ok {
				v, _ := strconv.ParseInt(id, 10, 64)
				got = append(got, v)
				per[i]++
			}
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Errorf("message %d delivered twice", got[i])
		}
	}
	if len(got) != n || got[0] != sent[0] || got[len(got)-1] != sent[n-1] {
		t.Errorf("readers got %d messages (%v...), want the %d sent", len(got), got[:min(len(got), 5)], n)
	}
	t.Logf("reader 1 got %d, reader 2 got %d", per[0], per[1])
}

// BenchmarkReserve8Processes: reservation operations (a reserve, granted or refused, and
// the release of a grant) per second of the store, with 8 processes claiming overlapping
// paths at once, each with its own connection as every teamctl command has.
func BenchmarkReserve8Processes(b *testing.B) {
	if os.Getenv(helperMode) != "" {
		b.Skip("in a helper process")
	}
	devs := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	for b.Loop() {
		b.StopTimer()
		_, repo := coordTeam(b, false, devs...)
		b.StartTimer()
		var wg sync.WaitGroup
		var mu sync.Mutex
		ops, slowest := 0, 0.0
		for _, d := range devs {
			cmd := helper(b, repo, d, "reserve-loop", helperPaths+"=src/,src/a.go,src/b.go,docs/,docs/x.md,README", helperN+"=200")
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := cmd.Output()
				if err != nil {
					b.Errorf("helper %s: %v\n%s", d, err, cmd.Stderr)
					return
				}
				var g, r int
				var secs float64
				for _, line := range strings.Split(string(out), "\n") {
					fmt.Sscanf(line, "granted %d refused %d seconds %f", &g, &r, &secs)
				}
				mu.Lock()
				ops += 2*g + r
				slowest = max(slowest, secs)
				mu.Unlock()
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(ops)/slowest, "ops/s")
	}
}
