package facematch

import (
	"encoding/json"
	"testing"
	"time"
)

func score(v float64) *float64 { return &v }

// [FM-MATCH-2] [FM-MATCH-3] [FM-RESP-4] Decide: a score above the threshold approves with no
// warning; at or below it declines with LOW_FACE_MATCH_SIMILARITY; without a score it declines
// with NO_REFERENCE_IMAGE and the face counts; entity lists are never null.
func TestDecide(t *testing.T) {
	one := ImageResult{Entities: []Entity{{BBox: [4]int{1, 2, 3, 4}}}}
	two := ImageResult{Entities: []Entity{{}, {}}}
	for _, c := range []struct {
		name      string
		score     *float64
		user, ref ImageResult
		threshold float64
		status    string
		risk      string
	}{
		{"above", score(30.01), one, one, 30, StatusApproved, ""},
		{"equal declines", score(30), one, one, 30, StatusDeclined, RiskLowSimilarity},
		{"below", score(29.99), one, one, 30, StatusDeclined, RiskLowSimilarity},
		{"threshold 0, score 0", score(0), one, one, 0, StatusDeclined, RiskLowSimilarity},
		{"threshold 0, score 0.01", score(0.01), one, one, 0, StatusApproved, ""},
		{"threshold 100, score 100", score(100), one, one, 100, StatusDeclined, RiskLowSimilarity},
		{"decimal threshold", score(87.35), one, one, 87.349, StatusApproved, ""},
		{"no face in user", nil, ImageResult{}, one, 30, StatusDeclined, RiskNoReferenceImage},
		{"no face in either", nil, ImageResult{}, ImageResult{}, 30, StatusDeclined, RiskNoReferenceImage},
		{"no score, two faces", nil, two, ImageResult{}, 0, StatusDeclined, RiskNoReferenceImage},
	} {
		fm := Decide(c.score, c.user, c.ref, c.threshold)
		if fm.Status != c.status {
			t.Errorf("%s: status %s, want %s", c.name, fm.Status, c.status)
		}
		if fm.Warnings == nil || fm.User.Entities == nil || fm.Ref.Entities == nil {
			t.Errorf("%s: a null list in %+v", c.name, fm)
		}
		if c.risk == "" {
			if len(fm.Warnings) != 0 {
				t.Errorf("%s: warnings %+v", c.name, fm.Warnings)
			}
			continue
		}
		if len(fm.Warnings) != 1 {
			t.Fatalf("%s: warnings %+v", c.name, fm.Warnings)
		}
		w := fm.Warnings[0]
		if w.Risk != c.risk || w.Feature != "FACEMATCH" || w.LogType != "error" || w.ShortDescription == "" || w.LongDescription == "" || w.NodeID != nil {
			t.Errorf("%s: warning %+v", c.name, w)
		}
		if c.risk == RiskNoReferenceImage {
			want := map[string]any{"user_image_faces": len(c.user.Entities), "ref_image_faces": len(c.ref.Entities)}
			if len(w.AdditionalData) != 2 || w.AdditionalData["user_image_faces"] != want["user_image_faces"] || w.AdditionalData["ref_image_faces"] != want["ref_image_faces"] {
				t.Errorf("%s: additional_data %v, want %v", c.name, w.AdditionalData, want)
			}
		} else if w.AdditionalData != nil {
			t.Errorf("%s: additional_data %v, want null", c.name, w.AdditionalData)
		}
	}
}

// [FM-MATCH-1] Scores are reported with at most two decimals.
func TestRoundScore(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{87.354, 87.35}, {87.355, 87.36}, {0.004, 0}, {99.999, 100}, {100, 100}, {0, 0}, {30.005, 30.01},
	} {
		if got := RoundScore(c.in); got != c.want {
			t.Errorf("RoundScore(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// [FM-RESP-2] created_at is UTC, RFC 3339 with microseconds and +00:00, whatever the zone.
func TestTimestamp(t *testing.T) {
	zone := time.FixedZone("CEST", 2*3600)
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 6, 12, 1, 4, 42, 763237123, time.UTC), `"2026-06-12T01:04:42.763237+00:00"`},
		{time.Date(2026, 6, 12, 3, 4, 42, 0, zone), `"2026-06-12T01:04:42.000000+00:00"`},
		{time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), `"1999-12-31T23:59:59.999999+00:00"`},
	} {
		b, err := json.Marshal(Timestamp(c.in))
		if err != nil || string(b) != c.want {
			t.Errorf("%v: %s %v, want %s", c.in, b, err, c.want)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil || !time.Time(back).Equal(c.in.Truncate(time.Microsecond)) {
			t.Errorf("%s read back as %v (%v)", b, time.Time(back), err)
		}
	}
	var ts Timestamp
	for _, bad := range []string{`"2026-06-12T01:04:42Z"`, `"2026-06-12"`, `12`, `null`} {
		if json.Unmarshal([]byte(bad), &ts) == nil {
			t.Errorf("%s read as a timestamp", bad)
		}
	}
}
