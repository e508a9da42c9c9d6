package sandbox

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// [FM-SBX-1] [FM-RESP-3] The sandbox answers openapi.yaml's Approved example with the caller's
// id, time and echoes, its entities filled (confidence, age, gender), and each answer is its own
// copy.
func TestRespond(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	vd := "user-1"
	now := time.Date(2026, 6, 12, 1, 4, 42, 763237000, time.UTC)
	r := s.Respond("id-1", now, &vd, json.RawMessage(`{"a":1}`))
	if r.RequestID != "id-1" || time.Time(r.CreatedAt) != now || *r.VendorData != vd || string(r.Metadata) != `{"a":1}` {
		t.Fatalf("envelope %+v", r)
	}
	fm := r.FaceMatch
	if fm.Status != facematch.StatusApproved || fm.Score == nil || len(fm.Warnings) != 0 || len(fm.User.Entities) == 0 || len(fm.Ref.Entities) == 0 {
		t.Fatalf("face_match %+v", fm)
	}
	for _, e := range append(fm.User.Entities, fm.Ref.Entities...) {
		if e.Confidence == nil || *e.Confidence <= 0 || *e.Confidence > 1 || e.Age == nil || *e.Age <= 0 || e.Gender == nil || (*e.Gender != "male" && *e.Gender != "female") {
			t.Fatalf("entity %+v: want confidence, age and gender filled", e)
		}
	}
	*r.FaceMatch.User.Entities[0].Age = -1
	if again := s.Respond("id-2", now, nil, nil); *again.FaceMatch.User.Entities[0].Age == -1 || again.VendorData != nil || again.Metadata != nil {
		t.Fatal("answers share their values")
	}
}
