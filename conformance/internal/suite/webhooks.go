package suite

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/target"
	"github.com/facematch/facematch/conformance/internal/webhooks"
)

// Destination is a webhook destination as the API shows it.
type Destination struct {
	UUID             string   `json:"uuid"`
	Label            string   `json:"label"`
	URL              string   `json:"url"`
	SubscribedEvents []string `json:"subscribed_events"`
	Enabled          bool     `json:"enabled"`
	WebhookVersion   string   `json:"webhook_version"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
	Secret           *string  `json:"secret_shared_key"`
	Summary          *struct {
		TotalDeliveries     int      `json:"total_deliveries"`
		FailedDeliveries    int      `json:"failed_deliveries"`
		ErrorRatePercentage float64  `json:"error_rate_percentage"`
		MinResponseTimeMS   *float64 `json:"min_response_time_ms"`
		AvgResponseTimeMS   *float64 `json:"avg_response_time_ms"`
		MaxResponseTimeMS   *float64 `json:"max_response_time_ms"`
		LastDeliveryAt      *string  `json:"last_delivery_at"`
	} `json:"summary"`
}

// expectSecret checks a secret_shared_key as FM-WH-1 and FM-WH-6 describe it: whsec_ and
// standard base64 of a key. Its length is our choice (x-facematch-pattern): a note.
func expectSecret(secret string) {
	GinkgoHelper()
	Expect(secret).To(HavePrefix("whsec_"), "secret_shared_key does not start with whsec_ (FM-WH-1)")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	Expect(err).NotTo(HaveOccurred(), "the part of secret_shared_key after whsec_ is not standard base64 (FM-WH-6)")
	Expect(raw).NotTo(BeEmpty(), "secret_shared_key holds no key after whsec_")
	if p, ok := extension("SecretSharedKey", "x-facematch-pattern").(string); ok && !regexp.MustCompile(p).MatchString(secret) {
		note("secret_shared_key holds a key of %d bytes; our server's are 32 (x-facematch-pattern %s)", len(raw), p)
	}
}

const destinationsPath = "/v3/webhook/destinations/"

// withEvents is a destination body subscribed to status.updated unless it names its events:
// subscribed_events is required on creation (FM-WH-1), and most specs are about other fields.
func withEvents(body map[string]any) map[string]any {
	if _, ok := body["subscribed_events"]; ok {
		return body
	}
	out := map[string]any{"subscribed_events": []string{"status.updated"}}
	for k, v := range body {
		out[k] = v
	}
	return out
}

// createDestination creates a destination, expects 201 and deletes it when the spec (or the
// Ordered container) ends.
func createDestination(k Key, body map[string]any) Destination {
	GinkgoHelper()
	body = withEvents(body)
	r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: body})
	Expect(r.Status).To(Equal(http.StatusCreated), "body %s", r.Body)
	var d Destination
	r.Decode(&d)
	DeferCleanup(func() {
		do(Call{Method: http.MethodDelete, Path: destinationsPath + d.UUID + "/", Key: k})
	})
	return d
}

func listDestinations(k Key) []Destination {
	GinkgoHelper()
	r := do(Call{Method: http.MethodGet, Path: destinationsPath, Key: k})
	Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
	var ds []Destination
	r.Decode(&ds)
	return ds
}

func getDestination(k Key, id string) Destination {
	GinkgoHelper()
	r := do(Call{Method: http.MethodGet, Path: destinationsPath + id + "/", Key: k})
	Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
	var d Destination
	r.Decode(&d)
	return d
}

func patchDestination(k Key, id string, body map[string]any) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodPatch, Path: destinationsPath + id + "/", Key: k, JSON: body})
}

// destinationURL is a URL a destination may name: an endpoint of the suite's receiver, or a
// public address when there is no receiver (the destination is then created disabled).
func destinationURL() string {
	if env.Receiver != nil {
		return env.Receiver.Endpoint(webhooks.Always(http.StatusOK)).URL
	}
	return "https://8.8.8.8/facematch-conformance"
}

// webhookKey is a live key whose application the webhook specs may fill with destinations: a
// fresh one when the admin CLI is at hand, else the suite's live key.
func webhookKey() Key {
	if env.Target.Main().Admin() != nil {
		return newTenant(50, false, "webhooks")
	}
	return live()
}

// firstBackoff is the server's first retry delay: 1 s for the suite's own servers, else what
// FACEMATCH_WEBHOOK_BACKOFF says; retry specs need it to be short.
func firstBackoff() time.Duration {
	if env.Target.Name() != "external" {
		return time.Second
	}
	first, _, _ := strings.Cut(osGetenv("FACEMATCH_WEBHOOK_BACKOFF"), ",")
	d, err := time.ParseDuration(strings.TrimSpace(first))
	need(err == nil && d > 0 && d <= 10*time.Second,
		"waits for webhook retries: set FACEMATCH_WEBHOOK_BACKOFF to the server's --webhook-backoff, whose first delay must be at most 10s")
	return d
}

// clockSkew is how far the server's clock may be from the suite's.
func clockSkew() int64 {
	if env.Target.Name() == "external" {
		return 300
	}
	return 5
}

// StatusUpdated is the body of a status.updated delivery.
type StatusUpdated struct {
	SessionID   string          `json:"session_id"`
	Status      string          `json:"status"`
	WebhookType string          `json:"webhook_type"`
	VendorData  *string         `json:"vendor_data"`
	Metadata    json.RawMessage `json:"metadata"`
	WorkflowID  *string         `json:"workflow_id"`
	Timestamp   int64           `json:"timestamp"`
	CreatedAt   int64           `json:"created_at"`
	Decision    map[string]any  `json:"decision"`
}

// checkSignatures checks the FM-WH-3 and FM-WH-6 headers of one attempt against secret.
func checkSignatures(a webhooks.Attempt, secret string) {
	GinkgoHelper()
	checkBodySignatures(a, secret)
	var ev StatusUpdated
	Expect(json.Unmarshal(a.Body, &ev)).To(Succeed(), "body %s", a.Body)
	h := a.Header
	ts := h.Get("X-Timestamp")
	tsn, err := strconv.ParseInt(ts, 10, 64)
	Expect(err).NotTo(HaveOccurred(), "X-Timestamp %q is not Unix seconds", ts)
	Expect(tsn).To(BeNumerically("~", a.At.Unix(), clockSkew()), "X-Timestamp is not the time of the attempt")
	v2, err := webhooks.SignatureV2(secret, a.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(h.Get("X-Signature-V2")).To(Equal(v2), "X-Signature-V2 is not the HMAC of the canonical JSON")
	simple := webhooks.SignatureSimple(secret, ev.Timestamp, ev.SessionID, ev.Status, ev.WebhookType)
	if got := h.Get("X-Signature-Simple"); got != simple {
		hint := ""
		if got == webhooks.SignatureSimple(secret, tsn, ev.SessionID, ev.Status, ev.WebhookType) {
			hint = fmt.Sprintf(": it signs X-Timestamp (%d), where openapi.yaml builds the string from the body's fields (timestamp %d)", tsn, ev.Timestamp)
		}
		Fail(fmt.Sprintf("X-Signature-Simple %s is not the HMAC of %q%s (attempt %d of webhook %s)", got,
			fmt.Sprintf("%d:%s:%s:%s", ev.Timestamp, ev.SessionID, ev.Status, ev.WebhookType), hint, a.Attempt+1, a.WebhookID()))
	}
}

// checkBodySignatures checks the signatures over the body alone, X-Signature and the Standard
// Webhooks one, and the delivery ids: what a receiver of a retried delivery verifies.
func checkBodySignatures(a webhooks.Attempt, secret string) {
	GinkgoHelper()
	h := a.Header
	ts := h.Get("X-Timestamp")
	Expect(h.Get("X-Signature")).To(Equal(webhooks.Signature(secret, a.Body)), "X-Signature is not the hex HMAC-SHA256 of the raw body keyed with the whole secret")
	Expect(a.WebhookID()).NotTo(BeEmpty(), "no X-Webhook-Id (FM-WH-3)")
	if uuid.Validate(a.WebhookID()) != nil {
		note("X-Webhook-Id values are not UUIDs, as our server's are (x-facematch-format: uuid)")
	}
	Expect(h.Get("webhook-id")).To(Equal(a.WebhookID()), "webhook-id differs from X-Webhook-Id")
	Expect(h.Get("webhook-timestamp")).To(Equal(ts), "webhook-timestamp differs from X-Timestamp")
	std, err := webhooks.StandardSignature(secret, h.Get("webhook-id"), h.Get("webhook-timestamp"), a.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(webhooks.StandardSignatureMatches(h.Get("webhook-signature"), std)).To(BeTrue(),
		"webhook-signature %q does not hold %s", h.Get("webhook-signature"), std)
}

// checkBody checks a status.updated body against openapi.yaml's StatusUpdated schema, the
// serialization rule and the session it reports.
func checkBody(a webhooks.Attempt, k Key, call FaceMatchBody) {
	GinkgoHelper()
	Expect(webhooks.SortedCompact(a.Body)).To(Succeed(), "FM-WH-2: the body is serialized with sorted keys and no spaces")
	var doc any
	Expect(json.Unmarshal(a.Body, &doc)).To(Succeed())
	Expect(env.Doc.Components.Schemas["StatusUpdated"].Value.VisitJSON(doc)).To(Succeed(), "the body does not match openapi.yaml's StatusUpdated")
	var ev StatusUpdated
	Expect(json.Unmarshal(a.Body, &ev)).To(Succeed())
	Expect(ev.SessionID).To(Equal(call.RequestID))
	Expect(ev.Status).To(Equal(call.FaceMatch.Status))
	Expect(ev.WebhookType).To(Equal("status.updated"))
	Expect(ev.WorkflowID).To(BeNil())
	Expect(ev.VendorData).To(Equal(call.VendorData))
	if string(call.Metadata) == "null" {
		Expect(string(ev.Metadata)).To(Equal("null"))
	} else {
		Expect([]byte(ev.Metadata)).To(MatchJSON(call.Metadata))
	}
	created, err := time.Parse(time.RFC3339Nano, call.CreatedAt)
	Expect(err).NotTo(HaveOccurred())
	Expect(ev.CreatedAt).To(BeNumerically("~", created.Unix(), 1), "created_at is not the session's creation in Unix seconds")
	Expect(ev.Timestamp).To(BeNumerically(">=", created.Unix()-1), "the event is older than its session")
	Expect(ev.Timestamp).To(BeNumerically("<=", a.At.Unix()+clockSkew()))

	// The decision is the session's, as GET /decision/ shows it (signed URLs aside).
	d := decision(k, call.RequestID)
	Expect(d.Status).To(Equal(http.StatusOK))
	want := d.Map()
	Expect(withoutSignedURLs(ev.Decision)).To(Equal(withoutSignedURLs(want)), "the event's decision differs from GET /decision/")
}

// withoutSignedURLs replaces the signed image URLs of a decision by their paths.
func withoutSignedURLs(d map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range d {
		out[k] = v
	}
	if fms, ok := d["face_matches"].([]any); ok {
		var cleaned []any
		for _, fm := range fms {
			m, _ := fm.(map[string]any)
			c := map[string]any{}
			for k, v := range m {
				if s, ok := v.(string); ok && (k == "source_image" || k == "target_image") {
					if u, err := url.Parse(s); err == nil {
						v = u.Path
					}
				}
				c[k] = v
			}
			cleaned = append(cleaned, c)
		}
		out["face_matches"] = cleaned
	}
	return out
}

var _ = Describe("Webhook destinations", Label(areaWebhooks), func() {
	It("creates, lists, shows, updates, rotates and deletes destinations, the secret shown only on creation and rotation", Label("FM-WH-1"), func() {
		k := webhookKey()
		u := destinationURL()
		a := createDestination(k, map[string]any{"label": "first", "url": u, "subscribed_events": []string{"status.updated"}, "enabled": false})
		Expect(uuid.Validate(a.UUID)).To(Succeed())
		Expect(a.Label).To(Equal("first"))
		Expect(a.URL).To(Equal(u))
		Expect(a.SubscribedEvents).To(Equal([]string{"status.updated"}))
		Expect(a.Enabled).To(BeFalse())
		Expect(a.WebhookVersion).To(Equal("v3"))
		Expect(a.Secret).NotTo(BeNil(), "no secret_shared_key on creation")
		expectSecret(*a.Secret)

		// Default: enabled.
		b := createDestination(k, map[string]any{"label": "second", "url": u, "subscribed_events": []string{"status.updated"}})
		Expect(b.SubscribedEvents).To(Equal([]string{"status.updated"}))
		Expect(b.Enabled).To(BeTrue())
		Expect(*b.Secret).NotTo(Equal(*a.Secret))
		patchDestination(k, b.UUID, map[string]any{"enabled": false})

		list := listDestinations(k)
		var ids []string
		for _, d := range list {
			Expect(d.Secret).To(BeNil(), "the list shows a secret")
			ids = append(ids, d.UUID)
		}
		Expect(ids).To(ContainElements(a.UUID, b.UUID))
		if indexOf(ids, a.UUID) > indexOf(ids, b.UUID) {
			note("the destination list is not oldest first, as our server's is (x-facematch-order); FM-WH-1 leaves the order open")
		}

		got := getDestination(k, a.UUID)
		Expect(got.Secret).To(BeNil(), "GET shows the secret")
		Expect(got.Summary).NotTo(BeNil(), "GET one destination shows no delivery summary")
		Expect(got.Summary.TotalDeliveries).To(Equal(0))
		Expect(got.Summary.ErrorRatePercentage).To(BeNumerically("==", 0))

		r := patchDestination(k, a.UUID, map[string]any{"label": "renamed"})
		Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
		var patched Destination
		r.Decode(&patched)
		Expect(patched.Label).To(Equal("renamed"))
		Expect(patched.Secret).To(BeNil(), "an update without rotation shows the secret")
		Expect(patched.UpdatedAt >= patched.CreatedAt).To(BeTrue())

		r = patchDestination(k, a.UUID, map[string]any{"rotate_secret_key": true})
		Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
		var rotated Destination
		r.Decode(&rotated)
		Expect(rotated.Secret).NotTo(BeNil(), "a rotation does not show the new secret")
		expectSecret(*rotated.Secret)
		Expect(*rotated.Secret).NotTo(Equal(*a.Secret))

		for _, bad := range []map[string]any{{}, {"subscribed_events": []string{}}, {"subscribed_events": []string{"session.deleted"}}, {"label": ""}, {"enabled": "yes"}} {
			r := patchDestination(k, a.UUID, bad)
			Expect(r.Status).To(Equal(http.StatusBadRequest), "PATCH %v: body %s", bad, r.Body)
		}

		r = do(Call{Method: http.MethodDelete, Path: destinationsPath + a.UUID + "/", Key: k})
		Expect(r.Status).To(Equal(http.StatusNoContent))
		Expect(r.Body).To(BeEmpty())
		for _, c := range []Call{
			{Method: http.MethodGet, Path: destinationsPath + a.UUID + "/", Key: k},
			{Method: http.MethodDelete, Path: destinationsPath + a.UUID + "/", Key: k},
			{Method: http.MethodGet, Path: destinationsPath + "not-a-uuid/", Key: k},
		} {
			r := do(c)
			Expect(r.Status).To(Equal(http.StatusNotFound), "%s %s", c.Method, c.Path)
			expectBody(r, notFound)
		}
	})

	It("refuses destinations without a label or url, and with no or unknown events", Label("FM-WH-1", "FM-VAL-1"), func() {
		k := webhookKey()
		u := destinationURL()
		for _, bad := range []map[string]any{
			{"url": u},
			{"label": "x"},
			{"label": "x", "url": u, "subscribed_events": []string{}},
			{"label": "x", "url": u, "subscribed_events": []string{"session.deleted"}},
			{"label": "x", "url": u, "subscribed_events": []string{"status.updated", "status.updated"}},
		} {
			r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: bad})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "POST %v: body %s", bad, r.Body)
		}
		r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, Body: []byte("label=x"), CT: "application/x-www-form-urlencoded"})
		Expect(r.Status).To(Equal(http.StatusBadRequest), "a body that is not JSON: %s", r.Body)
	})

	It("lets sandbox applications manage destinations", Label("FM-WH-1", "FM-SBX-1"), func() {
		k := sandbox()
		d := createDestination(k, map[string]any{"label": "sandbox", "url": destinationURL(), "enabled": false})
		Expect(listDestinations(k)).To(ContainElement(HaveField("UUID", d.UUID)))
	})

	It("always refuses link-local and cloud metadata addresses, and any scheme but http and https", Label("FM-WH-5"), func() {
		k := webhookKey()
		for _, u := range []string{
			"http://169.254.169.254/latest/meta-data/",
			"http://169.254.169.254/",
			"https://169.254.10.10/hook",
			"http://[fe80::1]/hook",
			"http://[fd00:ec2::254]/latest/meta-data/",
			"ftp://8.8.8.8/hook",
			"file:///etc/passwd",
			"8.8.8.8/hook",
		} {
			r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: withEvents(map[string]any{"label": "x", "url": u, "enabled": false})})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "url %s was accepted: %s", u, r.Body)
			Expect(r.Map()).To(HaveKey("url"), "url %s: the 400 is not on url", u)
		}
		d := createDestination(k, map[string]any{"label": "ok", "url": "https://8.8.8.8/hook", "enabled": false})
		r := patchDestination(k, d.UUID, map[string]any{"url": "http://169.254.169.254/"})
		Expect(r.Status).To(Equal(http.StatusBadRequest), "an update to a metadata address was accepted: %s", r.Body)
		Expect(r.Map()).To(HaveKey("url"))
	})

	It("accepts private and loopback addresses only where the operator allows them", Label("FM-WH-5"), func() {
		private := []string{"http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://192.168.1.1/hook", "http://172.16.5.4/hook", "http://[::1]:9/hook"}
		if env.Target.Name() == "external" {
			policy := osGetenv("FACEMATCH_PRIVATE_WEBHOOKS")
			need(policy == "allowed" || policy == "refused", "needs the server's policy: set FACEMATCH_PRIVATE_WEBHOOKS to allowed or refused")
			k := webhookKey()
			for _, u := range private {
				r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: withEvents(map[string]any{"label": "x", "url": u, "enabled": false})})
				if policy == "refused" {
					Expect(r.Status).To(Equal(http.StatusBadRequest), "url %s accepted", u)
				} else {
					Expect(r.Status).To(Equal(http.StatusCreated), "url %s refused: %s", u, r.Body)
					var d Destination
					r.Decode(&d)
					do(Call{Method: http.MethodDelete, Path: destinationsPath + d.UUID + "/", Key: k})
				}
			}
			return
		}
		// The main server runs with --allow-private-webhooks; a server with the defaults refuses.
		k := webhookKey()
		for _, u := range private {
			createDestination(k, map[string]any{"label": "private", "url": u, "enabled": false})
		}
		strict := strictServer()
		sk := tenantOn(strict, 0)
		for _, u := range private {
			r := do(on(strict, Call{Method: http.MethodPost, Path: destinationsPath, Key: sk, JSON: withEvents(map[string]any{"label": "x", "url": u, "enabled": false})}))
			Expect(r.Status).To(Equal(http.StatusBadRequest), "url %s accepted by a server that does not allow private addresses: %s", u, r.Body)
			Expect(r.Map()).To(HaveKey("url"))
		}
		r := do(on(strict, Call{Method: http.MethodPost, Path: destinationsPath, Key: sk, JSON: withEvents(map[string]any{"label": "public", "url": "https://8.8.8.8/hook", "enabled": false})}))
		Expect(r.Status).To(Equal(http.StatusCreated), "a public address refused: %s", r.Body)
	})
})

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// strictServer is a server with the default webhook policy (private addresses refused) and image
// URLs that expire after 2 seconds, shared by the specs that need those settings.
var strictServer = func() func() target.Server {
	var s target.Server
	return func() target.Server {
		if s == nil {
			if env.Target.Name() == "external" {
				notApplicable("starts a server that refuses private addresses: container and process targets only")
			}
			var err error
			s, err = env.Target.Start(ctx(), "--media-url-ttl", "2s")
			Expect(err).NotTo(HaveOccurred())
		}
		return s
	}
}()

var _ = Describe("Webhook deliveries", Ordered, ContinueOnFailure, Label(areaWebhooks), func() {
	var (
		k, sk         Key
		ep            map[string]*webhooks.Endpoint
		dest          map[string]Destination
		secret        map[string]string
		saved, noFace FaceMatchBody
		transient     FaceMatchBody
		sandboxCall   FaceMatchBody
		backoff       time.Duration
	)
	// Text across scripts, so that a canonical JSON that escapes some non-ASCII letters fails
	// X-Signature-V2 (FM-WH-3): Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari, CJK, Hangul,
	// an emoji beyond the BMP and the line separator U+2028, which JSON encoders often escape.
	const vendorData = "José ✓ Ωμέγα Привет שלום مرحبا नमस्ते 你好 한국어 🙂\u2028 user-123"
	const metadata = `{"flow": "login", "score": 2.0, "nested": {"b": [1, 2.5], "a": "ü Ελληνικά Кириллица ქართული ไทย"}}`

	BeforeAll(func() {
		rcv := needReceiver()
		k = webhookKey()
		if env.Target.Main().Admin() != nil {
			sk = newTenant(0, true, "webhooks")
		} else {
			sk = sandbox()
		}
		ep, dest, secret = map[string]*webhooks.Endpoint{}, map[string]Destination{}, map[string]string{}
		scripts := map[string]webhooks.Script{
			"ok":        webhooks.Always(http.StatusOK),
			"retry-503": webhooks.Sequence(webhooks.Reply{Status: 503}, webhooks.Reply{Status: 200}),
			"retry-500": webhooks.Sequence(webhooks.Reply{Status: 500}, webhooks.Reply{Status: 204}),
			"retry-429": webhooks.Sequence(webhooks.Reply{Status: 429}, webhooks.Reply{Status: 200}),
			"retry-404": webhooks.Sequence(webhooks.Reply{Status: 404}, webhooks.Reply{Status: 200}),
			"retry-408": webhooks.Sequence(webhooks.Reply{Status: 408}, webhooks.Reply{Status: 200}),
			"hangup":    webhooks.Sequence(webhooks.Reply{Hangup: true}, webhooks.Reply{Status: 200}),
			"timeout":   webhooks.FirstDelivery(webhooks.Sequence(webhooks.Reply{Stall: 14 * time.Second}, webhooks.Reply{Status: 200})),
			"final-400": webhooks.Always(400),
			"final-410": webhooks.Always(410),
			"disabled":  webhooks.Always(http.StatusOK),
			"deleted":   webhooks.Always(http.StatusOK),
			"rotated":   webhooks.Always(http.StatusOK),
		}
		for name, script := range scripts {
			ep[name] = rcv.Endpoint(script)
			d := createDestination(k, map[string]any{"label": name, "url": ep[name].URL, "subscribed_events": []string{"status.updated"}, "enabled": name != "disabled"})
			dest[name], secret[name] = d, *d.Secret
		}
		r := do(Call{Method: http.MethodDelete, Path: destinationsPath + dest["deleted"].UUID + "/", Key: k})
		Expect(r.Status).To(Equal(http.StatusNoContent))
		r = patchDestination(k, dest["rotated"].UUID, map[string]any{"rotate_secret_key": true})
		Expect(r.Status).To(Equal(http.StatusOK))
		var rotated Destination
		r.Decode(&rotated)
		secret["rotated-old"], secret["rotated"] = secret["rotated"], *rotated.Secret
		ep["sandbox"] = rcv.Endpoint(webhooks.Always(http.StatusOK))
		createDestination(sk, map[string]any{"label": "sandbox", "url": ep["sandbox"].URL})

		a1, a2, none := photo(fixtures.PersonA1), photo(fixtures.PersonA2), photo(fixtures.NoFace)
		saved = matchOf(faceMatch(k, a1, a2, "vendor_data", vendorData, "metadata", metadata))
		noFace = matchOf(faceMatch(k, none, a1))
		transient = matchOf(faceMatch(k, a1, a2, "save_api_request", "false"))
		sandboxCall = matchOf(faceMatch(sk, a1, a2))
	})

	// first waits for the first attempt of each of the two saved sessions at an endpoint.
	first := func(name string) []webhooks.Attempt {
		GinkgoHelper()
		var got []webhooks.Attempt
		Eventually(func() int {
			got = nil
			for _, s := range []string{saved.RequestID, noFace.RequestID} {
				if as := ep[name].ForSession(s); len(as) > 0 {
					got = append(got, as[0])
				}
			}
			return len(got)
		}).WithTimeout(20*time.Second).WithPolling(100*time.Millisecond).Should(Equal(2), "endpoint %s did not receive both sessions' events", name)
		return got
	}

	It("sends one status.updated per saved live call to each enabled destination: the session's decision, sorted keys, no spaces", Label("FM-WH-2"), func() {
		for _, a := range first("ok") {
			call := saved
			if strings.Contains(string(a.Body), noFace.RequestID) {
				call = noFace
			}
			checkBody(a, k, call)
		}
	})

	It("signs every attempt with X-Signature, X-Signature-V2 and X-Signature-Simple keyed with the whole secret, and an X-Webhook-Id", Label("FM-WH-3"), func() {
		for _, name := range []string{"ok", "retry-503", "final-400"} {
			first(name)
		}
		if env.Target.Name() != "external" || osGetenv("FACEMATCH_WEBHOOK_BACKOFF") != "" {
			// Retries too: every attempt is signed when it is made.
			Eventually(func() int { return len(ep["retry-503"].Attempts()) }).WithTimeout(firstBackoff() + 20*time.Second).Should(BeNumerically(">=", 4))
		}
		for _, name := range []string{"ok", "retry-503", "final-400"} {
			for _, a := range ep[name].Attempts() {
				checkSignatures(a, secret[name])
			}
		}
	})

	It("sends the Standard Webhooks headers, verifiable with the secret's decoded key", Label("FM-WH-6"), func() {
		for _, a := range first("ok") {
			Expect(a.Header.Get("webhook-id")).NotTo(BeEmpty())
			Expect(a.Header.Get("webhook-timestamp")).NotTo(BeEmpty())
			Expect(a.Header.Get("webhook-signature")).To(MatchRegexp(`^v1,[A-Za-z0-9+/]{43}=( |$)`))
			std, err := webhooks.StandardSignature(secret["ok"], a.Header.Get("webhook-id"), a.Header.Get("webhook-timestamp"), a.Body)
			Expect(err).NotTo(HaveOccurred())
			Expect(webhooks.StandardSignatureMatches(a.Header.Get("webhook-signature"), std)).To(BeTrue())
		}
	})

	It("signs deliveries to a destination whose secret was rotated with the new secret only", Label("FM-WH-1", "FM-WH-3", "FM-WH-6"), func() {
		for _, a := range first("rotated") {
			checkSignatures(a, secret["rotated"])
			Expect(a.Header.Get("X-Signature")).NotTo(Equal(webhooks.Signature(secret["rotated-old"], a.Body)), "signed with the old secret")
		}
	})

	It("retries 5xx, 404, 408, 429 and dropped connections with backoff, under the same X-Webhook-Id", Label("FM-WH-4", "FM-WH-3", labelSlow), func() {
		backoff = firstBackoff()
		for _, name := range []string{"retry-503", "retry-500", "retry-429", "retry-404", "retry-408", "hangup"} {
			for _, s := range []FaceMatchBody{saved, noFace} {
				var as []webhooks.Attempt
				Eventually(func() int { as = ep[name].ForSession(s.RequestID); return len(as) }).
					WithTimeout(backoff+20*time.Second).WithPolling(100*time.Millisecond).
					Should(BeNumerically(">=", 2), "%s: no retry of the delivery of session %s", name, s.RequestID)
				Expect(as[1].WebhookID()).To(Equal(as[0].WebhookID()), "%s: the retry has another X-Webhook-Id", name)
				Expect(as[1].At.Sub(as[0].At)).To(BeNumerically(">=", backoff*8/10), "%s: retried sooner than the backoff", name)
				checkBodySignatures(as[1], secret[name])
			}
		}
	})

	It("records every attempt in the destination's delivery summary", Label("FM-WH-4"), func() {
		for _, name := range []string{"ok", "retry-503", "final-400"} {
			first(name)
			if name == "retry-503" {
				Eventually(func() int { return len(ep[name].Attempts()) }).WithTimeout(20 * time.Second).Should(BeNumerically(">=", 4))
			}
			seen := ep[name].Attempts()
			failed := 0
			for _, a := range seen {
				if a.Reply.Status >= 300 {
					failed++
				}
			}
			var d Destination
			Eventually(func() int {
				d = getDestination(k, dest[name].UUID)
				if d.Summary == nil {
					return -1
				}
				return d.Summary.TotalDeliveries
			}).
				WithTimeout(10*time.Second).Should(BeNumerically(">=", len(seen)), "%s: attempts missing from the summary", name)
			sum := d.Summary
			Expect(sum.FailedDeliveries).To(BeNumerically(">=", failed), "%s: failed attempts missing from the summary", name)
			Expect(sum.ErrorRatePercentage).To(BeNumerically("~", 100*float64(sum.FailedDeliveries)/float64(sum.TotalDeliveries), 0.01))
			Expect(sum.LastDeliveryAt).NotTo(BeNil())
			Expect(sum.MinResponseTimeMS).NotTo(BeNil())
			Expect(sum.AvgResponseTimeMS).NotTo(BeNil())
			Expect(sum.MaxResponseTimeMS).NotTo(BeNil())
			Expect(*sum.MinResponseTimeMS).To(BeNumerically("<=", *sum.AvgResponseTimeMS))
			Expect(*sum.AvgResponseTimeMS).To(BeNumerically("<=", *sum.MaxResponseTimeMS))
		}
	})

	It("ends a delivery after one attempt when the destination answers another 4xx", Label("FM-WH-4"), func() {
		backoff = firstBackoff()
		first("final-400")
		first("final-410")
		time.Sleep(time.Until(ep["final-400"].Attempts()[0].At.Add(backoff*2 + 2*time.Second)))
		for _, name := range []string{"final-400", "final-410"} {
			for _, s := range []FaceMatchBody{saved, noFace} {
				Expect(ep[name].ForSession(s.RequestID)).To(HaveLen(1), "%s: the delivery of session %s was retried", name, s.RequestID)
			}
		}
	})

	It("retries a delivery the destination leaves unanswered for 10 seconds", Label("FM-WH-4", labelSlow), func() {
		backoff = firstBackoff()
		var as []webhooks.Attempt
		Eventually(func() int {
			as = nil
			for _, a := range ep["timeout"].Attempts() {
				if a.Attempt < 2 && (len(as) == 0 || a.WebhookID() == as[0].WebhookID()) {
					as = append(as, a)
				}
			}
			return len(as)
		}).WithTimeout(backoff+30*time.Second).WithPolling(200*time.Millisecond).Should(Equal(2), "no retry after the unanswered attempt")
		Expect(as[0].GaveUp).To(BeNumerically("~", 10*time.Second, 2*time.Second), "the server did not give up on the attempt after 10 s")
		Expect(as[1].WebhookID()).To(Equal(as[0].WebhookID()))
	})

	It("sends nothing to disabled or deleted destinations, for unsaved calls or for sandbox calls, and each event once", Label("FM-WH-2", "FM-SBX-1", "FM-WH-1"), func() {
		first("ok")
		first("retry-503")
		// By now every retry of the first backoff has been made: anything not sent will not be.
		time.Sleep(time.Until(ep["ok"].Attempts()[0].At.Add(3 * time.Second)))
		Expect(ep["disabled"].Attempts()).To(BeEmpty(), "a disabled destination received deliveries")
		Expect(ep["deleted"].Attempts()).To(BeEmpty(), "a deleted destination received deliveries")
		Expect(ep["sandbox"].Attempts()).To(BeEmpty(), "a sandbox call emitted an event")
		for _, e := range ep {
			Expect(e.ForSession(transient.RequestID)).To(BeEmpty(), "a call with save_api_request=false emitted an event")
			Expect(e.ForSession(sandboxCall.RequestID)).To(BeEmpty(), "a sandbox call emitted an event")
		}
		for _, s := range []FaceMatchBody{saved, noFace} {
			Expect(ep["ok"].ForSession(s.RequestID)).To(HaveLen(1), "an acknowledged delivery was sent again")
		}
	})
})

var _ = Describe("Webhook durability", Ordered, Label(areaWebhooks, labelDisruptive, labelSlow), func() {
	It("keeps a saved session and resumes its pending delivery after the server crashes", Label("FM-WH-4", "FM-SES-1"), func() {
		rcv := needReceiver()
		if env.Target.Name() == "external" {
			notApplicable("crashes the server and starts it again: container and process targets only")
		}
		srv := startServer(target.MainFlags...)
		k := tenantOn(srv, 5)
		e := rcv.Endpoint(webhooks.Sequence(webhooks.Reply{Status: 503}, webhooks.Reply{Status: 200}))
		r := do(on(srv, Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: withEvents(map[string]any{"label": "durable", "url": e.URL})}))
		Expect(r.Status).To(Equal(http.StatusCreated))
		var d Destination
		r.Decode(&d)
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		call := matchOf(do(on(srv, Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k,
			Parts: append(fields(), file("user_image", a1), file("ref_image", a2))})))
		Eventually(func() int { return len(e.ForSession(call.RequestID)) }).WithTimeout(20 * time.Second).Should(Equal(1))

		By("crashing the server after the first attempt failed, before its retry")
		Expect(srv.Restart(ctx(), true)).To(Succeed())
		restarted := time.Now()

		dr := do(on(srv, Call{Method: http.MethodGet, Path: "/v3/session/" + call.RequestID + "/decision/", Key: k}))
		Expect(dr.Status).To(Equal(http.StatusOK), "the session of a 200 is gone after a crash")
		var as []webhooks.Attempt
		Eventually(func() int { as = e.ForSession(call.RequestID); return len(as) }).WithTimeout(30*time.Second).
			Should(BeNumerically(">=", 2), "the pending delivery was not resumed after the restart")
		Expect(as[1].WebhookID()).To(Equal(as[0].WebhookID()))
		Expect(as[1].At).To(BeTemporally(">=", restarted.Add(-time.Second)))
		checkBodySignatures(as[1], *d.Secret)
	})
})
