package facematch

import (
	"context"
	"encoding/json"
	"time"
)

// Limits of a page of sessions (FM-SES-5, FM-CON-2).
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// SessionFilter selects saved sessions, newest first. The filters that are set combine with AND.
// Exactly one of AppID and OrgID scopes the list: an application's sessions (the API, FM-SES-5)
// or an organization's across its applications (the console, FM-CON-2).
type SessionFilter struct {
	AppID string
	OrgID string
	// VendorData matches exactly; Search is a case-insensitive substring of vendor_data.
	VendorData *string
	Search     string
	// Statuses keeps sessions whose status is one of them (Approved, Declined).
	Statuses []string
	// From and To bound created_at, both inclusive.
	From, To *time.Time
	Limit    int
	Offset   int
}

// SessionPage is one page of a list of sessions and the number of sessions the filter selects.
type SessionPage struct {
	Count    int
	Sessions []Session
}

// SessionLister lists saved sessions (FM-SES-5). A deleted session is gone from every list.
type SessionLister interface {
	ListSessions(ctx context.Context, f SessionFilter) (SessionPage, error)
}

// SessionListItem is one row of GET /v3/sessions/ (FM-SES-5), the provider's list shape.
type SessionListItem struct {
	SessionID     string          `json:"session_id"`
	SessionNumber int64           `json:"session_number"`
	SessionKind   string          `json:"session_kind"`
	Status        string          `json:"status"`
	VendorData    *string         `json:"vendor_data"`
	Metadata      json.RawMessage `json:"metadata"`
	CreatedAt     Timestamp       `json:"created_at"`
	Features      []FeatureStatus `json:"features"`
	Score         *float64        `json:"score"`
}

// FeatureStatus is a feature of a listed session and its status.
type FeatureStatus struct {
	Feature string `json:"feature"`
	Status  string `json:"status"`
}

// ListItem is a session as a row of the list endpoint.
func ListItem(s Session) SessionListItem {
	return SessionListItem{
		SessionID:     s.ID,
		SessionNumber: s.Number,
		SessionKind:   "user",
		Status:        s.FaceMatch.Status,
		VendorData:    s.VendorData,
		Metadata:      s.Metadata,
		CreatedAt:     Timestamp(s.CreatedAt),
		Features:      []FeatureStatus{{Feature: "FACE_MATCH", Status: s.FaceMatch.Status}},
		Score:         s.FaceMatch.Score,
	}
}
