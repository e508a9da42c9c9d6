// Package sandbox is the static mock that sandbox keys talk to (FM-SBX-1, FM-SBX-2): after
// validation it answers one of the examples of the 200 answer of POST /v3/face-match/ in
// openapi.yaml (`approved` unless the request asks for another by name), with a fresh request
// id, the current time and the caller's vendor_data and metadata. It decodes no image and stores
// nothing.
package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
)

// DefaultExample is the example a sandbox call gets when it asks for none (FM-SBX-1).
const DefaultExample = "approved"

// Responder answers sandbox calls.
type Responder struct {
	// faceMatches holds each example's face_match, re-decoded for every answer so that no
	// answer shares memory with another.
	faceMatches map[string]json.RawMessage
	names       []string // sorted
}

// New reads the examples of the face-match 200 answer from the embedded OpenAPI document, so
// that the sandbox answers exactly what the contract shows.
func New() (*Responder, error) {
	doc, err := contract.Load()
	if err != nil {
		return nil, err
	}
	item := doc.Paths.Find("/v3/face-match/")
	if item == nil || item.Post == nil {
		return nil, fmt.Errorf("openapi.yaml has no POST /v3/face-match/")
	}
	resp := item.Post.Responses.Status(http.StatusOK)
	if resp == nil || resp.Value == nil || resp.Value.Content.Get("application/json") == nil {
		return nil, fmt.Errorf("openapi.yaml: POST /v3/face-match/ has no JSON 200 answer")
	}
	r := &Responder{faceMatches: map[string]json.RawMessage{}}
	for name, ex := range resp.Value.Content.Get("application/json").Examples {
		if ex == nil || ex.Value == nil {
			return nil, fmt.Errorf("openapi.yaml: example %s of the face-match 200 is empty", name)
		}
		raw, err := json.Marshal(ex.Value.Value)
		if err != nil {
			return nil, err
		}
		var body struct {
			FaceMatch json.RawMessage `json:"face_match"`
		}
		if err := json.Unmarshal(raw, &body); err != nil || body.FaceMatch == nil {
			return nil, fmt.Errorf("example %s has no face_match: %v", name, err)
		}
		var check facematch.FaceMatch
		if err := json.Unmarshal(body.FaceMatch, &check); err != nil {
			return nil, fmt.Errorf("example %s: %w", name, err)
		}
		// FM-RESP-3: typed clients of the provider expect every entity's values filled.
		for _, img := range []facematch.ImageResult{check.User, check.Ref} {
			for _, e := range img.Entities {
				if e.Confidence == nil || e.Age == nil || e.Gender == nil {
					return nil, fmt.Errorf("example %s: an entity without confidence, age or gender", name)
				}
			}
		}
		r.faceMatches[name] = body.FaceMatch
		r.names = append(r.names, name)
	}
	slices.Sort(r.names)
	if _, ok := r.faceMatches[DefaultExample]; !ok {
		return nil, fmt.Errorf("openapi.yaml: the face-match 200 has no example %q", DefaultExample)
	}
	return r, nil
}

// Names lists the examples a sandbox call may ask for, sorted.
func (s *Responder) Names() []string { return slices.Clone(s.names) }

// Check reports whether name (empty for the default) is an example a call may ask for: nil, or
// the EINVALID error of UnknownExample.
func (s *Responder) Check(name string) error {
	if _, ok := s.faceMatches[name]; ok || name == "" {
		return nil
	}
	return UnknownExample(name, s.names)
}

// Respond builds the sandbox answer to one call: the example named (DefaultExample when name is
// empty), or an EINVALID error listing the known names.
func (s *Responder) Respond(name, requestID string, now time.Time, vendorData *string, metadata json.RawMessage) (facematch.FaceMatchResponse, error) {
	if name == "" {
		name = DefaultExample
	}
	if err := s.Check(name); err != nil {
		return facematch.FaceMatchResponse{}, err
	}
	raw := s.faceMatches[name]
	var fm facematch.FaceMatch
	_ = json.Unmarshal(raw, &fm) // checked by New
	return facematch.FaceMatchResponse{
		RequestID:  requestID,
		FaceMatch:  fm,
		VendorData: vendorData,
		Metadata:   metadata,
		CreatedAt:  facematch.Timestamp(now),
	}, nil
}

// UnknownExample is the error of a Prefer header naming no example (FM-SBX-2): a 400 under
// non_field_errors that lists the known names.
func UnknownExample(name string, known []string) error {
	return facematch.FieldErrors{"non_field_errors": {fmt.Sprintf(
		"Unknown sandbox example %q in the Prefer header; the known examples are: %s.", name, strings.Join(known, ", "))}}.Err()
}

// PreferredExample reads the example a request asks for from its Prefer headers (RFC 7240, as
// Stoplight Prism reads them: `Prefer: example=declined`, possibly beside other preferences and
// quoted); "" when none is named.
func PreferredExample(h http.Header) string {
	name := ""
	for _, v := range h.Values("Prefer") {
		for _, pref := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(strings.TrimSpace(pref), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "example") {
				name = strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return name
}
