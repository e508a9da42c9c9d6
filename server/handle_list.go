package server

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/facematch/facematch"
)

// handleListSessions serves GET /v3/sessions/: the key's application's saved sessions, newest
// first, as Django REST framework's limit/offset page (FM-SES-5).
func (s *Server) handleListSessions(sessions facematch.SessionQuerier) validatedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *validation) {
		f, fields := facematch.ParseSessionQuery(r.URL.Query())
		if err := v.merge(fields).Err(); err != nil {
			s.writeError(w, r, err)
			return
		}
		f.AppID = callerFrom(r.Context()).App.ID
		page, err := sessions.QuerySessions(r.Context(), f)
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
func nextLink(self string, q url.Values, f facematch.SessionQuery, count int) *string {
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
func previousLink(self string, q url.Values, f facematch.SessionQuery) *string {
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
