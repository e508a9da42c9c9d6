package suite

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/jpeg" // the fixtures' photos are JPEG
	"image/png"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/webhooks"
)

// What a client written against the provider's documentation relies on: Django REST framework's
// reading of form data, the documented destination fields, one timestamp per webhook attempt,
// filled entities, and the address guard's deny-by-default.

// documentedEvents are the event names the provider documents for subscribed_events (FM-WH-1).
var documentedEvents = []string{
	"status.updated", "data.updated", "user.status.updated", "user.data.updated",
	"business.status.updated", "business.data.updated", "activity.created",
	"transaction.created", "transaction.status.updated",
}

// asPNG re-encodes a photo as PNG under the given file name.
func asPNG(f fixtures.File, name string) fixtures.File {
	GinkgoHelper()
	img, _, err := image.Decode(bytes.NewReader(f.Data))
	Expect(err).NotTo(HaveOccurred(), "decoding %s", f.Name)
	var buf bytes.Buffer
	Expect(png.Encode(&buf, img)).To(Succeed())
	return fixtures.File{Name: name, Data: buf.Bytes(), Origin: f.Origin + ", re-encoded as PNG"}
}

var _ = Describe("Form data as Django REST framework reads it", Label(areaValidation), func() {
	It("treats an optional field sent blank as absent: its default applies", Label("FM-VAL-5"), func() {
		k := live()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		plain := matchOf(faceMatch(k, a1, a2))
		blank := matchOf(postForm(k, withImages(field(thresholdField, ""), field("rotate_image", ""), field("save_api_request", ""), field("metadata", ""), field("vendor_data", ""))...))
		Expect(blank.FaceMatch.Status).To(Equal(plain.FaceMatch.Status), "a blank threshold did not take the default 30")
		Expect(blank.FaceMatch.Score).To(Equal(plain.FaceMatch.Score))
		Expect(blank.FaceMatch.User.BestAngle).To(Equal(0), "a blank rotate_image did not take the default false")
		Expect(string(blank.Metadata)).To(Equal("null"), "a blank metadata is not absent")
		Expect(blank.VendorData).To(BeNil(), "a blank vendor_data is not absent")
		Expect(decision(k, blank.RequestID).Status).To(Equal(http.StatusOK), "a blank save_api_request did not take the default true")
	})

	It("takes the last value of a field sent twice", Label("FM-VAL-5"), func() {
		k := live()
		declined := matchOf(postForm(k, withImages(field(thresholdField, "0"), field(thresholdField, "100"))...))
		Expect(declined.FaceMatch.Status).To(Equal("Declined"), "threshold 0 then 100: the last value was not used")
		approved := matchOf(postForm(k, withImages(field(thresholdField, "100"), field(thresholdField, "0"))...))
		Expect(approved.FaceMatch.Status).To(Equal("Approved"), "threshold 100 then 0: the last value was not used")
		saved := matchOf(postForm(k, withImages(field("save_api_request", "false"), field("save_api_request", "true"))...))
		Expect(decision(k, saved.RequestID).Status).To(Equal(http.StatusOK), "save_api_request false then true was not saved")
		unsaved := matchOf(postForm(k, withImages(field("save_api_request", "true"), field("save_api_request", "false"))...))
		Expect(decision(k, unsaved.RequestID).Status).To(Equal(http.StatusNotFound), "save_api_request true then false was saved")
		vd := matchOf(postForm(sandbox(), withImages(field("vendor_data", "first"), field("vendor_data", "second"))...))
		Expect(vd.VendorData).To(Equal(strptr("second")))
	})

	It("takes the last file of an image field sent twice", Label("FM-VAL-5", "FM-IMG-1"), func() {
		k := sandbox()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		notImage := fixtures.File{Name: "a.jpg", Data: []byte("not an image")}
		r := postForm(k, file("user_image", notImage), file("user_image", a1), file("ref_image", a2))
		Expect(r.Status).To(Equal(http.StatusOK), "the first of two user_image parts was used: %s", r.Body)
		r = postForm(k, file("user_image", a1), file("user_image", notImage), file("ref_image", a2))
		expectFieldError(r, "user_image")
	})

	It("accepts t, f, y and n beside the other boolean words, in any case, meaning what they say", Label("FM-VAL-2"), func() {
		k := live()
		for word, saves := range map[string]bool{"t": true, "T": true, "y": true, "Y": true, "f": false, "F": false, "n": false, "N": false} {
			fm := matchOf(postForm(k, withImages(field("save_api_request", word))...))
			want := http.StatusNotFound
			if saves {
				want = http.StatusOK
			}
			Expect(decision(k, fm.RequestID).Status).To(Equal(want), "save_api_request=%s", word)
			Expect(postForm(sandbox(), withImages(field("rotate_image", word))...).Status).To(Equal(http.StatusOK), "rotate_image=%s", word)
		}
	})

	It("accepts an image whose content is an allowed format other than its extension says", Label("FM-IMG-1"), func() {
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		pngAsJPG := asPNG(a1, "photo.jpg")
		fm := matchOf(faceMatch(live(), pngAsJPG, a2, "save_api_request", "false"))
		Expect(fm.FaceMatch.Status).To(Equal("Approved"), "a PNG named photo.jpg was not matched as the photo it is")
		Expect(faceMatch(sandbox(), pngAsJPG, a2).Status).To(Equal(http.StatusOK))
		Expect(faceMatch(sandbox(), a1, fixtures.File{Name: "portrait.png", Data: a2.Data, Origin: a2.Origin}).Status).To(Equal(http.StatusOK), "a JPEG named .png was refused")
	})
})

var _ = Describe("Entities as typed clients expect them", Label(areaResponse), func() {
	It("fills confidence, age and gender of every face a live call finds, unless it is under 40 pixels wide", Label("FM-RESP-3"), func() {
		fm := matchOf(faceMatch(live(), photo(fixtures.PersonA1), photo(fixtures.PersonA2), "save_api_request", "false"))
		for _, img := range []ImageResult{fm.FaceMatch.User, fm.FaceMatch.Ref} {
			Expect(img.Entities).NotTo(BeEmpty())
			for _, e := range img.Entities {
				if e.BBox[2]-e.BBox[0] < 40 {
					continue
				}
				Expect(e.Confidence).NotTo(BeNil(), "entity %v without confidence", e.BBox)
				Expect(*e.Confidence).To(BeNumerically(">=", 0))
				Expect(*e.Confidence).To(BeNumerically("<=", 1))
				Expect(e.Age).NotTo(BeNil(), "entity %v without age", e.BBox)
				Expect(*e.Age).To(BeNumerically(">", 0))
				Expect(e.Gender).NotTo(BeNil(), "entity %v without gender", e.BBox)
				Expect(*e.Gender).To(BeElementOf("male", "female"))
			}
		}
	})

	It("fills them in the sandbox payload too", Label("FM-RESP-3", "FM-SBX-1"), func() {
		fm := matchOf(faceMatch(sandbox(), photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		for _, img := range []ImageResult{fm.FaceMatch.User, fm.FaceMatch.Ref} {
			Expect(img.Entities).NotTo(BeEmpty())
			for _, e := range img.Entities {
				Expect(e.Confidence).NotTo(BeNil())
				Expect(e.Age).NotTo(BeNil())
				Expect(e.Gender).NotTo(BeNil())
				Expect(*e.Gender).To(BeElementOf("male", "female"))
			}
		}
	})
})

var _ = Describe("Webhook destinations as documented", Label(areaWebhooks), func() {
	It("requires subscribed_events on creation, made of the documented event names", Label("FM-WH-1"), func() {
		k := webhookKey()
		for _, events := range []any{nil, []string{}, []string{"*"}, []string{"all"}, []string{"session.deleted"}} {
			body := map[string]any{"label": "x", "url": destinationURL(), "enabled": false}
			if events != nil {
				body["subscribed_events"] = events
			}
			r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: body})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "subscribed_events %v accepted: %s", events, r.Body)
			Expect(r.Map()).To(HaveKey("subscribed_events"))
		}
		d := createDestination(k, map[string]any{"label": "all", "url": destinationURL(), "subscribed_events": documentedEvents, "enabled": false})
		Expect(d.SubscribedEvents).To(Equal(documentedEvents))
		Expect(getDestination(k, d.UUID).SubscribedEvents).To(Equal(documentedEvents))
	})

	It("accepts webhook_version v1, v2 or v3 on creation and update, v3 by default, and echoes it", Label("FM-WH-1"), func() {
		k := webhookKey()
		d := createDestination(k, map[string]any{"label": "default", "url": destinationURL(), "subscribed_events": []string{"status.updated"}, "enabled": false})
		Expect(d.WebhookVersion).To(Equal("v3"))
		v1 := createDestination(k, map[string]any{"label": "v1", "url": destinationURL(), "subscribed_events": []string{"status.updated"}, "enabled": false, "webhook_version": "v1"})
		Expect(v1.WebhookVersion).To(Equal("v1"))
		r := patchDestination(k, v1.UUID, map[string]any{"webhook_version": "v2"})
		Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
		Expect(r.Map()["webhook_version"]).To(Equal("v2"))
		Expect(getDestination(k, v1.UUID).WebhookVersion).To(Equal("v2"))
		for _, v := range []any{"v4", "3", "", 3} {
			r := patchDestination(k, v1.UUID, map[string]any{"webhook_version": v})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "webhook_version %v accepted: %s", v, r.Body)
			Expect(r.Map()).To(HaveKey("webhook_version"))
		}
	})

	It("shows one destination's delivery summary under the documented keys", Label("FM-WH-1", "FM-WH-4"), func() {
		k := webhookKey()
		d := createDestination(k, map[string]any{"label": "summary", "url": destinationURL(), "subscribed_events": []string{"status.updated"}, "enabled": false})
		r := do(Call{Method: http.MethodGet, Path: destinationsPath + d.UUID + "/", Key: k})
		Expect(r.Status).To(Equal(http.StatusOK))
		var body struct {
			Summary map[string]any `json:"summary"`
		}
		r.Decode(&body)
		Expect(body.Summary).To(HaveKeyWithValue("total_deliveries", BeNumerically("==", 0)))
		Expect(body.Summary).To(HaveKeyWithValue("failed_deliveries", BeNumerically("==", 0)))
		Expect(body.Summary).To(HaveKeyWithValue("error_rate_percentage", And(BeNumerically(">=", 0), BeNumerically("<=", 100))))
		Expect(body.Summary).To(HaveKey("min_response_time_ms"))
		Expect(body.Summary).To(HaveKey("avg_response_time_ms"))
		Expect(body.Summary).To(HaveKey("max_response_time_ms"))
		Expect(body.Summary).To(HaveKeyWithValue("last_delivery_at", BeNil()))
	})

	It("refuses an IPv6 address that wraps a link-local or metadata IPv4 address, even where private addresses are allowed", Label("FM-WH-5"), func() {
		k := webhookKey()
		for _, u := range []string{
			"http://[64:ff9b::a9fe:a9fe]/",                   // NAT64 of 169.254.169.254
			"http://[64:ff9b::169.254.169.254]/hook",         // the same, written dotted
			"http://[2002:a9fe:a9fe::1]/",                    // 6to4 of 169.254.169.254
			"http://[2001:0:4136:e378:8000:63bf:5601:5601]/", // Teredo, client 169.254.169.254
			"http://[::ffff:169.254.169.254]/",               // IPv4-mapped
			"http://[::ffff:a9fe:a9fe]/",                     // IPv4-mapped, hex
		} {
			r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: map[string]any{"label": "x", "url": u, "subscribed_events": []string{"status.updated"}, "enabled": false}})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "url %s was accepted: %s", u, r.Body)
			Expect(r.Map()).To(HaveKey("url"), "url %s: the 400 is not on url", u)
		}
	})

	It("refuses special-purpose addresses that are neither private nor loopback", Label("FM-WH-5"), func() {
		k := webhookKey()
		for _, u := range []string{"http://192.0.2.10/", "http://198.51.100.7/", "http://203.0.113.9/", "http://240.0.0.1/", "http://[2001:db8::1]/", "http://[100::1]/"} {
			r := do(Call{Method: http.MethodPost, Path: destinationsPath, Key: k, JSON: map[string]any{"label": "x", "url": u, "subscribed_events": []string{"status.updated"}, "enabled": false}})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "url %s was accepted: %s", u, r.Body)
			Expect(r.Map()).To(HaveKey("url"))
		}
	})
})

var _ = Describe("One timestamp per webhook attempt", Label(areaWebhooks), func() {
	It("renders and signs the body again for a retry: its timestamp is the attempt's X-Timestamp and webhook-timestamp, its id the same", Label("FM-WH-3", labelSlow), func() {
		rcv := needReceiver()
		backoff := firstBackoff()
		k := webhookKey()
		ep := rcv.Endpoint(webhooks.Sequence(webhooks.Reply{Status: http.StatusServiceUnavailable}, webhooks.Reply{Status: http.StatusOK}))
		d := createDestination(k, map[string]any{"label": "restamp", "url": ep.URL, "subscribed_events": []string{"status.updated"}})
		call := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		var as []webhooks.Attempt
		Eventually(func() int { as = ep.ForSession(call.RequestID); return len(as) }).
			WithTimeout(backoff+20*time.Second).WithPolling(100*time.Millisecond).
			Should(BeNumerically(">=", 2), "the delivery answered 503 was not retried")
		var stamps []int64
		for i, a := range as[:2] {
			var ev StatusUpdated
			Expect(json.Unmarshal(a.Body, &ev)).To(Succeed(), "body %s", a.Body)
			ts := strconv.FormatInt(ev.Timestamp, 10)
			Expect(a.Header.Get("X-Timestamp")).To(Equal(ts), "attempt %d: X-Timestamp differs from the body's timestamp", i+1)
			Expect(a.Header.Get("webhook-timestamp")).To(Equal(ts), "attempt %d: webhook-timestamp differs from the body's timestamp", i+1)
			Expect(ev.Timestamp).To(BeNumerically("~", a.At.Unix(), clockSkew()), "attempt %d: the timestamp is not the attempt's time", i+1)
			Expect(a.Header.Get("X-Signature-Simple")).To(Equal(webhooks.SignatureSimple(*d.Secret, ev.Timestamp, ev.SessionID, ev.Status, ev.WebhookType)),
				"attempt %d: X-Signature-Simple is not over the attempt's timestamp", i+1)
			checkBodySignatures(a, *d.Secret)
			stamps = append(stamps, ev.Timestamp)
		}
		Expect(as[1].WebhookID()).To(Equal(as[0].WebhookID()), "the retry has another X-Webhook-Id")
		Expect(stamps[1]).To(BeNumerically(">=", stamps[0]), "the retry's timestamp is earlier than the first attempt's")
		if as[1].At.Sub(as[0].At) >= 2*time.Second {
			Expect(stamps[1]).NotTo(Equal(stamps[0]), "the retry, %s later, carries the first attempt's timestamp", as[1].At.Sub(as[0].At))
		}
	})
})
