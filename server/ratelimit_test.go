package server_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
)

var throttledBody = regexp.MustCompile(`^\{"detail":"Request was throttled\. Expected available in ([0-9]+) seconds\."\}$`)

// [FM-RL-1] Writes share one budget of 300 per sliding minute, whatever their method; the 301st
// is a 429 with Retry-After and the X-RateLimit-* headers; GETs have a budget of their own; the
// window slides.
func TestRateLimitWritesAndReads(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(0, facematch.ModeLive)
	start := e.clock.Now()
	methods := []string{http.MethodPost, http.MethodPatch, http.MethodDelete}
	for i := 1; i <= 300; i++ {
		m := methods[i%3]
		path := "/v3/session/" + uuid.NewString() + "/delete/"
		if m == http.MethodPost {
			path = "/v3/face-match/"
		}
		r := e.do(e.request(m, path, k.key, nil, ""))
		if r.status == http.StatusTooManyRequests {
			t.Fatalf("write %d (%s) throttled", i, m)
		}
		if got := r.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(300-i) {
			t.Fatalf("write %d: X-RateLimit-Remaining %q, want %d", i, got, 300-i)
		}
		if i == 150 {
			e.clock.Add(20 * time.Second) // half the writes come 20 seconds later
		}
	}
	r := e.deleteSession(k.key, uuid.NewString())
	wantStatus(t, r, http.StatusTooManyRequests)
	m := throttledBody.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("body %s", r.body)
	}
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if retry != 40 || string(m[1]) != "40" {
		t.Fatalf("Retry-After %q, body says %s; want 40 (the oldest write frees its slot 60 s after it came)", r.header.Get("Retry-After"), m[1])
	}
	if r.header.Get("X-RateLimit-Limit") != "300" || r.header.Get("X-RateLimit-Remaining") != "0" ||
		r.header.Get("X-RateLimit-Reset") != strconv.FormatInt(start.Add(time.Minute).Unix(), 10) {
		t.Fatalf("headers %v", r.header)
	}
	// POST and PATCH are refused too: one budget for all writes.
	wantStatus(t, e.do(e.request(http.MethodPost, "/v3/face-match/", k.key, nil, "")), http.StatusTooManyRequests)
	wantStatus(t, e.do(e.request(http.MethodPatch, "/v3/face-match/", k.key, nil, "")), http.StatusTooManyRequests)
	// Reads have their own budget.
	g := e.decision(k.key, uuid.NewString())
	wantStatus(t, g, http.StatusNotFound)
	if g.header.Get("X-RateLimit-Limit") != "600" || g.header.Get("X-RateLimit-Remaining") != "599" {
		t.Fatalf("read headers %v", g.header)
	}
	// Another key of the same application has its own budget.
	other := e.appIn(k.org, facematch.ModeLive)
	wantStatus(t, e.deleteSession(other.key, uuid.NewString()), http.StatusNotFound)
	// The window slides: 40 seconds on, the first 150 writes have left it.
	e.clock.Add(40 * time.Second)
	r = e.deleteSession(k.key, uuid.NewString())
	wantStatus(t, r, http.StatusNotFound)
	if r.header.Get("X-RateLimit-Remaining") != "149" {
		t.Fatalf("after the window slid: remaining %q, want 149", r.header.Get("X-RateLimit-Remaining"))
	}
}

// [FM-RL-1] The read budget: the 601st GET in a minute is a 429.
func TestRateLimitReads(t *testing.T) {
	e := newEnv(t, withLimits(3, 5))
	k := e.tenant(0, facematch.ModeLive)
	for i := 0; i < 5; i++ {
		wantStatus(t, e.decision(k.key, uuid.NewString()), http.StatusNotFound)
	}
	r := e.decision(k.key, uuid.NewString())
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" || r.header.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("headers %v", r.header)
	}
}

// [FM-RL-2] The three X-RateLimit-* headers are on every answer to a valid key: 200, 204, 400,
// 403 (credits), 404, 405, 429.
func TestRateLimitHeadersOnEveryAnswer(t *testing.T) {
	e := newEnv(t, withLimits(5, 600))
	live := e.tenant(1, facematch.ModeLive)
	ok := e.faceMatch(live.key, photo(t, "joe_biden/biden2.jpg"), photo(t, "joe_biden/biden.jpg"))
	id := faceMatchOf(t, ok).RequestID
	answers := []response{
		ok,
		e.faceMatch(live.key, photo(t, "joe_biden/biden2.jpg"), photo(t, "joe_biden/biden.jpg")), // no credit left: 403
		e.do(e.request(http.MethodPost, "/v3/face-match/", live.key, nil, "application/json")),   // 400
		e.decision(live.key, id),
		e.decision(live.key, uuid.NewString()), // 404
		e.do(e.request(http.MethodPut, "/v3/face-match/", live.key, nil, "")),
		e.deleteSession(live.key, id), // 204
		e.deleteSession(live.key, id), // the 7th write: 429
	}
	wantStatuses := []int{200, 403, 400, 200, 404, 405, 204, 429}
	for i, r := range answers {
		if r.status != wantStatuses[i] {
			t.Fatalf("answer %d: status %d, want %d: %s", i, r.status, wantStatuses[i], r.body)
		}
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if _, err := strconv.Atoi(r.header.Get(h)); err != nil {
				t.Errorf("answer %d (%d): %s = %q", i, r.status, h, r.header.Get(h))
			}
		}
	}
}

// [FM-RL-3] The order of checks: key, then rate limit, then validation, then credits. A
// throttled call consumes no credit and stores nothing.
func TestRateLimitOrderOfChecks(t *testing.T) {
	e := newEnv(t, withLimits(2, 600))
	k := e.tenant(1, facematch.ModeLive)
	broke := e.tenant(0, facematch.ModeLive)
	good := func() (file, file) { return photo(t, "joe_biden/biden2.jpg"), photo(t, "joe_biden/biden.jpg") }

	// Validation comes before credits: an organization without credit gets the 400 first.
	u, _ := good()
	r := e.faceMatch(broke.key, u, file{name: "ref.gif", data: []byte("GIF89a")})
	wantStatus(t, r, http.StatusBadRequest)
	// Credits come after validation: a valid call without credit is the credits 403.
	u, rf := good()
	wantStatus(t, e.faceMatch(broke.key, u, rf), http.StatusForbidden)

	// Spend k's write budget, the second call a valid one that takes the only credit.
	wantStatus(t, e.deleteSession(k.key, uuid.NewString()), http.StatusNotFound)
	u, rf = good()
	wantStatus(t, e.faceMatch(k.key, u, rf), http.StatusOK)
	e.db.AddCredits(t.Context(), k.org.ID, 1)
	// Over budget: a valid call, an invalid one and a bad key answer 429, 429 and 403.
	u, rf = good()
	wantStatus(t, e.faceMatch(k.key, u, rf), http.StatusTooManyRequests)
	wantStatus(t, e.faceMatch(k.key, u, file{name: "x.gif", data: []byte("x")}), http.StatusTooManyRequests)
	wantStatus(t, e.faceMatch("fm_live_nope", u, rf), http.StatusForbidden)
	if c := e.credits(k.org.ID); c != 1 {
		t.Fatalf("a throttled call changed the balance to %d", c)
	}
}
