//go:build brokenserver

package facematch

// The brokenserver build is a deliberately non-conforming server for the conformance suite's
// self-test: it Approves a score equal to the threshold, which FM-MATCH-2 forbids.
func init() { approveAtThreshold = true }
