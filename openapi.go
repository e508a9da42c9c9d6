package facematch

import _ "embed"

// OpenAPISpec is the OpenAPI 3.0 document of the API, embedded in the binary as bytes: the source
// of truth that the contract package parses to validate every request and response, and that the
// server serves at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPISpec []byte
