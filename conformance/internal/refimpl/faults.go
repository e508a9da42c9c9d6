package refimpl

import (
	"fmt"
	"sort"
	"strings"
)

// Fault is a way the reference breaks the contract on purpose, for the mutation self-test.
type Fault string

// The faults, each a real bug an implementation could have.
const (
	FaultMissingKey401       Fault = "auth-missing-key-401"       // FM-AUTH-1: 401 without a key
	FaultRevokedAccepted     Fault = "auth-revoked-accepted"      // FM-AUTH-1: a revoked key works
	FaultOtherAppSession     Fault = "auth-other-app-session"     // FM-AUTH-3: another app's session readable
	FaultSharedBudget        Fault = "rl-shared-budget"           // FM-RL-1: GETs spend the write budget
	FaultNoHeadersOnErrors   Fault = "rl-no-headers-on-errors"    // FM-RL-2: no X-RateLimit-* on 4xx
	FaultValidateFirst       Fault = "rl-validate-first"          // FM-RL-3: 400 before 429
	FaultFirstErrorOnly      Fault = "val-first-error-only"       // FM-VAL-1: one invalid field reported
	FaultStrictBooleans      Fault = "val-strict-booleans"        // FM-VAL-2: only true/false
	FaultFirstValueWins      Fault = "val-first-value-wins"       // FM-VAL-5: a repeated field takes its first value
	FaultApproveAtThreshold  Fault = "match-approve-at-threshold" // FM-MATCH-2
	FaultCreatedAtSeconds    Fault = "resp-created-at-seconds"    // FM-RESP-2: no microseconds
	FaultOmitNullMetadata    Fault = "resp-omit-null-metadata"    // FM-RESP-1: metadata left out when null
	FaultDeclinedFree        Fault = "bill-declined-free"         // FM-BILL-1: Declined costs nothing
	FaultBillingRace         Fault = "bill-race"                  // FM-BILL-2: check, then consume
	FaultPreferIgnored       Fault = "sbx-prefer-ignored"         // FM-SBX-2: Prefer: example=NAME ignored
	FaultSandboxSaves        Fault = "sbx-saves-session"          // FM-SBX-1: sandbox calls stored
	FaultImagesSwapped       Fault = "ses-images-swapped"         // FM-SES-1: source and target swapped
	FaultUnsignedURLs        Fault = "ses-urls-unsigned"          // FM-SES-2: the signature is not checked
	FaultDeleteKeepsImages   Fault = "ses-delete-keeps-images"    // FM-SES-4: images served after delete
	FaultExtensionCase       Fault = "img-extension-case"         // FM-IMG-1: upper-case extensions refused
	FaultNoPixelLimit        Fault = "img-no-pixel-limit"         // FM-IMG-2: no 40-megapixel check
	FaultUnsortedBody        Fault = "wh-unsorted-body"           // FM-WH-2: keys not sorted
	FaultSignDecodedSecret   Fault = "sig-decoded-secret"         // FM-WH-3: X-Signature keyed with the decoded secret
	FaultStandardWholeSecret Fault = "sig-std-whole-secret"       // FM-WH-6: webhook-signature keyed with the whole string
	FaultCanonicalEscapes    Fault = "canon-escapes-some"         // FM-WH-3: canonical JSON escapes Cyrillic and Greek
	FaultNoRetry404          Fault = "wh-no-retry-404"            // FM-WH-4: a 404 ends the delivery
	FaultMetadataAddress     Fault = "ssrf-metadata-address"      // FM-WH-5: 169.254.169.254 accepted
	FaultAbruptShutdown      Fault = "abrupt-shutdown"            // FM-OPS-1: SIGTERM drops requests in flight
)

// Faults lists every fault.
var Faults = []Fault{
	FaultMissingKey401, FaultRevokedAccepted, FaultOtherAppSession, FaultSharedBudget, FaultNoHeadersOnErrors,
	FaultValidateFirst, FaultFirstErrorOnly, FaultStrictBooleans, FaultFirstValueWins, FaultApproveAtThreshold, FaultCreatedAtSeconds,
	FaultOmitNullMetadata, FaultDeclinedFree, FaultBillingRace, FaultPreferIgnored, FaultSandboxSaves, FaultImagesSwapped,
	FaultUnsignedURLs, FaultDeleteKeepsImages, FaultExtensionCase, FaultNoPixelLimit, FaultUnsortedBody,
	FaultSignDecodedSecret, FaultStandardWholeSecret, FaultCanonicalEscapes, FaultNoRetry404, FaultMetadataAddress,
	FaultAbruptShutdown,
}

// ParseFaults reads a comma-separated list of fault names ("" for none).
func ParseFaults(s string) (map[Fault]bool, error) {
	out := map[Fault]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		known := false
		for _, f := range Faults {
			if string(f) == name {
				out[f], known = true, true
			}
		}
		if !known {
			names := make([]string, len(Faults))
			for i, f := range Faults {
				names[i] = string(f)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}
