package matcher

import (
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/internal/testimg"
)

var (
	loadOnce sync.Once
	shared_  *Matcher
	loadErr  error
)

// testMatcher loads the models once for the whole package: $FACEMATCH_MODELS, else models/ of
// the repository. A missing model fails the test: `make models` builds them.
func testMatcher(t testing.TB) *Matcher {
	t.Helper()
	loadOnce.Do(func() {
		dir := os.Getenv("FACEMATCH_MODELS")
		if dir == "" {
			dir = filepath.Join(shared.RepoRoot(), "models")
		}
		shared_, loadErr = New(Config{Models: dir, Workers: 2})
	})
	if loadErr != nil {
		t.Fatalf("%v (run `make models`)", loadErr)
	}
	return shared_
}

func face_(t *testing.T, rel string) []byte {
	t.Helper()
	return shared.Read(t, "fixtures", "faces", rel)
}

// photos lists the images of an identity folder of the shared fixtures.
func photos(t *testing.T, identity string) []string {
	t.Helper()
	dir := shared.Path(t, "fixtures", "faces", identity)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, identity+"/"+e.Name())
	}
	sort.Strings(out)
	return out
}

// sixIdentities are the people of the acceptance check.
var sixIdentities = []string{"barack_obama", "joe_biden", "kit_harington", "rose_leslie", "alex_lacamoire", "filippo_giunchedi"}

// analyses analyses every photo of the six identities once. The CMYK copy whose EXIF tag turns
// the face on its side is analysed with rotation, as a client would send it.
func analyses(t *testing.T) map[string]*Analysis {
	t.Helper()
	m := testMatcher(t)
	out := map[string]*Analysis{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range sixIdentities {
		for _, p := range photos(t, id) {
			data := face_(t, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := m.Analyze(context.Background(), data, strings.Contains(p, "orient6"))
				if err != nil {
					t.Errorf("%s: %v", p, err)
					return
				}
				mu.Lock()
				out[p] = a
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// [FM-MATCH-1] [FM-MATCH-5] Every same-person pair of the six identities, in every encoding,
// scores above 50 (strict); every pair of two of them scores 30 or less.
func TestFixturePairs(t *testing.T) {
	as := analyses(t)
	var files []string
	for f, a := range as {
		if a.Chosen < 0 {
			t.Errorf("%s: no face found", f)
		}
		files = append(files, f)
	}
	sort.Strings(files)
	minSame, maxDiff := 100.0, 0.0
	for i, a := range files {
		for _, b := range files[i+1:] {
			if as[a].Chosen < 0 || as[b].Chosen < 0 {
				continue
			}
			s := Score(Distance(as[a].Descriptor, as[b].Descriptor))
			same := strings.Split(a, "/")[0] == strings.Split(b, "/")[0]
			switch {
			case same && s <= 50:
				t.Errorf("same person %s ~ %s scores %.2f, want > 50", a, b, s)
			case !same && s > 30:
				t.Errorf("different people %s ~ %s score %.2f, want <= 30", a, b, s)
			}
			if same {
				minSame = math.Min(minSame, s)
			} else {
				maxDiff = math.Max(maxDiff, s)
			}
		}
	}
	t.Logf("%d images: lowest same-person score %.2f, highest different-people score %.2f", len(files), minSame, maxDiff)
}

// Every accepted format decodes to the same face: PNG (8-bit, 16-bit with alpha), WebP, TIFF,
// and the CMYK and grayscale JPEGs, all match the RGB JPEG.
func TestEveryFormatMatches(t *testing.T) {
	m := testMatcher(t)
	ref := face_(t, "barack_obama/obama.jpg")
	photo := testimg.Decode(t, ref)
	deep := image.NewNRGBA64(photo.Bounds())
	for y := photo.Bounds().Min.Y; y < photo.Bounds().Max.Y; y++ {
		for x := photo.Bounds().Min.X; x < photo.Bounds().Max.X; x++ {
			deep.Set(x, y, photo.At(x, y))
		}
	}
	cases := map[string][2][]byte{
		"png":       {testimg.Encode(t, photo, "png"), face_(t, "barack_obama/obama2.jpg")},
		"png16":     {testimg.Encode(t, deep, "png"), face_(t, "barack_obama/obama2.jpg")},
		"webp":      {testimg.Encode(t, photo, "webp"), face_(t, "barack_obama/obama2.jpg")},
		"tiff":      {testimg.Encode(t, photo, "tiff"), face_(t, "barack_obama/obama2.jpg")},
		"rgba png":  {face_(t, "alex_lacamoire/alex-lacamoire.png"), face_(t, "alex_lacamoire/img1.jpg")},
		"cmyk":      {face_(t, "filippo_giunchedi/giunchedi_cmyk.jpg"), face_(t, "filippo_giunchedi/giunchedi_rgb.jpg")},
		"grayscale": {face_(t, "filippo_giunchedi/giunchedi_grayscale.jpg"), face_(t, "filippo_giunchedi/giunchedi_rgb.jpg")},
	}
	for name, c := range cases {
		fm, err := m.Match(context.Background(), facematch.MatchInput{User: c[0], Ref: c[1], Threshold: 50})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fm.Status != facematch.StatusApproved {
			t.Errorf("%s: %s with score %v, want Approved above 50", name, fm.Status, fm.Score)
		}
	}
}

// Images of the none/ folder show no human face: Declined with a null score and the
// NO_REFERENCE_IMAGE warning (FM-MATCH-3).
func TestNoFace(t *testing.T) {
	m := testMatcher(t)
	ref := face_(t, "barack_obama/obama.jpg")
	for _, p := range photos(t, "none") {
		a, err := m.Analyze(context.Background(), face_(t, p), false)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(a.Faces) != 0 {
			t.Errorf("%s: %d faces found (%s pass), want none", p, len(a.Faces), a.Pass)
		}
	}
	fm, err := m.Match(context.Background(), facematch.MatchInput{User: face_(t, "none/dogs.jpg"), Ref: ref, Threshold: 30})
	if err != nil {
		t.Fatal(err)
	}
	if fm.Status != facematch.StatusDeclined || fm.Score != nil || len(fm.Warnings) != 1 ||
		fm.Warnings[0].Risk != facematch.RiskNoReferenceImage || fm.Warnings[0].AdditionalData["ref_image_faces"] != 1 {
		t.Fatalf("got %+v", fm)
	}
}

// [FM-RESP-3] Images showing two labelled people report both faces, largest first, and each
// person is recognised among them.
func TestMultiReportsEveryFaceLargestFirst(t *testing.T) {
	m := testMatcher(t)
	cases := map[string][]string{
		"multi/two_people.jpg":      {"barack_obama/obama.jpg", "joe_biden/biden2.jpg"},
		"multi/obama_and_biden.jpg": {"barack_obama/obama.jpg", "joe_biden/biden2.jpg"},
		"multi/kit_with_rose.jpg":   {"kit_harington/john2.jpeg", "rose_leslie/img2.jpg"},
		"multi/bbt4.jpg":            {"sheldon_bbt/sheldon1.png", "penny_bbt/penny5.png"},
	}
	for group, people := range cases {
		a, err := m.Analyze(context.Background(), face_(t, group), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Faces) < 2 {
			t.Errorf("%s: %d faces, want at least 2", group, len(a.Faces))
			continue
		}
		for i := 1; i < len(a.Faces); i++ {
			if a.Faces[i].area() > a.Faces[i-1].area() {
				t.Errorf("%s: face %d is larger than face %d", group, i, i-1)
			}
		}
		for _, p := range people {
			ref, err := m.Analyze(context.Background(), face_(t, p), false)
			if err != nil || ref.Chosen < 0 {
				t.Fatalf("%s: %v", p, err)
			}
			best := math.Inf(1)
			for _, f := range a.Faces {
				best = math.Min(best, Distance(f.desc, ref.Descriptor))
			}
			if best > 0.6 {
				t.Errorf("%s: nobody in it is %s (closest distance %.3f)", group, p, best)
			}
		}
	}
}

// [FM-MATCH-4] A copy turned 90 degrees matches its original with rotation on, and the box is
// reported in the coordinates of the turned-back image.
func TestRotatedCopyMatchesWithRotation(t *testing.T) {
	m := testMatcher(t)
	orig := face_(t, "barack_obama/obama2.jpg")
	h, _ := imaging.ReadHeader(orig)
	w, _ := imaging.Load(orig, h, 0)
	turned := testimg.Encode(t, imaging.Rotate(w.RGBA, 90), "jpeg")

	fm, err := m.Match(context.Background(), facematch.MatchInput{User: turned, Ref: orig, Threshold: 50, Rotate: true})
	if err != nil {
		t.Fatal(err)
	}
	if fm.Status != facematch.StatusApproved || fm.User.BestAngle != 270 || fm.Ref.BestAngle != 0 {
		t.Fatalf("status %s score %v angles %d/%d, want Approved at 270/0", fm.Status, fm.Score, fm.User.BestAngle, fm.Ref.BestAngle)
	}
	if !near(fm.User.Entities[0].BBox, fm.Ref.Entities[0].BBox, 3) {
		t.Errorf("turned-back box %v, original %v", fm.User.Entities[0].BBox, fm.Ref.Entities[0].BBox)
	}
	// Without rotation the turned copy shows no upright face.
	fm, err = m.Match(context.Background(), facematch.MatchInput{User: turned, Ref: orig, Threshold: 50})
	if err != nil {
		t.Fatal(err)
	}
	if fm.Status != facematch.StatusDeclined || fm.User.BestAngle != 0 {
		t.Fatalf("without rotation: %s at %d", fm.Status, fm.User.BestAngle)
	}
}

func near(a, b [4]int, tol int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// [FM-RESP-3] Boxes are in the coordinates of the image after EXIF orientation: pixels stored
// turned and tagged to be turned back give the same box as the upright original.
func TestBoxesFollowEXIFOrientation(t *testing.T) {
	m := testMatcher(t)
	orig := face_(t, "barack_obama/obama2.jpg")
	h, _ := imaging.ReadHeader(orig)
	w, _ := imaging.Load(orig, h, 0)
	for o, turn := range map[uint16]int{6: 270, 8: 90, 3: 180} {
		stored := testimg.WithJPEGOrientation(testimg.Encode(t, imaging.Rotate(w.RGBA, turn), "jpeg"), o)
		a, err := m.Analyze(context.Background(), stored, false)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := m.Analyze(context.Background(), orig, false)
		if a.Chosen < 0 || !near(a.Faces[0].Box, b.Faces[0].Box, 3) {
			t.Errorf("orientation %d: faces %v, upright original %v", o, a.Faces, b.Faces[0].Box)
		}
	}
}

// [FM-MATCH-1] The score is symmetric, 100 for the same image twice, and analysing at once on
// both workers gives the same descriptors as one at a time.
func TestScoreSymmetricAndDeterministic(t *testing.T) {
	m := testMatcher(t)
	a, b := face_(t, "joe_biden/biden.jpg"), face_(t, "joe_biden/biden2.jpg")
	ab, err := m.Match(context.Background(), facematch.MatchInput{User: a, Ref: b, Threshold: 30})
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := m.Match(context.Background(), facematch.MatchInput{User: b, Ref: a, Threshold: 30})
	if *ab.Score != *ba.Score {
		t.Fatalf("score(a,b) = %v, score(b,a) = %v", *ab.Score, *ba.Score)
	}
	aa, _ := m.Match(context.Background(), facematch.MatchInput{User: a, Ref: a, Threshold: 30})
	if *aa.Score != 100 {
		t.Fatalf("same image twice scores %v", *aa.Score)
	}
	want, _ := m.Analyze(context.Background(), b, false)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.Analyze(context.Background(), b, false)
			if err != nil || got.Descriptor != want.Descriptor {
				t.Errorf("concurrent analysis differs: %v", err)
			}
		}()
	}
	wg.Wait()
}
