package fakegemini

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

// A fault is a *fakeanthropic.Fault rendered in Google's error shape:
//
//	{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}
//
// Fault.Type is the error's status when it is one of Google's (RESOURCE_EXHAUSTED,
// INTERNAL, UNAVAILABLE, ...); otherwise (fakeanthropic's own faults) the status follows
// from the HTTP code. A "retry-after" header (seconds) also becomes a RetryInfo detail,
// and a 429 carries a QuotaFailure naming a per-minute quota, as the real API's do.

// UsageLimit is the 429 RESOURCE_EXHAUSTED of a quota that lets requests through again
// after retryAfter: the message and a RetryInfo detail say so ("Please retry in 30s.",
// retryDelay "30s"). The Gemini CLI 0.61 retries such a 429 in place when retryAfter is at
// most 5 minutes (waiting max(retryAfter, its backoff of 5 s doubling to 30 s) between
// tries, general.maxAttempts tries in all), and takes a longer one as terminal at once.
func UsageLimit(retryAfter time.Duration) *fakeanthropic.Fault {
	secs := int(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &fakeanthropic.Fault{Status: http.StatusTooManyRequests, Type: "RESOURCE_EXHAUSTED",
		Message: "You exceeded your current quota, please check your plan and billing details. " +
			"For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n" +
			"* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count, limit: 1000000, model: gemini-fake\n" +
			fmt.Sprintf("Please retry in %ds.", secs),
		Header: map[string]string{"retry-after": strconv.Itoa(secs)}}
}

// ServerError is the 500 INTERNAL the API answers when it fails.
func ServerError() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusInternalServerError, Type: "INTERNAL",
		Message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"}
}

// Overloaded is the 503 UNAVAILABLE the API answers when the model has no room. (The CLI
// takes a 503 for a quota error it may retry, as it does a 429.)
func Overloaded() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusServiceUnavailable, Type: "UNAVAILABLE",
		Message: "The model is overloaded. Please try again later."}
}

// Unauthorized is the 400 of a key the API does not know (the real API says 400
// INVALID_ARGUMENT with reason API_KEY_INVALID, not 401).
func Unauthorized() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusBadRequest, Type: "INVALID_ARGUMENT",
		Message: "API key not valid. Please pass a valid API key."}
}

// fault answers req with the fault SetFaults chose for it, if any.
func (s *Server) fault(w http.ResponseWriter, req fakeanthropic.Request) bool {
	f := s.FaultFor(req)
	if f == nil {
		return false
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	status := f.Type
	if status == "" || strings.ToUpper(status) != status {
		status = statusOf(f.Status)
	}
	var details []any
	if f.Status == http.StatusTooManyRequests {
		details = append(details,
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
				"quotaId":         "GenerateContentPaidTierInputTokensPerModelPerMinute",
				"quotaDimensions": map[string]any{"location": "global", "model": req.Model},
				"quotaValue":      "1000000",
			}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{map[string]any{
				"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}}})
	}
	if ra := f.Header["retry-after"]; ra != "" {
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": ra + "s"})
	}
	writeError(w, f.Status, status, f.Message, details)
	return true
}

// statusOf is the google.rpc.Code name the API gives with an HTTP status.
func statusOf(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable, 529:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

// writeError writes Google's error body.
func writeError(w http.ResponseWriter, code int, status, msg string, details []any) {
	e := map[string]any{"code": code, "message": msg, "status": status}
	if len(details) > 0 {
		e["details"] = details
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(b)
}
