package fakeanthropic

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Fault is an error the fake answers a Messages request with instead of a reply, as the
// real API does on a usage limit (429) or when overloaded (529).
type Fault struct {
	Status  int
	Type    string // the error's type: rate_limit_error, overloaded_error, authentication_error
	Message string
	Header  map[string]string
}

// UsageLimit is the 429 of a usage limit that resets at reset: the unified rate-limit
// headers say it is rejected until then (a five-hour limit), and that retrying sooner is
// no use. Claude Code on a subscription (CLAUDE_CODE_OAUTH_TOKEN) prints the reset time.
func UsageLimit(reset time.Time) *Fault {
	secs := max(int(time.Until(reset).Round(time.Second).Seconds()), 1)
	return &Fault{Status: http.StatusTooManyRequests, Type: "rate_limit_error",
		Message: "This request would exceed your account's rate limit. Please try again later.",
		Header: map[string]string{
			"anthropic-ratelimit-unified-status":               "rejected",
			"anthropic-ratelimit-unified-reset":                strconv.FormatInt(reset.Unix(), 10),
			"anthropic-ratelimit-unified-representative-claim": "five_hour",
			"retry-after":    strconv.Itoa(secs),
			"x-should-retry": "false",
		}}
}

// Overloaded is the 529 the API answers when it has no room.
func Overloaded() *Fault {
	return &Fault{Status: 529, Type: "overloaded_error", Message: "Overloaded"}
}

// Unauthorized is the 401 of a key the API does not know.
func Unauthorized() *Fault {
	return &Fault{Status: http.StatusUnauthorized, Type: "authentication_error", Message: "invalid x-api-key"}
}

// fault answers req with the fault SetFaults chose for it, if any.
func (s *Server) fault(w http.ResponseWriter, req Request) bool {
	f := s.FaultFor(req)
	if f == nil {
		return false
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("request-id", fmt.Sprintf("req_fake_fault%d", f.Status))
	apiError(w, f.Status, f.Type, f.Message)
	return true
}
