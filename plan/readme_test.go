package plan_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/teamctl/teamctl/plan"
)

// TestReadmePlansValidate: every YAML block of the README is a plan that validates, so
// what a newcomer copies from it works.
func TestReadmePlansValidate(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	blocks := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		blocks++
		name := fmt.Sprintf("README.md (the YAML block at line %d)", start)
		if _, err := plan.Parse(name, []byte(strings.Join(lines[start:i], "\n"))); err != nil {
			t.Errorf("%v", err)
		}
	}
	if blocks == 0 {
		t.Fatal("README.md has no YAML block: the plan reference is gone?")
	}
}
