package web

// The pages: html/template, their assets embedded (no build step). A page's live part is
// fetched again as a fragment when its event stream says the journal moved.

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/teamctl/teamctl/orchestrator"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticRoot embed.FS

var staticFS fs.FS = staticRoot

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"ago":      ago,
	"dollars":  func(f float64) string { return fmt.Sprintf("$%.2f", f) },
	"diff":     diffLines,
	"join":     strings.Join,
	"pathEsc":  url.PathEscape,
	"queryEsc": url.QueryEscape,
}).ParseFS(templateFS, "templates/*.html"))

// page is what every page's template gets.
type page struct {
	Title    string
	Team     string
	Error    string // what the last action said went wrong
	CSRF     string
	ReadOnly bool
	Live     string // the fragment's URL, when the page is live
	Events   string // its event stream
	Back     string // where a form goes back to
	Data     any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.CSRF, p.ReadOnly, p.Error = s.csrf, s.readOnly, r.URL.Query().Get("error")
	p.Back = r.URL.Path
	tmpl := name
	if r.URL.Query().Get("fragment") == "1" {
		tmpl = name + "-body"
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, tmpl, p); err != nil {
		httpError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = b.WriteTo(w)
}

func (s *Server) teamsPage(w http.ResponseWriter, r *http.Request) {
	teams, err := s.teams(r.Context())
	if err != nil {
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	s.render(w, r, "teams", page{Title: "teams", Data: teams})
}

func (s *Server) teamPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.team(r.Context(), r.PathValue("team"))
	if err != nil {
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	t := v.Status.Team
	s.render(w, r, "team", page{Title: t, Team: t, Data: v, Live: "/t/" + url.PathEscape(t) + "?fragment=1",
		Events: "/api/events?team=" + url.QueryEscape(t)})
}

func (s *Server) agentPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.conversation(r.Context(), r.PathValue("team"), r.PathValue("agent"))
	if err != nil {
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	base := "/t/" + url.PathEscape(c.Team) + "/a/" + url.PathEscape(c.Agent)
	s.render(w, r, "agent", page{Title: c.Agent + " · " + c.Team, Team: c.Team, Data: c, Live: base + "?fragment=1",
		Events: "/api/events?team=" + url.QueryEscape(c.Team) + "&agent=" + url.QueryEscape(c.Agent)})
}

// reviewTask is a task of the review page with its diff.
type reviewTask struct {
	orchestrator.ReviewTask
	Diff string
}

func (s *Server) reviewPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rv, err := s.ws.Review(ctx, r.PathValue("team"))
	if err != nil {
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	tasks := make([]reviewTask, 0, len(rv.Tasks))
	for _, t := range rv.Tasks {
		rt := reviewTask{ReviewTask: t}
		if t.Merge != "" {
			rt.Diff, _ = s.ws.MergeDiff(ctx, t.Merge)
		}
		tasks = append(tasks, rt)
	}
	s.render(w, r, "review", page{Title: "review · " + rv.Team, Team: rv.Team,
		Data: struct {
			Review orchestrator.Review
			Tasks  []reviewTask
		}{rv, tasks}})
}

// ago is how long ago t was, in a person's words.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// diffLine is one line of a diff with its class: add, del, hunk, file, or none.
type diffLine struct{ Class, Text string }

func diffLines(d string) []diffLine {
	var out []diffLine
	for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
		c := ""
		switch {
		case strings.HasPrefix(l, "diff --git"), strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			c = "file"
		case strings.HasPrefix(l, "@@"):
			c = "hunk"
		case strings.HasPrefix(l, "+"):
			c = "add"
		case strings.HasPrefix(l, "-"):
			c = "del"
		}
		out = append(out, diffLine{c, l})
	}
	return out
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
