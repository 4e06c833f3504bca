package agentproc_test

import (
	"testing"

	"github.com/teamctl/teamctl/internal/testsupport"
)

// TestMain is the package's only one: every test in agentproc runs hermetic.
func TestMain(m *testing.M) { testsupport.Main(m) }
