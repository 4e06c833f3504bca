package agentproc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/agentproc"
)

func readFixture(t *testing.T, preset string) agentproc.Transcript {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", preset+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := agentproc.ParseTranscript(preset, f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestParseTranscriptOfEachCLI(t *testing.T) {
	t.Parallel()
	type want struct {
		launches  int
		session   string
		status    agentproc.Status
		statuses  []agentproc.Status
		in, out   int64
		cost      float64
		tools     []string // tool names in order
		texts     []string // substrings the rendered transcript must hold
		toolError bool     // some tool call failed
		prompt    string   // the first launch's prompt: "make hello" unless said
	}
	tests := map[string]want{
		"claude": {
			launches: 2, session: "9cf141fc-d691-41b1-a890-33420fdecf56",
			status: agentproc.StatusDone, statuses: []agentproc.Status{agentproc.StatusDone, agentproc.StatusDone},
			// The second result's total_cost_usd (0.251332) is the session's so far:
			// counted once, the two launches cost 0.149816 + 0.101516.
			in: 36944 + 25074, out: 102 + 61, cost: 0.251332,
			tools: []string{"Write", "Bash", "Bash"},
			texts: []string{"Writing.", "▸ Write", "hello.txt", "git add -A", "All done.", "> continue please"},
		},
		"pi": {
			launches: 2, session: "01a20ce3-eeb2-7508-a8f0-b38826565b1c",
			status: agentproc.StatusDone, statuses: []agentproc.Status{agentproc.StatusDone, agentproc.StatusDone},
			in: 7849, out: 139, cost: 0.04272, // both launches, each model call once
			tools: []string{"write", "bash", "bash"},
			texts: []string{"> make hello", "Successfully wrote 6 bytes to hello.txt", "> continue please", "All done."},
		},
		"codex": {
			// Recorded: real codex 0.169.0 against fakeopenai, the second launch exec resume.
			launches: 2, session: "01a237a4-be06-7c93-b55f-aa9194da99e1",
			status: agentproc.StatusDone, statuses: []agentproc.Status{agentproc.StatusDone, agentproc.StatusDone},
			// turn.completed counts the thread so far: the resumed launch's 49303 input
			// tokens hold the first's 29243, counted once. No cost from codex: priced at
			// gpt-5's $1.25/$0.125 cached/$10 per Mtok.
			in: 49303, out: 316, cost: ((49303-28643)*1.25 + 28643*0.125 + 316*10) / 1e6,
			tools:  []string{"edit", "shell", "shell"},
			prompt: "Write hello.txt and commit it.",
			texts:  []string{"I will write hello.txt.", "hello.txt is committed.", "Committed the rest.", "git commit -qam"},
		},
		"gemini": {
			// Recorded: real gemini 0.61.0 against fakegemini, the second launch --resume.
			launches: 2, session: "7d3c9b1e-4f2a-4c8d-9e6b-5a1f0c2d3e4b",
			status: agentproc.StatusDone, statuses: []agentproc.Status{agentproc.StatusDone, agentproc.StatusDone},
			// Each result's tokens by model (its router and the model it chose, neither in
			// the table): priced at gemini-2.5-pro's list price, the table's default.
			in: 37356 + 26295, out: 95 + 80, cost: ((37356+26295)*1.25 + (95+80)*10) / 1e6,
			tools:     []string{"write_file", "run_shell_command", "run_shell_command", "read_file"},
			texts:     []string{"> make hello", "Writing hello.txt.", "Done: hello.txt is committed.", "> continue please", "File not found: /tmp/", "All done."},
			toolError: true,
		},
		"opencode": {
			launches: 2, session: "ses_df2f35714ffeIx5tj3OJ6KPPpG",
			status: agentproc.StatusDone, statuses: []agentproc.Status{agentproc.StatusDone, agentproc.StatusDone},
			in: 30956, out: 106, cost: 0.094458,
			tools: []string{"write", "bash"},
			texts: []string{"> make hello", "Writing.", "▸ write /tmp/oc/repo/hello.txt (1 lines)", "Wrote file successfully.", "> continue please", "All done."},
		},
		"aider": {
			launches: 1, status: agentproc.StatusDone, statuses: []agentproc.Status{agentproc.StatusDone},
			in: 2100, out: 320, cost: 0.01,
			texts: []string{"Applied edit to hello.txt"},
		},
	}
	for preset, w := range tests {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			tr := readFixture(t, preset)
			if len(tr.Launches) != w.launches {
				t.Fatalf("%d launches, want %d", len(tr.Launches), w.launches)
			}
			if tr.SessionID != w.session {
				t.Errorf("session %q, want %q", tr.SessionID, w.session)
			}
			if tr.Status != w.status {
				t.Errorf("status %q, want %q", tr.Status, w.status)
			}
			for i, st := range w.statuses {
				if tr.Launches[i].Status != st {
					t.Errorf("launch %d status %q, want %q", i+1, tr.Launches[i].Status, st)
				}
			}
			if tr.Usage.InputTokens != w.in || tr.Usage.OutputTokens != w.out || math.Abs(tr.Usage.CostUSD-w.cost) > 1e-9 {
				t.Errorf("usage %+v, want in %d out %d cost %g", tr.Usage, w.in, w.out, w.cost)
			}
			var tools []string
			failed := false
			for _, l := range tr.Launches {
				for _, e := range l.Entries {
					if e.Tool != nil {
						tools = append(tools, e.Tool.Name)
						if !e.Tool.Done {
							t.Errorf("tool %s %s has no result", e.Tool.Name, e.Tool.Input)
						}
						failed = failed || e.Tool.IsError
					}
				}
			}
			if strings.Join(tools, ",") != strings.Join(w.tools, ",") {
				t.Errorf("tools %q, want %q", tools, w.tools)
			}
			if failed != w.toolError {
				t.Errorf("a tool failed: %v, want %v", failed, w.toolError)
			}
			var out bytes.Buffer
			if err := tr.Render(&out, agentproc.RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, s := range w.texts {
				if !strings.Contains(out.String(), s) {
					t.Errorf("rendered transcript lacks %q:\n%s", s, out.String())
				}
			}
			if strings.Contains(out.String(), "argv=") {
				t.Errorf("rendered headers still carry the argv:\n%s", out.String())
			}
			if w.prompt == "" {
				w.prompt = "make hello"
			}
			if first := tr.Launches[0].Entries[0]; first.Kind != agentproc.KindPrompt || first.Text != w.prompt {
				t.Errorf("the first launch does not open with its prompt (from the header's argv): %+v", first)
			}
			if !strings.Contains(out.String(), "status: "+string(w.status)) {
				t.Errorf("rendered transcript does not end with its status:\n%s", out.String())
			}
			// --json: one document with snake_case names.
			js, err := json.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{`"session_id"`, `"launches"`, `"entries"`, `"cost_usd"`} {
				if !bytes.Contains(js, []byte(key)) && !(key == `"session_id"` && w.session == "") {
					t.Errorf("JSON lacks %s", key)
				}
			}
		})
	}
}

func TestParseTranscriptStatusFromTheStream(t *testing.T) {
	t.Parallel()
	const header = "=== teamctl 2026-11-24T10:00:00Z: launch agent=a task=t attempt=1 reason=task argv=[\"claude\"]\n"
	init := `{"type":"system","subtype":"init","session_id":"s1"}` + "\n"
	call := `{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"sleep 100"}}],"usage":{"input_tokens":100,"output_tokens":7}}}` + "\n"
	tests := []struct {
		name string
		log  string
		want agentproc.Status
		in   int64
	}{
		{"nothing launched", "", agentproc.StatusNone, 0},
		{"running a tool", header + init + call, agentproc.StatusWorking, 100},
		{"split message counted once", header + init + call + call, agentproc.StatusWorking, 100},
		{"exit without a result", header + init + call + "=== teamctl 2026-11-24T10:00:09Z: agent exited with code 0\n", agentproc.StatusError, 100},
		{"killed", header + init + "=== teamctl 2026-11-24T10:00:09Z: agent timed out\n", agentproc.StatusError, 0},
		{"cannot start", header + "=== teamctl: cannot start \"claude\": exec: not found\n", agentproc.StatusError, 0},
		{"error result", header + init + `{"type":"result","subtype":"error_max_turns","is_error":true,"session_id":"s1","total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":1}}` + "\n", agentproc.StatusError, 10},
		{"plain output before any header", "npm warn something\n" + init, agentproc.StatusWorking, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := agentproc.ParseTranscript("claude", strings.NewReader(tt.log))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Status != tt.want || tr.Usage.InputTokens != tt.in {
				t.Errorf("status %q in %d, want %q in %d: %+v", tr.Status, tr.Usage.InputTokens, tt.want, tt.in, tr)
			}
		})
	}
}

func TestParseTranscriptKeepsLongLinesAndUnknownPresets(t *testing.T) {
	t.Parallel()
	long := `{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"x","content":"` + strings.Repeat("a", 200000) + `"}]}}`
	tr, err := agentproc.ParseTranscript("claude", strings.NewReader(long))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Launches[0].Entries); n != 1 || len(tr.Launches[0].Entries[0].Tool.Output) != 200000 {
		t.Errorf("a 200 kB line was not read whole: %d entries", n)
	}
	if _, err := agentproc.ParseTranscript("vim", strings.NewReader("")); !errors.Is(err, agentproc.ErrUnknownPreset) {
		t.Errorf("unknown preset: err = %v, want ErrUnknownPreset", err)
	}
	tr, err = agentproc.ParseTranscript("", strings.NewReader("=== teamctl x: launch agent=a\nhello\n=== teamctl y: agent exited with code 0\n"))
	if err != nil || tr.Status != agentproc.StatusDone || tr.Launches[0].Entries[0].Text != "hello" {
		t.Errorf("custom command log: %+v, %v", tr, err)
	}
}

func TestPromptComesOnceFromHeaderAndStream(t *testing.T) {
	t.Parallel()
	tr := readFixture(t, "pi")
	n := 0
	for _, e := range tr.Launches[0].Entries {
		if e.Kind == agentproc.KindPrompt {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d prompt entries in pi's first launch, want 1: %+v", n, tr.Launches[0].Entries)
	}
	log := "=== teamctl 2026-11-24T10:00:00Z: launch agent=a task=t attempt=1 reason=answer prompt=\"the answer is 42\" argv=[\"x\" \"--resume\" \"0e5c4b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\" \"a longer prompt the header also names\"]\n"
	tr, err := agentproc.ParseTranscript("claude", strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	l := tr.Launches[0]
	if l.Header != "teamctl 2026-11-24T10:00:00Z: launch agent=a task=t attempt=1 reason=answer" || l.Entries[0].Text != "the answer is 42" {
		t.Errorf("header %q, first entry %+v", l.Header, l.Entries[0])
	}
}

func TestOpencodeToolErrorAndSessionError(t *testing.T) {
	t.Parallel()
	log := `=== teamctl 2026-11-24T10:00:00Z: launch agent=erin task=t attempt=1 reason=task argv=["opencode" "run" "x y"]
{"type":"tool_use","sessionID":"ses_1","part":{"type":"tool","tool":"read","callID":"c1","state":{"status":"error","input":{"filePath":"missing.txt"},"error":"File not found: missing.txt"}}}
{"type":"error","sessionID":"ses_1","error":{"name":"APIError","data":{"message":"overloaded"}}}
=== teamctl 2026-11-24T10:00:09Z: agent exited with code 1
`
	tr, err := agentproc.ParseTranscript("opencode", strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	l := tr.Launches[0]
	if tr.Status != agentproc.StatusError || tr.SessionID != "ses_1" || !l.Entries[1].Tool.IsError || l.Entries[2].Text != "APIError: overloaded" {
		t.Errorf("transcript %+v", tr)
	}
}

func TestTaskSessionAndUsage(t *testing.T) {
	t.Parallel()
	tr := readFixture(t, "claude")
	if got := tr.TaskSession("hello"); got != "9cf141fc-d691-41b1-a890-33420fdecf56" {
		t.Errorf("TaskSession(hello) = %q", got)
	}
	if got := tr.TaskSession("other"); got != "" {
		t.Errorf("TaskSession(other) = %q, want none: a new task starts its own session", got)
	}
	if got := tr.TaskUsage("hello"); got != tr.Usage {
		t.Errorf("TaskUsage(hello) = %+v, want the whole %+v", got, tr.Usage)
	}
}

// TestGeminiPricedByModel: gemini's result counts tokens by model (its router's and the
// model it chose): a plan's price for one of them prices that one's tokens, the rest stay
// at the table's default.
func TestGeminiPricedByModel(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "gemini.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prices := agentproc.PricesFor("gemini", map[string]agentproc.Price{"gemini-3.8-flash": {Input: 0.5, Output: 3}})
	tr, err := agentproc.ParseLog("gemini", f, agentproc.Options{Prices: prices})
	if err != nil {
		t.Fatal(err)
	}
	flash := (float64(36459+25010)*0.5 + float64(82+67)*3) / 1e6
	lite := (float64(897+1285)*1.25 + float64(13+13)*10) / 1e6
	if math.Abs(tr.Usage.CostUSD-(flash+lite)) > 1e-9 {
		t.Errorf("cost %g, want %g (flash at the plan's price, the router's call at the default)", tr.Usage.CostUSD, flash+lite)
	}
}

// TestCodexRetryIsNoError: codex's "Reconnecting... 1/2 (…)" is a call it tries again (a
// 500 once, then the answer: recorded against fakeopenai), not the launch's error: the
// launch is done, shows the notice as output, and has no fault.
func TestCodexRetryIsNoError(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "codex-retried.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := agentproc.ParseTranscript("codex", f)
	if err != nil {
		t.Fatal(err)
	}
	l := tr.Launches[len(tr.Launches)-1]
	if l.Status != agentproc.StatusDone || l.Fault != nil {
		t.Fatalf("status %s, fault %v: want done, none", l.Status, l.Fault)
	}
	retried := false
	for _, e := range l.Entries {
		if e.Kind == agentproc.KindError {
			t.Errorf("an error entry: %q", e.Text)
		}
		retried = retried || e.Kind == agentproc.KindOutput && strings.HasPrefix(e.Text, "Reconnecting... 1/")
	}
	if !retried {
		t.Errorf("the retry notice is not shown: %+v", l.Entries)
	}
}
