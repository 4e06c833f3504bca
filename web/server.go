// Package web is `teamctl serve` (DESIGN.md §12): every team of a repository in a browser,
// live, and the person's actions on it (answer, message, nudge, accept), over the same read
// and action API as the terminal's. Pages are html/template with their assets embedded; a
// JSON API under /api/ gives the same data and actions, and /api/events streams the journal
// (server-sent events).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/orchestrator"
)

// Options are a server's settings.
type Options struct {
	Token    string // the login token (Token)
	ReadOnly bool   // show everything, refuse every action (403)
	Log      *log.Logger
	// Poll is how often the event stream looks at the store (default 50ms): the browser
	// never polls, the server does, a stat of the store's files for each open page, and a
	// query of the journal only when they changed (or a second passed).
	Poll time.Duration
}

// Server serves one repository's teams.
type Server struct {
	ws       *orchestrator.Workspace
	token    string
	csrf     string
	readOnly bool
	poll     time.Duration
	log      *log.Logger
	handler  http.Handler

	mu    sync.Mutex
	teamc map[string]*teamCache // by team: what a page load need not redo
}

// New is a server of ws's teams.
func New(ws *orchestrator.Workspace, opts Options) *Server {
	s := &Server{ws: ws, token: opts.Token, csrf: csrfToken(opts.Token), readOnly: opts.ReadOnly, poll: opts.Poll, log: opts.Log,
		teamc: map[string]*teamCache{}}
	if s.poll <= 0 {
		s.poll = 50 * time.Millisecond
	}
	if s.log == nil {
		s.log = log.New(nil)
	}
	mux := http.NewServeMux()
	// Pages.
	mux.HandleFunc("GET /{$}", s.teamsPage)
	mux.HandleFunc("GET /t/{team}", s.teamPage)
	mux.HandleFunc("GET /t/{team}/a/{agent}", s.agentPage)
	mux.HandleFunc("GET /t/{team}/review", s.reviewPage)
	mux.Handle("GET /static/", http.FileServerFS(staticFS))
	// The page's forms: each acts, then goes back to the page it came from.
	mux.HandleFunc("POST /t/{team}/answer", s.form(s.answer))
	mux.HandleFunc("POST /t/{team}/message", s.form(s.message))
	mux.HandleFunc("POST /t/{team}/nudge", s.form(s.nudge))
	mux.HandleFunc("POST /t/{team}/accept", s.form(s.accept))
	// The API.
	mux.HandleFunc("GET /api/teams", read(s.apiTeams))
	mux.HandleFunc("GET /api/teams/{team}/status", read(s.apiStatus))
	mux.HandleFunc("GET /api/teams/{team}/review", read(s.apiReview))
	mux.HandleFunc("GET /api/teams/{team}/feed", read(s.apiFeed))
	mux.HandleFunc("GET /api/teams/{team}/agents/{agent}/transcript", read(s.apiTranscript))
	mux.HandleFunc("POST /api/teams/{team}/blockers/{id}/answer", s.api(s.answer))
	mux.HandleFunc("POST /api/teams/{team}/agents/{agent}/message", s.api(s.message))
	mux.HandleFunc("POST /api/teams/{team}/agents/{agent}/nudge", s.api(s.nudge))
	mux.HandleFunc("POST /api/teams/{team}/accept", s.api(s.accept))
	mux.HandleFunc("GET /api/events", s.events)
	s.handler = s.guard(mux)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer") // the login link must not leak
	s.handler.ServeHTTP(w, r)
}

// An action is one thing the person does, with its arguments from the path, a form or a
// JSON body; it returns what to say back.
type action func(ctx context.Context, team string, in actionInput) (any, error)

// actionInput is an action's arguments: the path's, then the form's or the JSON body's.
type actionInput struct {
	Blocker int64  `json:"blocker"`
	Agent   string `json:"agent"`
	Text    string `json:"text"`
}

func input(r *http.Request) (actionInput, error) {
	var in actionInput
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&in); err != nil {
			return in, orchestrator.Errorf(orchestrator.ErrUsage, "the request's JSON: %v", err)
		}
	} else {
		in.Agent, in.Text = r.PostFormValue("agent"), r.PostFormValue("text")
		if id := r.PostFormValue("blocker"); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return in, orchestrator.Errorf(orchestrator.ErrUsage, "blocker %q: want its number", id)
			}
			in.Blocker = n
		}
	}
	if a := r.PathValue("agent"); a != "" {
		in.Agent = a
	}
	if id := r.PathValue("id"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return in, orchestrator.Errorf(orchestrator.ErrUsage, "blocker %q: want its number", id)
		}
		in.Blocker = n
	}
	return in, nil
}

// api runs an action for the JSON API: its result as JSON.
func (s *Server) api(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := input(r)
		var out any
		if err == nil {
			out, err = a(r.Context(), r.PathValue("team"), in)
		}
		if err != nil {
			httpError(w, r, statusOf(err), err.Error())
			return
		}
		writeJSON(w, out)
	}
}

// form runs an action for a page's form, then sends the browser back to the page (with
// what went wrong, if it did).
func (s *Server) form(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		team := r.PathValue("team")
		back := r.PostFormValue("back")
		if !strings.HasPrefix(back, "/t/") || strings.HasPrefix(back, "//") {
			back = "/t/" + team
		}
		in, err := input(r)
		if err == nil {
			_, err = a(r.Context(), team, in)
		}
		if err != nil {
			back += "?error=" + urlQueryEscape(err.Error())
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

func (s *Server) human(ctx context.Context, team string) (*orchestrator.Participant, error) {
	return s.ws.Participant(ctx, orchestrator.Caller{Team: team, As: orchestrator.Human})
}

func (s *Server) answer(ctx context.Context, team string, in actionInput) (any, error) {
	if strings.TrimSpace(in.Text) == "" {
		return nil, orchestrator.Errorf(orchestrator.ErrUsage, "an answer needs its text")
	}
	p, err := s.human(ctx, team)
	if err != nil {
		return nil, err
	}
	return p.Answer(ctx, in.Blocker, in.Text)
}

func (s *Server) message(ctx context.Context, team string, in actionInput) (any, error) {
	if strings.TrimSpace(in.Text) == "" || in.Agent == "" {
		return nil, orchestrator.Errorf(orchestrator.ErrUsage, "a message needs an agent and its text")
	}
	p, err := s.human(ctx, team)
	if err != nil {
		return nil, err
	}
	return p.Send(ctx, in.Agent, in.Text)
}

func (s *Server) nudge(ctx context.Context, team string, in actionInput) (any, error) {
	p, err := s.human(ctx, team)
	if err != nil {
		return nil, err
	}
	return p.Nudge(ctx, in.Agent)
}

func (s *Server) accept(ctx context.Context, team string, _ actionInput) (any, error) {
	tip, err := s.ws.Accept(ctx, team)
	if err != nil {
		return nil, err
	}
	return map[string]string{"team": team, "accepted": tip}, nil
}

// read serves what fn reads for the request, as JSON.
func read(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			httpError(w, r, statusOf(err), err.Error())
			return
		}
		writeJSON(w, v)
	}
}

func (s *Server) apiTeams(r *http.Request) (any, error) { return s.teams(r.Context()) }

func (s *Server) apiStatus(r *http.Request) (any, error) {
	return s.ws.Status(r.Context(), r.PathValue("team"))
}

func (s *Server) apiReview(r *http.Request) (any, error) {
	return s.ws.Review(r.Context(), r.PathValue("team"))
}

func (s *Server) apiFeed(r *http.Request) (any, error) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n <= 0 {
		n = 50
	}
	p, err := s.human(r.Context(), r.PathValue("team"))
	if err != nil {
		return nil, err
	}
	return p.Feed(r.Context(), n)
}

func (s *Server) apiTranscript(r *http.Request) (any, error) {
	return s.conversation(r.Context(), r.PathValue("team"), r.PathValue("agent"))
}

// statusOf is the HTTP status of an orchestrator error.
func statusOf(err error) int {
	switch {
	case errors.Is(err, orchestrator.ErrNoTeam):
		return http.StatusNotFound
	case errors.Is(err, orchestrator.ErrUsage), errors.Is(err, orchestrator.ErrReserved):
		return http.StatusBadRequest
	case errors.Is(err, orchestrator.ErrWaiting):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// httpError says what went wrong: as JSON to the API, as text to a browser.
func httpError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(w, fmt.Sprintf("%d %s: %s", code, http.StatusText(code), msg), code)
}
