// Package contract parses and checks openapi.yaml, the API's source of truth, which the domain
// package embeds as bytes. It is the one place that links kin-openapi's document model, so that the
// domain, the store and the matcher stay free of it.
package contract

import (
	"context"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/facematch/facematch"
)

// Load parses and validates the embedded OpenAPI document, so the server and the tests work from
// the same checked contract. Each call returns a fresh document the caller may modify.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(facematch.OpenAPISpec)
	if err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	return doc, nil
}
