package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/teamctl/teamctl/orchestrator"
)

// TestLongTextIsCutOnARune prints a status and a review whose task details are long texts
// of multi-byte letters: each is cut to its column on a rune, so the output stays UTF-8
// (cut on a byte, as status once did, a letter was split in two).
func TestLongTextIsCutOnARune(t *testing.T) {
	t.Parallel()
	for _, letter := range []string{"é", "日", "🙂"} {
		long := strings.Repeat(letter, 300)
		t.Run(letter, func(t *testing.T) {
			t.Parallel()
			var status bytes.Buffer
			printStatus(&status, orchestrator.Status{Team: "t", Tasks: []orchestrator.TaskStatus{{ID: "a", Agent: "alice", Detail: long}}}, time.Now())
			var review bytes.Buffer
			printReview(&review, orchestrator.Review{
				Team:    "t",
				Tasks:   []orchestrator.ReviewTask{{ID: "a", Agent: "alice", Detail: long}},
				Refused: []orchestrator.ReviewMerge{{Task: "a", Agent: "alice", Why: long}},
			})
			for _, c := range []struct {
				name string
				out  []byte
				want string
			}{
				{"status's WHY column", status.Bytes(), strings.Repeat(letter, 69) + "…\n"},
				{"review's why", review.Bytes(), "why: " + strings.Repeat(letter, 199) + "…\n"},
				{"review's refusals", review.Bytes(), ": " + strings.Repeat(letter, 159) + "…\n"},
			} {
				if !utf8.Valid(c.out) {
					t.Errorf("%s: the output is not valid UTF-8:\n%q", c.name, c.out)
				}
				if !bytes.Contains(c.out, []byte(c.want)) {
					t.Errorf("%s: the output lacks %q:\n%s", c.name, c.want, c.out)
				}
			}
		})
	}
}
