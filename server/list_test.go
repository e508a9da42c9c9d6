package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// listPage is the body of GET /v3/sessions/.
type listPage struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []struct {
		SessionID     string          `json:"session_id"`
		SessionNumber int64           `json:"session_number"`
		SessionKind   string          `json:"session_kind"`
		Status        string          `json:"status"`
		VendorData    *string         `json:"vendor_data"`
		Metadata      json.RawMessage `json:"metadata"`
		CreatedAt     string          `json:"created_at"`
		Features      []struct {
			Feature string `json:"feature"`
			Status  string `json:"status"`
		} `json:"features"`
		Score *float64 `json:"score"`
	} `json:"results"`
}

func (e *env) list(key, query string) response {
	e.t.Helper()
	return e.do(e.request(http.MethodGet, "/v3/sessions/?"+query, key, nil, ""))
}

func (e *env) listOf(key, query string) listPage {
	e.t.Helper()
	r := e.list(key, query)
	wantStatus(e.t, r, http.StatusOK)
	var p listPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// saveSessions saves one session per vendor_data value, a minute apart; a value starting
// with "declined" is saved with a threshold above the score, so it is Declined.
func (e *env) saveSessions(key string, vendors ...string) []string {
	e.t.Helper()
	var ids []string
	for _, v := range vendors {
		fields := []string{"vendor_data", v, "metadata", `{"v": "` + v + `"}`}
		if strings.HasPrefix(v, "declined") {
			fields = append(fields, "face_match_score_decline_threshold", "95")
		}
		r := e.faceMatch(key, photo(e.t, "barack_obama/obama_small.jpg"), photo(e.t, "barack_obama/obama-240p.jpg"), fields...)
		wantStatus(e.t, r, http.StatusOK)
		ids = append(ids, faceMatchOf(e.t, r).RequestID)
		e.clock.Add(time.Minute)
	}
	return ids
}

// [FM-SES-5] GET /v3/sessions/ lists the application's saved sessions newest first, in the
// provider's row shape, as a limit/offset page whose links keep the filters.
func TestListSessionsPageAndShape(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(20, facematch.ModeLive)
	other := e.appIn(k.org, facematch.ModeLive)
	ids := e.saveSessions(k.key, "alice-1", "bob-1", "declined-alice", "alice-2", "carol")
	e.saveSessions(other.key, "alice-1")
	// A transient call is no session.
	wantStatus(t, e.faceMatch(k.key, photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg"), "save_api_request", "false", "vendor_data", "alice-1"), http.StatusOK)

	p := e.listOf(k.key, "")
	if p.Count != 5 || len(p.Results) != 5 || p.Next != nil || p.Previous != nil {
		t.Fatalf("count %d, %d results, next %v, previous %v", p.Count, len(p.Results), p.Next, p.Previous)
	}
	for i, row := range p.Results {
		if row.SessionID != ids[len(ids)-1-i] {
			t.Fatalf("row %d is %s, want %s: not newest first", i, row.SessionID, ids[len(ids)-1-i])
		}
	}
	row := p.Results[2] // declined-alice
	if row.SessionKind != "user" || row.Status != facematch.StatusDeclined || *row.VendorData != "declined-alice" ||
		string(row.Metadata) != `{"v":"declined-alice"}` || row.Score == nil || *row.Score != fixedScore ||
		len(row.Features) != 1 || row.Features[0].Feature != "FACE_MATCH" || row.Features[0].Status != facematch.StatusDeclined {
		t.Fatalf("row %+v", row)
	}
	if p.Results[0].SessionNumber <= p.Results[1].SessionNumber {
		t.Fatal("session numbers do not follow creation")
	}

	// Pages of 2 with a filter: next and previous are absolute and keep it.
	p = e.listOf(k.key, "search=ALICE&limit=2")
	if p.Count != 3 || len(p.Results) != 2 || p.Previous != nil || p.Next == nil {
		t.Fatalf("first page: %+v", p)
	}
	next, err := url.Parse(*p.Next)
	if err != nil || next.Scheme != "http" || next.Host == "" || next.Query().Get("search") != "ALICE" || next.Query().Get("offset") != "2" || next.Query().Get("limit") != "2" {
		t.Fatalf("next %q", *p.Next)
	}
	p2 := e.listOf(k.key, next.RawQuery)
	if p2.Count != 3 || len(p2.Results) != 1 || p2.Next != nil || p2.Previous == nil || *p2.Results[0].VendorData != "alice-1" {
		t.Fatalf("second page: %+v", p2)
	}
	prev, _ := url.Parse(*p2.Previous)
	if prev.Query().Has("offset") || prev.Query().Get("search") != "ALICE" {
		t.Fatalf("previous %q", *p2.Previous)
	}
	// A middle page's previous keeps its offset.
	p3 := e.listOf(k.key, "limit=1&offset=3")
	if prev, _ := url.Parse(*p3.Previous); prev.Query().Get("offset") != "2" {
		t.Fatalf("previous %q", *p3.Previous)
	}
	// Past the end: an empty page that still counts.
	if p := e.listOf(k.key, "offset=50"); p.Count != 5 || len(p.Results) != 0 || p.Next != nil || p.Previous == nil {
		t.Fatalf("past the end: %+v", p)
	}
}

// [FM-SES-5] The filters vendor_data (exact), search, status, date_from and date_to combine
// with AND; a deleted session is no longer listed; another application's are never listed.
func TestListSessionsFilters(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(20, facematch.ModeLive)
	other := e.tenant(20, facematch.ModeLive)
	start := e.clock.Now()
	ids := e.saveSessions(k.key, "alice-1", "bob-1", "declined-alice", "alice-2", "carol")
	e.saveSessions(other.key, "alice-1", "alice-1")

	count := func(q string) int { return e.listOf(k.key, q).Count }
	day := start.Format(time.DateOnly)
	cases := map[string]int{
		"vendor_data=alice-1":                  1,
		"vendor_data=alice":                    0,
		"search=Alice":                         3,
		"search=%25":                           0,
		"status=Declined":                      1,
		"status=Approved,Declined":             5,
		"status=Approved&search=alice":         2,
		"date_from=" + day + "&date_to=" + day: 5,
		"date_to=" + start.Add(-time.Hour).Format(time.RFC3339):                                           0,
		"date_from=" + url.QueryEscape(start.Add(90*time.Second).Format(time.RFC3339)):                    3,
		"date_from=" + url.QueryEscape(start.Add(time.Minute).Format("2006-01-02T15:04:05.000000+00:00")): 4,
		"date_to=" + url.QueryEscape(start.Add(time.Minute).Format(time.RFC3339)) + "&search=alice":       1,
		"vendor_data=": 5,
	}
	for q, want := range cases {
		if got := count(q); got != want {
			t.Errorf("%s: count %d, want %d", q, got, want)
		}
	}
	wantStatus(t, e.deleteSession(k.key, ids[0]), http.StatusNoContent)
	if got := count("vendor_data=alice-1"); got != 0 {
		t.Fatalf("a deleted session is still listed (%d)", got)
	}
	if got := e.listOf(other.key, "").Count; got != 2 {
		t.Fatalf("the other application lists %d sessions, want its own 2", got)
	}
}

// [FM-SES-5] [FM-VAL-1] An invalid parameter answers 400 keyed by its name, all at once.
func TestListSessionsInvalidParameters(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(0, facematch.ModeLive)
	cases := map[string][]string{
		"limit=0":             {"limit"},
		"limit=201":           {"limit"},
		"limit=abc":           {"limit"},
		"offset=-1":           {"offset"},
		"offset=1.5":          {"offset"},
		"status=Pending":      {"status"},
		"status=Approved,":    {"status"},
		"date_from=yesterday": {"date_from"},
		"date_to=2026-13-01":  {"date_to"},
		"date_from=2026-06-02&date_to=2026-06-01":   {"date_to"},
		"limit=0&offset=x&status=nope&date_from=no": {"limit", "offset", "status", "date_from"},
	}
	for q, fields := range cases {
		t.Run(q, func(t *testing.T) {
			wantFields(t, e.list(k.key, q), fields...)
		})
	}
	wantStatus(t, e.list(k.key, "limit=200&offset=0"), http.StatusOK)
}

// [FM-SES-5] [FM-RL-1] [FM-AUTH-1] The list needs a key and uses the GET budget, not the
// write one.
func TestListSessionsKeyAndBudget(t *testing.T) {
	e := newEnv(t, withLimits(1, 2))
	k := e.tenant(0, facematch.ModeLive)
	wantStatus(t, e.list("", ""), http.StatusForbidden)
	r := e.list(k.key, "")
	wantStatus(t, r, http.StatusOK)
	if r.header.Get("X-RateLimit-Limit") != "2" {
		t.Fatalf("X-RateLimit-Limit %q: not the GET budget", r.header.Get("X-RateLimit-Limit"))
	}
	wantStatus(t, e.list(k.key, ""), http.StatusOK)
	wantStatus(t, e.list(k.key, ""), http.StatusTooManyRequests)
	// The write budget is untouched.
	wantStatus(t, e.deleteSession(k.key, "3f1c9c5e-3b7e-4d0e-9a51-2d2f6f3f9a10"), http.StatusNotFound)
}
