// Package conformance is the conformance suite of the Face Match API: Ginkgo specs, each
// labelled with the rule ids of ../shared/spec/face-match.md it checks, run against a facematch
// container, a local process or any external implementation. See README.md.
package conformance

//go:generate go run ./cmd/behaviours
