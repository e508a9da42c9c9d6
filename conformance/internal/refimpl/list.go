package refimpl

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listSessions is GET /v3/sessions/ (FM-SES-5): the application's saved sessions, newest first,
// filtered, as Django REST framework's limit/offset page. The reference reads the whole list
// from its document and filters in memory; it has no index and needs none at its size.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	errs := map[string][]string{}
	limit, offset := 50, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			errs["limit"] = []string{"Ensure this value is a whole number from 1 to 200."}
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs["offset"] = []string{"Ensure this value is a whole number of 0 or more."}
		}
		offset = n
	}
	statuses := map[string]bool{}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if st != "Approved" && st != "Declined" {
				errs["status"] = append(errs["status"], `"`+st+`" is not one of Approved, Declined.`)
			}
			statuses[st] = true
		}
	}
	from, okFrom := listDate(q.Get("date_from"), false)
	to, okTo := listDate(q.Get("date_to"), true)
	if !okFrom {
		errs["date_from"] = []string{"Enter a date (YYYY-MM-DD) or a date-time (RFC 3339)."}
	}
	if !okTo {
		errs["date_to"] = []string{"Enter a date (YYYY-MM-DD) or a date-time (RFC 3339)."}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	vendor, exact := q["vendor_data"]
	search := strings.ToLower(q.Get("search"))
	var rows []*session
	s.st.view(func(st *state) {
		for _, ses := range st.Sessions {
			switch {
			case ses.App != c.app.ID,
				exact && (ses.VendorData == nil || *ses.VendorData != vendor[0]),
				search != "" && (ses.VendorData == nil || !strings.Contains(strings.ToLower(*ses.VendorData), search)),
				len(statuses) > 0 && !statuses[ses.Status],
				!from.IsZero() && ses.Created.Before(from),
				!to.IsZero() && ses.Created.After(to):
				continue
			}
			cp := *ses
			rows = append(rows, &cp)
		}
	})
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].Created.Equal(rows[j].Created) {
			return rows[i].Created.After(rows[j].Created)
		}
		return rows[i].Number > rows[j].Number
	})
	count := len(rows)
	page := rows[min(offset, count):min(offset+limit, count)]
	results := make([]map[string]any, 0, len(page))
	for _, ses := range page {
		score, _ := decode(ses.Score)
		var metadata any
		if ses.Metadata != nil {
			metadata, _ = decode(ses.Metadata)
		}
		results = append(results, map[string]any{
			"session_id": ses.ID, "session_number": ses.Number, "session_kind": "user", "status": ses.Status,
			"vendor_data": ses.VendorData, "metadata": metadata, "created_at": timestamp(ses.Created),
			"features": []any{map[string]any{"feature": "FACE_MATCH", "status": ses.Status}}, "score": score,
		})
	}
	link := func(off int) any {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		if r.TLS != nil {
			u.Scheme = "https"
		}
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("limit", strconv.Itoa(limit))
		v.Set("offset", strconv.Itoa(off))
		u.RawQuery = v.Encode()
		return u.String()
	}
	var next, previous any
	if offset+limit < count {
		next = link(offset + limit)
	}
	if offset > 0 {
		previous = link(max(0, offset-limit))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": count, "next": next, "previous": previous, "results": results})
}

// listDate reads a date_from or date_to: a date (the whole day, both ends inclusive) or a
// date-time; "" is no bound. ok is false for anything else.
func listDate(v string, end bool) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			return d.Add(24*time.Hour - time.Nanosecond), true
		}
		return d, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}
