// Command teamctl runs a team of coding agents on one git repository.
package main

import "os"

func main() { os.Exit(Main()) }
