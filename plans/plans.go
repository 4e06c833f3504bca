// Package plans holds the example plans shipped in the binary: the demo (scripted agents
// that run anywhere) and the commented starter plan `teamctl init` writes.
package plans

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed demo.yaml starter.yaml demo
var files embed.FS

// Starter is the commented plan `teamctl init` writes; the bytes are the caller's own.
func Starter() []byte { return mustRead("starter.yaml") }

// mustRead is an embedded file. The go:embed line above makes the build fail when a file
// it names is missing, so a failure here is a name that differs from that line's: a
// broken build, which panics at its first use rather than writing an empty plan.
func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("plans: %s is not embedded in this build: %v", name, err))
	}
	return b
}

// WriteDemo writes the demo into dir: the small project (demo/project), its scripted agents
// (demo/agents → dir/agents) and the plan (demo.yaml → dir/teamctl.yaml). dir becomes the
// repository's top level; the caller makes it a git repository.
func WriteDemo(dir string) error {
	copyTree := func(from, to string) error {
		return fs.WalkDir(files, from, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(from, p)
			dst := filepath.Join(to, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if filepath.Ext(p) == ".sh" {
				mode = 0o755
			}
			return os.WriteFile(dst, b, mode)
		})
	}
	if err := copyTree("demo/project", dir); err != nil {
		return err
	}
	if err := copyTree("demo/agents", filepath.Join(dir, "agents")); err != nil {
		return err
	}
	b, err := files.ReadFile("demo.yaml")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "teamctl.yaml"), b, 0o644)
}
