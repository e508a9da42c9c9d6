package facematch

import (
	"encoding/json"
	"time"
)

// Session is a persisted API-type face-match session (FM-SES-1). Its id is the request_id of
// the call that created it.
type Session struct {
	ID         string
	Number     int64
	AppID      string
	VendorData *string
	Metadata   json.RawMessage // nil when the call sent none
	CreatedAt  time.Time
	FaceMatch  FaceMatch
	// Threshold is the call's face_match_score_decline_threshold, kept so that the session can
	// be shown with its score against it (FM-CON-3).
	Threshold float64
}

// Image kinds of a session: the reference image is the source, the user image the target.
const (
	ImageSource = "source"
	ImageTarget = "target"
)

// StoredImage is one image of a session as submitted.
type StoredImage struct {
	ContentType string
	Data        []byte
}

// NewSession is everything a successful saved call writes in one transaction: the session, both
// images, the consumption of its reserved credit, and one status.updated delivery to each enabled
// destination of the application subscribed to it (FM-WH-2, FM-WH-4), whose body WebhookBody
// makes from the session once its number is assigned.
type NewSession struct {
	Session
	Source, Target StoredImage
	Credit         Reservation
	WebhookBody    func(Session) ([]byte, error)
}
