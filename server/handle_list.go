package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch"
)

// handleListSessions serves GET /v3/sessions/: the key's application's saved sessions, newest
// first, as Django REST framework's limit/offset page (FM-SES-5).
func (s *Server) handleListSessions(sessions facematch.SessionLister) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		f, fields := ParseSessionFilter(r.URL.Query())
		if err := v.merge(fields).Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		f.AppID = callerFrom(r.Context()).App.ID
		page, err := sessions.ListSessions(r.Context(), f)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		results := make([]facematch.SessionListItem, len(page.Sessions))
		for i, sess := range page.Sessions {
			results[i] = facematch.ListItem(sess)
		}
		self := s.publicURL(r) + r.URL.Path
		writeJSON(w, http.StatusOK, sessionList{
			Count:    page.Count,
			Next:     nextLink(self, r.URL.Query(), f, page.Count),
			Previous: previousLink(self, r.URL.Query(), f),
			Results:  results,
		})
	}
}

// sessionList is the body of GET /v3/sessions/.
type sessionList struct {
	Count    int                         `json:"count"`
	Next     *string                     `json:"next"`
	Previous *string                     `json:"previous"`
	Results  []facematch.SessionListItem `json:"results"`
}

// nextLink is the URL of the following page, the same query with limit set and offset moved,
// or nil on the last page (DRF's LimitOffsetPagination.get_next_link).
func nextLink(self string, q url.Values, f facematch.SessionFilter, count int) *string {
	if f.Offset+f.Limit >= count {
		return nil
	}
	q.Set("limit", strconv.Itoa(f.Limit))
	q.Set("offset", strconv.Itoa(f.Offset+f.Limit))
	link := self + "?" + q.Encode()
	return &link
}

// previousLink is the URL of the page before, without offset when that page is the first, or
// nil on the first page (DRF's get_previous_link).
func previousLink(self string, q url.Values, f facematch.SessionFilter) *string {
	if f.Offset <= 0 {
		return nil
	}
	q.Set("limit", strconv.Itoa(f.Limit))
	if f.Offset-f.Limit <= 0 {
		q.Del("offset")
	} else {
		q.Set("offset", strconv.Itoa(f.Offset-f.Limit))
	}
	link := self + "?" + q.Encode()
	return &link
}

// ParseSessionFilter reads the query parameters of a list of sessions (FM-SES-5, shared by the
// console's FM-CON-2): each invalid one is reported under its own name. An empty parameter
// filters nothing, as with the provider's filters.
func ParseSessionFilter(q url.Values) (facematch.SessionFilter, facematch.FieldErrors) {
	f := facematch.SessionFilter{Limit: facematch.DefaultListLimit}
	fields := facematch.FieldErrors{}
	if v := q.Get("vendor_data"); v != "" {
		f.VendorData = &v
	}
	f.Search = q.Get("search")
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if st != facematch.StatusApproved && st != facematch.StatusDeclined {
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
	}{{"limit", &f.Limit, 1, facematch.MaxListLimit}, {"offset", &f.Offset, 0, -1}} {
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
