package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
)

// corruptPixels keeps a JPEG's header and drops most of its entropy-coded data: it passes
// validation (format and size come from the header) but cannot be decoded.
func corruptPixels(t *testing.T) file {
	data := photo(t, "barack_obama/obama.jpg").data
	return file{name: "corrupt.jpg", data: append([]byte{}, data[:len(data)/3]...)}
}

// [FM-BILL-1] Every 200 of a live key costs one credit, Declined ones too; with no credit left
// the call is refused with the credits 403 before any image is decoded.
func TestBillingOneCreditPer200(t *testing.T) {
	e := newEnv(t, withRealMatcher())
	k := e.tenant(3, facematch.ModeLive)
	e.score(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))   // Approved
	e.score(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "barack_obama/obama.jpg")) // Declined
	e.score(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"), "save_api_request", "false")
	if c := e.credits(k.org.ID); c != 0 {
		t.Fatalf("balance %d, want 0", c)
	}
	// No credit: 403, even for pixels that would not decode (they are never looked at).
	r := e.faceMatch(k.key, corruptPixels(t), photo(t, "joe_biden/biden2.jpg"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, `{"detail": "You do not have enough credits to perform this action.", "error": "not-enough-credits"}`)
	// With credit, the same pixels are a 400 on their field, and the credit comes back.
	e.db.AddCredits(context.Background(), k.org.ID, 1)
	m := wantFields(t, e.faceMatch(k.key, corruptPixels(t), photo(t, "joe_biden/biden2.jpg")), "user_image")
	if !strings.Contains(m["user_image"][0], "Upload a valid image") {
		t.Fatal(m)
	}
	if c := e.credits(k.org.ID); c != 1 {
		t.Fatalf("a refused call kept its credit: balance %d", c)
	}
}

// [FM-BILL-2] 50 concurrent live calls against 10 credits: exactly 10 answers are 200 and 40
// the credits 403, and the balance ends at 0.
func TestBillingConcurrentCallsNeverOverdraw(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(10, facematch.ModeLive)
	user, ref := photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg")
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.faceMatch(k.key, user, ref, "save_api_request", "false")
			mu.Lock()
			counts[r.status]++
			mu.Unlock()
			if r.status == http.StatusForbidden && !bytes.Contains(r.body, []byte("not-enough-credits")) {
				t.Errorf("403 body %s", r.body)
			}
		}()
	}
	wg.Wait()
	if counts[200] != 10 || counts[403] != 40 || len(counts) != 2 {
		t.Fatalf("statuses %v, want 10 x 200 and 40 x 403", counts)
	}
	if c := e.credits(k.org.ID); c != 0 {
		t.Fatalf("balance %d, want 0", c)
	}
}

// [FM-BILL-2] A call that does not end in a 200 consumes nothing: here the client goes away
// while the faces are being compared.
func TestBillingAbandonedCallConsumesNothing(t *testing.T) {
	e := newEnv(t, withMatcher(stalledMatcher{}))
	k := e.tenant(5, facematch.ModeLive)
	body, ct := form(t, []file{
		{"user_image", "a.jpg", photo(t, "multi/obama_and_biden.jpg").data},
		{"ref_image", "b.jpg", photo(t, "multi/pristin.jpg").data},
	}, "rotate_image", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v3/face-match/", body)
	req.Header.Set("x-api-key", k.key)
	req.Header.Set("Content-Type", ct)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the call finished (%d) although the matcher never answered", res.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.credits(k.org.ID) != 5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if c := e.credits(k.org.ID); c != 5 {
		t.Fatalf("balance %d after an abandoned call, want 5", c)
	}
}

// [FM-SBX-1] A sandbox key gets the fixed payload after validation: fresh request id, current
// time, its vendor_data and metadata echoed; nothing decoded, stored or billed.
func TestSandboxFixedPayload(t *testing.T) {
	e := newEnv(t)
	sb := e.tenant(0, facematch.ModeSandbox)
	doc, _ := contract.Load()
	example, _ := json.Marshal(doc.Components.Examples["SandboxFaceMatch"].Value.Value)
	var want map[string]any
	json.Unmarshal(example, &want)

	var ids []string
	for range 2 {
		r := e.faceMatch(sb.key, corruptPixels(t), photo(t, "none/white.png"), "vendor_data", "sdk-test", "metadata", `{"k":"v"}`)
		wantStatus(t, r, http.StatusOK)
		got := r.json(t)
		if got["vendor_data"] != "sdk-test" || fmtJSON(got["metadata"]) != `{"k":"v"}` {
			t.Fatalf("echo: %s", r.body)
		}
		if fmtJSON(got["face_match"]) != fmtJSON(want["face_match"]) {
			t.Fatalf("face_match %s, want the example's %s", fmtJSON(got["face_match"]), fmtJSON(want["face_match"]))
		}
		created, err := time.Parse(facematch.TimestampLayout, got["created_at"].(string))
		if err != nil || created.Sub(e.clock.Now()).Abs() > time.Second {
			t.Fatalf("created_at %v, now %v", got["created_at"], e.clock.Now())
		}
		ids = append(ids, got["request_id"].(string))
	}
	if ids[0] == ids[1] || ids[0] == want["request_id"] {
		t.Fatalf("request ids %v are not fresh", ids)
	}
	for _, id := range ids {
		wantStatus(t, e.decision(sb.key, id), http.StatusNotFound)
	}
	if c := e.credits(sb.org.ID); c != 0 {
		t.Fatalf("balance %d", c)
	}
}

// [FM-SBX-2] A sandbox request asks for another example of the 200 answer by name with
// `Prefer: example=NAME`; an unknown name is a 400 under non_field_errors listing the known
// names, reported with the form's other complaints; a live key ignores the header.
func TestSandboxPreferExample(t *testing.T) {
	e := newEnv(t)
	sb := e.tenant(0, facematch.ModeSandbox)
	live := e.tenant(5, facematch.ModeLive)
	prefer := func(key, value string, files ...file) response {
		if len(files) == 0 {
			files = []file{photo(t, "barack_obama/obama.jpg"), photo(t, "barack_obama/obama2.jpg")}
		}
		files[0].field, files[1].field = "user_image", "ref_image"
		body, ct := form(t, files)
		req := e.request(http.MethodPost, "/v3/face-match/", key, body, ct)
		req.Header.Set("Prefer", value)
		return e.do(req)
	}
	for _, c := range []struct {
		prefer, status, risk string
		nullScore            bool
	}{
		{"example=approved", facematch.StatusApproved, "", false},
		{"example=declined", facematch.StatusDeclined, facematch.RiskLowSimilarity, false},
		{"code=200, example=no_face", facematch.StatusDeclined, facematch.RiskNoReferenceImage, true},
	} {
		r := prefer(sb.key, c.prefer)
		wantStatus(t, r, http.StatusOK)
		fm := faceMatchOf(t, r).FaceMatch
		if fm.Status != c.status || (fm.Score == nil) != c.nullScore {
			t.Errorf("Prefer %s: status %s, score %v", c.prefer, fm.Status, fm.Score)
		}
		if c.risk != "" && (len(fm.Warnings) != 1 || fm.Warnings[0].Risk != c.risk) {
			t.Errorf("Prefer %s: warnings %+v", c.prefer, fm.Warnings)
		}
	}
	m := fieldErrors(t, prefer(sb.key, "example=rejected"))
	if len(m) != 1 || len(m["non_field_errors"]) != 1 || !strings.Contains(m["non_field_errors"][0], "approved, declined, no_face") {
		t.Fatalf("unknown example: %v", m)
	}
	// Reported with the form's complaints, all at once (FM-VAL-1).
	m = fieldErrors(t, prefer(sb.key, "example=rejected", photo(t, "barack_obama/obama.jpg"), file{field: "ref_image", name: "r.gif", data: []byte("GIF89a")}))
	if len(m["non_field_errors"]) != 1 || len(m["ref_image"]) == 0 {
		t.Fatalf("unknown example beside a bad image: %v", m)
	}
	// A live key ignores the header: its answer is the matcher's.
	r := prefer(live.key, "example=declined")
	wantStatus(t, r, http.StatusOK)
	if fm := faceMatchOf(t, r).FaceMatch; fm.Status != facematch.StatusApproved || *fm.Score != fixedScore {
		t.Fatalf("live key with Prefer: %+v", fm)
	}
}

// fmtJSON encodes v compactly, keys sorted, without HTML escaping, for comparisons.
func fmtJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(buf.String(), "\n")
}

// [FM-SES-1] [FM-SES-2] A saved call is a session: its decision has the documented shape and
// signed image URLs that serve the submitted bytes (ref_image as source, user_image as target)
// and expire.
func TestSessionDecisionAndImages(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(5, facematch.ModeLive)
	user, ref := photo(t, "rose_leslie/img1.jpg"), photo(t, "rose_leslie/img2.jpg")
	r := e.faceMatch(k.key, user, ref, "vendor_data", "u-1", "metadata", `{"flow":"kyc"}`)
	wantStatus(t, r, http.StatusOK)
	resp := faceMatchOf(t, r)

	d := e.decision(k.key, resp.RequestID)
	wantStatus(t, d, http.StatusOK)
	var dec map[string]any
	json.Unmarshal(d.body, &dec)
	checks := map[string]string{
		"session_id": `"` + resp.RequestID + `"`, "session_number": "1", "session_kind": `"user"`, "environment": `"live"`,
		"workflow_id": "null", "features": `["FACE_MATCH"]`, "vendor_data": `"u-1"`, "metadata": `{"flow":"kyc"}`,
		"status": `"` + resp.FaceMatch.Status + `"`, "id_verifications": "null", "liveness_checks": "null", "reviews": "null",
	}
	for f, want := range checks {
		if got := fmtJSON(dec[f]); got != want {
			t.Errorf("%s = %s, want %s", f, got, want)
		}
	}
	if dec["created_at"] != time.Time(resp.CreatedAt).Format(facematch.TimestampLayout) {
		t.Errorf("created_at %v, call's %v", dec["created_at"], time.Time(resp.CreatedAt))
	}
	fm := dec["face_matches"].([]any)[0].(map[string]any)
	if fm["score"] != *resp.FaceMatch.Score || fm["source_image_session_id"] != nil || fm["node_id"] != nil || fm["status"] != resp.FaceMatch.Status {
		t.Fatalf("face_matches[0] %v", fm)
	}
	for kind, want := range map[string]file{"source_image": ref, "target_image": user} {
		img := e.get(fm[kind].(string))
		wantStatus(t, img, http.StatusOK)
		if !bytes.Equal(img.body, want.data) || img.header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("%s serves %d bytes of %s, want the %d bytes of %s", kind, len(img.body), img.header.Get("Content-Type"), len(want.data), want.name)
		}
	}
	// An altered URL is a 403: another image, another session, another expiry, another signature.
	src, _ := url.Parse(fm["source_image"].(string))
	q := src.Query()
	for name, alter := range map[string]func(u url.URL) string{
		"other image": func(u url.URL) string { u.Path = strings.Replace(u.Path, "/source", "/target", 1); return u.String() },
		"other session": func(u url.URL) string {
			u.Path = strings.Replace(u.Path, resp.RequestID, uuid.NewString(), 1)
			return u.String()
		},
		"later expiry": func(u url.URL) string {
			v := u.Query()
			v.Set("expires", "99999999999")
			u.RawQuery = v.Encode()
			return u.String()
		},
		"bad signature": func(u url.URL) string {
			v := u.Query()
			v.Set("signature", strings.Repeat("0", len(q.Get("signature"))))
			u.RawQuery = v.Encode()
			return u.String()
		},
		"no signature": func(u url.URL) string { u.RawQuery = ""; return u.String() },
	} {
		r := e.get(alter(*src))
		if r.status != http.StatusForbidden {
			t.Errorf("%s: status %d", name, r.status)
		}
	}
	// The URLs expire after 60 minutes.
	e.clock.Add(59 * time.Minute)
	wantStatus(t, e.get(fm["source_image"].(string)), http.StatusOK)
	e.clock.Add(2 * time.Minute)
	wantStatus(t, e.get(fm["source_image"].(string)), http.StatusForbidden)
	// A fresh decision signs fresh URLs; session numbers count up within the application.
	d = e.decision(k.key, resp.RequestID)
	fresh := d.json(t)["face_matches"].([]any)[0].(map[string]any)["target_image"].(string)
	wantStatus(t, e.get(fresh), http.StatusOK)
	r = e.faceMatch(k.key, user, ref)
	if n := e.decision(k.key, faceMatchOf(t, r).RequestID).json(t)["session_number"]; n != 2.0 {
		t.Fatalf("second session number %v", n)
	}
}

// [FM-SES-1] The session, its images and the credit's consumption are one transaction: when the
// write fails, nothing of it is left.
func TestSessionWrittenAtomically(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(1, facematch.ModeLive)
	id := uuid.NewString()
	_, err := e.db.CreateSession(context.Background(), facematch.NewSession{
		Session: facematch.Session{ID: id, AppID: k.app.ID, CreatedAt: time.Now(), FaceMatch: facematch.FaceMatch{Status: "Approved", Warnings: []facematch.Warning{}}},
		Source:  facematch.StoredImage{ContentType: "image/jpeg", Data: []byte("src")},
		Target:  facematch.StoredImage{ContentType: "image/jpeg", Data: []byte("tgt")},
		Credit:  facematch.Reservation{ID: "no-such-reservation", OrgID: k.org.ID},
	})
	if err == nil {
		t.Fatal("a session without its credit was written")
	}
	wantStatus(t, e.decision(k.key, id), http.StatusNotFound)
	if _, err := e.db.SessionImage(context.Background(), id, facematch.ImageSource); facematch.ErrorCode(err) != facematch.ENOTFOUND {
		t.Fatalf("an image of the failed session is left: %v", err)
	}
}

// [FM-SES-3] Unknown ids, transient request ids, malformed ids and other applications'
// sessions are all a 404 with the same body.
func TestSessionNotFound(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(5, facematch.ModeLive)
	other := e.tenant(5, facematch.ModeLive)
	transient := faceMatchOf(t, e.faceMatch(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"), "save_api_request", "0")).RequestID
	foreign := faceMatchOf(t, e.faceMatch(other.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))).RequestID
	for _, id := range []string{uuid.NewString(), transient, foreign, "not-a-uuid", strings.ToUpper(foreign)} {
		for _, r := range []response{e.decision(k.key, id), e.deleteSession(k.key, id)} {
			wantStatus(t, r, http.StatusNotFound)
			wantBody(t, r, `{"detail": "Not found."}`)
		}
	}
}

// [FM-SES-4] Deleting a session answers 204 and removes it with its images: the decision is a
// 404 and the image URLs stop working.
func TestSessionDelete(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(5, facematch.ModeLive)
	id := faceMatchOf(t, e.faceMatch(k.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))).RequestID
	fm := e.decision(k.key, id).json(t)["face_matches"].([]any)[0].(map[string]any)
	r := e.deleteSession(k.key, id)
	wantStatus(t, r, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with a body: %q", r.body)
	}
	wantStatus(t, e.decision(k.key, id), http.StatusNotFound)
	for _, u := range []string{fm["source_image"].(string), fm["target_image"].(string)} {
		wantStatus(t, e.get(u), http.StatusNotFound)
	}
	wantStatus(t, e.deleteSession(k.key, id), http.StatusNotFound)
}
