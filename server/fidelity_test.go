package server_test

import (
	"encoding/json"
	"image"
	"image/color"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
	"github.com/facematch/facematch/internal/testimg"
)

// What a client written against the provider's documentation receives (issue 14), each rule
// over real HTTP.

// [FM-VAL-5] An optional field sent blank counts as absent and its default applies; a field
// sent twice takes its last value, a file field too.
func TestFormFieldsReadAsDjangoRESTFramework(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	user, ref := photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg")

	// Blank threshold, rotate_image and save_api_request: 30, false and true apply, so the call
	// is saved (its request_id has a decision) and an 87.35 is Approved.
	r := e.faceMatch(live.key, user, ref, "face_match_score_decline_threshold", "", "rotate_image", "", "save_api_request", "")
	wantStatus(t, r, http.StatusOK)
	fm := faceMatchOf(t, r)
	if fm.FaceMatch.Status != facematch.StatusApproved || fm.FaceMatch.User.BestAngle != 0 {
		t.Fatalf("blank fields: %s, best_angle %d", fm.FaceMatch.Status, fm.FaceMatch.User.BestAngle)
	}
	wantStatus(t, e.decision(live.key, fm.RequestID), http.StatusOK)

	// The last of repeated values counts: threshold 100 after 10 declines, save false after
	// true saves nothing, and the reverse orders do the reverse.
	r = e.faceMatch(live.key, user, ref, "face_match_score_decline_threshold", "10", "face_match_score_decline_threshold", "100",
		"save_api_request", "true", "save_api_request", "false")
	wantStatus(t, r, http.StatusOK)
	fm = faceMatchOf(t, r)
	if fm.FaceMatch.Status != facematch.StatusDeclined {
		t.Fatalf("threshold 10 then 100: %s, want Declined", fm.FaceMatch.Status)
	}
	wantStatus(t, e.decision(live.key, fm.RequestID), http.StatusNotFound)
	r = e.faceMatch(live.key, user, ref, "face_match_score_decline_threshold", "100", "face_match_score_decline_threshold", "10")
	if fm := faceMatchOf(t, r); fm.FaceMatch.Status != facematch.StatusApproved {
		t.Fatalf("threshold 100 then 10: %s, want Approved", fm.FaceMatch.Status)
	}
	// A repeated field whose last value is blank takes the default.
	r = e.faceMatch(live.key, user, ref, "face_match_score_decline_threshold", "100", "face_match_score_decline_threshold", "")
	if fm := faceMatchOf(t, r); fm.FaceMatch.Status != facematch.StatusApproved {
		t.Fatalf("threshold 100 then blank: %s, want Approved (the default 30)", fm.FaceMatch.Status)
	}
	// A file sent twice: the last part is the image, whatever the first was.
	body, ct := form(t, []file{{"user_image", "a.txt", []byte("not even an allowed name")}, {"user_image", "b.jpg", user.data}, {"ref_image", "c.jpg", ref.data}})
	wantStatus(t, e.do(e.request(http.MethodPost, "/v3/face-match/", live.key, body, ct)), http.StatusOK)
}

// [FM-VAL-2] Every boolean word of Django REST framework passes openapi.yaml's validation (the
// booleans are typed as booleans there) and means what it says.
func TestBooleanWordsPassTheSchema(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(30, facematch.ModeLive)
	user, ref := photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg")
	for word, saved := range map[string]bool{
		"true": true, "True": true, "t": true, "T": true, "yes": true, "Y": true, "on": true, "1": true,
		"false": false, "FALSE": false, "f": false, "no": false, "N": false, "Off": false, "0": false,
	} {
		r := e.faceMatch(live.key, user, ref, "save_api_request", word)
		wantStatus(t, r, http.StatusOK)
		want := http.StatusNotFound
		if saved {
			want = http.StatusOK
		}
		if got := e.decision(live.key, faceMatchOf(t, r).RequestID).status; got != want {
			t.Errorf("save_api_request=%q: decision %d, want %d", word, got, want)
		}
	}
}

// [FM-IMG-1] A PNG sent as photo.jpg (clients often send every image under one name) is read
// as the PNG it is and matched by the real matcher.
func TestImageContentNeedNotMatchExtension(t *testing.T) {
	e := newEnv(t, withRealMatcher())
	live := e.tenant(2, facematch.ModeLive)
	user := photo(t, "barack_obama/obama_small.jpg")
	png := file{name: "photo.jpg", data: testimg.Encode(t, testimg.Decode(t, user.data), "png")}
	r := e.faceMatch(live.key, png, photo(t, "barack_obama/obama-240p.jpg"))
	wantStatus(t, r, http.StatusOK)
	fm := faceMatchOf(t, r)
	if fm.FaceMatch.Status != facematch.StatusApproved {
		t.Fatalf("PNG named photo.jpg: %s %v", fm.FaceMatch.Status, fm.FaceMatch.Score)
	}
	// The session keeps the image as what it is.
	dec := e.decision(live.key, fm.RequestID).json(t)
	target := dec["face_matches"].([]any)[0].(map[string]any)["target_image"].(string)
	if img := e.get(target); img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("stored user image served as %q, want image/png", img.header.Get("Content-Type"))
	}
}

// [FM-RESP-3] The sandbox payload carries filled entities: a number confidence within 0-1, a
// number age, and gender "male" or "female", as typed clients of the provider expect.
func TestSandboxEntitiesFilled(t *testing.T) {
	e := newEnv(t)
	sb := e.tenant(0, facematch.ModeSandbox)
	r := e.faceMatch(sb.key, photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg"))
	wantStatus(t, r, http.StatusOK)
	fm := faceMatchOf(t, r).FaceMatch
	for _, img := range []facematch.ImageResult{fm.User, fm.Ref} {
		if len(img.Entities) == 0 {
			t.Fatal("sandbox answer without entities")
		}
		for _, en := range img.Entities {
			if en.Confidence == nil || *en.Confidence < 0 || *en.Confidence > 1 || en.Age == nil || *en.Age <= 0 ||
				en.Gender == nil || (*en.Gender != "male" && *en.Gender != "female") {
				t.Fatalf("sandbox entity %+v: want confidence, age and gender filled", en)
			}
		}
	}
}

// [FM-RESP-4] The warnings' texts are the same in the answers and in openapi.yaml's examples,
// for both risks: a declined score (the fixed matcher's 87.35 under threshold 100) and no face
// (the real matcher on a blank image).
func TestWarningTextsAsDocumented(t *testing.T) {
	doc, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]facematch.Warning{}
	for _, name := range []string{"DeclinedLowSimilarity", "DeclinedNoFace"} {
		raw, _ := json.Marshal(doc.Components.Examples[name].Value.Value)
		var ex facematch.FaceMatchResponse
		if err := json.Unmarshal(raw, &ex); err != nil || len(ex.FaceMatch.Warnings) != 1 {
			t.Fatalf("example %s: %v", name, err)
		}
		documented[ex.FaceMatch.Warnings[0].Risk] = ex.FaceMatch.Warnings[0]
	}
	same := func(got facematch.Warning) {
		t.Helper()
		want, ok := documented[got.Risk]
		if !ok || got.ShortDescription != want.ShortDescription || got.LongDescription != want.LongDescription {
			t.Fatalf("%s answered %q / %q; openapi.yaml shows %q / %q", got.Risk, got.ShortDescription, got.LongDescription, want.ShortDescription, want.LongDescription)
		}
	}
	e := newEnv(t)
	live := e.tenant(5, facematch.ModeLive)
	r := e.faceMatch(live.key, photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg"), "face_match_score_decline_threshold", "100")
	same(faceMatchOf(t, r).FaceMatch.Warnings[0])

	real := newEnv(t, withRealMatcher())
	k := real.tenant(5, facematch.ModeLive)
	blank := image.NewGray(image.Rect(0, 0, 160, 160))
	for i := range blank.Pix {
		blank.Pix[i] = color.Gray{Y: 200}.Y
	}
	r = real.faceMatch(k.key, file{name: "blank.png", data: testimg.Encode(t, blank, "png")}, photo(t, "barack_obama/obama-240p.jpg"))
	w := faceMatchOf(t, r).FaceMatch.Warnings
	if len(w) != 1 || w[0].Risk != facematch.RiskNoReferenceImage {
		t.Fatalf("no face: warnings %+v", w)
	}
	same(w[0])
}

// X-Request-Id is on every answer, and a known path asked with another method is a 405 with the
// body openapi.yaml declares.
func TestRequestIDAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(0, facematch.ModeSandbox)
	uuidPattern := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, c := range []struct {
		method, path, key string
		status            int
		body              string
	}{
		{http.MethodPut, "/v3/face-match/", k.key, http.StatusMethodNotAllowed, `{"detail":"Method \"PUT\" not allowed."}`},
		{http.MethodPost, "/healthz", "", http.StatusMethodNotAllowed, `{"detail":"Method \"POST\" not allowed."}`},
		{http.MethodGet, "/v3/webhook/destinations/", k.key, http.StatusOK, `[]`},
		{http.MethodGet, "/v3/webhook/destinations/", "", http.StatusForbidden, `{"detail":"You do not have permission to perform this action."}`},
	} {
		r := e.do(e.request(c.method, c.path, c.key, nil, ""))
		wantStatus(t, r, c.status)
		if string(r.body) != c.body || !uuidPattern.MatchString(r.header.Get("X-Request-Id")) {
			t.Errorf("%s %s: %s, X-Request-Id %q", c.method, c.path, r.body, r.header.Get("X-Request-Id"))
		}
		if c.key != "" && r.header.Get("X-RateLimit-Limit") == "" {
			t.Errorf("%s %s: no rate-limit headers", c.method, c.path)
		}
	}
}

// [FM-WH-1] Destinations as the provider documents them: every documented event name is
// accepted and stored, webhook_version is accepted on create and update and echoed (v3 by
// default), and the summary carries the provider's keys.
func TestDestinationsAsDocumented(t *testing.T) {
	e := newEnv(t, withPrivateWebhooks())
	k := e.tenant(0, facematch.ModeLive)
	d := e.createDestination(k.key, map[string]any{"label": "all", "url": "http://127.0.0.1:9/", "subscribed_events": facematch.WebhookEvents, "webhook_version": "v1"})
	id := d["uuid"].(string)
	if d["webhook_version"] != "v1" || fmtJSON(d["subscribed_events"]) != fmtJSON(facematch.WebhookEvents) {
		t.Fatalf("created %v", d)
	}
	e.clock.Add(time.Second)
	def := e.createDestination(k.key, map[string]any{"label": "default", "url": "http://127.0.0.1:9/x", "subscribed_events": []string{"data.updated"}})
	if def["webhook_version"] != "v3" {
		t.Fatalf("default webhook_version %v, want v3", def["webhook_version"])
	}
	p := e.jsonRequest(http.MethodPatch, "/v3/webhook/destinations/"+id+"/", k.key, map[string]any{"webhook_version": "v2", "subscribed_events": []string{"status.updated", "transaction.status.updated"}})
	wantStatus(t, p, http.StatusOK)
	one := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/"+id+"/", k.key, nil).json(t)
	if one["webhook_version"] != "v2" || fmtJSON(one["subscribed_events"]) != `["status.updated","transaction.status.updated"]` {
		t.Fatalf("after update %v", one)
	}
	var keys []string
	for key := range one["summary"].(map[string]any) {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	if want := []string{"avg_response_time_ms", "error_rate_percentage", "failed_deliveries", "last_delivery_at", "max_response_time_ms", "min_response_time_ms", "total_deliveries"}; !slices.Equal(keys, want) {
		t.Fatalf("summary keys %v, want %v", keys, want)
	}
	list := e.jsonRequest(http.MethodGet, "/v3/webhook/destinations/", k.key, nil)
	var ds []map[string]any
	json.Unmarshal(list.body, &ds)
	if len(ds) != 2 || ds[0]["webhook_version"] != "v2" || ds[1]["webhook_version"] != "v3" {
		t.Fatalf("list %s", list.body)
	}
	// Required on create, no wildcard, no unknown name.
	for _, events := range []any{nil, []string{"*"}, []string{"all"}, []string{"session.deleted"}} {
		body := map[string]any{"label": "x", "url": "http://127.0.0.1:9/"}
		if events != nil {
			body["subscribed_events"] = events
		}
		wantFields(t, e.jsonRequest(http.MethodPost, "/v3/webhook/destinations/", k.key, body), "subscribed_events")
	}
}

// [FM-WH-5] A destination at http://[64:ff9b::a9fe:a9fe]/ (NAT64 of 169.254.169.254) is refused
// even when private addresses are allowed, on create and on update.
func TestNAT64MetadataRefused(t *testing.T) {
	e := newEnv(t, withPrivateWebhooks())
	k := e.tenant(0, facematch.ModeLive)
	body := map[string]any{"label": "x", "url": "http://[64:ff9b::a9fe:a9fe]/", "subscribed_events": []string{"status.updated"}}
	m := wantFields(t, e.jsonRequest(http.MethodPost, "/v3/webhook/destinations/", k.key, body), "url")
	if !contains(m["url"][0], "169.254.169.254", "link-local") {
		t.Fatalf("refusal %q does not name the embedded address", m["url"][0])
	}
	d := e.createDestination(k.key, map[string]any{"label": "x", "url": "http://127.0.0.1:9/"})
	wantFields(t, e.jsonRequest(http.MethodPatch, "/v3/webhook/destinations/"+d["uuid"].(string)+"/", k.key, map[string]any{"url": "http://[64:ff9b::a9fe:a9fe]/"}), "url")
}
