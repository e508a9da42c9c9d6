//go:build brokenserver

package server

import "net/http"

// The brokenserver build is a deliberately non-conforming server for the conformance suite's
// self-test: it answers 401 to a request without x-api-key, which FM-AUTH-1 forbids.
func init() { missingKeyStatus = http.StatusUnauthorized }
