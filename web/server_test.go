package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/plan"
	"github.com/teamctl/teamctl/web"
	"github.com/teamctl/teamctl/worktree"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

// team is a real repository whose team of scripted agents orchestrator.Run supervises in
// this process, as `teamctl run` would, and a server of it.
type team struct {
	t      *testing.T
	repo   string
	logs   *testsupport.SyncBuffer
	done   chan error
	ws     *orchestrator.Workspace
	srv    *httptest.Server
	token  string
	client *http.Client // a browser: it keeps the cookie
}

// asker raises a blocker for the person and, relaunched with the answer, commits it.
const asker = `if [ "$TEAMCTL_REASON" = answer ]; then
	grep -o 'colour: [a-z]*' "$TEAMCTL_PROMPT_FILE" > src/colour.txt
	git add -A && git commit -qm "asker: the colour"
	exit 0
fi
echo started > src/asker.txt
git add -A && git commit -qm "asker: started"
teamctl blocker --human 'which colour?'
`

// talker commits and stays until a message of the person's tells it to go (it reads the
// thread, which leaves the messages unread: see the note on issue 15).
const talker = `echo talk > src/talker.txt
git add -A && git commit -qm "talker: talk"
for i in $(seq 1200); do
	teamctl msg thread human | grep -q 'you may go' && exit 0
	sleep 0.1
done
exit 1
`

func startTeam(t *testing.T, opts web.Options) *team {
	t.Helper()
	tm := &team{t: t, repo: testsupport.NewRepo(t), logs: &testsupport.SyncBuffer{}, done: make(chan error, 1)}
	scripts := t.TempDir()
	testsupport.WriteFile(t, filepath.Join(tm.repo, "src", "base.txt"), "base\n")
	testsupport.Git(t, tm.repo, "add", "-A")
	testsupport.Git(t, tm.repo, "commit", "-qm", "base")
	testsupport.Script(t, scripts, "asker.sh", asker)
	testsupport.Script(t, scripts, "talker.sh", talker)
	yaml := strings.NewReplacer("$REPO", tm.repo, "$S", scripts).Replace(`version: 1
team: t
repo: $REPO
defaults: {timeout: 3m, retries: 0, nudge: {max: 0, auto_commit: true}}
sandbox: {mode: off}
agents:
  - {name: asker, command: [$S/asker.sh], tasks: [{id: ask, prompt: p}]}
  - {name: talker, command: [$S/talker.sh], tasks: [{id: talk, prompt: p}]}
`)
	path := filepath.Join(scripts, "team.yaml")
	testsupport.WriteFile(t, path, yaml)
	p, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	env := orchestrator.Env{Runner: worktree.ExecRunner{}, Log: log.New(tm.logs), BinDir: testsupport.TeamctlBinDir(t)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { tm.done <- orchestrator.Run(ctx, env, p, orchestrator.RunOptions{}) }()
	t.Cleanup(func() {
		cancel()
		<-tm.done
	})
	// The server opens the repository as `teamctl serve` does, beside the supervisor.
	testsupport.Eventually(t, time.Minute, "the team is made", func() bool {
		ws, err := orchestrator.Open(context.Background(), orchestrator.Env{Runner: worktree.ExecRunner{}}, tm.repo)
		if err != nil {
			return false
		}
		if _, err := ws.ResolveTeam(context.Background(), "t"); err != nil {
			ws.Close()
			return false
		}
		tm.ws = ws
		return true
	})
	t.Cleanup(func() { tm.ws.Close() })
	if opts.Token == "" {
		if opts.Token, err = web.Token(tm.ws.StateDir()); err != nil {
			t.Fatal(err)
		}
	}
	opts.Poll = 20 * time.Millisecond
	tm.token = opts.Token
	tm.srv = httptest.NewServer(web.New(tm.ws, opts))
	t.Cleanup(tm.srv.Close)
	jar, _ := cookiejar.New(nil)
	tm.client = &http.Client{Jar: jar}
	return tm
}

// get fetches path with the given header (name, value pairs) and returns the status and body.
func (tm *team) get(c *http.Client, path string, header ...string) (int, string) {
	tm.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, tm.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		tm.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form (or, with json set, a JSON body) and returns the response.
func (tm *team) post(c *http.Client, path string, form url.Values, header ...string) *http.Response {
	tm.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, tm.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		tm.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// login opens the login link in the browser client; it lands on / with the cookie.
func (tm *team) login() {
	tm.t.Helper()
	code, body := tm.get(tm.client, "/?token="+tm.token)
	if code != http.StatusOK || !strings.Contains(body, `href="/t/t"`) {
		tm.t.Fatalf("login: %d\n%s", code, body)
	}
}

func (tm *team) bearer() []string { return []string{"Authorization", "Bearer " + tm.token} }

// csrf is the CSRF token a page's forms carry.
func csrf(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		t.Fatalf("the page has no form with a CSRF token:\n%s", page)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

func TestAuth(t *testing.T) {
	tm := startTeam(t, web.Options{})
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/", "/t/t", "/api/teams", "/api/teams/t/status", "/api/events?team=t", "/static/app.js"} {
		if code, _ := tm.get(plain, path); code != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d, want 401", path, code)
		}
		if code, _ := tm.get(plain, path, "Authorization", "Bearer nottheonebutlongenoughtolookright00000"); code != http.StatusUnauthorized {
			t.Errorf("%s with a bad token: %d, want 401", path, code)
		}
	}
	if code, body := tm.get(plain, "/api/teams"); !strings.Contains(body, `"error"`) || code != 401 {
		t.Errorf("the API's refusal is not JSON: %d %s", code, body)
	}
	// Bearer: the API as curl uses it.
	code, body := tm.get(plain, "/api/teams", tm.bearer()...)
	var teams []web.TeamSummary
	if err := json.Unmarshal([]byte(body), &teams); code != 200 || err != nil || len(teams) != 1 || teams[0].Name != "t" {
		t.Fatalf("GET /api/teams with the bearer token: %d %v %s", code, err, body)
	}
	// The login link: a cookie (HttpOnly, SameSite=Strict), and the token out of the address.
	resp, err := plain.Get(tm.srv.URL + "/t/t?token=" + tm.token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "teamctl_token" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/t/t" || cookie == nil ||
		!cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login link: %d to %q, cookie %+v", resp.StatusCode, resp.Header.Get("Location"), cookie)
	}
	if code, body := tm.get(plain, "/t/t", "Cookie", "teamctl_token="+cookie.Value); code != 200 || !strings.Contains(body, `data-agent="asker"`) {
		t.Errorf("the team page with the cookie: %d\n%s", code, body)
	}
	// The token file is the user's alone, and the same on the next start.
	fi, err := os.Stat(filepath.Join(tm.ws.StateDir(), "serve.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the token file: %v, mode %v", err, fi.Mode())
	}
	if again, _ := web.Token(tm.ws.StateDir()); again != tm.token {
		t.Errorf("the token changed: %s then %s", tm.token, again)
	}
}

// TestActionsNeedTheirPage: an action made with the cookie alone (as another site's page
// could make the browser send it) is refused; with the page's CSRF token, or with the
// bearer token (which no other page has), it is done.
func TestActionsNeedTheirPage(t *testing.T) {
	tm := startTeam(t, web.Options{})
	tm.login()
	testsupport.Eventually(t, time.Minute, "talker runs", func() bool {
		_, body := tm.get(tm.client, "/api/teams/t/status", tm.bearer()...)
		return strings.Contains(body, `"name": "talker"`) && strings.Contains(body, `"state": "running"`)
	})
	noFollow := *tm.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp := tm.post(&noFollow, "/t/t/message", url.Values{"agent": {"talker"}, "text": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a message with the cookie and no CSRF token: %d, want 403", resp.StatusCode)
	}
	_, page := tm.get(tm.client, "/t/t")
	resp := tm.post(&noFollow, "/t/t/message", url.Values{"agent": {"talker"}, "text": {"from the page"}, "csrf": {csrf(t, page)}, "back": {"/t/t"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/t/t" {
		t.Errorf("a message from the page: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ := http.NewRequest(http.MethodPost, tm.srv.URL+"/api/teams/t/agents/talker/message", strings.NewReader(`{"text":"you may go"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tm.token)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct{ ID int64 }
	_ = json.NewDecoder(r2.Body).Decode(&msg)
	r2.Body.Close()
	if r2.StatusCode != 200 || msg.ID == 0 {
		t.Errorf("a message by the API: %d, %+v", r2.StatusCode, msg)
	}
	_, feed := tm.get(tm.client, "/api/teams/t/feed", tm.bearer()...)
	if strings.Contains(feed, "forged") || !strings.Contains(feed, "from the page") || !strings.Contains(feed, "you may go") {
		t.Errorf("the feed:\n%s", feed)
	}
	// The agent read it and went.
	if err := testsupport.Poll(context.Background(), time.Minute, func() bool {
		st, err := tm.ws.Status(context.Background(), "t")
		for _, task := range st.Tasks {
			if task.ID == "talk" {
				return err == nil && task.State == orchestrator.Merged
			}
		}
		return false
	}); err != nil {
		st, _ := tm.ws.Status(context.Background(), "t")
		talkerLog, _ := os.ReadFile(tm.ws.AgentLog("t", "talker"))
		t.Fatalf("talker's task is not merged: %v\n%+v\n%s\ntalker's log:\n%s", err, st.Tasks, tm.logs.String(), talkerLog)
	}
}

func TestReadOnly(t *testing.T) {
	tm := startTeam(t, web.Options{ReadOnly: true})
	tm.login()
	_, page := tm.get(tm.client, "/t/t")
	if strings.Contains(page, "<form") {
		t.Errorf("a read-only page has forms:\n%s", page)
	}
	for _, path := range []string{"/t/t/message", "/api/teams/t/agents/talker/message", "/api/teams/t/accept"} {
		if resp := tm.post(http.DefaultClient, path, url.Values{"agent": {"talker"}, "text": {"x"}}, tm.bearer()...); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s read-only: %d, want 403", path, resp.StatusCode)
		}
	}
	if code, _ := tm.get(tm.client, "/api/teams/t/review"); code != 200 {
		t.Errorf("GET the review read-only: %d", code)
	}
}

// TestEventsFollowTheJournal: the stream sends what the journal gets after it opened.
func TestEventsFollowTheJournal(t *testing.T) {
	tm := startTeam(t, web.Options{})
	req, _ := http.NewRequest(http.MethodGet, tm.srv.URL+"/api/events?team=t", nil)
	req.Header.Set("Authorization", "Bearer "+tm.token)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, ":") {
		t.Fatalf("the stream's first line: %q", line)
	}
	// The person sends a message now: it comes down the stream.
	go func() {
		p, err := tm.ws.Participant(context.Background(), orchestrator.Caller{Team: "t", As: orchestrator.Human})
		if err == nil {
			_, _ = p.Send(context.Background(), "talker", "on the stream")
		}
	}()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before the message came: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(data, "on the stream") {
			var ev web.Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Kind != "msg" || ev.ID == 0 {
				t.Errorf("the event: %v %+v", err, ev)
			}
			return
		}
	}
}

// counts is the commits ahead and the uncommitted files an agent's row on a team page shows.
func counts(page, agent string) (ahead, dirty string) {
	re := regexp.MustCompile(`<tr data-agent="` + regexp.QuoteMeta(agent) + `">(?s:.*?)<td class="wide">[^<]*</td><td>(-?\d*)</td><td class="wide">(-?\d*)</td>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return "no row", "no row"
	}
	return m[1], m[2]
}

// TestAnswerRelaunchesTheAgent: the person answers a blocker in the team page's form; the
// agent is launched again with the answer, and its work merges. The pages show the agents,
// the blocker, the conversation and the review's diff.
func TestAnswerRelaunchesTheAgent(t *testing.T) {
	tm := startTeam(t, web.Options{})
	tm.login()
	var page string
	// The git counts follow: talker commits once and leaves nothing uncommitted (the page
	// may first have shown it before its commit, or before its edit).
	testsupport.Eventually(t, time.Minute, "the blocker, and talker's commit counted, on the team page", func() bool {
		_, page = tm.get(tm.client, "/t/t")
		ahead, dirty := counts(page, "talker")
		return strings.Contains(page, `data-blocker="1"`) && ahead == "1" && dirty == "0"
	})
	for _, want := range []string{`data-agent="asker"`, `data-agent="talker"`, `data-blocker="1"`, `BLOCKER 1 for you, from asker`, `data-live="/t/t?fragment=1"`,
		`<td class="words">blocker 1 raised for `} {
		if !strings.Contains(page, want) {
			t.Errorf("the team page lacks %q:\n%s", want, page)
		}
	}
	if code, frag := tm.get(tm.client, "/t/t?fragment=1"); code != 200 || strings.Contains(frag, "<html") || !strings.Contains(frag, `data-agent="asker"`) {
		t.Errorf("the live fragment: %d\n%s", code, frag)
	}
	resp := tm.post(tm.client, "/t/t/answer", url.Values{"blocker": {"1"}, "text": {"colour: teal"}, "csrf": {csrf(t, page)}, "back": {"/t/t"}})
	if resp.StatusCode != 200 {
		t.Fatalf("answer: %d", resp.StatusCode)
	}
	p, err := tm.ws.Participant(context.Background(), orchestrator.Caller{Team: "t", As: orchestrator.Human})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Send(context.Background(), "talker", "you may go")
	select {
	case err := <-tm.done:
		tm.done <- err
		if err != nil {
			t.Fatalf("run: %v\n%s", err, tm.logs.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the team did not finish\n%s", tm.logs.String())
	}
	if got := testsupport.Git(t, tm.repo, "show", "teamctl/t/lead/work:src/colour.txt"); strings.TrimSpace(got) != "colour: teal" {
		t.Errorf("the answer merged as %q", got)
	}
	// Merged: the counts follow the leader branch (nothing of asker's or talker's is left
	// unmerged; the leader branch holds their three commits and two merges).
	_, page = tm.get(tm.client, "/t/t")
	for agent, want := range map[string]string{"asker": "0", "talker": "0", "lead": "5"} {
		if ahead, _ := counts(page, agent); ahead != want {
			t.Errorf("%s's row after the merges: %s ahead, want %s", agent, ahead, want)
		}
	}
	if _, conv := tm.get(tm.client, "/t/t/a/asker"); !strings.Contains(conv, "reason=answer") || !strings.Contains(conv, `id="conversation"`) {
		t.Errorf("asker's conversation page:\n%s", conv)
	}
	if _, rv := tm.get(tm.client, "/t/t/review"); !strings.Contains(rv, `<span class="add">&#43;colour: teal</span>`) {
		t.Errorf("the review page lacks the diff:\n%s", rv)
	}
}
