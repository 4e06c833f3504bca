package web

// /api/events: the team's journal as server-sent events, so pages update as it grows with
// no polling from the browser. Each event is `id: N`, `event: journal`, `data: {...}`; a
// client that reconnects sends Last-Event-ID and misses nothing. With agent=NAME the
// stream also says `event: log` when that agent's log grows (its conversation moved on,
// which the journal does not record).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/teamctl/teamctl/store"
)

// heartbeat keeps proxies and the browser from taking a quiet stream for a dead one.
const heartbeat = 15 * time.Second

// requery is how often the stream reads the journal although the store's files look
// unchanged (a write-ahead log rewound by a checkpoint to the same size within the same
// clock tick would hide a write from the stat).
const requery = time.Second

// Event is one journal event as the stream sends it.
type Event struct {
	ID    int64           `json:"id"`
	At    time.Time       `json:"at"`
	Kind  string          `json:"kind"`
	Agent string          `json:"agent,omitempty"`
	Task  string          `json:"task,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	team, agent := r.URL.Query().Get("team"), r.URL.Query().Get("agent")
	t, err := s.ws.ResolveTeam(ctx, team)
	if err != nil {
		httpError(w, r, statusOf(err), err.Error())
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpError(w, r, http.StatusInternalServerError, "this connection cannot stream")
		return
	}
	after, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if err != nil {
		if after, err = s.ws.LastEventID(ctx, t.Name); err != nil {
			httpError(w, r, statusOf(err), err.Error())
			return
		}
	}
	logPath := ""
	var logSize int64 = -1
	if agent != "" {
		logPath = s.ws.AgentLog(t.Name, agent)
		logSize = fileSize(logPath)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	fmt.Fprint(w, ": teamctl\n\n")
	flusher.Flush()
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	quiet, queried := time.Now(), time.Now()
	stamp := s.ws.StoreStamp()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A stat of the store's files first: at rest a tick costs no query.
		var evs []store.Event
		if st := s.ws.StoreStamp(); st != stamp || time.Since(queried) >= requery {
			stamp, queried = st, time.Now()
			evs, err = s.ws.Events(ctx, t.Name, after, 500)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("event stream: reading the journal", "team", t.Name, "err", err)
			}
			continue
		}
		sent := false
		for _, e := range evs {
			data, _ := json.Marshal(Event{ID: e.ID, At: e.At, Kind: e.Kind, Agent: e.Agent, Task: e.Task, Data: rawJSON(e.Data)})
			fmt.Fprintf(w, "id: %d\nevent: journal\ndata: %s\n\n", e.ID, data)
			after, sent = e.ID, true
		}
		if logPath != "" {
			if n := fileSize(logPath); n != logSize {
				logSize = n
				fmt.Fprintf(w, "event: log\ndata: {\"agent\":%q,\"size\":%d}\n\n", agent, n)
				sent = true
			}
		}
		if !sent && time.Since(quiet) > heartbeat {
			fmt.Fprint(w, ": still here\n\n")
			sent = true
		}
		if sent {
			quiet = time.Now()
			flusher.Flush()
		}
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// rawJSON is an event's data as JSON, or nothing when it is not JSON.
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}
