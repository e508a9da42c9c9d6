package facematch

import (
	"bytes"
	"os"
	"testing"
)

// TestConformanceContractCopy fails when the conformance suite's embedded copy of the contract
// (conformance/openapi.yaml, which lets the suite stand alone as its own module) differs from
// the openapi.yaml this module embeds and serves: the suite would check another contract.
func TestConformanceContractCopy(t *testing.T) {
	copied, err := os.ReadFile("conformance/openapi.yaml")
	if err != nil {
		t.Fatalf("the conformance suite's copy of the contract: %v (run `make conformance/openapi.yaml`)", err)
	}
	if bytes.Equal(copied, OpenAPISpec) {
		return
	}
	line := 1
	for i := 0; i < len(copied) && i < len(OpenAPISpec); i++ {
		if copied[i] != OpenAPISpec[i] {
			break
		}
		if copied[i] == '\n' {
			line++
		}
	}
	t.Fatalf("conformance/openapi.yaml differs from openapi.yaml from line %d on (%d bytes against %d): run `make conformance/openapi.yaml` (or `go generate` in conformance/) and commit the copy", line, len(copied), len(OpenAPISpec))
}
