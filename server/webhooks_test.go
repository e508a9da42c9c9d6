package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
)

var secretPattern = regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{43}=$`)

func (e *env) jsonRequest(method, path, key string, body any) response {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	return e.do(e.request(method, path, key, r, "application/json"))
}

// createDestination creates a destination, subscribed to status.updated unless body says
// otherwise.
func (e *env) createDestination(key string, body map[string]any) map[string]any {
	e.t.Helper()
	if _, ok := body["subscribed_events"]; !ok {
		body["subscribed_events"] = []string{facematch.EventStatusUpdated}
	}
	r := e.jsonRequest(http.MethodPost, "/v3/webhook/destinations/", key, body)
	wantStatus(e.t, r, http.StatusCreated)
	return r.json(e.t)
}

// [FM-WH-1] Destinations: create (secret shown), list and get (no secret), patch any field or
// rotate the secret, delete; per application; counted in the write budget.
func TestWebhookDestinationsAPI(t *testing.T) {
	e := newEnv(t, withPrivateWebhooks())
	k := e.tenant(0, facematch.ModeLive)
	other := e.tenant(0, facematch.ModeSandbox)
	d := e.createDestination(k.key, map[string]any{"label": "backend", "url": "http://127.0.0.1:9/hook"})
	id := d["uuid"].(string)
	secret, _ := d["secret_shared_key"].(string)
	if !secretPattern.MatchString(secret) || d["webhook_version"] != "v3" || d["enabled"] != true ||
		fmtJSON(d["subscribed_events"]) != `["status.updated"]` || d["created_at"] != d["updated_at"] {
		t.Fatalf("created %v", d)
	}
	if raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); len(raw) != 32 {
		t.Fatalf("secret holds %d bytes, want 32", len(raw))
	}
	list := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/", k.key, nil)
	wantStatus(t, list, http.StatusOK)
	if bytes.Contains(list.body, []byte("secret")) || !bytes.Contains(list.body, []byte(id)) || list.body[0] != '[' {
		t.Fatalf("list %s", list.body)
	}
	one := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/"+id+"/", k.key, nil)
	wantStatus(t, one, http.StatusOK)
	if bytes.Contains(one.body, []byte("secret")) || fmtJSON(one.json(t)["summary"]) !=
		`{"avg_response_time_ms":null,"error_rate_percentage":0,"failed_deliveries":0,"last_delivery_at":null,"max_response_time_ms":null,"min_response_time_ms":null,"total_deliveries":0}` {
		t.Fatalf("get %s", one.body)
	}
	e.clock.Add(time.Second)
	p := e.jsonRequest(http.MethodPatch, "/v3/webhook/destinations/"+id+"/", k.key, map[string]any{"label": "renamed", "enabled": false})
	wantStatus(t, p, http.StatusOK)
	pj := p.json(t)
	if pj["label"] != "renamed" || pj["enabled"] != false || pj["secret_shared_key"] != nil || pj["updated_at"] == pj["created_at"] {
		t.Fatalf("patched %s", p.body)
	}
	rot := e.jsonRequest(http.MethodPatch, "/v3/webhook/destinations/"+id+"/", k.key, map[string]any{"rotate_secret_key": true})
	wantStatus(t, rot, http.StatusOK)
	if s2, _ := rot.json(t)["secret_shared_key"].(string); !secretPattern.MatchString(s2) || s2 == secret {
		t.Fatalf("rotated secret %q (was %q)", s2, secret)
	}
	// Validation.
	for _, c := range []struct {
		method, path string
		body         any
		fields       []string
	}{
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{}, []string{"label", "url", "subscribed_events"}},
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{"label": "x", "url": "http://127.0.0.1:9/"}, []string{"subscribed_events"}},
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{"label": "x", "url": "http://127.0.0.1:9/", "subscribed_events": []string{"status.updated"}, "webhook_version": "v4"}, []string{"webhook_version"}},
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{"label": "x", "url": "ftp://example.com/", "subscribed_events": []string{"status.updated"}}, []string{"url"}},
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{"label": "x", "url": "http://127.0.0.1:9/", "subscribed_events": []string{}}, []string{"subscribed_events"}},
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{"label": "x", "url": "http://127.0.0.1:9/", "subscribed_events": []string{"session.deleted"}}, []string{"subscribed_events"}},
		{http.MethodPost, "/v3/webhook/destinations/", map[string]any{"label": "", "url": "http://127.0.0.1:9/", "subscribed_events": []string{"status.updated"}, "enabled": "yes"}, []string{"label", "enabled"}},
		{http.MethodPatch, "/v3/webhook/destinations/" + id + "/", map[string]any{"webhook_version": "3"}, []string{"webhook_version"}},
		{http.MethodPost, "/v3/webhook/destinations/", []int{1}, []string{"non_field_errors"}},
		{http.MethodPatch, "/v3/webhook/destinations/" + id + "/", map[string]any{"colour": "blue"}, []string{"non_field_errors"}},
	} {
		wantFields(t, e.jsonRequest(c.method, c.path, k.key, c.body), c.fields...)
	}
	// Per application: the sandbox application of another organization sees none of it, and
	// may manage its own.
	for _, r := range []response{
		e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/"+id+"/", other.key, nil),
		e.jsonRequest(http.MethodPatch, "/v3/webhook/destinations/"+id+"/", other.key, map[string]any{"label": "mine"}),
		e.jsonRequest(http.MethodDelete, "/v3/webhook/destinations/"+id+"/", other.key, nil),
		e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/not-a-uuid/", k.key, nil),
	} {
		wantStatus(t, r, http.StatusNotFound)
	}
	if l := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/", other.key, nil); string(l.body) != "[]" {
		t.Fatalf("another application lists %s", l.body)
	}
	e.createDestination(other.key, map[string]any{"label": "sdk", "url": "http://127.0.0.1:9/"})
	del := e.jsonRequest(http.MethodDelete, "/v3/webhook/destinations/"+id+"/", k.key, nil)
	wantStatus(t, del, http.StatusNoContent)
	wantStatus(t, e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/"+id+"/", k.key, nil), http.StatusNotFound)
	// Every one of those writes counted in the key's write budget.
	if rem, _ := strconv.Atoi(del.header.Get("X-RateLimit-Remaining")); rem != 300-14 {
		t.Fatalf("write budget left %d, want %d", rem, 300-14)
	}
}

// [FM-WH-5] Link-local and metadata addresses are always refused; private and loopback ones
// only when the operator allows them.
func TestWebhookURLGuard(t *testing.T) {
	strict := newEnv(t)
	ks := strict.tenant(0, facematch.ModeLive)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/hook", "http://10.0.0.5/hook", "http://[::1]/hook", "http://[fe80::1]/x"} {
		m := wantFields(t, strict.jsonRequest(http.MethodPost, "/v3/webhook/destinations/", ks.key, map[string]any{"label": "x", "url": u, "subscribed_events": []string{"status.updated"}}), "url")
		if !strings.Contains(m["url"][0], "address") {
			t.Errorf("%s: %v", u, m)
		}
	}
	loose := newEnv(t, withPrivateWebhooks())
	kl := loose.tenant(0, facematch.ModeLive)
	// Deny by default, and an IPv6 address is judged by the IPv4 address it embeds: NAT64, 6to4,
	// Teredo and IPv4-mapped wrappings of the metadata address are refused even when private
	// addresses are allowed.
	for _, u := range []string{"http://169.254.169.254/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
		"http://[2001:0:4136:e378:8000:63bf:5601:5601]/", "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::6464:64c8]/",
		"http://192.0.2.10/", "http://[2001:db8::1]/"} {
		m := wantFields(t, loose.jsonRequest(http.MethodPost, "/v3/webhook/destinations/", kl.key, map[string]any{"label": "x", "url": u, "subscribed_events": []string{"status.updated"}}), "url")
		if !strings.Contains(m["url"][0], "address") {
			t.Errorf("%s: %v", u, m)
		}
	}
	d := loose.createDestination(kl.key, map[string]any{"label": "x", "url": "http://127.0.0.1:8080/hook"})
	wantFields(t, loose.jsonRequest(http.MethodPatch, "/v3/webhook/destinations/"+d["uuid"].(string)+"/", kl.key, map[string]any{"url": "http://169.254.169.254/"}), "url")
}

// receiver is a webhook endpoint that records what it gets and answers from a script.
type receiver struct {
	mu       sync.Mutex
	got      []delivery
	statuses []int // answers in order; 200 once they run out
	srv      *httptest.Server
	arrived  chan struct{}
}

type delivery struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, arrived: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body, at: time.Now()})
		status := 200
		if len(r.got) <= len(r.statuses) {
			status = r.statuses[len(r.got)-1]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		got := append([]delivery{}, r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("%d deliveries arrived, want %d", len(got), n)
		}
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// The signature checks below are written from the spec, independently of package webhook.

func hexHMAC(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// canonicalize re-encodes a JSON body the way FM-WH-3 describes: sorted keys, compact,
// integral floats as integers, non-ASCII unescaped.
func canonicalize(t *testing.T, body []byte) []byte {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // maps encode with sorted keys; float64 100 encodes as 100
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// verifyStandardWebhook checks a delivery the way a Standard Webhooks library does: the
// signature over "{id}.{timestamp}.{body}" with the base64-decoded secret, and a timestamp within
// five minutes.
func verifyStandardWebhook(t *testing.T, secret string, h http.Header, body []byte, now time.Time) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		t.Fatalf("webhook-timestamp %q is not within 5 minutes of %v", ts, now)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return
		}
	}
	t.Fatalf("webhook-signature %q does not verify", h.Get("webhook-signature"))
}

// [FM-WH-2] [FM-WH-3] [FM-WH-6] A saved live call sends one status.updated to each enabled,
// subscribed destination: the documented body in canonical form, and every signature
// verifiable from the secret alone.
func TestWebhookDeliveryBodyAndSignatures(t *testing.T) {
	e := newEnv(t, withPrivateWebhooks())
	k := e.tenant(5, facematch.ModeLive)
	rA, rB := newReceiver(t), newReceiver(t)
	dA := e.createDestination(k.key, map[string]any{"label": "a", "url": rA.srv.URL + "/hook"})
	dB := e.createDestination(k.key, map[string]any{"label": "b", "url": rB.srv.URL + "/hook", "subscribed_events": []string{"status.updated"}})
	resp := faceMatchOf(t, e.faceMatch(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"),
		"vendor_data", "Zoë <user-1>", "metadata", `{"flow": "kyc", "n": 1.0}`))

	for _, c := range []struct {
		r *receiver
		d map[string]any
	}{{rA, dA}, {rB, dB}} {
		got := c.r.wait(t, 1)[0]
		secret := c.d["secret_shared_key"].(string)
		body, h := got.body, got.header
		if !bytes.Equal(body, canonicalize(t, body)) {
			t.Fatalf("body is not canonical JSON:\n%s\n%s", body, canonicalize(t, body))
		}
		var ev map[string]any
		json.Unmarshal(body, &ev)
		for f, want := range map[string]string{
			"session_id": `"` + resp.RequestID + `"`, "status": `"Approved"`, "webhook_type": `"status.updated"`,
			"vendor_data": `"Zoë <user-1>"`, "metadata": `{"flow":"kyc","n":1}`, "workflow_id": "null",
		} {
			if fmtJSON(ev[f]) != want {
				t.Errorf("%s = %s, want %s", f, fmtJSON(ev[f]), want)
			}
		}
		if len(ev) != 9 {
			t.Errorf("body has %d fields: %s", len(ev), body)
		}
		if ts, ok := ev["timestamp"].(float64); !ok || ts != float64(int64(ts)) || int64(ts) != e.clock.Now().Unix() {
			t.Errorf("timestamp %v", ev["timestamp"])
		}
		if ca := int64(ev["created_at"].(float64)); ca != time.Time(resp.CreatedAt).Unix() {
			t.Errorf("created_at %d, call's %d", ca, time.Time(resp.CreatedAt).Unix())
		}
		dec := ev["decision"].(map[string]any)
		if dec["session_id"] != resp.RequestID || dec["session_number"] != 1.0 || dec["session_kind"] != "user" ||
			fmtJSON(dec["face_matches"].([]any)[0].(map[string]any)["score"]) != fmtJSON(resp.FaceMatch.Score) {
			t.Errorf("decision %s", fmtJSON(dec))
		}
		ts := h.Get("X-Timestamp")
		if h.Get("X-Signature") != hexHMAC([]byte(secret), body) {
			t.Error("X-Signature does not verify")
		}
		if h.Get("X-Signature-V2") != hexHMAC([]byte(secret), canonicalize(t, body)) {
			t.Error("X-Signature-V2 does not verify")
		}
		simple := fmt.Sprintf("%d:%s:%s:%s", int64(ev["timestamp"].(float64)), resp.RequestID, "Approved", "status.updated")
		if h.Get("X-Signature-Simple") != hexHMAC([]byte(secret), []byte(simple)) {
			t.Error("X-Signature-Simple does not verify")
		}
		if _, err := uuid.Parse(h.Get("X-Webhook-Id")); err != nil || h.Get("webhook-id") != h.Get("X-Webhook-Id") || h.Get("webhook-timestamp") != ts {
			t.Errorf("ids and timestamps: %v", h)
		}
		verifyStandardWebhook(t, secret, h, body, e.clock.Now())
	}
	wA, wB := rA.wait(t, 1)[0].header.Get("X-Webhook-Id"), rB.wait(t, 1)[0].header.Get("X-Webhook-Id")
	if wA == wB {
		t.Fatal("two destinations got the same webhook id")
	}
	time.Sleep(200 * time.Millisecond)
	if rA.count() != 1 || rB.count() != 1 {
		t.Fatalf("deliveries: %d and %d, want one each", rA.count(), rB.count())
	}
}

// [FM-WH-4] Failed attempts are retried with backoff and the same webhook id; every attempt is
// recorded; a 4xx other than 404, 408 and 429 ends the delivery.
func TestWebhookRetries(t *testing.T) {
	e := newEnv(t, withPrivateWebhooks())
	k := e.tenant(5, facematch.ModeLive)
	flaky := newReceiver(t, http.StatusServiceUnavailable, http.StatusTooManyRequests)
	d := e.createDestination(k.key, map[string]any{"label": "flaky", "url": flaky.srv.URL})
	e.score(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))
	dest := d["uuid"].(string)
	e.waitAttempts(dest, 1)
	time.Sleep(100 * time.Millisecond)
	if flaky.count() != 1 {
		t.Fatal("retried before the backoff")
	}
	e.clock.Add(time.Minute) // first backoff
	e.waitAttempts(dest, 2)
	e.clock.Add(4 * time.Minute) // second backoff
	e.waitAttempts(dest, 3)
	got := flaky.wait(t, 3)
	secret := d["secret_shared_key"].(string)
	for i, g := range got {
		if g.header.Get("X-Webhook-Id") != got[0].header.Get("X-Webhook-Id") {
			t.Fatal("the webhook id changed between attempts")
		}
		// [FM-WH-3] Each attempt is rendered and signed again at its own time: the body's
		// timestamp is X-Timestamp and webhook-timestamp, and every signature verifies.
		var ev struct {
			Timestamp   int64  `json:"timestamp"`
			SessionID   string `json:"session_id"`
			Status      string `json:"status"`
			WebhookType string `json:"webhook_type"`
		}
		json.Unmarshal(g.body, &ev)
		ts := strconv.FormatInt(ev.Timestamp, 10)
		if g.header.Get("X-Timestamp") != ts || g.header.Get("webhook-timestamp") != ts {
			t.Fatalf("attempt %d: body timestamp %s, X-Timestamp %s, webhook-timestamp %s", i+1, ts, g.header.Get("X-Timestamp"), g.header.Get("webhook-timestamp"))
		}
		simple := g.header.Get("X-Timestamp") + ":" + ev.SessionID + ":" + ev.Status + ":" + ev.WebhookType
		if g.header.Get("X-Signature-Simple") != hexHMAC([]byte(secret), []byte(simple)) || g.header.Get("X-Signature") != hexHMAC([]byte(secret), g.body) ||
			!bytes.Equal(g.body, canonicalize(t, g.body)) {
			t.Fatalf("attempt %d: signatures do not verify over the header's timestamp and the sent body", i+1)
		}
	}
	// The attempts were made 0, 1 and 5 minutes after the call, on the test's clock.
	t0, _ := strconv.ParseInt(got[0].header.Get("X-Timestamp"), 10, 64)
	t1, _ := strconv.ParseInt(got[1].header.Get("X-Timestamp"), 10, 64)
	t2, _ := strconv.ParseInt(got[2].header.Get("X-Timestamp"), 10, 64)
	if t1-t0 != 60 || t2-t0 != 300 {
		t.Fatalf("attempt timestamps %d, %d, %d: want each attempt's own time", t0, t1, t2)
	}
	verifyStandardWebhook(t, secret, got[2].header, got[2].body, e.clock.Now())
	e.clock.Add(time.Hour)
	time.Sleep(200 * time.Millisecond)
	if flaky.count() != 3 {
		t.Fatalf("%d attempts after success", flaky.count())
	}
	sum := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/"+d["uuid"].(string)+"/", k.key, nil).json(t)["summary"].(map[string]any)
	if sum["total_deliveries"] != 3.0 || sum["failed_deliveries"] != 2.0 || sum["error_rate_percentage"] != 66.67 ||
		sum["min_response_time_ms"] == nil || sum["avg_response_time_ms"] == nil || sum["max_response_time_ms"] == nil || sum["last_delivery_at"] == nil {
		t.Fatalf("summary %v", sum)
	}

	// A 400 ends the delivery at once.
	refusing := newReceiver(t, http.StatusBadRequest, http.StatusBadRequest)
	e.createDestination(k.key, map[string]any{"label": "refusing", "url": refusing.srv.URL})
	e.score(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))
	refusing.wait(t, 1)
	time.Sleep(100 * time.Millisecond)
	e.clock.Add(2 * time.Hour)
	time.Sleep(200 * time.Millisecond)
	if refusing.count() != 1 {
		t.Fatalf("a 400 was retried: %d attempts", refusing.count())
	}
	// A receiver that cannot be reached is retried, and given up after the last backoff.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	gone := e.createDestination(k.key, map[string]any{"label": "gone", "url": deadURL})
	e.score(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))
	for n := 1; n <= 3; n++ {
		e.waitAttempts(gone["uuid"].(string), n)
		e.clock.Add(10 * time.Minute)
	}
	time.Sleep(200 * time.Millisecond)
	s := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/"+gone["uuid"].(string)+"/", k.key, nil).json(t)["summary"].(map[string]any)
	if s["total_deliveries"] != 3.0 || s["failed_deliveries"] != 3.0 || s["error_rate_percentage"] != 100.0 || s["min_response_time_ms"] != nil {
		t.Fatalf("unreachable receiver: summary %v, want 3 failed attempts (1 + the 2 retries of the test's backoff)", s)
	}
}

// waitAttempts waits until n attempts to a destination are recorded.
func (e *env) waitAttempts(destinationID string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := e.db.DeliverySummary(context.Background(), destinationID)
		if err != nil {
			e.t.Fatal(err)
		}
		if s.Total >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d attempts recorded, want %d", s.Total, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// [FM-WH-2] Sandbox calls, calls with save_api_request=false, and disabled or unsubscribed
// destinations send nothing.
func TestWebhookNothingSent(t *testing.T) {
	e := newEnv(t, withPrivateWebhooks())
	live := e.tenant(5, facematch.ModeLive)
	sb := e.appIn(live.org, facematch.ModeSandbox)
	r := newReceiver(t)
	e.createDestination(sb.key, map[string]any{"label": "sandbox", "url": r.srv.URL})
	e.createDestination(live.key, map[string]any{"label": "disabled", "url": r.srv.URL, "enabled": false})
	// [FM-WH-1] A destination subscribed only to documented events this API does not emit.
	e.createDestination(live.key, map[string]any{"label": "other", "url": r.srv.URL, "subscribed_events": []string{"data.updated", "transaction.created"}})
	wantStatus(t, e.faceMatch(sb.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg")), http.StatusOK)
	e.score(live.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"), "save_api_request", "false")
	e.score(live.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))
	time.Sleep(300 * time.Millisecond)
	if n := r.count(); n != 0 {
		t.Fatalf("%d deliveries sent", n)
	}
}
