// Package facematch holds the domain of the Face Match API: the types every other package shares
// and the interfaces they depend on. It imports nothing of the project and no third-party code.
package facematch

import (
	"context"
	"encoding/json"
	"math"
	"time"
)

// Decision values of a face match.
const (
	StatusApproved = "Approved"
	StatusDeclined = "Declined"
)

// Warning risks a face match can carry.
const (
	RiskLowSimilarity    = "LOW_FACE_MATCH_SIMILARITY"
	RiskNoReferenceImage = "NO_REFERENCE_IMAGE"
)

// The texts of the warnings (FM-RESP-4): the one source of them for the matcher, the sandbox and
// openapi.yaml's examples, which a test holds equal to these.
const (
	LowSimilarityShort    = "Low face match similarity"
	LowSimilarityLong     = "The facial features of the user image do not closely match the reference image, suggesting a potential identity mismatch."
	NoReferenceImageShort = "No reference image"
	NoReferenceImageLong  = "No face pair could be compared because no face was found in at least one of the images."
)

// DefaultThreshold is the decline threshold used when a request names none.
const DefaultThreshold = 30.0

// FaceMatch is the result of comparing a user image with a reference image, shaped as the
// `face_match` object of the API.
type FaceMatch struct {
	Status   string      `json:"status"`
	Score    *float64    `json:"score"`
	User     ImageResult `json:"user_image"`
	Ref      ImageResult `json:"ref_image"`
	Warnings []Warning   `json:"warnings"`
}

// ImageResult lists the faces found in one image and the rotation under which they were found.
type ImageResult struct {
	Entities  []Entity `json:"entities"`
	BestAngle int      `json:"best_angle"`
}

// Entity is one face: its box as [x1, y1, x2, y2] in pixels of the submitted image after EXIF
// orientation and rotation, the detector's confidence (0-1), and the estimated age (years) and
// gender ("male" or "female"), null only for a face too small to estimate (FM-RESP-3).
type Entity struct {
	BBox       [4]int   `json:"bbox"`
	Confidence *float64 `json:"confidence"`
	Age        *float64 `json:"age"`
	Gender     *string  `json:"gender"`
}

// Warning explains why a face match was declined.
type Warning struct {
	Feature          string         `json:"feature"`
	Risk             string         `json:"risk"`
	LogType          string         `json:"log_type"`
	ShortDescription string         `json:"short_description"`
	LongDescription  string         `json:"long_description"`
	AdditionalData   map[string]any `json:"additional_data"`
	NodeID           *string        `json:"node_id"`
}

// MatchInput is one comparison asked of a Matcher: the two images as submitted.
type MatchInput struct {
	User      []byte
	Ref       []byte
	Threshold float64
	Rotate    bool
}

// Matcher compares the faces of two images. Implementations are safe for concurrent use.
type Matcher interface {
	Match(ctx context.Context, in MatchInput) (FaceMatch, error)
}

// RoundScore rounds a similarity to the two decimals the API reports.
func RoundScore(s float64) float64 {
	return math.Round(s*100) / 100
}

// Decide builds the face_match decision from a score (nil when no face pair could be scored) and
// the faces found, following FM-MATCH-2 and FM-MATCH-3: a score equal to the threshold declines.
func Decide(score *float64, user, ref ImageResult, threshold float64) FaceMatch {
	fm := FaceMatch{Score: score, User: user, Ref: ref, Warnings: []Warning{}}
	switch {
	case score == nil:
		fm.Status = StatusDeclined
		fm.Warnings = append(fm.Warnings, Warning{
			Feature:          "FACEMATCH",
			Risk:             RiskNoReferenceImage,
			LogType:          "error",
			ShortDescription: NoReferenceImageShort,
			LongDescription:  NoReferenceImageLong,
			AdditionalData: map[string]any{
				"user_image_faces": len(user.Entities),
				"ref_image_faces":  len(ref.Entities),
			},
		})
	case *score > threshold:
		fm.Status = StatusApproved
	default:
		fm.Status = StatusDeclined
		fm.Warnings = append(fm.Warnings, Warning{
			Feature:          "FACEMATCH",
			Risk:             RiskLowSimilarity,
			LogType:          "error",
			ShortDescription: LowSimilarityShort,
			LongDescription:  LowSimilarityLong,
		})
	}
	if fm.User.Entities == nil {
		fm.User.Entities = []Entity{}
	}
	if fm.Ref.Entities == nil {
		fm.Ref.Entities = []Entity{}
	}
	return fm
}

// FaceMatchResponse is the body of a 200 answer to POST /v3/face-match/.
type FaceMatchResponse struct {
	RequestID  string          `json:"request_id"`
	FaceMatch  FaceMatch       `json:"face_match"`
	VendorData *string         `json:"vendor_data"`
	Metadata   json.RawMessage `json:"metadata"` // nil encodes as null
	CreatedAt  Timestamp       `json:"created_at"`
}

// Timestamp encodes a time as the API writes it: UTC, RFC 3339 with microseconds and "+00:00"
// (FM-RESP-2).
type Timestamp time.Time

// TimestampLayout is the layout of Timestamp.
const TimestampLayout = "2006-01-02T15:04:05.000000+00:00"

// MarshalJSON writes the timestamp in TimestampLayout.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(TimestampLayout) + `"`), nil
}

// UnmarshalJSON reads a timestamp written by MarshalJSON.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	v, err := time.Parse(`"`+TimestampLayout+`"`, string(b))
	if err != nil {
		return err
	}
	*t = Timestamp(v.UTC())
	return nil
}
