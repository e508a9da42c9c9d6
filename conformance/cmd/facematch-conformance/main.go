// Command facematch-conformance runs the Face Match API conformance suite against a server and
// writes the results bundle; it exits 1 when the verdict is FAIL. See conformance/README.md:
//
//	facematch-conformance -config conformance.json
//	facematch-conformance -target process -ginkgo.label-filter='FM-AUTH-1 || webhooks'
//
// Every flag of the suite (-config, -target, -certify, -expected-failures, -junit) and of Ginkgo
// (-ginkgo.label-filter, -ginkgo.v, ...) works, and each setting has an environment variable.
package main

import (
	"flag"
	"os"

	"github.com/facematch/facematch/conformance/internal/suite"
)

func main() {
	flag.Parse()
	if !suite.Run() {
		os.Exit(1)
	}
}
