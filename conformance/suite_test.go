package conformance_test

import (
	"testing"

	"github.com/facematch/facematch/conformance/internal/suite"
)

// TestConformance runs the conformance suite against the target the settings name, so that
// `go test` and `go test -c` run it as the facematch-conformance command does.
func TestConformance(t *testing.T) {
	if !suite.Run() {
		t.Fail()
	}
}
