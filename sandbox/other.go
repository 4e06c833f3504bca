//go:build !linux

package sandbox

import (
	"fmt"
	"os/exec"
	"runtime"
)

// Available is the Landlock ABI version: none here (ErrUnavailable), Landlock is Linux's.
func Available() (int, error) {
	return 0, fmt.Errorf("%w: teamctl confines agents with Linux's Landlock, which %s does not have", ErrUnavailable, runtime.GOOS)
}

// Confine returns ErrUnavailable: nothing is confined here.
func Confine(Policy) error {
	_, err := Available()
	return err
}

// Start returns ErrUnavailable: nothing is confined here.
func Start(*exec.Cmd, Policy) error {
	_, err := Available()
	return err
}
