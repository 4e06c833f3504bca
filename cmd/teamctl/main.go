// Command teamctl runs a team of coding agents on one git repository.
package main

import (
	"os"

	"github.com/teamctl/teamctl/sandbox"
)

func main() {
	// An agent's launch goes through here to be confined: it is taken before anything else,
	// so the launch pays for no more than it needs.
	if len(os.Args) > 1 && os.Args[1] == sandbox.Command {
		os.Exit(sandbox.Main(os.Args[2:]))
	}
	os.Exit(Main())
}
