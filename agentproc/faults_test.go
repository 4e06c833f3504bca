package agentproc_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamctl/teamctl/agentproc"
)

// TestFaultsOfEachCLI reads the provider errors each real CLI printed against a loopback
// server answering 429, 529/503/500 or 401 (testdata/errors, recorded as NOTES.md says):
// the last launch of each is a fault of the kind its name says, with the reset time where
// the CLI gave one. The header line of a recording stands for teamctl's launch header.
func TestFaultsOfEachCLI(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	until := map[string]time.Time{
		"claude-limit-reset": time.Unix(1796175588, 0),                        // rate_limit_event resetsAt
		"codex-limit-reset":  time.Date(2026, 12, 2, 1, 57, 0, 0, time.Local), // "try again at Dec 2nd, 2026 1:57 AM"
		"gemini-limit":       now.Add(30 * time.Second),                       // "Suggested retry after 30s."
		"gemini-limit-daily": {},                                              // no reset said: teamctl backs off
	}
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.log"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d recordings (%v): want every CLI's", len(files), err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		preset, rest, _ := strings.Cut(name, "-")
		kind, _, _ := strings.Cut(rest, "-")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tr, err := agentproc.ParseLog(preset, f, agentproc.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Launches) == 0 {
				t.Fatal("no launch")
			}
			l := tr.Launches[len(tr.Launches)-1]
			if l.Status != agentproc.StatusError {
				t.Errorf("status %s: a launch that ended on the provider's error failed, whatever its exit code", l.Status)
			}
			if l.Fault == nil {
				t.Fatalf("no fault read; entries: %+v", l.Entries)
			}
			if string(l.Fault.Kind) != kind {
				t.Errorf("fault %s, want %s", l.Fault, kind)
			}
			if want, ok := until[name]; ok && !l.Fault.Until.Equal(want) {
				t.Errorf("until %v, want %v (fault %s)", l.Fault.Until, want, l.Fault)
			}
		})
	}
}

// TestParseReset reads the reset times limit messages name.
func TestParseReset(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, utc)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database")
	}
	for _, c := range []struct {
		text string
		want time.Time
	}{
		{"You've hit your 5-hour limit · resets 1:39am (UTC)", time.Date(2026, 12, 2, 1, 39, 0, 0, utc)},
		{"You've hit your 5-hour limit · resets 11pm (UTC)", time.Date(2026, 12, 1, 23, 0, 0, 0, utc)},
		// The minute it is: a reset said to the minute is that minute's end, not tomorrow;
		// a minute ago is tomorrow's.
		{"You've hit your 5-hour limit · resets 10pm (UTC)", time.Date(2026, 12, 1, 22, 1, 0, 0, utc)},
		{"You've hit your 5-hour limit · resets 9:59pm (UTC)", time.Date(2026, 12, 2, 21, 59, 0, 0, utc)},
		{"You've hit your 5-hour limit · resets 2:02am (Europe/Berlin)", time.Date(2026, 12, 2, 2, 2, 0, 0, berlin)},
		{"You've hit your weekly limit · resets Dec 5, 11:01pm (UTC)", time.Date(2026, 12, 5, 23, 1, 0, 0, utc)},
		{"Claude AI usage limit reached|1796175588", time.Unix(1796175588, 0)},
		{"Rate limit reached. Please try again in 5.892s.", now.Add(5892 * time.Millisecond)},
		{"try again in 5m30s", now.Add(330 * time.Second)},
		{"Suggested retry after 30s.", now.Add(30 * time.Second)},
		{"retry after 300 seconds", now.Add(5 * time.Minute)},
		{"API Error: Request rejected (429) · This request would exceed your account's rate limit.", time.Time{}},
	} {
		if got := agentproc.ParseReset(c.text, now); !got.Equal(c.want) {
			t.Errorf("ParseReset(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}
