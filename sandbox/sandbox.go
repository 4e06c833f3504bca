// Package sandbox confines one agent process (DESIGN.md §11): it and every process it starts
// may read the whole file system but write only what its Policy names, and, where the kernel
// can, may not signal, ptrace or read /proc/PID/environ of any process outside its own
// confinement. On Linux this is Landlock; elsewhere Available says why not.
//
// The confinement is applied by teamctl's own wrapper (Argv builds its command line; Main is
// what runs there) just before it executes the agent, so every CLI is confined alike and
// cannot undo it: Landlock is inherited by every child and cannot be lifted.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Policy is what a confined process may change.
type Policy struct {
	// Write are the files and directories (with all beneath them) it may write, create and
	// remove. A path that does not exist is left out (it cannot be made from inside either).
	Write []string
}

// ErrUnavailable is the error of Available and Confine where this kernel or platform
// offers no confinement.
var ErrUnavailable = errors.New("agents cannot be confined here")

// Command is the hidden teamctl subcommand that confines itself and executes an agent:
// `teamctl <Command> [--write PATH]... -- ARGV`. It is taken before the command tree is
// built (a launch pays for no more than it needs).
const Command = "__confine"

// Argv is the command line that runs argv confined by p, through the teamctl binary bin.
func Argv(bin string, p Policy, argv []string) []string {
	out := []string{bin, Command}
	for _, w := range p.Write {
		out = append(out, "--write", w)
	}
	return append(append(out, "--"), argv...)
}

// parse reads Argv's arguments (those after Command).
func parse(args []string) (Policy, []string, error) {
	var p Policy
	for len(args) > 0 {
		switch {
		case args[0] == "--":
			if len(args) == 1 {
				return p, nil, errors.New("no program to run after --")
			}
			return p, args[1:], nil
		case args[0] == "--write" && len(args) > 1:
			p.Write = append(p.Write, args[1])
			args = args[2:]
		default:
			return p, nil, fmt.Errorf("unknown argument %q (want --write PATH ... -- PROGRAM ARGS)", args[0])
		}
	}
	return p, nil, errors.New("no -- before the program to run")
}

// Main confines this process by the policy in args (Argv's, after Command) and executes the
// program they name in its place (the pid stays: the agent's wrapper waits on it). It
// returns only on failure: the exit status then, after saying why on stderr. Nothing runs
// unconfined: when confinement fails, the program is not run.
func Main(args []string) int {
	p, argv, err := parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "teamctl %s: %v\n", Command, err)
		return 2
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "teamctl: cannot start the agent: %v\n", err)
		return 127
	}
	if err := Confine(p); err != nil {
		fmt.Fprintf(os.Stderr, "teamctl: the agent was not started: cannot confine it: %v\n", err)
		return 126
	}
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "teamctl: cannot start the agent %s: %v\n", path, err)
	return 126
}

// existing is the paths of ws that exist, cleaned, without repeats.
func existing(ws []string) []string {
	var out []string
	for _, w := range ws {
		w = filepath.Clean(w)
		if _, err := os.Stat(w); err == nil && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// Describe is one line for a person: what a confined agent may write.
func (p Policy) Describe() string {
	return "writes only to " + strings.Join(existing(p.Write), ", ")
}
