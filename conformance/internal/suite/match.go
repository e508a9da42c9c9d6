package suite

import (
	"image"
	"image/color"
	"math"
	"strconv"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// twoDecimals formats a score exactly as the API reports it.
func twoDecimals(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

// scoreOf checks a comparison has a score and returns it.
func scoreOf(fm FaceMatchBody) float64 {
	GinkgoHelper()
	Expect(fm.FaceMatch.Score).NotTo(BeNil(), "no score")
	return *fm.FaceMatch.Score
}

// expectApproved and expectDeclinedLow check the two outcomes of FM-MATCH-2.
func expectApproved(fm FaceMatchBody, why string) {
	GinkgoHelper()
	Expect(fm.FaceMatch.Status).To(Equal("Approved"), why)
	Expect(fm.FaceMatch.Warnings).To(BeEmpty(), why)
}

func expectDeclinedLow(fm FaceMatchBody, why string) {
	GinkgoHelper()
	Expect(fm.FaceMatch.Status).To(Equal("Declined"), why)
	Expect(fm.FaceMatch.Warnings).To(HaveLen(1), why)
	Expect(fm.FaceMatch.Warnings[0].Risk).To(Equal("LOW_FACE_MATCH_SIMILARITY"), why)
}

// generated images, made once.
var (
	generatedMu sync.Mutex
	generated   = map[string]fixtures.File{}
)

func generate(name string, make func() (fixtures.File, error)) fixtures.File {
	GinkgoHelper()
	generatedMu.Lock()
	defer generatedMu.Unlock()
	if f, ok := generated[name]; ok {
		return f
	}
	f, err := make()
	Expect(err).NotTo(HaveOccurred(), "making %s", name)
	generated[name] = f
	return f
}

// rotatedA1 is PersonA1 turned a quarter (or a half) turn, its pixels moved, no EXIF.
func rotatedA1(half bool) fixtures.File {
	a1 := photo(fixtures.PersonA1)
	name := "a1-ccw.jpg"
	if half {
		name = "a1-180.jpg"
	}
	return generate(name, func() (fixtures.File, error) {
		img, err := fixtures.Decode(a1)
		if err != nil {
			return fixtures.File{}, err
		}
		if half {
			return fixtures.Encode(fixtures.Rotate180(img), "jpeg", name)
		}
		return fixtures.Encode(fixtures.RotateCCW(img), "jpeg", name)
	})
}

// borderComposite has person A's face whole and small, and person B's face larger but cut by
// the left border.
func borderComposite() fixtures.File {
	a1, b := photo(fixtures.PersonA1), photo(fixtures.PersonB)
	return generate("border.jpg", func() (fixtures.File, error) {
		aimg, err := fixtures.Decode(a1)
		if err != nil {
			return fixtures.File{}, err
		}
		bimg, err := fixtures.Decode(b)
		if err != nil {
			return fixtures.File{}, err
		}
		canvas := fixtures.Canvas(900, 600, color.Gray{Y: 128})
		// B's face fills the middle of its photo; a third of it goes past the left border.
		bb := bimg.Bounds()
		side := min(bb.Dx(), bb.Dy()) * 55 / 100
		cx, cy := bb.Min.X+bb.Dx()*55/100, bb.Min.Y+bb.Dy()*41/100
		face := fixtures.Crop(bimg, image.Rect(cx-side/2, cy-side/2, cx+side/2, cy+side/2))
		fixtures.Paste(canvas, face, -side*35/100, 600/2-side/2)
		ab := aimg.Bounds()
		fixtures.Paste(canvas, fixtures.Crop(aimg, image.Rect(ab.Min.X+ab.Dx()/4, ab.Min.Y, ab.Max.X-ab.Dx()/5, ab.Max.Y)), 650, 200)
		return fixtures.Encode(canvas, "jpeg", "border.jpg")
	})
}

var _ = Describe("Matching", Label(areaMatching), func() {
	It("declines a score equal to the threshold and approves one just below it, comparing the score as reported", Label("FM-MATCH-2"), func() {
		k := live()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		s := scoreOf(matchOf(faceMatch(k, a1, a2, "face_match_score_decline_threshold", "0", "save_api_request", "false")))
		Expect(s).To(BeNumerically(">", 0.01), "the sample pair scores too low to test the boundary")
		expectDeclinedLow(matchOf(faceMatch(k, a1, a2, "face_match_score_decline_threshold", twoDecimals(s), "save_api_request", "false")),
			"threshold "+twoDecimals(s)+" equal to the score")
		below := math.Round((s-0.01)*100) / 100
		expectApproved(matchOf(faceMatch(k, a1, a2, "face_match_score_decline_threshold", twoDecimals(below), "save_api_request", "false")),
			"threshold "+twoDecimals(below)+" below the score "+twoDecimals(s))
		// The reported score decides, not a finer one behind it.
		expectDeclinedLow(matchOf(faceMatch(k, a1, a2, "face_match_score_decline_threshold", strconv.FormatFloat(s+0.004, 'f', 3, 64), "save_api_request", "false")),
			"threshold 0.004 above the reported score "+twoDecimals(s))
		expectApproved(matchOf(faceMatch(k, a1, a2, "face_match_score_decline_threshold", strconv.FormatFloat(s-0.004, 'f', 3, 64), "save_api_request", "false")),
			"threshold 0.004 below the reported score "+twoDecimals(s))
	})

	It("approves above the default threshold of 30 and declines at or below it with one LOW_FACE_MATCH_SIMILARITY warning", Label("FM-MATCH-2", "FM-RESP-4"), func() {
		k := live()
		same := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "save_api_request", "false"))
		Expect(scoreOf(same)).To(BeNumerically(">", 30))
		expectApproved(same, "the same person at the default threshold")
		other := matchOf(faceMatch(k, photo(fixtures.PersonB), photo(fixtures.PersonA1), "save_api_request", "false"))
		Expect(scoreOf(other)).To(BeNumerically("<=", 30))
		expectDeclinedLow(other, "two people at the default threshold")
		Expect(other.FaceMatch.Warnings[0].AdditionalData).To(BeNil())
	})

	It("scores 100 for the same image twice, the same in both directions, with at most two decimals", Label("FM-MATCH-1"), func() {
		k := live()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		Expect(scoreOf(matchOf(faceMatch(k, a1, a1, "save_api_request", "false")))).To(BeNumerically("==", 100))
		ab := scoreOf(matchOf(faceMatch(k, a1, a2, "save_api_request", "false")))
		ba := scoreOf(matchOf(faceMatch(k, a2, a1, "save_api_request", "false")))
		Expect(ba).To(Equal(ab), "the score is not symmetric")
		other := scoreOf(matchOf(faceMatch(k, photo(fixtures.PersonB), a1, "save_api_request", "false")))
		Expect(ab).To(BeNumerically(">", other), "the same person scores below two people")
		for _, s := range []float64{ab, other} {
			Expect(s).To(BeNumerically(">=", 0))
			Expect(s).To(BeNumerically("<=", 100))
			Expect(math.Abs(s*100-math.Round(s*100))).To(BeNumerically("<", 1e-6), "score %v has more than two decimals", s)
		}
	})

	It("compares the largest face of an image with several faces, and lists them largest first", Label("FM-MATCH-1", "FM-RESP-3"), func() {
		k := live()
		two := photo(fixtures.TwoFaces)
		withB := matchOf(faceMatch(k, two, photo(fixtures.PersonB), "save_api_request", "false"))
		withA := matchOf(faceMatch(k, two, photo(fixtures.PersonA1), "save_api_request", "false"))
		Expect(withB.FaceMatch.User.Entities).To(HaveLen(2))
		Expect(area(withB.FaceMatch.User.Entities[0].BBox)).To(BeNumerically(">=", area(withB.FaceMatch.User.Entities[1].BBox)), "entities are not largest first")
		expectApproved(withB, "the larger face is person B's")
		Expect(scoreOf(withB)).To(BeNumerically(">", scoreOf(withA)), "the smaller face was compared")
	})

	It("prefers a whole face to a larger one cut by the border", Label("FM-MATCH-1", "FM-RESP-3"), func() {
		k := live()
		img := borderComposite()
		withA := matchOf(faceMatch(k, img, photo(fixtures.PersonA1), "save_api_request", "false"))
		es := withA.FaceMatch.User.Entities
		Expect(len(es)).To(BeNumerically(">=", 2), "the detector found %d faces in the composite; the spec needs the cut face too", len(es))
		Expect(es[0].BBox[0]).To(BeNumerically("<=", 0), "the largest face is not the one cut by the left border: %v", es)
		expectApproved(withA, "the whole face, person A's, is the one to compare")
		withB := matchOf(faceMatch(k, img, photo(fixtures.PersonB), "save_api_request", "false"))
		Expect(scoreOf(withA)).To(BeNumerically(">", scoreOf(withB)), "the face cut by the border was compared")
	})

	It("declines with NO_REFERENCE_IMAGE when an image has no face: score null when saved, 0 when not", Label("FM-MATCH-3", "FM-RESP-4"), func() {
		k := live()
		none, a1 := photo(fixtures.NoFace), photo(fixtures.PersonA1)
		for _, c := range []struct {
			user, ref  fixtures.File
			userFaces  int
			refFaces   int
			save       string
			wantScore0 bool
		}{
			{none, a1, 0, 1, "true", false},
			{none, a1, 0, 1, "false", true},
			{a1, none, 1, 0, "false", true},
			{none, none, 0, 0, "true", false},
		} {
			fm := matchOf(faceMatch(k, c.user, c.ref, "save_api_request", c.save))
			Expect(fm.FaceMatch.Status).To(Equal("Declined"))
			if c.wantScore0 {
				Expect(fm.FaceMatch.Score).NotTo(BeNil(), "save_api_request=false: the score is 0, not null")
				Expect(*fm.FaceMatch.Score).To(BeNumerically("==", 0))
			} else {
				Expect(fm.FaceMatch.Score).To(BeNil(), "save_api_request=true: the score is null")
			}
			Expect(fm.FaceMatch.Warnings).To(HaveLen(1))
			w := fm.FaceMatch.Warnings[0]
			Expect(w.Risk).To(Equal("NO_REFERENCE_IMAGE"))
			Expect(w.AdditionalData).To(Equal(map[string]any{"user_image_faces": float64(c.userFaces), "ref_image_faces": float64(c.refFaces)}))
			Expect(fm.FaceMatch.User.Entities).To(HaveLen(c.userFaces))
		}
	})

	It("tries the four orientations with rotate_image and reports best_angle, 0 without it", Label("FM-MATCH-4", "FM-RESP-3"), func() {
		k := live()
		a1 := photo(fixtures.PersonA1)
		upright := matchOf(faceMatch(k, a1, a1, "save_api_request", "false"))
		want := upright.FaceMatch.User.Entities[0].BBox
		for _, c := range []struct {
			img   fixtures.File
			angle int
		}{{rotatedA1(false), 90}, {rotatedA1(true), 180}} {
			fm := matchOf(faceMatch(k, c.img, a1, "rotate_image", "true", "save_api_request", "false"))
			Expect(fm.FaceMatch.User.BestAngle).To(Equal(c.angle), "best_angle of an image turned %d degrees counter-clockwise", c.angle)
			Expect(fm.FaceMatch.Ref.BestAngle).To(Equal(0))
			expectApproved(fm, "the rotated copy of the same photo")
			Expect(fm.FaceMatch.User.Entities).NotTo(BeEmpty())
			expectSameBox(fm.FaceMatch.User.Entities[0].BBox, want, 1, "the box is not in the upright image's pixels")
			plain := matchOf(faceMatch(k, c.img, a1, "save_api_request", "false"))
			Expect(plain.FaceMatch.User.BestAngle).To(Equal(0), "best_angle without rotate_image")
			Expect(plain.FaceMatch.Ref.BestAngle).To(Equal(0))
		}
	})

	It("scores the sample genuine pairs above 60 (strict) and the impostor pairs at or below 30 (permissive)", Label("FM-MATCH-5"), func() {
		k := live()
		genuine := [][2]string{{"barack_obama/obama.jpg", "barack_obama/obama2.jpg"}, {"barack_obama/obama_small.jpg", "barack_obama/obama1.jpg"}, {"john_simm/000297_00470170.jpg", "john_simm/000306_00470222.jpg"}}
		impostor := [][2]string{{"joe_biden/biden2.jpg", "barack_obama/obama_small.jpg"}, {"sheldon_bbt/sheldon1.png", "penny_bbt/penny5.png"}, {"john_simm/000297_00470170.jpg", "john_salley/000179_02159509.jpg"}}
		for _, p := range genuine {
			s := scoreOf(matchOf(faceMatch(k, namedPhoto(p[0]), namedPhoto(p[1]), "save_api_request", "false")))
			Expect(s).To(BeNumerically(">", 60), "genuine pair %s / %s", p[0], p[1])
		}
		for _, p := range impostor {
			s := scoreOf(matchOf(faceMatch(k, namedPhoto(p[0]), namedPhoto(p[1]), "save_api_request", "false")))
			Expect(s).To(BeNumerically("<=", 30), "impostor pair %s / %s", p[0], p[1])
		}
	})

	It("enrolls and screens nothing: a pair scores the same before and after other sessions, with no other warning", Label("FM-MATCH-6"), func() {
		k := live()
		a1, a2, b := photo(fixtures.PersonA1), photo(fixtures.PersonA2), photo(fixtures.PersonB)
		before := matchOf(faceMatch(k, b, a2))
		for _, p := range [][2]fixtures.File{{a1, a2}, {b, b}, {a2, a1}, {b, a1}} {
			matchOf(faceMatch(k, p[0], p[1]))
		}
		after := matchOf(faceMatch(k, b, a2))
		Expect(after.FaceMatch.Score).To(Equal(before.FaceMatch.Score))
		Expect(after.FaceMatch.Status).To(Equal(before.FaceMatch.Status))
		Expect(after.FaceMatch.Warnings).To(Equal(before.FaceMatch.Warnings))
		d := decisionOf(decision(k, before.RequestID))
		Expect(d.FaceMatches[0].Score).To(Equal(before.FaceMatch.Score), "a later session changed an earlier one")
		Expect(d.FaceMatches[0].Warnings).To(Equal(before.FaceMatch.Warnings))
	})
})

// area is a box's area.
func area(b []int) int {
	if len(b) != 4 {
		return 0
	}
	return (b[2] - b[0]) * (b[3] - b[1])
}

// expectSameBox checks two boxes agree within tolerance times the reference box's size / 10.
func expectSameBox(got, want []int, tolerance float64, why string) {
	GinkgoHelper()
	Expect(got).To(HaveLen(4), why)
	size := float64(want[2]-want[0]) / 10 * tolerance
	for i := range 4 {
		Expect(float64(got[i])).To(BeNumerically("~", float64(want[i]), math.Max(size, 3)), "%s: %v, want about %v", why, got, want)
	}
}
