package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

// The faults are fakeanthropic.Faults rendered in OpenAI's error shape,
// {"error": {"message", "type", "param", "code"}}. Fault has no code: it follows from the
// type and status (see errorCode). A usage_limit_reached fault is rendered as the Codex
// (ChatGPT plan) backend sends it: {"error": {"type", "message", "plan_type",
// "resets_at", "eligible_promo", "resets_in_seconds"}}, the reset read from its
// x-codex-primary-reset-at header.

// UsageLimit is the 429 of a plan's usage limit that resets at reset, as the Codex
// backend answers a ChatGPT-plan account (seen in the wild: body and X-Codex headers of
// a five-hour window used up). codex does not retry it and says when it resets.
func UsageLimit(reset time.Time) *fakeanthropic.Fault {
	secs := max(int(time.Until(reset).Round(time.Second).Seconds()), 1)
	at := strconv.FormatInt(reset.Unix(), 10)
	weekly := reset.Add(6 * 24 * time.Hour)
	return &fakeanthropic.Fault{Status: http.StatusTooManyRequests, Type: "usage_limit_reached",
		Message: "The usage limit has been reached",
		Header: map[string]string{
			"x-codex-active-limit":                         "premium",
			"x-codex-plan-type":                            "plus",
			"x-codex-primary-used-percent":                 "100",
			"x-codex-primary-window-minutes":               "300",
			"x-codex-primary-reset-after-seconds":          strconv.Itoa(secs),
			"x-codex-primary-reset-at":                     at,
			"x-codex-primary-over-secondary-limit-percent": "0",
			"x-codex-secondary-used-percent":               "80",
			"x-codex-secondary-window-minutes":             "10080",
			"x-codex-secondary-reset-after-seconds":        strconv.Itoa(int(time.Until(weekly).Seconds())),
			"x-codex-secondary-reset-at":                   strconv.FormatInt(weekly.Unix(), 10),
			"x-codex-credits-has-credits":                  "False",
			"x-codex-credits-balance":                      "0",
			"x-codex-credits-unlimited":                    "False",
		}}
}

// RateLimit is the 429 of an API key's rate limit (tokens per minute), as the platform
// API sends it, with its x-ratelimit headers; its message says when to try again, as the
// real one does. Clients retry it.
func RateLimit(retryAfter time.Duration) *fakeanthropic.Fault {
	secs := max(int(retryAfter.Round(time.Second).Seconds()), 1)
	return &fakeanthropic.Fault{Status: http.StatusTooManyRequests, Type: "tokens",
		Message: fmt.Sprintf("Rate limit reached for gpt-5.5 in organization org-fake on tokens per min (TPM): Limit 30000, Used 30000, Requested 1200. Please try again in %ds. Visit https://platform.openai.com/account/rate-limits to learn more.", secs),
		Header: map[string]string{
			"x-ratelimit-limit-requests":     "500",
			"x-ratelimit-limit-tokens":       "30000",
			"x-ratelimit-remaining-requests": "499",
			"x-ratelimit-remaining-tokens":   "0",
			"x-ratelimit-reset-requests":     "120ms",
			"x-ratelimit-reset-tokens":       fmt.Sprintf("%ds", secs),
			"retry-after":                    strconv.Itoa(secs),
		}}
}

// QuotaExceeded is the 429 of an API key whose account has no credit left.
func QuotaExceeded() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusTooManyRequests, Type: "insufficient_quota",
		Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."}
}

// ServerError is the 500 the API answers when it fails.
func ServerError() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusInternalServerError, Type: "server_error",
		Message: "The server had an error while processing your request. Sorry about that!"}
}

// Overloaded is the 503 the API answers when it has no room (code server_is_overloaded).
func Overloaded() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusServiceUnavailable, Type: "server_error",
		Message: "The server is overloaded or not ready yet."}
}

// Unauthorized is the 401 of a key the API does not know.
func Unauthorized() *fakeanthropic.Fault {
	return &fakeanthropic.Fault{Status: http.StatusUnauthorized, Type: "invalid_request_error",
		Message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."}
}

// errorCode is the code OpenAI puts with an error of f's type and status (nil: none).
func errorCode(f *fakeanthropic.Fault) any {
	switch {
	case f.Type == "tokens" || f.Type == "requests":
		return "rate_limit_exceeded"
	case f.Type == "insufficient_quota":
		return "insufficient_quota"
	case f.Status == http.StatusServiceUnavailable:
		return "server_is_overloaded"
	case f.Status == http.StatusUnauthorized:
		return "invalid_api_key"
	}
	return nil
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
	w.Header().Set("x-request-id", fmt.Sprintf("req_fake_fault%d", f.Status))
	apiError(w, f)
	return true
}

// apiError writes f as the API's error body.
func apiError(w http.ResponseWriter, f *fakeanthropic.Fault) {
	body := map[string]any{"message": f.Message, "type": f.Type, "param": nil, "code": errorCode(f)}
	if f.Type == "usage_limit_reached" {
		at, _ := strconv.ParseInt(f.Header["x-codex-primary-reset-at"], 10, 64)
		in, _ := strconv.Atoi(f.Header["x-codex-primary-reset-after-seconds"])
		body = map[string]any{"type": f.Type, "message": f.Message, "plan_type": "plus",
			"resets_at": at, "eligible_promo": nil, "resets_in_seconds": in}
	}
	b, _ := json.Marshal(map[string]any{"error": body})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	w.Write(b)
}
