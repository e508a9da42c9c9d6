// Package suite is the conformance suite itself: the Ginkgo specs, each labelled with the rule ids
// it checks, their harness and the verdict by rule. The test binary (conformance/suite_test.go,
// `go test -c`) and the command cmd/facematch-conformance both run it with Run.
package suite
