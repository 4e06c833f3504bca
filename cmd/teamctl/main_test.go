package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/teamctl/teamctl/internal/testsupport"
	"github.com/teamctl/teamctl/sandbox"
)

// TestMain lets testscript run this test binary as the `teamctl` command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"teamctl": func() { os.Exit(Main()) }})
}

// scriptDeadline bounds every wait in a script: generous, for a loaded 2-core machine.
const scriptDeadline = 3 * time.Minute

// TestScripts runs every testdata/script/*.txtar: a command a user types, its output and
// its exit code, each in a fresh directory with a hermetic git configuration.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		// [landlock]: the kernel can confine agents (DESIGN.md §11).
		Condition: func(cond string) (bool, error) {
			if cond != "landlock" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			_, err := sandbox.Available()
			return err == nil, nil
		},
		Setup: func(env *testscript.Env) error {
			vars, err := testsupport.Hermetic(env.WorkDir + "/.hermetic")
			if err != nil {
				return err
			}
			for _, kv := range vars {
				k, v, _ := strings.Cut(kv, "=")
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits N PROG ARGS...: run PROG and check it exits with code N (the documented
			// exit codes of DESIGN.md §7); stdout and stderr are kept for the next checks.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits N PROG [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exits: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("exits: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
			// waitfile PATH: wait (up to a minute) until PATH exists, e.g. written by an agent
			// that a background teamctl launched. Scripts never sleep to wait.
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: waitfile PATH")
				}
				path := ts.MkAbs(args[0])
				err := testsupport.Poll(context.Background(), scriptDeadline, func() bool {
					_, err := os.Stat(path)
					return err == nil
				})
				if err != nil {
					ts.Fatalf("%s did not appear within %s", args[0], scriptDeadline)
				}
			},
			// poll REGEXP PROG ARGS...: run PROG until its stdout matches REGEXP (a deadline,
			// never a sleep); its last stdout and stderr are kept for the next checks.
			"poll": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: poll REGEXP PROG [ARGS...]")
				}
				re, err := regexp.Compile(args[0])
				ts.Check(err)
				err = testsupport.Poll(context.Background(), scriptDeadline, func() bool {
					_ = ts.Exec(args[1], args[2:]...)
					return re.MatchString(ts.ReadFile("stdout"))
				})
				if err != nil {
					ts.Fatalf("%s never printed a match for %q within %s", strings.Join(args[1:], " "), args[0], scriptDeadline)
				}
			},
			// json PATH REGEXP: the last stdout is exactly one JSON document, and the value at
			// PATH (keys and indexes joined by dots: agents.1.state; "." is the whole
			// document) matches REGEXP. Strings match as they are, anything else as compact
			// JSON. With !, PATH must be missing or not match.
			"json": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: json PATH REGEXP")
				}
				v, found := jsonAt(ts, ts.ReadFile("stdout"), args[0])
				re, err := regexp.Compile(args[1])
				ts.Check(err)
				ok := found && re.MatchString(v)
				if ok == neg {
					ts.Fatalf("json %s = %q (found: %v), want %s%q", args[0], v, found, map[bool]string{true: "not "}[neg], args[1])
				}
			},
		},
	})
}

// jsonAt decodes doc, which must be exactly one JSON document, and returns the value at
// path formatted for matching, and whether path exists.
func jsonAt(ts *testscript.TestScript, doc, path string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("stdout is not JSON: %v\n%s", err, doc)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		ts.Fatalf("stdout holds more than one JSON document:\n%s", doc)
	}
	if path != "." {
		for _, k := range strings.Split(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				var ok bool
				if v, ok = c[k]; !ok {
					return "", false
				}
			case []any:
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(c) {
					return "", false
				}
				v = c[i]
			default:
				return "", false
			}
		}
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	b, err := json.Marshal(v)
	ts.Check(err)
	return string(b), true
}
