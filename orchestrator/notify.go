package orchestrator

// Notifications (DESIGN.md §12): what needs the person — a blocker for them, the team
// finished, a provider paused on a limit, an agent over budget, an incident — is sent where
// the plan's notify: says: an ntfy topic, a webhook, the desktop, a command. Each carries
// the link to its page when `teamctl serve` has run (never the login token: a topic may be
// public). Sending is in the background and retried; a target that keeps failing is
// logged and never holds the team up. A blocker left unanswered is sent again after
// notify.repeat, at most twice (journal kind "notify.sent" counts, across restarts).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/store"
)

// ServeURLFile is where `teamctl serve` keeps the login URL it printed, in StateDir.
const ServeURLFile = "serve.url"

// ServedURL is the login URL the last `teamctl serve` of the repository whose state is in
// stateDir printed (with its token).
func ServedURL(stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, ServeURLFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no teamctl serve has run in this repository yet: start one with teamctl serve")
	}
	return strings.TrimSpace(string(b)), err
}

// Notice is one thing the person is told.
type Notice struct {
	Kind    string `json:"kind"` // blocker, finished, paused, budget, incident
	Team    string `json:"team"`
	Title   string `json:"title"`
	Text    string `json:"text"`
	Link    string `json:"link,omitempty"`
	Blocker int64  `json:"blocker,omitempty"`
}

const (
	notifyKind     = "notify.sent"
	notifyRepeats  = 2                // an unanswered blocker is sent again at most this often
	notifyAttempts = 4                // per target and notice
	notifyTimeout  = 20 * time.Second // per attempt
	notifyQueue    = 256
)

// notifyBackoff is the wait before each retry of a target.
var notifyBackoff = []time.Duration{time.Second, 3 * time.Second, 9 * time.Second}

// notifier sends notices of one supervisor in the background.
type notifier struct {
	cfg    plan.Notify
	log    *log.Logger
	client *http.Client
	queue  chan Notice
	wg     sync.WaitGroup
	stop   context.CancelFunc
	ctx    context.Context
}

func newNotifier(cfg plan.Notify, l *log.Logger) *notifier {
	ctx, stop := context.WithCancel(context.Background())
	n := &notifier{cfg: cfg, log: l, client: &http.Client{Timeout: notifyTimeout}, queue: make(chan Notice, notifyQueue), ctx: ctx, stop: stop}
	n.wg.Add(1)
	go n.run()
	return n
}

// send queues x; a full queue drops it, with a word in the log.
func (n *notifier) send(x Notice) {
	select {
	case n.queue <- x:
	default:
		n.log.Warn("notification dropped: too many waiting", "kind", x.Kind, "title", x.Title)
	}
}

// close sends what is queued, for at most grace, and stops.
func (n *notifier) close(grace time.Duration) {
	close(n.queue)
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		n.stop()
		<-done
	}
	n.stop()
}

func (n *notifier) run() {
	defer n.wg.Done()
	for x := range n.queue {
		var wg sync.WaitGroup
		for name, deliver := range n.targets() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.retry(name, x, deliver)
			}()
		}
		wg.Wait()
	}
}

// targets are the plan's, by name.
func (n *notifier) targets() map[string]func(context.Context, Notice) error {
	t := map[string]func(context.Context, Notice) error{}
	if n.cfg.Ntfy != "" {
		t["ntfy"] = n.ntfy
	}
	if n.cfg.Webhook != "" {
		t["webhook"] = n.webhook
	}
	if n.cfg.Desktop {
		t["desktop"] = desktop
	}
	if len(n.cfg.Command) > 0 {
		t["command"] = n.command
	}
	return t
}

func (n *notifier) retry(name string, x Notice, deliver func(context.Context, Notice) error) {
	var err error
	for i := range notifyAttempts {
		if i > 0 {
			select {
			case <-n.ctx.Done():
				n.log.Error("notification not sent: the supervisor ended", "target", name, "kind", x.Kind, "err", err)
				return
			case <-time.After(notifyBackoff[min(i-1, len(notifyBackoff)-1)]):
			}
		}
		ctx, cancel := context.WithTimeout(n.ctx, notifyTimeout)
		err = deliver(ctx, x)
		cancel()
		if err == nil {
			return
		}
		n.log.Warn("notification failed: trying again", "target", name, "kind", x.Kind, "attempt", i+1, "err", err)
	}
	n.log.Error("notification not sent", "target", name, "kind", x.Kind, "attempts", notifyAttempts, "err", err)
}

// ntfy posts to the topic URL: the text as the body, the title and link as ntfy's headers.
func (n *notifier) ntfy(ctx context.Context, x Notice) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.Ntfy, strings.NewReader(x.Text))
	if err != nil {
		return err
	}
	req.Header.Set("Title", x.Title)
	req.Header.Set("Tags", "teamctl,"+x.Kind)
	if x.Kind == "blocker" || x.Kind == "incident" {
		req.Header.Set("Priority", "high")
	}
	if x.Link != "" {
		req.Header.Set("Click", x.Link)
	}
	return n.do(req)
}

// webhook posts the notice as JSON, with a Slack-compatible text field.
func (n *notifier) webhook(ctx context.Context, x Notice) error {
	text := x.Title + ": " + x.Text
	if x.Link != "" {
		text += " " + x.Link
	}
	body, err := json.Marshal(struct {
		Text string `json:"text"`
		Notice
	}{text, x})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return n.do(req)
}

func (n *notifier) do(req *http.Request) error {
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", req.URL.Host, resp.Status)
	}
	return nil
}

// command runs the plan's notify command with the notice in its environment.
func (n *notifier) command(ctx context.Context, x Notice) error {
	cmd := exec.CommandContext(ctx, n.cfg.Command[0], n.cfg.Command[1:]...)
	cmd.Env = append(os.Environ(), "TEAMCTL_NOTIFY_KIND="+x.Kind, "TEAMCTL_NOTIFY_TEAM="+x.Team, "TEAMCTL_NOTIFY_TITLE="+x.Title,
		"TEAMCTL_NOTIFY_TEXT="+x.Text, "TEAMCTL_NOTIFY_LINK="+x.Link, "TEAMCTL_NOTIFY_BLOCKER="+strconv.FormatInt(x.Blocker, 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", n.cfg.Command[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// desktop shows the notice with notify-send, or osascript on macOS.
func desktop(ctx context.Context, x Notice) error {
	var cmd *exec.Cmd
	if runtime.GOOS == "darwin" {
		cmd = exec.CommandContext(ctx, "osascript", "-e", fmt.Sprintf("display notification %q with title %q", x.Text, x.Title))
	} else {
		if _, err := exec.LookPath("notify-send"); err != nil {
			return fmt.Errorf("no notify-send on this machine (install libnotify-bin): %w", err)
		}
		cmd = exec.CommandContext(ctx, "notify-send", "--app-name=teamctl", x.Title, x.Text)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// link is the page of team (of its blocker id, when id > 0) on the plan's notify.link or
// the last teamctl serve's address; "" when there is neither.
func (w *Workspace) link(p *plan.Plan, team string, id int64) string {
	base := p.Notify.Link
	if base == "" {
		served, err := ServedURL(w.StateDir())
		if err != nil {
			return ""
		}
		u, err := url.Parse(served)
		if err != nil {
			return ""
		}
		u.RawQuery, u.Path = "", "" // never the token
		base = u.String()
	}
	l := strings.TrimSuffix(base, "/") + "/t/" + url.PathEscape(team)
	if id > 0 {
		l += fmt.Sprintf("#blocker-%d", id)
	}
	return l
}

// notify tells the person x, if the plan says where. A blocker's notice is journalled, so
// repeats count across restarts.
func (s *supervisor) notify(ctx context.Context, x Notice) {
	if s.notifier == nil {
		return
	}
	x.Team = s.team.Name
	if x.Link == "" {
		x.Link = s.ws.link(s.p, s.team.Name, x.Blocker)
	}
	s.notifier.send(x)
	if x.Blocker > 0 {
		data, _ := json.Marshal(struct {
			Blocker int64 `json:"blocker"`
		}{x.Blocker})
		if _, err := s.ws.store.AppendEvent(ctx, store.Event{Team: s.team.Name, Kind: notifyKind, Data: string(data)}); err != nil {
			s.log().Warn("could not journal a notification", "err", err)
		}
	}
}

func blockerNotice(b store.Blocker) Notice {
	return Notice{Kind: "blocker", Title: fmt.Sprintf("teamctl: %s asks you (blocker %d)", b.Agent, b.ID), Text: b.Text, Blocker: b.ID}
}

// repeatCheckEvery is how often the supervisor looks for blockers to send again: a quarter
// of the repeat, between a second and half a minute.
func repeatCheckEvery(repeat time.Duration) time.Duration {
	if repeat <= 0 {
		repeat = plan.DefaultNotifyRepeat
	}
	return min(max(repeat/4, time.Second), 30*time.Second)
}

// repeatBlockers sends again each blocker for a person that waits unanswered longer than
// notify.repeat since it was last sent, at most notifyRepeats times.
func (s *supervisor) repeatBlockers(ctx context.Context) {
	if s.notifier == nil {
		return
	}
	every := s.p.Notify.Repeat
	if every <= 0 {
		every = plan.DefaultNotifyRepeat
	}
	bs, err := s.ws.store.OpenBlockers(ctx, s.team.Name)
	if err != nil {
		return
	}
	var open []store.Blocker
	for _, b := range bs {
		if b.Human {
			open = append(open, b)
		}
	}
	if len(open) == 0 {
		return
	}
	evs, err := s.ws.store.EventsOfKinds(ctx, s.team.Name, []string{notifyKind}, 0)
	if err != nil {
		return
	}
	sent, last := map[int64]int{}, map[int64]time.Time{}
	for _, e := range evs {
		var d struct{ Blocker int64 }
		if json.Unmarshal([]byte(e.Data), &d) == nil {
			sent[d.Blocker]++
			last[d.Blocker] = e.At
		}
	}
	for _, b := range open {
		if n := sent[b.ID]; n > 0 && n <= notifyRepeats && time.Since(last[b.ID]) >= every {
			x := blockerNotice(b)
			x.Title += fmt.Sprintf(", still waiting (reminder %d of %d)", n, notifyRepeats)
			s.notify(ctx, x)
		}
	}
}
