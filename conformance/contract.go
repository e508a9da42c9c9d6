package conformance

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// Contract is the OpenAPI document the suite checks answers against: a copy of the repository's
// openapi.yaml, embedded so that the suite stands alone (no import of the server's module). `go
// generate` (or `make conformance/openapi.yaml`) copies it again; a test of the server's module
// (contract_copy_test.go) fails when the two copies differ.
//
//go:generate cp ../openapi.yaml openapi.yaml
//go:embed openapi.yaml
var Contract []byte

// ContractSHA256 is the hex sha256 of Contract, written in every results bundle so that a report
// names the exact contract it checked.
func ContractSHA256() string {
	sum := sha256.Sum256(Contract)
	return hex.EncodeToString(sum[:])
}

// LoadContract parses and validates the embedded document. Each call returns a fresh document the
// caller may modify.
func LoadContract() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(Contract)
	if err != nil {
		return nil, fmt.Errorf("parse the embedded openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate the embedded openapi.yaml: %w", err)
	}
	return doc, nil
}
