package fakeanthropic_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

// post sends a Messages API request and returns the SSE events (name, data) it streams.
func post(t *testing.T, url, body string) []struct {
	name string
	data map[string]any
} {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", "sk-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var events []struct {
		name string
		data map[string]any
	}
	sc := bufio.NewScanner(resp.Body)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("data of %s: %v", name, err)
			}
			if d["type"] != name {
				t.Errorf("event %s carries type %v", name, d["type"])
			}
			events = append(events, struct {
				name string
				data map[string]any
			}{name, d})
		}
	}
	return events
}

func TestStreamsLikeTheMessagesAPI(t *testing.T) {
	t.Parallel()
	s := fakeanthropic.Start(t, fakeanthropic.Steps("finished",
		func(string) fakeanthropic.Reply {
			return fakeanthropic.Reply{Text: "Let me commit.", Tools: []fakeanthropic.ToolUse{fakeanthropic.Bash("git commit -qam x")}}
		},
	))
	body := `{"model":"m","stream":true,"tools":[{"name":"Bash"}],"messages":[{"role":"user","content":"go"}]}`
	events := post(t, s.URL, body)
	var names []string
	for _, e := range events {
		names = append(names, e.name)
	}
	want := "message_start ping content_block_start content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(names, " "), want)
	}
	// The tool input arrives as partial JSON that joins into the whole input.
	var js string
	for _, e := range events {
		if d, ok := e.data["delta"].(map[string]any); ok && d["type"] == "input_json_delta" {
			js += d["partial_json"].(string)
		}
	}
	var input map[string]any
	if err := json.Unmarshal([]byte(js), &input); err != nil || input["command"] != "git commit -qam x" {
		t.Errorf("tool input %q: %v", js, err)
	}
	md := events[len(events)-2].data
	if md["delta"].(map[string]any)["stop_reason"] != "tool_use" || md["usage"].(map[string]any)["output_tokens"].(float64) <= 0 {
		t.Errorf("message_delta %v", md)
	}

	// Answered from the whole history: one assistant turn in it, so the script is past
	// its steps and ends the turn, however the last message looks.
	history := `{"model":"m","stream":true,"tools":[{"name":"Bash"}],"messages":[
		{"role":"user","content":[{"type":"text","text":"go"}]},
		{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"x"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"done"}]}]}]}`
	events = post(t, s.URL, history)
	if stop := events[len(events)-2].data["delta"].(map[string]any)["stop_reason"]; stop != "end_turn" {
		t.Errorf("after the history's tool call: stop_reason %v, want end_turn", stop)
	}
	convs := s.Conversations()
	if len(convs) != 2 || convs[1].Turns() != 1 || convs[1].ToolResults()[0].Content != "done" || convs[1].APIKey != "sk-test" {
		t.Errorf("recorded conversations: %+v", convs)
	}
}

func TestSideRequestsAreAnsweredWithoutTheScript(t *testing.T) {
	t.Parallel()
	s := fakeanthropic.Start(t, func(fakeanthropic.Request) fakeanthropic.Reply {
		t.Error("the script answered a request that offers no tools")
		return fakeanthropic.Reply{}
	})
	resp, err := http.Post(s.URL+"/v1/messages", "application/json", strings.NewReader(`{"model":"haiku","max_tokens":1,"messages":[{"role":"user","content":"quota"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type    string `json:"type"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	err = json.NewDecoder(resp.Body).Decode(&msg)
	resp.Body.Close()
	if err != nil || msg.Type != "message" || len(msg.Content) != 1 {
		t.Errorf("side request answer %+v, %v", msg, err)
	}
	for _, path := range []string{"/api/hello", "/v1/models"} {
		resp, err := http.Get(s.URL + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	if n := len(s.Requests()); n != 3 || len(s.Conversations()) != 0 {
		t.Errorf("%d requests, %d conversations recorded", n, len(s.Conversations()))
	}
}
