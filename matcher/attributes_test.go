package matcher

import (
	"context"
	"math"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/internal/testimg"
)

// checkEntities requires of every entity what FM-RESP-3 says: a confidence in [0, 1], and an age
// and a gender exactly when the face is at least MinAttributesWidth pixels wide. It returns the
// number of faces with attributes.
func checkEntities(t *testing.T, name string, a *Analysis) int {
	t.Helper()
	withAttributes := 0
	r := a.Result()
	for i, e := range r.Entities {
		f := a.Faces[i]
		if e.Confidence == nil || *e.Confidence < 0 || *e.Confidence > 1 || math.IsNaN(*e.Confidence) {
			t.Errorf("%s face %d: confidence %v, want a number in [0, 1]", name, i, e.Confidence)
		} else if *e.Confidence < 0.5 {
			t.Errorf("%s face %d: confidence %.3f below the detector threshold's 0.5 (score %.3f)", name, i, *e.Confidence, f.Score)
		}
		small := f.exact[2]-f.exact[0] < MinAttributesWidth
		switch {
		case small && (e.Age != nil || e.Gender != nil):
			t.Errorf("%s face %d is %.0f px wide: age %v gender %v, want null", name, i, f.exact[2]-f.exact[0], e.Age, e.Gender)
		case !small && (e.Age == nil || e.Gender == nil):
			t.Errorf("%s face %d is %.0f px wide: age or gender is null", name, i, f.exact[2]-f.exact[0])
		case !small:
			withAttributes++
			if *e.Age < 1 || *e.Age > 100 {
				t.Errorf("%s face %d: age %.1f is not a plausible age", name, i, *e.Age)
			}
			if *e.Gender != "male" && *e.Gender != "female" {
				t.Errorf("%s face %d: gender %q", name, i, *e.Gender)
			}
		}
	}
	return withAttributes
}

// [FM-RESP-3] Every face of real photos, single and in groups, in any orientation, carries a
// confidence, an age and a gender; the people whose gender is known get it.
func TestEntitiesCarryConfidenceAgeGender(t *testing.T) {
	m := testMatcher(t)
	cases := []struct {
		file   string
		rotate bool
		gender string // of the largest face; "" when not checked
	}{
		{"barack_obama/obama.jpg", false, "male"},
		{"joe_biden/biden2.jpg", false, "male"},
		{"rose_leslie/img2.jpg", false, "female"},
		{"alex_lacamoire/alex-lacamoire.png", false, "male"},
		{"filippo_giunchedi/giunchedi_cmyk_exif_orient6.jpg", true, "male"},
		{"multi/kit_with_rose.jpg", false, ""},
		{"multi/bbt4.jpg", false, ""},
	}
	for _, c := range cases {
		a, err := m.Analyze(context.Background(), face_(t, c.file), c.rotate)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if len(a.Faces) == 0 {
			t.Errorf("%s: no face", c.file)
			continue
		}
		if checkEntities(t, c.file, a) != len(a.Faces) {
			t.Errorf("%s: a face lacks attributes", c.file)
		}
		if e := a.Result().Entities[0]; c.gender != "" && e.Gender != nil && *e.Gender != c.gender {
			t.Errorf("%s: gender %s, want %s", c.file, *e.Gender, c.gender)
		}
		e := a.Result().Entities[0]
		t.Logf("%s: %d faces; largest confidence %.3f (score %.3f), age %.1f, %s", c.file, len(a.Faces), *e.Confidence, a.Faces[0].Score, *e.Age, *e.Gender)
	}
}

// [FM-RESP-3] A face under 40 pixels wide is reported with null age and gender: the picture of
// obama-240p.jpg reduced to half its size, and the smallest faces of a family photo.
func TestSmallFacesHaveNullAgeAndGender(t *testing.T) {
	m := testMatcher(t)
	data := face_(t, "barack_obama/obama-240p.jpg")
	h, err := imaging.ReadHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	w, err := imaging.Load(data, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := imaging.Reduce(w.RGBA, max(w.Width, w.Height)/2)
	a, err := m.Analyze(context.Background(), testimg.Encode(t, half, "png"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Faces) != 1 {
		t.Fatalf("half-size obama-240p: %d faces, want 1", len(a.Faces))
	}
	if fw := a.Faces[0].Box[2] - a.Faces[0].Box[0]; fw >= MinAttributesWidth {
		t.Fatalf("half-size obama-240p: the face is %d px wide, the test needs one under %d", fw, MinAttributesWidth)
	}
	checkEntities(t, "half-size obama-240p", a)
	if e := a.Result().Entities[0]; e.Age != nil || e.Gender != nil || e.Confidence == nil {
		t.Fatalf("half-size obama-240p: age %v gender %v confidence %v, want null, null and a number", e.Age, e.Gender, e.Confidence)
	}

	group, err := m.Analyze(context.Background(), face_(t, "multi/2007_007763.jpg"), false)
	if err != nil {
		t.Fatal(err)
	}
	small := 0
	for _, f := range group.Faces {
		if f.exact[2]-f.exact[0] < MinAttributesWidth {
			small++
		}
	}
	if small == 0 || small == len(group.Faces) {
		t.Fatalf("2007_007763.jpg: %d of %d faces under %d px; the test needs both kinds", small, len(group.Faces), MinAttributesWidth)
	}
	checkEntities(t, "2007_007763.jpg", group)
}

// [FM-RESP-3] The entities of a match carry the attributes of both images.
func TestMatchEntitiesAreFilled(t *testing.T) {
	m := testMatcher(t)
	fm, err := m.Match(context.Background(), facematch.MatchInput{User: face_(t, "joe_biden/biden.jpg"), Ref: face_(t, "joe_biden/biden2.jpg"), Threshold: 30})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []facematch.ImageResult{fm.User, fm.Ref} {
		if len(r.Entities) == 0 {
			t.Fatal("no entity")
		}
		for _, e := range r.Entities {
			if e.Confidence == nil || e.Age == nil || e.Gender == nil {
				t.Errorf("entity %+v has a null attribute", e)
			}
		}
	}
}

func TestConfidenceMapping(t *testing.T) {
	if c := Confidence(0); c != 0.5 {
		t.Errorf("Confidence(0) = %v, want 0.5 at the threshold", c)
	}
	prev := 0.0
	for s := -2.0; s <= 4; s += 0.25 {
		c := Confidence(s)
		if c <= prev || c >= 1 {
			t.Fatalf("Confidence(%g) = %v after %v: not increasing within (0, 1)", s, c, prev)
		}
		prev = c
	}
}

// BenchmarkEstimate measures the age/gender stage per face: the crop from the decoded pixels
// and the network, for the face of obama.jpg; cpu-ms/op is the thread's CPU time per face.
func BenchmarkEstimate(b *testing.B) {
	m := testMatcher(b)
	data := shared.Read(b, "fixtures", "faces", "barack_obama", "obama.jpg")
	h, err := imaging.ReadHeader(data)
	if err != nil {
		b.Fatal(err)
	}
	img, err := imaging.DecodeAtLeast(data, h, m.cfg.MaxSide)
	if err != nil {
		b.Fatal(err)
	}
	work := imaging.Prepare(img, h, m.cfg.MaxSide)
	rec := <-m.pool
	best, err := m.detect(context.Background(), rec, work, []int{0})
	m.pool <- rec
	if err != nil || best == nil {
		b.Fatalf("no face: %v", err)
	}
	fc := place(work, best)[0]
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ru unix.Rusage
	cpu := func() time.Duration {
		if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	for b.Loop() {
		if err := m.estimate(img, h, work, best, &fc); err != nil || fc.Attributes == nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpu()-start)/1e6/float64(b.N), "cpu-ms/op")
}
