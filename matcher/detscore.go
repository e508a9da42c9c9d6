package matcher

// #cgo CXXFLAGS: -std=c++17 -O3 -DNDEBUG -march=native
// #cgo LDFLAGS: -ldlib -lopenblas -llapack
// #include <stdlib.h>
// #include "detscore.h"
import "C"

import (
	"errors"
	"image"
	"unsafe"
)

// scorer runs dlib's HOG and CNN face detectors to read their scores, which go-face computes and
// drops. It is not safe for concurrent use: each worker owns one.
type scorer struct{ s *C.detscore }

// detection is one window a detector reports, with its score.
type detection struct {
	rect  image.Rectangle // dlib's inclusive corners, as go-face reports them
	score float64
}

func newScorer(cnnPath string) (*scorer, error) {
	p := C.CString(cnnPath)
	defer C.free(unsafe.Pointer(p))
	var cerr *C.char
	s := C.detscore_new(p, &cerr)
	if s == nil {
		defer C.free(unsafe.Pointer(cerr))
		return nil, errors.New("loading the CNN detector: " + C.GoString(cerr))
	}
	return &scorer{s: s}, nil
}

func (s *scorer) close() {
	if s != nil && s.s != nil {
		C.detscore_free(s.s)
		s.s = nil
	}
}

// maxDetections bounds the windows read from one run.
const maxDetections = 64

// run returns the windows the HOG detector (cnn false), with its threshold lowered by adjust,
// or the CNN detector finds in img.
func (s *scorer) run(img *image.RGBA, cnn bool, adjust float64) ([]detection, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, nil
	}
	rgb := make([]byte, 0, w*h*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):][:4*w]
		for x := 0; x < w; x++ {
			rgb = append(rgb, row[4*x], row[4*x+1], row[4*x+2])
		}
	}
	var rects [4 * maxDetections]C.long
	var scores [maxDetections]C.double
	isCNN := C.int(0)
	if cnn {
		isCNN = 1
	}
	n := C.detscore_run(s.s, (*C.uchar)(unsafe.Pointer(&rgb[0])), C.int(w), C.int(h), isCNN, C.double(adjust),
		&rects[0], &scores[0], maxDetections)
	if n < 0 {
		return nil, errors.New("dlib: detection failed")
	}
	out := make([]detection, n)
	for i := range out {
		out[i] = detection{
			rect:  image.Rect(int(rects[4*i]), int(rects[4*i+1]), int(rects[4*i+2]), int(rects[4*i+3])),
			score: float64(scores[i]),
		}
	}
	return out, nil
}
