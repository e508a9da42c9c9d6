// Package matcher compares the faces of two images with dlib, through go-face. It owns a pool of
// recognizers, one per worker, and the pipeline around them: decode, orient, reduce, detect with
// fallbacks, choose a face, describe it and score the pair. It knows nothing of HTTP.
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
	"sort"
	"sync"
	"time"

	face "github.com/Kagami/go-face"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/imaging"
)

// Working-image defaults: the longest side and JPEG quality an image is reduced to before
// detection (FM-IMG-3). See docs/calibration.md for what they mean in bytes.
const (
	DefaultMaxSide = 1024
	DefaultQuality = 90
)

// ModelFiles are the files go-face loads from the model folder.
var ModelFiles = []string{
	"shape_predictor_5_face_landmarks.dat",
	"dlib_face_recognition_resnet_model_v1.dat",
	"mmod_human_face_detector.dat",
}

// Config sets up a Matcher.
type Config struct {
	// Models is the folder holding ModelFiles.
	Models string
	// Workers is the number of recognizers, hence of images processed at once; 0 means one per CPU.
	Workers int
	// MaxSide and Quality shape the working image; 0 means the defaults.
	MaxSide, Quality int
	// Mirror averages the chosen face's descriptor with that of its mirror image.
	Mirror bool
	// Observe, when set, receives the duration of every pipeline stage.
	Observe func(stage string, d time.Duration)
}

// Matcher compares faces; it is safe for concurrent use.
type Matcher struct {
	cfg  Config
	pool chan *face.Recognizer
	all  []*face.Recognizer
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
	for _, f := range ModelFiles {
		p := filepath.Join(cfg.Models, f)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("model file %s is missing (run `make models`, or point --models at a folder holding %v)", p, ModelFiles)
		}
	}
	pinBLAS()
	m := &Matcher{cfg: cfg, pool: make(chan *face.Recognizer, cfg.Workers)}
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
	for _, r := range m.all {
		r.Close()
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
	area  float64
	desc  face.Descriptor
	rect  image.Rectangle // the detector's box in the image it was given
}

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
func (m *Matcher) Match(ctx context.Context, in facematch.MatchInput) (facematch.FaceMatch, error) {
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
	if userErr != nil {
		return facematch.FaceMatch{}, fmt.Errorf("user_image: %w", userErr)
	}
	if refError != nil {
		return facematch.FaceMatch{}, fmt.Errorf("ref_image: %w", refError)
	}
	return Compare(user, ref, in.Threshold), nil
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
		r.Entities[i] = facematch.Entity{BBox: f.Box}
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

	t := time.Now()
	img, err := imaging.Decode(data, h)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPixels, err)
	}
	m.observe("decode", t)

	t = time.Now()
	work := imaging.Prepare(img, h, m.cfg.MaxSide)
	img = nil // the full-size pixels are no longer needed
	m.observe("reduce", t)

	angles := []int{0}
	if rotate {
		angles = []int{0, 90, 180, 270}
	}
	return m.detect(ctx, rec, work, angles)
}

// pass is one way of looking for faces: the HOG detector at some enlargement, or the CNN one.
type pass struct {
	name    string
	enlarge float64
	cnn     bool
}

// maxEnlargedSide caps the size an image is enlarged to for the fallback pass.
const maxEnlargedSide = 1400

// passes lists the detection passes for a working image, cheapest first. Small images are
// enlarged twice before the HOG detector, whose smallest face is 80 pixels wide, looks again;
// the CNN detector is the last resort.
func passes(w, h int) []pass {
	ps := []pass{{name: "hog", enlarge: 1}}
	if 2*max(w, h) <= maxEnlargedSide {
		ps = append(ps, pass{name: "hog-2x", enlarge: 2})
	}
	return append(ps, pass{name: "cnn", enlarge: 1, cnn: true})
}

// found is what one pass found at one angle.
type found struct {
	angle int
	img   *image.RGBA // the image given to the detector
	faces []face.Face
	pass  pass
}

func (m *Matcher) detect(ctx context.Context, rec *face.Recognizer, work *imaging.Working, angles []int) (*Analysis, error) {
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
			jpg := imaging.EncodeJPEG(img, m.cfg.Quality)
			m.observe("encode", t)
			t = time.Now()
			var faces []face.Face
			var err error
			if p.cnn {
				faces, err = rec.RecognizeCNN(jpg)
			} else {
				faces, err = rec.Recognize(jpg)
			}
			m.observe("recognize-"+p.name, t)
			if err != nil {
				return nil, fmt.Errorf("dlib: %w", err)
			}
			if len(faces) == 0 {
				continue
			}
			f := &found{angle: a, img: img, faces: faces, pass: p}
			if best == nil || largest(f) > largest(best) {
				best = f
			}
		}
		if best != nil {
			break
		}
	}
	an := &Analysis{Chosen: -1, Width: work.Width, Height: work.Height}
	if best == nil {
		an.Faces = []Face{}
		return an, nil
	}
	an.BestAngle, an.Pass = best.angle, best.pass.name
	an.Faces = m.place(work, best)
	an.Chosen = choose(an.Faces)
	an.Descriptor = an.Faces[an.Chosen].desc
	if m.cfg.Mirror {
		t := time.Now()
		if d, ok := m.mirrorDescriptor(rec, best, an.Faces[an.Chosen]); ok {
			for i := range d {
				an.Descriptor[i] = (an.Descriptor[i] + d[i]) / 2
			}
		}
		m.observe("mirror", t)
	}
	return an, nil
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

// place turns the detector's faces into boxes of the submitted image (after orientation and the
// chosen rotation), largest first.
func (m *Matcher) place(work *imaging.Working, f *found) []Face {
	sx, sy := work.ScaleX, work.ScaleY
	fw, fh := work.Width, work.Height
	if f.angle == 90 || f.angle == 270 {
		sx, sy = sy, sx
		fw, fh = fh, fw
	}
	sx *= f.pass.enlarge
	sy *= f.pass.enlarge
	b := f.img.Bounds()
	out := make([]Face, len(f.faces))
	for i, fc := range f.faces {
		r := fc.Rectangle // dlib's corners are inclusive
		x1, y1 := float64(r.Min.X)/sx, float64(r.Min.Y)/sy
		x2, y2 := float64(r.Max.X+1)/sx, float64(r.Max.Y+1)/sy
		out[i] = Face{
			Box: [4]int{
				clampInt(x1, fw), clampInt(y1, fh), clampInt(x2, fw), clampInt(y2, fh),
			},
			Whole: wholeIn(r, b),
			area:  (x2 - x1) * (y2 - y1),
			desc:  fc.Descriptor,
			rect:  r,
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].area > out[j].area })
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

// mirrorDescriptor describes the mirror image of a face: it crops a margin around the face from
// the image the detector saw, flips it and runs the recognizer on the crop, keeping the face
// nearest to where the original must land.
func (m *Matcher) mirrorDescriptor(rec *face.Recognizer, f *found, chosen Face) (face.Descriptor, bool) {
	r := chosen.rect
	side := max(r.Dx(), r.Dy())
	c := image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
	crop := image.Rect(c.X-side, c.Y-side, c.X+side, c.Y+side).Intersect(f.img.Bounds())
	flipped := imaging.Mirror(imaging.Crop(f.img, crop))
	jpg := imaging.EncodeJPEG(flipped, m.cfg.Quality)
	var faces []face.Face
	var err error
	if f.pass.cnn {
		faces, err = rec.RecognizeCNN(jpg)
	} else {
		faces, err = rec.Recognize(jpg)
	}
	if err != nil || len(faces) == 0 {
		return face.Descriptor{}, false
	}
	want := image.Pt(crop.Max.X-1-c.X, c.Y-crop.Min.Y)
	bestI, bestD := -1, math.Inf(1)
	for i, fc := range faces {
		fr := fc.Rectangle
		d := math.Hypot(float64((fr.Min.X+fr.Max.X)/2-want.X), float64((fr.Min.Y+fr.Max.Y)/2-want.Y))
		if d < bestD && d < float64(side)/2 {
			bestI, bestD = i, d
		}
	}
	if bestI < 0 {
		return face.Descriptor{}, false
	}
	return faces[bestI].Descriptor, true
}

func (m *Matcher) observe(stage string, since time.Time) {
	if m.cfg.Observe != nil {
		m.cfg.Observe(stage, time.Since(since))
	}
}
