package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// [FM-SBX-1] [FM-SBX-2] [FM-RESP-3] Each named example answers its own decision, with the caller's request
// id, time, vendor_data and metadata; no name means approved; an unknown name is an EINVALID
// error under non_field_errors that lists the known names.
func TestRespond(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Names(), []string{"approved", "declined", "no_face"}; !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	vd := "user-123"
	meta := json.RawMessage(`{"flow":"login"}`)
	now := time.Date(2026, 6, 12, 1, 4, 42, 763237000, time.UTC)
	for _, c := range []struct {
		name     string
		status   string
		risk     string
		nilScore bool
	}{
		{"", facematch.StatusApproved, "", false},
		{"approved", facematch.StatusApproved, "", false},
		{"declined", facematch.StatusDeclined, facematch.RiskLowSimilarity, false},
		{"no_face", facematch.StatusDeclined, facematch.RiskNoReferenceImage, true},
	} {
		resp, err := r.Respond(c.name, "req-1", now, &vd, meta)
		if err != nil {
			t.Fatalf("%q: %v", c.name, err)
		}
		fm := resp.FaceMatch
		if fm.Status != c.status || (fm.Score == nil) != c.nilScore {
			t.Errorf("%q: status %s score %v", c.name, fm.Status, fm.Score)
		}
		if c.risk == "" && len(fm.Warnings) != 0 || c.risk != "" && (len(fm.Warnings) != 1 || fm.Warnings[0].Risk != c.risk) {
			t.Errorf("%q: warnings %+v, want risk %q", c.name, fm.Warnings, c.risk)
		}
		if resp.RequestID != "req-1" || *resp.VendorData != vd || string(resp.Metadata) != string(meta) || time.Time(resp.CreatedAt) != now {
			t.Errorf("%q: envelope %+v", c.name, resp)
		}
		// FM-RESP-3: typed clients of the provider expect every entity's values filled.
		for _, e := range append(fm.User.Entities, fm.Ref.Entities...) {
			if e.Confidence == nil || *e.Confidence <= 0 || *e.Confidence > 1 || e.Age == nil || *e.Age <= 0 || e.Gender == nil || (*e.Gender != "male" && *e.Gender != "female") {
				t.Errorf("%q: entity %+v: want confidence, age and gender filled", c.name, e)
			}
		}
	}
	// Answers do not share memory: changing one leaves the next intact.
	a, _ := r.Respond("declined", "a", now, nil, nil)
	a.FaceMatch.Warnings[0].Risk = "CHANGED"
	if b, _ := r.Respond("declined", "b", now, nil, nil); b.FaceMatch.Warnings[0].Risk != facematch.RiskLowSimilarity {
		t.Fatal("an answer shares memory with the example")
	}
	_, err = r.Respond("rejected", "req-2", now, nil, nil)
	e, ok := facematch.Coded(err)
	if !ok || e.Code != facematch.EINVALID || len(e.Fields["non_field_errors"]) != 1 {
		t.Fatalf("unknown example: %v", err)
	}
	for _, name := range []string{"rejected", "approved", "declined", "no_face"} {
		if !strings.Contains(e.Fields["non_field_errors"][0], name) {
			t.Errorf("message %q does not name %q", e.Fields["non_field_errors"][0], name)
		}
	}
}

// [FM-SBX-2] The example a request asks for, read as Prism reads Prefer headers.
func TestPreferredExample(t *testing.T) {
	for _, c := range []struct {
		headers []string
		want    string
	}{
		{nil, ""},
		{[]string{"example=declined"}, "declined"},
		{[]string{"Example = no_face"}, "no_face"},
		{[]string{`example="no_face"`}, "no_face"},
		{[]string{"code=200, example=declined"}, "declined"},
		{[]string{"code=200; example=declined"}, "declined"},
		{[]string{"return=minimal"}, ""},
		{[]string{"code=200", "example=no_face"}, "no_face"},
		{[]string{"example=declined", "example=approved"}, "approved"},
		{[]string{"example="}, ""},
	} {
		h := http.Header{}
		for _, v := range c.headers {
			h.Add("Prefer", v)
		}
		if got := PreferredExample(h); got != c.want {
			t.Errorf("Prefer %q: %q, want %q", c.headers, got, c.want)
		}
	}
}

// [FM-RESP-3] Every example's entities are filled, as typed clients of the provider expect: a
// confidence within 0-1, an age, and gender "male" or "female".
func TestEntitiesFilled(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range r.Names() {
		resp, err := r.Respond(name, "req", time.Now(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range append(resp.FaceMatch.User.Entities, resp.FaceMatch.Ref.Entities...) {
			if e.Confidence == nil || *e.Confidence <= 0 || *e.Confidence > 1 || e.Age == nil || *e.Age <= 0 ||
				e.Gender == nil || (*e.Gender != "male" && *e.Gender != "female") {
				t.Fatalf("example %s: entity %+v, want confidence, age and gender filled", name, e)
			}
		}
	}
}
