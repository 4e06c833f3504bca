package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/teamctl/teamctl/internal/shorten"
)

// decoder walks the yaml.Node tree by hand rather than unmarshalling into structs: only
// the nodes know where they were written, and strictness (unknown keys, wrong types) must
// point at the exact key or value. It collects every problem instead of stopping.
type decoder struct {
	file string // the plan file as the user named it, for messages
	errs Errors
	pos  map[string]Position // see Plan.pos
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	at := position(n)
	d.errs = append(d.errs, &Error{File: d.file, Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) errors() Errors { return sortErrors(d.errs) }

// position is where n was written; nodes yaml made up (an empty document) count as 1:1.
func position(n *yaml.Node) Position {
	at := Position{Line: 1, Col: 1}
	if n != nil && n.Line > 0 {
		at.Line = n.Line
	}
	if n != nil && n.Column > 0 {
		at.Col = n.Column
	}
	return at
}

// at renders where a node is, for the "first at" of duplicate messages.
func at(n *yaml.Node) string {
	p := position(n)
	return fmt.Sprintf("%d:%d", p.Line, p.Col)
}

func (d *decoder) record(key string, n *yaml.Node) { d.pos[key] = position(n) }

// yamlLine is the line yaml.v3 puts in its syntax errors; it gives no column.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as exactly one YAML document and returns its content, or nil after
// recording why it cannot.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	// yaml.v3 turns its own failures into errors but re-panics anything else; a plan file
	// is user input, so a parser bug must become an error the user sees, not a crash.
	defer func() {
		if r := recover(); r != nil {
			d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: fmt.Sprintf("invalid YAML: the parser failed: %v", r)})
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: "empty plan: want a mapping with version: 1, team and agents"})
		} else {
			d.yamlError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "a second YAML document: a plan file holds one (remove the ---)")
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		d.errorf(&doc, "empty plan: want a mapping with version: 1, team and agents")
		return nil
	}
	// Aliases reuse a node without copying it: a small plan can stand for millions of tasks
	// (yaml.v3's own guard lets through what a plan's size makes of it). Counted before
	// anything walks the tree, each node once.
	if expandedSize(doc.Content[0], map[*yaml.Node]int{}) > MaxNodes {
		d.errorf(firstAlias(doc.Content[0]), "the plan stands for more than %d YAML nodes once its aliases (*name) are expanded: write it out, or use fewer aliases", MaxNodes)
		return nil
	}
	return deref(doc.Content[0])
}

// MaxNodes bounds a plan's YAML once aliases are expanded: 1,024 agents of a few keys, each
// with tasks, is far below it.
const MaxNodes = 200_000

// expandedSize is how many nodes n stands for with aliases expanded, each node counted once
// (memo) however often it is reused: linear in the file, not in what it expands to.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if c, ok := memo[n]; ok {
		return c
	}
	memo[n] = 1 // a cycle (yaml.v3 refuses them) counts once
	size := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		size += expandedSize(n.Alias, memo)
	}
	for _, c := range n.Content {
		size = min(size+expandedSize(c, memo), MaxNodes+1)
	}
	memo[n] = size
	return size
}

// firstAlias is the first alias in n, in document order (n when there is none).
func firstAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := firstAlias(c); a.Kind == yaml.AliasNode {
			return a
		}
	}
	return n
}

func (d *decoder) yamlError(err error) {
	e := &Error{File: d.file, Line: 1, Col: 1, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if line, _ := strconv.Atoi(m[1]); line > 0 {
			e.Line = line
		}
		e.Msg = "invalid YAML: " + m[2]
	}
	d.errs = append(d.errs, e)
}

// templateLocation is the "template: NAME:LINE:" text/template puts before its message;
// the plan position says it better.
var templateLocation = regexp.MustCompile(`^template: [^:]*:\d+:(\d+:)? ?`)

// deref follows an alias (*name) to the node its anchor marks.
func deref(n *yaml.Node) *yaml.Node {
	// An anchor cannot sit on an alias, so one step is enough; the bound only guards
	// against a tree built by hand. An alias to nothing stays as it is: "got nothing".
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n == nil || n.Kind == yaml.AliasNode:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		return "an empty list"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.DocumentNode:
		return "a document"
	}
	v := shorten.Text(n.Value, 40)
	switch n.ShortTag() {
	case "!!null":
		return "nothing (null)"
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return "the boolean " + v
	}
	return fmt.Sprintf("the string %q", v)
}

// fields is one mapping's values by key, after checking its keys.
type fields struct {
	node *yaml.Node
	vals map[string]*yaml.Node
}

// get is the value of key, or nil when the key is absent or null: an optional key written
// with no value means "not set", as it would in yaml.v3's own struct decoding.
func (f fields) get(key string) *yaml.Node {
	if v := f.vals[key]; !isNull(v) {
		return v
	}
	return nil
}

// fields checks that n is a mapping whose keys are all in known, each once, records where
// each value is (under path), and returns the values. where names the mapping in messages.
func (d *decoder) fields(n *yaml.Node, path, where string, known []string) (fields, bool) {
	f := fields{node: n, vals: map[string]*yaml.Node{}}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping of keys (%s), got %s", where, strings.Join(known, ", "), describe(n))
		return f, false
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		switch {
		case k == nil || k.Kind != yaml.ScalarNode:
			d.errorf(k, "%s: a key must be a plain name, got %s", where, describe(k))
			continue
		case k.ShortTag() == "!!merge":
			d.errorf(k, "merge keys (<<) are not supported in a plan: use defaults: to share settings between agents")
			continue
		case !slices.Contains(known, k.Value):
			d.errorf(k, "unknown key %q in %s (want one of: %s)", k.Value, where, strings.Join(known, ", "))
			continue
		}
		if first, dup := keys[k.Value]; dup {
			d.errorf(k, "duplicate key %q in %s (first at %s)", k.Value, where, at(first))
			continue
		}
		keys[k.Value] = k
		f.vals[k.Value] = v
		d.record(join(path, k.Value), v)
	}
	return f, true
}

// required returns the value of key, recording an error when it is absent or null.
func (d *decoder) required(f fields, key, where, want string) *yaml.Node {
	v, ok := f.vals[key]
	switch {
	case !ok:
		d.errorf(f.node, "missing key %q in %s: want %s", key, where, want)
		return nil
	case isNull(v):
		d.errorf(v, "%s is empty: want %s", key, want)
		return nil
	}
	return v
}

func (d *decoder) str(n *yaml.Node, label string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%s: want a string, got %s", label, describe(n))
		return "", false
	}
	// A number or boolean is kept as written ("0123", not 83): yaml.v3 does the same for
	// string fields, and a branch or task may well be called 2024.
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, label string, least int) (int, bool) {
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.errorf(n, "%s: want a whole number, got %s", label, describe(n))
		return 0, false
	}
	if i < least {
		d.errorf(n, "%s %d: want %d or more", label, i, least)
		return 0, false
	}
	return i, true
}

func (d *decoder) boolean(n *yaml.Node, label string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.errorf(n, "%s: want true or false, got %s", label, describe(n))
		return false, false
	}
	return b, true
}

func (d *decoder) duration(n *yaml.Node, label string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%s: want a duration like 90s, 30m or 1h30m, got %s", label, describe(n))
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "%s %q: want a duration like 90s, 30m or 1h30m (%s)", label, n.Value, strings.TrimPrefix(err.Error(), "time: "))
		return 0, false
	}
	if v <= 0 {
		d.errorf(n, "%s %q: want a duration greater than 0", label, n.Value)
		return 0, false
	}
	return v, true
}

// list checks that n is a list and returns its items (aliases followed), recording where
// each one is under path.
func (d *decoder) list(n *yaml.Node, path, label, want string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list of %s, got %s", label, want, describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
		d.record(join(path, strconv.Itoa(i)), items[i])
	}
	return items, true
}

// stringList returns a list of strings and the nodes they came from.
func (d *decoder) stringList(n *yaml.Node, path, label string) ([]string, []*yaml.Node, bool) {
	items, ok := d.list(n, path, label, "strings")
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, sok := d.str(it, fmt.Sprintf("%s[%d]", label, i))
		ok = ok && sok
		out = append(out, s)
	}
	return out, items, ok
}

// argv checks a command line: a non-empty list of strings, a program first. An agent's
// command is a Go template per element (agentproc renders it at launch), so with templated
// each must parse: a typo should fail here, not after the team has started.
func (d *decoder) argv(n *yaml.Node, path, label string, templated bool) ([]string, bool) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, `%s: want a non-empty list of strings (argv) like [my-agent, "{{.Prompt}}"], got %s`, label, describe(n))
		return nil, false
	}
	args, nodes, ok := d.stringList(n, path, label)
	if !ok {
		return nil, false
	}
	if strings.TrimSpace(args[0]) == "" {
		d.errorf(nodes[0], "%s[0] is empty: want the program to run", label)
		ok = false
	}
	for i, a := range args {
		if strings.ContainsRune(a, 0) {
			// exec refuses such an argv; say so now rather than at launch.
			d.errorf(nodes[i], "%s[%d] holds a NUL byte", label, i)
			ok = false
		}
	}
	if templated {
		for i, a := range args {
			t, err := template.New(label).Option("missingkey=error").Parse(a)
			if err != nil {
				d.errorf(nodes[i], "%s[%d] %q: not a valid Go template: %s", label, i, a, templateLocation.ReplaceAllString(err.Error(), ""))
				ok = false
				continue
			}
			// Run over the fields a launch has, so a name that is none fails here, not at launch.
			if err := t.Execute(io.Discard, LaunchFields{}); err != nil {
				d.errorf(nodes[i], "%s[%d] %q: %s; a template may name %s", label, i, a, templateError(err), launchFieldNames())
				ok = false
			}
		}
	}
	return args, ok
}

// LaunchFields are the fields a command template may name ({{.Prompt}}, ...): agentproc
// renders the template over its Launch, which has each of them (a test there checks).
type LaunchFields struct {
	Prompt, PromptFile, Team, Agent, Role, TaskID, Worktree, Branch, LeaderBranch string
	Attempt                                                                       int
	Reason                                                                        string
}

// launchFieldNames lists LaunchFields as a template names them.
func launchFieldNames() string {
	t := reflect.TypeOf(LaunchFields{})
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = "{{." + t.Field(i).Name + "}}"
	}
	return strings.Join(names, ", ")
}

// templateError is what went wrong in running a template, without text/template's prefix.
func templateError(err error) string {
	s := err.Error()
	if i := strings.Index(s, "can't evaluate field "); i >= 0 {
		field, _, _ := strings.Cut(s[i+len("can't evaluate field "):], " ")
		return "no launch field is called " + field
	}
	return templateLocation.ReplaceAllString(s, "")
}

// env checks a map of environment variables.
func (d *decoder) env(n *yaml.Node, label string) (map[string]string, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping of variable names to values, got %s", label, describe(n))
		return nil, false
	}
	env := map[string]string{}
	ok := true
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, "%s: want a variable name as key, got %s", label, describe(k))
			ok = false
			continue
		}
		if k.Value == "" || strings.ContainsAny(k.Value, "=\x00") {
			d.errorf(k, "%s: variable name %q: want a name without = or NUL", label, k.Value)
			ok = false
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "%s: duplicate variable %q (first at %s)", label, k.Value, at(first))
			ok = false
			continue
		}
		seen[k.Value] = k
		// A variable written with no value is set to "", as a shell's FOO= would.
		val := ""
		if !isNull(v) {
			s, sok := d.str(v, label+"."+k.Value)
			if !sok {
				ok = false
				continue
			}
			val = s
		}
		if strings.ContainsRune(val, 0) {
			d.errorf(v, "%s.%s: a value cannot hold a NUL byte", label, k.Value)
			ok = false
			continue
		}
		env[k.Value] = val
	}
	return env, ok
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
