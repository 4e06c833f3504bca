package orchestrator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
)

// received is what a notification server on loopback was sent.
type received struct {
	mu   sync.Mutex
	got  []string
	fail int // answer this many requests 500 first
}

func (r *received) add(s string) { r.mu.Lock(); r.got = append(r.got, s); r.mu.Unlock() }
func (r *received) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}
func (r *received) count(sub string) int {
	n := 0
	for _, g := range r.list() {
		if strings.Contains(g, sub) {
			n++
		}
	}
	return n
}

// TestNotify: a blocker for the person reaches an ntfy-shaped server, a webhook-shaped one
// that fails twice first (retried, never holding the team), and a command, each with its
// link; unanswered, it is sent again after notify.repeat, twice and no more; answered, the
// team goes on and its end is sent too.
func TestNotify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.binDir = testsupport.TeamctlBinDir(t)
	ntfy, hook := &received{}, &received{fail: 2}
	ntfySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ntfy.add(fmt.Sprintf("%s|%s|%s|%s", r.Method, r.Header.Get("Title"), r.Header.Get("Click"), b))
	}))
	defer ntfySrv.Close()
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook.mu.Lock()
		failing := hook.fail > 0
		hook.fail--
		hook.mu.Unlock()
		if failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var body struct {
			Text, Kind, Link string
			Blocker          int64
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want JSON", http.StatusBadRequest)
			return
		}
		hook.add(fmt.Sprintf("%s|%d|%s|%s", body.Kind, body.Blocker, body.Link, body.Text))
	}))
	defer hookSrv.Close()
	cmdOut := filepath.Join(t.TempDir(), "command.out")
	cmd := f.agent("notify-cmd", `echo "$TEAMCTL_NOTIFY_KIND $TEAMCTL_NOTIFY_BLOCKER $TEAMCTL_NOTIFY_LINK" >> `+cmdOut)
	asker := f.agent("asker", `if [ "$TEAMCTL_REASON" = answer ]; then
	echo answered > src/asker.txt && git add -A && git commit -qm answered
	exit 0
fi
teamctl blocker --human 'may I?'
`)
	p := f.load(header + fmt.Sprintf("notify: {ntfy: %s/topic, webhook: %s, command: ['%s'], repeat: 1s, link: 'http://example.test:7420'}\n", ntfySrv.URL, hookSrv.URL, cmd) +
		fmt.Sprintf("agents:\n  - {name: asker, command: ['%s'], tasks: [{id: a, prompt: p}]}\n", asker))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- orchestrator.Run(ctx, f.env(), p, orchestrator.RunOptions{}) }()

	link := "http://example.test:7420/t/t#blocker-1"
	testsupport.Eventually(t, 2*time.Minute, "the blocker and its two reminders reach ntfy", func() bool {
		return ntfy.count("|"+link+"|may I?") >= 3
	})
	got := ntfy.list()
	if !strings.HasPrefix(got[0], "POST|teamctl: asker asks you (blocker 1)|"+link+"|may I?") ||
		!strings.Contains(got[1], "still waiting (reminder 1 of 2)") || !strings.Contains(got[2], "reminder 2 of 2") {
		t.Errorf("ntfy got:\n%s", strings.Join(got, "\n"))
	}
	testsupport.Eventually(t, time.Minute, "the webhook gets them, retried past its failures", func() bool {
		return hook.count("blocker|1|"+link) >= 3
	})
	if h := hook.list(); !strings.Contains(h[0], "|teamctl: asker asks you (blocker 1): may I? "+link) {
		t.Errorf("the webhook's Slack-style text: %q", h[0])
	}
	ws := f.workspace()
	pa, err := ws.Participant(context.Background(), orchestrator.Caller{Team: "t", As: orchestrator.Human})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pa.Answer(context.Background(), 1, "yes"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, f.logs.String())
	}
	// Run returns once what was queued is sent.
	if n := ntfy.count("may I?"); n != 3 {
		t.Errorf("the blocker was sent %d times, want 3 (once and two reminders)", n)
	}
	if ntfy.count("|teamctl: team t finished|http://example.test:7420/t/t|every task is merged") != 1 {
		t.Errorf("ntfy did not get the team's end:\n%s", strings.Join(ntfy.list(), "\n"))
	}
	b, _ := os.ReadFile(cmdOut)
	if strings.Count(string(b), "blocker 1 "+link) != 3 || !strings.Contains(string(b), "finished 0 http://example.test:7420/t/t") {
		t.Errorf("the command got:\n%s", b)
	}
	if !strings.Contains(f.logs.String(), "notification failed: trying again") {
		t.Errorf("the webhook's failures were not logged:\n%s", f.logs.String())
	}
}
