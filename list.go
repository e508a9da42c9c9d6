package facematch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits of a page of sessions (FM-SES-5, FM-CON-2).
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// SessionQuery selects saved sessions, newest first. The filters that are set combine with AND.
// Exactly one of AppID and OrgID scopes the list: an application's sessions (the API, FM-SES-5)
// or an organization's across its applications (the console, FM-CON-2).
type SessionQuery struct {
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

// SessionQuerier lists saved sessions (FM-SES-5). A deleted session is gone from every list.
type SessionQuerier interface {
	QuerySessions(ctx context.Context, f SessionQuery) (SessionPage, error)
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

// ParseSessionQuery reads the query parameters of a list of sessions (FM-SES-5, shared by the
// console's FM-CON-2): each invalid one is reported under its own name. An empty parameter
// filters nothing, as with the provider's filters.
func ParseSessionQuery(q url.Values) (SessionQuery, FieldErrors) {
	f := SessionQuery{Limit: DefaultListLimit}
	fields := FieldErrors{}
	if v := q.Get("vendor_data"); v != "" {
		f.VendorData = &v
	}
	f.Search = q.Get("search")
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if st != StatusApproved && st != StatusDeclined {
				fields.Add("status", fmt.Sprintf("Select a valid choice. %q is not one of the available choices (Approved, Declined).", st))
				continue
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	for _, p := range []struct {
		name   string
		into   **time.Time
		dayEnd bool
	}{{"date_from", &f.From, false}, {"date_to", &f.To, true}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := parseISODate(v, p.dayEnd)
		if err != nil {
			fields.Add(p.name, "Enter a valid date or date-time in ISO 8601 (e.g. 2026-06-12 or 2026-06-12T08:30:00Z).")
			continue
		}
		*p.into = &t
	}
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		fields.Add("date_to", "date_to must not be before date_from.")
	}
	for _, p := range []struct {
		name     string
		into     *int
		min, max int
	}{{"limit", &f.Limit, 1, MaxListLimit}, {"offset", &f.Offset, 0, -1}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			fields.Add(p.name, "A valid integer is required.")
		case n < p.min:
			fields.Add(p.name, fmt.Sprintf("Ensure this value is greater than or equal to %d.", p.min))
		case p.max > 0 && n > p.max:
			fields.Add(p.name, fmt.Sprintf("Ensure this value is less than or equal to %d.", p.max))
		default:
			*p.into = n
		}
	}
	return f, fields
}

// isoLayouts are the forms of ISO 8601 a date filter accepts; a date-time without a zone is UTC.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}

// parseISODate reads an ISO 8601 date or date-time. A bare date is the start of that day in UTC,
// or its last microsecond when it ends a range, so that date_to includes the whole day.
func parseISODate(v string, dayEnd bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if dayEnd {
			return d.Add(24*time.Hour - time.Microsecond), nil
		}
		return d, nil
	}
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 date: %q", v)
}
