// Package matcher compares the faces of two images with dlib, through go-face (package goface, a
// fork whose recognizers share one shape predictor and report the detectors' scores). It owns a
// pool of recognizers, one per worker, and the pipeline around them: decode, orient, reduce,
// detect with fallbacks, choose a face, describe it and score the pair; it also maps each face's
// detector score to a confidence and estimates its age and gender (package agegender). It knows
// nothing of HTTP.
package matcher

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/agegender"
	"github.com/facematch/facematch/imaging"
	face "github.com/facematch/facematch/matcher/internal/goface"
)

// Working-image defaults: the longest side and JPEG quality an image is reduced to before
// detection (FM-IMG-3). See docs/calibration.md for what they mean in bytes.
const (
	DefaultMaxSide = 640
	DefaultQuality = 90
)

// ModelFiles are the files go-face loads from the model folder.
var ModelFiles = []string{
	"shape_predictor_5_face_landmarks.dat",
	"dlib_face_recognition_resnet_model_v1.dat",
	"mmod_human_face_detector.dat",
}

// AgeGenderFiles are the files of the age/gender network, in the same folder as ModelFiles.
var AgeGenderFiles = []string{agegender.ManifestFile, agegender.ShardFile}

// Config sets up a Matcher.
type Config struct {
	// Models is the folder holding ModelFiles and AgeGenderFiles.
	Models string
	// Workers is the number of recognizers, hence of images processed at once; 0 means one per CPU.
	Workers int
	// MaxSide and Quality shape the working image; 0 means the defaults.
	MaxSide, Quality int
	// SingleChip describes the chosen face from the detection image alone, without the mirror
	// image of its crop: about 25 ms faster per image, and less accurate (docs/calibration.md).
	SingleChip bool
	// NoFallback stops after the first detection pass (HOG at the working size).
	NoFallback bool
	// Observe, when set, receives the duration of every pipeline stage.
	Observe func(stage string, d time.Duration)
}

// Matcher compares faces; it is safe for concurrent use.
type Matcher struct {
	cfg       Config
	pool      chan *face.Recognizer // one recognizer per worker
	all       []*face.Recognizer
	ageGender *agegender.Net // read-only, shared by the workers
	// cnn makes the CNN detector's passes, the last-resort fallback, exclusive: every analysis
	// holds it for reading, and a CNN pass for writing, so that while one runs, on the CNN
	// network of the first worker's recognizer, no other worker analyses. A pass needs about
	// as much memory as two workers' ordinary analyses, which bounds a replica's peak memory
	// whatever the number of workers (docs/scaling.md).
	cnn sync.RWMutex
}

var _ facematch.Matcher = (*Matcher)(nil)

// New loads cfg.Workers recognizers from cfg.Models. It names any missing model file.
func New(cfg Config) (*Matcher, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.MaxSide <= 0 {
		cfg.MaxSide = DefaultMaxSide
	}
	if cfg.Quality <= 0 {
		cfg.Quality = DefaultQuality
	}
	for _, f := range append(slices.Clone(ModelFiles), AgeGenderFiles...) {
		p := filepath.Join(cfg.Models, f)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("model file %s is missing (run `make models`, or point --models at a folder holding %v)", p, append(slices.Clone(ModelFiles), AgeGenderFiles...))
		}
	}
	ageGender, err := agegender.Load(filepath.Join(cfg.Models, agegender.ManifestFile), filepath.Join(cfg.Models, agegender.ShardFile))
	if err != nil {
		return nil, fmt.Errorf("loading the age/gender network from %s: %w", cfg.Models, err)
	}
	tuneNative()
	m := &Matcher{cfg: cfg, pool: make(chan *face.Recognizer, cfg.Workers), ageGender: ageGender}
	for range cfg.Workers {
		rec, err := face.NewRecognizer(cfg.Models)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("loading models from %s: %w", cfg.Models, err)
		}
		m.all = append(m.all, rec)
		m.pool <- rec
	}
	return m, nil
}

// Workers reports the size of the pool.
func (m *Matcher) Workers() int { return m.cfg.Workers }

// Close frees the recognizers. The Matcher must not be used afterwards.
func (m *Matcher) Close() {
	for _, rec := range m.all {
		rec.Close()
	}
	m.all = nil
}

// Face is one face found in an image.
type Face struct {
	// Box is [x1, y1, x2, y2] in pixels of the submitted image after EXIF orientation and the
	// chosen rotation, clipped to the image.
	Box [4]int
	// Whole is true when the detector's box lies wholly inside the image.
	Whole bool
	// Score is the score the detector that found the face gave it: the HOG detector's SVM
	// margin or the CNN detector's detection confidence, 0 being each one's threshold.
	Score float64
	// Confidence is Score mapped to 0-1 (see Confidence and docs/calibration.md).
	Confidence float64
	// Attributes is the age/gender network's estimate, nil for a face under
	// MinAttributesWidth pixels wide.
	Attributes *agegender.Estimate
	exact      [4]float64 // Box before rounding and clipping
	desc       face.Descriptor
}

func (f Face) area() float64 { return (f.exact[2] - f.exact[0]) * (f.exact[3] - f.exact[1]) }

// Analysis is what the pipeline learnt about one image.
type Analysis struct {
	// Faces lists every face found, largest first.
	Faces []Face
	// Chosen indexes the face to compare (FM-MATCH-1), or is -1 when there is none.
	Chosen int
	// Descriptor describes the chosen face.
	Descriptor face.Descriptor
	// BestAngle is the clockwise rotation under which the faces were found.
	BestAngle int
	// Pass names the detection pass that found the faces: "hog", "hog-2x" or "cnn".
	Pass string
	// Width and Height are the size of the upright submitted image, before rotation.
	Width, Height int
}

// ErrNoPixels wraps every failure to decode an image whose header looked valid.
var ErrNoPixels = errors.New("image could not be decoded")

// Match compares the largest face of in.User with the largest face of in.Ref (FM-MATCH-1..4).
// The two images are analysed at once on two workers when the pool has them.
func (m *Matcher) Match(ctx context.Context, in facematch.MatchInput) (_ facematch.FaceMatch, err error) {
	defer func() { err = facematch.WrapOp("matcher.Match", err) }()
	var (
		wg       sync.WaitGroup
		user     *Analysis
		userErr  error
		ref      *Analysis
		refError error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		user, userErr = m.Analyze(ctx, in.User, in.Rotate)
	}()
	ref, refError = m.Analyze(ctx, in.Ref, in.Rotate)
	wg.Wait()
	if err := imageError("user_image", userErr); err != nil {
		return facematch.FaceMatch{}, err
	}
	if err := imageError("ref_image", refError); err != nil {
		return facematch.FaceMatch{}, err
	}
	return Compare(user, ref, in.Threshold), nil
}

// imageError makes an error about the submitted image a *facematch.ImageError naming its field;
// any other error is returned as it is.
func imageError(field string, err error) error {
	var tooLarge *imaging.TooLargeError
	if errors.Is(err, ErrNoPixels) || errors.Is(err, imaging.ErrNotImage) || errors.As(err, &tooLarge) {
		return &facematch.ImageError{Field: field, Err: err}
	}
	return err
}

// Compare scores two analysed images and decides.
func Compare(user, ref *Analysis, threshold float64) facematch.FaceMatch {
	var score *float64
	if user.Chosen >= 0 && ref.Chosen >= 0 {
		s := Score(Distance(user.Descriptor, ref.Descriptor))
		score = &s
	}
	return facematch.Decide(score, user.Result(), ref.Result(), threshold)
}

// Result is the image's part of the API's face_match object.
func (a *Analysis) Result() facematch.ImageResult {
	r := facematch.ImageResult{Entities: make([]facematch.Entity, len(a.Faces)), BestAngle: a.BestAngle}
	for i, f := range a.Faces {
		e := facematch.Entity{BBox: f.Box, Confidence: &f.Confidence}
		if f.Attributes != nil {
			age := math.Round(f.Attributes.Age*10) / 10
			gender := f.Attributes.Gender()
			e.Age, e.Gender = &age, &gender
		}
		r.Entities[i] = e
	}
	return r
}

// Distance is the Euclidean distance between two descriptors.
func Distance(a, b face.Descriptor) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// Analyze runs the whole pipeline on one image on one worker of the pool: decode, orient, reduce,
// detect (trying the rotations when rotate is set, and the fallback passes when nothing is found),
// choose the face to compare and describe it.
func (m *Matcher) Analyze(ctx context.Context, data []byte, rotate bool) (*Analysis, error) {
	h, err := imaging.ReadHeader(data)
	if err != nil {
		return nil, err
	}
	var rec *face.Recognizer
	select {
	case rec = <-m.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { m.pool <- rec }()
	m.cnn.RLock()
	defer m.cnn.RUnlock()

	t := time.Now()
	img, err := imaging.DecodeAtLeast(data, h, m.cfg.MaxSide)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPixels, err)
	}
	m.observe("decode", t)

	t = time.Now()
	work := imaging.Prepare(img, h, m.cfg.MaxSide)
	m.observe("reduce", t)

	angles := []int{0}
	if rotate {
		angles = []int{0, 90, 180, 270}
	}
	best, err := m.detect(ctx, rec, work, angles)
	if err != nil {
		return nil, err
	}
	an := &Analysis{Chosen: -1, Faces: []Face{}, Width: work.Width, Height: work.Height}
	if best == nil {
		return an, nil
	}
	an.BestAngle, an.Pass = best.angle, best.pass.name
	an.Faces = place(work, best)
	an.Chosen = choose(an.Faces)
	an.Descriptor = an.Faces[an.Chosen].desc

	t = time.Now()
	for i := range an.Faces {
		if err := m.estimate(img, h, work, best, &an.Faces[i]); err != nil {
			return nil, err
		}
	}
	m.observe("agegender", t)

	if m.cfg.SingleChip {
		return an, nil
	}
	t = time.Now()
	if d, ok := m.describe(rec, img, h, work, best, an.Faces[an.Chosen]); ok {
		an.Descriptor = d
	}
	m.observe("describe", t)
	return an, nil
}

// pass is one way of looking for faces: the HOG detector at some enlargement, or the CNN one.
type pass struct {
	name    string
	enlarge float64
	cnn     bool
}

// The fallback passes' sizes: an image is enlarged twice for the HOG detector only while its
// longest side stays within maxEnlargedSide, and the CNN detector, a hundred times slower than
// HOG (0.23 s at 250 pixels, 3 s at 640 on one core), only sees the image reduced to cnnMaxSide.
const (
	maxEnlargedSide = 1280
	cnnMaxSide      = 320
)

// passes lists the detection passes for a working image, cheapest first: the HOG detector, whose
// smallest face is 80 pixels wide; the same on the image enlarged twice, for smaller faces; and
// the CNN detector, which tolerates more pose and occlusion, as the last resort.
func passes(w, h int) []pass {
	ps := []pass{{name: "hog", enlarge: 1}}
	if 2*max(w, h) <= maxEnlargedSide {
		ps = append(ps, pass{name: "hog-2x", enlarge: 2})
	}
	return append(ps, pass{name: "cnn", enlarge: math.Min(1, cnnMaxSide/float64(max(w, h))), cnn: true})
}

// found is what one pass found at one angle.
type found struct {
	angle int
	img   *image.RGBA // the image given to the detector
	faces []face.Face
	pass  pass
}

// detect runs the passes, cheapest first, over the angles, and keeps the angle whose largest
// face is largest in the first pass that finds any face. It returns nil when none does.
func (m *Matcher) detect(ctx context.Context, rec *face.Recognizer, work *imaging.Working, angles []int) (*found, error) {
	b := work.Bounds()
	var best *found
	for _, p := range passes(b.Dx(), b.Dy()) {
		for _, a := range angles {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			img := imaging.Rotate(work.RGBA, a)
			if p.enlarge != 1 {
				img = imaging.Scale(img, p.enlarge)
			}
			t := time.Now()
			faces, err := m.recognize(rec, img, p)
			m.observe("detect-"+p.name, t)
			if err != nil {
				return nil, err
			}
			if len(faces) == 0 {
				continue
			}
			f := &found{angle: a, img: img, faces: faces, pass: p}
			if best == nil || largest(f) > largest(best) {
				best = f
			}
		}
		if best != nil || m.cfg.NoFallback {
			return best, nil
		}
	}
	return nil, nil
}

// recognize hands img to dlib as a JPEG and returns the faces of the pass's detector. A CNN pass
// runs alone (Matcher.cnn) on the first worker's recognizer; go-face guards each of a
// recognizer's networks with a lock of its own.
func (m *Matcher) recognize(rec *face.Recognizer, img *image.RGBA, p pass) ([]face.Face, error) {
	jpg := imaging.EncodeJPEG(img, m.cfg.Quality)
	var faces []face.Face
	var err error
	if p.cnn {
		m.exclusive(func() { faces, err = m.all[0].RecognizeCNN(jpg) })
	} else {
		faces, err = rec.Recognize(jpg)
	}
	if err != nil {
		return nil, fmt.Errorf("dlib: %w", err)
	}
	return faces, nil
}

// exclusive runs f, from an analysis (which holds m.cnn for reading), with no other analysis
// running: it trades its read hold for the write hold and back.
func (m *Matcher) exclusive(f func()) {
	m.cnn.RUnlock()
	m.cnn.Lock()
	defer func() {
		m.cnn.Unlock()
		m.cnn.RLock()
	}()
	f()
}

// largest is the area of the largest whole face of f, or of its largest face when none is whole,
// scaled back to the working image so that passes and angles compare fairly.
func largest(f *found) float64 {
	b := f.img.Bounds()
	bestWhole, bestAny := 0.0, 0.0
	for _, fc := range f.faces {
		r := fc.Rectangle
		a := float64(r.Dx()+1) * float64(r.Dy()+1) / (f.pass.enlarge * f.pass.enlarge)
		bestAny = math.Max(bestAny, a)
		if wholeIn(r, b) {
			bestWhole = math.Max(bestWhole, a)
		}
	}
	if bestWhole > 0 {
		return bestWhole
	}
	return bestAny
}

func wholeIn(r, b image.Rectangle) bool {
	return r.Min.X >= b.Min.X && r.Min.Y >= b.Min.Y && r.Max.X < b.Max.X && r.Max.Y < b.Max.Y
}

// rotatedSize is the size of a w x h image once turned by angle degrees.
func rotatedSize(w, h, angle int) (int, int) {
	if angle == 90 || angle == 270 {
		return h, w
	}
	return w, h
}

// place turns the detector's faces into boxes of the submitted image (after orientation and the
// chosen rotation), largest first.
func place(work *imaging.Working, f *found) []Face {
	sx, sy := work.ScaleX, work.ScaleY
	if f.angle == 90 || f.angle == 270 {
		sx, sy = sy, sx
	}
	fw, fh := rotatedSize(work.Width, work.Height, f.angle)
	sx *= f.pass.enlarge
	sy *= f.pass.enlarge
	b := f.img.Bounds()
	out := make([]Face, len(f.faces))
	for i, fc := range f.faces {
		// dlib reports windows from the threshold up; max keeps that true of any rounding.
		score := max(fc.Score, 0)
		r := fc.Rectangle // dlib's corners are inclusive
		x1, y1 := float64(r.Min.X)/sx, float64(r.Min.Y)/sy
		x2, y2 := float64(r.Max.X+1)/sx, float64(r.Max.Y+1)/sy
		out[i] = Face{
			Box:        [4]int{clampInt(x1, fw), clampInt(y1, fh), clampInt(x2, fw), clampInt(y2, fh)},
			Whole:      wholeIn(r, b),
			exact:      [4]float64{x1, y1, x2, y2},
			desc:       fc.Descriptor,
			Score:      score,
			Confidence: Confidence(score),
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].area() > out[j].area() })
	return out
}

func clampInt(v float64, hi int) int {
	return int(math.Round(math.Max(0, math.Min(v, float64(hi)))))
}

// choose picks the face to compare: the largest whole face, or the largest face when every face
// is cut by the border (FM-MATCH-1). faces must be sorted largest first.
func choose(faces []Face) int {
	for i, f := range faces {
		if f.Whole {
			return i
		}
	}
	return 0
}

// Describing the chosen face again from the decoded pixels: the crop around it spans
// cropMargin face widths, and the face is brought to about chipFace pixels, the size it has in
// dlib's 150-pixel chip, so that the chip is cut from full-resolution pixels whatever the size of
// the detection image.
const (
	cropMargin = 2.2
	chipFace   = 120.0
	minHOGFace = 90.0
)

// describe computes the chosen face's descriptor from a crop of the decoded image around it,
// averaged with that of the crop's mirror image. It reports false when dlib finds the face in
// neither, and the caller keeps the detection image's descriptor.
func (m *Matcher) describe(rec *face.Recognizer, img image.Image, h imaging.Header, work *imaging.Working, f *found, chosen Face) (face.Descriptor, bool) {
	// The face in upright coordinates, before the detection angle's rotation.
	rw, rh := rotatedSize(work.Width, work.Height, f.angle)
	back := (360 - f.angle) % 360
	ax, ay := imaging.RotatePoint(chosen.exact[0], chosen.exact[1], rw, rh, back)
	bx, by := imaging.RotatePoint(chosen.exact[2], chosen.exact[3], rw, rh, back)
	cx, cy := (ax+bx)/2, (ay+by)/2
	side := math.Max(math.Abs(bx-ax), math.Abs(by-ay))
	half := side * cropMargin / 2
	r := image.Rect(int(math.Floor(cx-half)), int(math.Floor(cy-half)), int(math.Ceil(cx+half)), int(math.Ceil(cy+half))).
		Intersect(image.Rect(0, 0, work.Width, work.Height))
	if r.Empty() {
		return face.Descriptor{}, false
	}
	scale := math.Min(1, chipFace/side)
	crop := imaging.CropUpright(img, h, r, int(math.Ceil(float64(max(r.Dx(), r.Dy()))*scale)))
	scale = float64(crop.Bounds().Dx()) / float64(r.Dx())
	if faceSide := side * scale; faceSide < minHOGFace && !f.pass.cnn {
		up := chipFace / faceSide
		crop = imaging.Scale(crop, up)
		scale *= up
	}
	cw, ch := crop.Bounds().Dx(), crop.Bounds().Dy()
	crop = imaging.Rotate(crop, f.angle)
	wantX, wantY := imaging.RotatePoint((cx-float64(r.Min.X))*scale, (cy-float64(r.Min.Y))*scale, cw, ch, f.angle)
	p := pass{name: "describe", enlarge: 1, cnn: f.pass.cnn}

	// A face the detection image shows at chip size already has a good descriptor; only its
	// mirror image needs describing. A smaller one is described again from the crop too.
	var sum [128]float64
	n := 0
	if sx := work.ScaleX * f.pass.enlarge; side*sx >= 0.8*chipFace && f.pass.enlarge == 1 {
		for i, v := range chosen.desc {
			sum[i] += float64(v)
		}
		n++
	} else if d, ok := m.describeCrop(rec, crop, wantX, wantY, side*scale, p); ok {
		for i, v := range d {
			sum[i] += float64(v)
		}
		n++
	}
	if d, ok := m.describeCrop(rec, imaging.Mirror(crop), float64(crop.Bounds().Dx())-wantX, wantY, side*scale, p); ok {
		for i, v := range d {
			sum[i] += float64(v)
		}
		n++
	}
	if n == 0 {
		return face.Descriptor{}, false
	}
	var d face.Descriptor
	for i := range d {
		d[i] = float32(sum[i] / float64(n))
	}
	return d, true
}

// describeCrop runs the recognizer on a crop and returns the descriptor of the face nearest to
// where the chosen face must be, (x, y), if one is there.
func (m *Matcher) describeCrop(rec *face.Recognizer, crop *image.RGBA, x, y, faceSide float64, p pass) (face.Descriptor, bool) {
	faces, err := m.recognize(rec, crop, p)
	if err != nil {
		return face.Descriptor{}, false
	}
	return nearest(faces, x, y, faceSide/2)
}

// nearest returns the descriptor of the face whose centre is nearest to (x, y), if it is
// within maxDist.
func nearest(faces []face.Face, x, y, maxDist float64) (face.Descriptor, bool) {
	best, bestD := -1, maxDist
	for i, fc := range faces {
		r := fc.Rectangle
		d := math.Hypot(float64(r.Min.X+r.Max.X)/2-x, float64(r.Min.Y+r.Max.Y)/2-y)
		if d <= bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return face.Descriptor{}, false
	}
	return faces[best].Descriptor, true
}

func (m *Matcher) observe(stage string, since time.Time) {
	if m.cfg.Observe != nil {
		m.cfg.Observe(stage, time.Since(since))
	}
}
