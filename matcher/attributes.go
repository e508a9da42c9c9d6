package matcher

import (
	"image"
	"math"

	"github.com/facematch/facematch/agegender"
	"github.com/facematch/facematch/imaging"
)

// MinAttributesWidth is the width, in pixels of the submitted image, under which a face is too
// small for the age/gender network (FM-RESP-3): its age and gender stay null.
const MinAttributesWidth = 40

// confidenceWidth is the score over which the confidence's logistic curve rises by a factor e
// in odds (docs/calibration.md).
const confidenceWidth = 0.5

// Confidence maps a detector's score to 0-1: the logistic curve 1 / (1 + exp(-score / 0.5)),
// increasing with the score and 0.5 at the detectors' threshold (score 0), so a face the
// detector reports has at least 0.5. It is a monotone rescaling of dlib's score, not a
// calibrated probability.
func Confidence(score float64) float64 {
	return 1 / (1 + math.Exp(-score/confidenceWidth))
}

// estimate runs the age/gender network on a face: its box padded to a square, cut from the
// decoded pixels of the upright image, turned by the detection angle and resized to 112x112.
// A face under MinAttributesWidth pixels wide is left without attributes.
func (m *Matcher) estimate(img image.Image, h imaging.Header, work *imaging.Working, f *found, fc *Face) error {
	fc.Attributes = nil
	w, ht := fc.exact[2]-fc.exact[0], fc.exact[3]-fc.exact[1]
	if w < MinAttributesWidth {
		return nil
	}
	side := math.Max(w, ht)
	cx, cy := (fc.exact[0]+fc.exact[2])/2, (fc.exact[1]+fc.exact[3])/2
	sx, sy := cx-side/2, cy-side/2

	// The part of the square inside the turned image, then the same part of the upright one.
	fw, fh := rotatedSize(work.Width, work.Height, f.angle)
	x0, y0 := math.Max(0, sx), math.Max(0, sy)
	x1, y1 := math.Min(float64(fw), sx+side), math.Min(float64(fh), sy+side)
	if x1 <= x0 || y1 <= y0 {
		return nil
	}
	back := (360 - f.angle) % 360
	ax, ay := imaging.RotatePoint(x0, y0, fw, fh, back)
	bx, by := imaging.RotatePoint(x1, y1, fw, fh, back)
	r := image.Rect(int(math.Floor(math.Min(ax, bx))), int(math.Floor(math.Min(ay, by))),
		int(math.Ceil(math.Max(ax, bx))), int(math.Ceil(math.Max(ay, by)))).
		Intersect(image.Rect(0, 0, work.Width, work.Height))
	if r.Empty() {
		return nil
	}
	scale := math.Min(1, agegender.InputSize/side)
	crop := imaging.CropUpright(img, h, r, int(math.Ceil(float64(max(r.Dx(), r.Dy()))*scale)))
	crop = imaging.Rotate(crop, f.angle)

	// Where the upright part lies in the turned image, and at what scale the crop shows it.
	px, py := imaging.RotatePoint(float64(r.Min.X), float64(r.Min.Y), work.Width, work.Height, f.angle)
	qx, qy := imaging.RotatePoint(float64(r.Max.X), float64(r.Max.Y), work.Width, work.Height, f.angle)
	left, top, right := math.Min(px, qx), math.Min(py, qy), math.Max(px, qx)
	cb := crop.Bounds()
	s := float64(cb.Dx()) / (right - left)
	in := agegender.Input(crop, float64(cb.Min.X)+(sx-left)*s, float64(cb.Min.Y)+(sy-top)*s, side*s)
	e, err := m.ageGender.Predict(in)
	if err != nil {
		return err
	}
	fc.Attributes = &e
	return nil
}
