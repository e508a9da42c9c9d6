package facematch

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// OpenAPISpec is the OpenAPI 3.0 document of the API, embedded in the binary: the source of
// truth that validates every request and response, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPISpec []byte

// LoadOpenAPI parses and validates the embedded OpenAPI document, so the server and the tests
// work from the same checked contract. Each call returns a fresh document the caller may modify.
func LoadOpenAPI() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPISpec)
	if err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	return doc, nil
}
