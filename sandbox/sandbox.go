// Package sandbox is the static mock that sandbox keys talk to (FM-SBX-1): after validation it
// answers the fixed Approved payload of openapi.yaml's SandboxFaceMatch example, with a fresh
// request id, the current time and the caller's vendor_data and metadata. It decodes no image
// and stores nothing.
package sandbox

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
)

// ExampleName is the openapi.yaml example the sandbox answers with.
const ExampleName = "SandboxFaceMatch"

// Responder answers sandbox calls.
type Responder struct {
	faceMatch json.RawMessage // the example's face_match, re-decoded for every answer
}

// New reads the fixed payload from the embedded OpenAPI document, so that the sandbox answers
// exactly what the contract shows.
func New() (*Responder, error) {
	doc, err := contract.Load()
	if err != nil {
		return nil, err
	}
	ex := doc.Components.Examples[ExampleName]
	if ex == nil || ex.Value == nil {
		return nil, fmt.Errorf("openapi.yaml has no example %s", ExampleName)
	}
	raw, err := json.Marshal(ex.Value.Value)
	if err != nil {
		return nil, err
	}
	var body struct {
		FaceMatch json.RawMessage `json:"face_match"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.FaceMatch == nil {
		return nil, fmt.Errorf("example %s has no face_match: %v", ExampleName, err)
	}
	var check facematch.FaceMatch
	if err := json.Unmarshal(body.FaceMatch, &check); err != nil {
		return nil, fmt.Errorf("example %s: %w", ExampleName, err)
	}
	// FM-RESP-3: typed clients of the provider expect every entity's values filled.
	for _, img := range []facematch.ImageResult{check.User, check.Ref} {
		for _, e := range img.Entities {
			if e.Confidence == nil || e.Age == nil || e.Gender == nil {
				return nil, fmt.Errorf("example %s: an entity without confidence, age or gender", ExampleName)
			}
		}
	}
	return &Responder{faceMatch: body.FaceMatch}, nil
}

// Respond builds the sandbox answer to one call.
func (s *Responder) Respond(requestID string, now time.Time, vendorData *string, metadata json.RawMessage) facematch.FaceMatchResponse {
	var fm facematch.FaceMatch
	_ = json.Unmarshal(s.faceMatch, &fm) // checked by New
	return facematch.FaceMatchResponse{
		RequestID:  requestID,
		FaceMatch:  fm,
		VendorData: vendorData,
		Metadata:   metadata,
		CreatedAt:  facematch.Timestamp(now),
	}
}
