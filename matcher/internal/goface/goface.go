// Package goface is a fork of github.com/Kagami/go-face at v0.0.0-20210630145111-0c14797b4d0e
// (CC0, see COPYING): dlib's face detectors, landmark predictor and ResNet behind go-face's API,
// kept to what package matcher calls. It differs from upstream in four ways, and in none of
// upstream's results:
//
//   - Every recognizer loaded from the same shape predictor file shares one copy of it. Upstream
//     deserializes it into each recognizer; dlib's 68-point predictor is about 65 MB in memory, so
//     a server with W workers held W copies of it (docs/scaling.md). Upstream already calls the
//     predictor outside its locks, as dlib allows: predicting is const and keeps no state.
//   - Each face keeps the score its detector gave it (Face.Score), which upstream computes and
//     drops: matcher maps it to the entity's confidence without running the detector again.
//   - The C and C++ names carry a goface prefix or namespace, so that upstream can be linked
//     beside the fork: the tests compare the two, face by face, bit for bit.
//   - What matcher does not call is left out: classification, jittering, file helpers.
//
// The recognition itself (detect, sort, predict the landmarks, cut the 150-pixel chip with 0.25
// padding, run the ResNet) is upstream's code, with the scores carried along.
package goface

// #cgo CXXFLAGS: -std=c++17 -Wall -O3 -DNDEBUG -march=native
// #cgo LDFLAGS: -ldlib -lopenblas -llapack -ljpeg
// #include <stdlib.h>
// #include <stdint.h>
// #include "facerec.h"
import "C"

import (
	"image"
	"unsafe"
)

const (
	rectLen  = 4
	descrLen = 128
	shapeLen = 2
)

// A Recognizer finds faces and describes them. Its detectors and ResNet are its own, each behind
// a lock; its shape predictor is shared with every other recognizer loaded from the same file.
type Recognizer struct {
	ptr *C.goface_rec
}

// Face holds the coordinates, detector score, descriptor and landmarks of one face.
type Face struct {
	Rectangle image.Rectangle
	// Score is the detector's score of the face's window, 0 being its threshold: the HOG
	// detector's SVM margin (rect_detection::detection_confidence) or the CNN detector's
	// mmod_rect::detection_confidence.
	Score      float64
	Descriptor Descriptor
	Shapes     []image.Point
}

// Descriptor holds a 128-dimensional feature vector.
type Descriptor [128]float32

// NewRecognizer loads a recognizer from modelDir, which holds shape_predictor_5_face_landmarks.dat
// (or a 68-point predictor under that name), dlib_face_recognition_resnet_model_v1.dat and
// mmod_human_face_detector.dat.
func NewRecognizer(modelDir string) (*Recognizer, error) {
	cModelDir := C.CString(modelDir)
	defer C.free(unsafe.Pointer(cModelDir))
	ptr := C.goface_init(cModelDir)
	if ptr.err_str != nil {
		defer C.goface_free(ptr)
		defer C.free(unsafe.Pointer(ptr.err_str))
		return nil, makeError(C.GoString(ptr.err_str), int(ptr.err_code))
	}
	return &Recognizer{ptr}, nil
}

// Recognize returns every face the HOG detector finds in a JPEG image, sorted as dlib sorts
// rectangles. Safe for concurrent use.
func (rec *Recognizer) Recognize(imgData []byte) ([]Face, error) {
	return rec.recognize(0, imgData)
}

// RecognizeCNN is Recognize with dlib's CNN face detector.
func (rec *Recognizer) RecognizeCNN(imgData []byte) ([]Face, error) {
	return rec.recognize(1, imgData)
}

func (rec *Recognizer) recognize(detector int, imgData []byte) ([]Face, error) {
	if len(imgData) == 0 {
		return nil, ImageLoadError("Empty image")
	}
	ret := C.goface_recognize(rec.ptr, (*C.uint8_t)(&imgData[0]), C.int(len(imgData)), 0, C.int(detector))
	defer C.free(unsafe.Pointer(ret))
	if ret.err_str != nil {
		defer C.free(unsafe.Pointer(ret.err_str))
		return nil, makeError(C.GoString(ret.err_str), int(ret.err_code))
	}
	n := int(ret.num_faces)
	if n == 0 {
		return nil, nil
	}
	defer C.free(unsafe.Pointer(ret.shapes))
	defer C.free(unsafe.Pointer(ret.rectangles))
	defer C.free(unsafe.Pointer(ret.descriptors))
	defer C.free(unsafe.Pointer(ret.scores))
	parts := int(ret.num_shapes)
	rects := unsafe.Slice((*C.long)(unsafe.Pointer(ret.rectangles)), n*rectLen)
	scores := unsafe.Slice((*C.double)(unsafe.Pointer(ret.scores)), n)
	descs := unsafe.Slice((*float32)(unsafe.Pointer(ret.descriptors)), n*descrLen)
	shapes := unsafe.Slice((*C.long)(unsafe.Pointer(ret.shapes)), n*parts*shapeLen)
	faces := make([]Face, n)
	for i := range faces {
		r := rects[i*rectLen:]
		faces[i].Rectangle = image.Rect(int(r[0]), int(r[1]), int(r[2]), int(r[3]))
		faces[i].Score = float64(scores[i])
		copy(faces[i].Descriptor[:], descs[i*descrLen:(i+1)*descrLen])
		faces[i].Shapes = make([]image.Point, parts)
		for j := range parts {
			s := shapes[(i*parts+j)*shapeLen:]
			faces[i].Shapes[j] = image.Point{int(s[0]), int(s[1])}
		}
	}
	return faces, nil
}

// Close frees the recognizer, and the shape predictor once no other recognizer holds it. Safe
// to call more than once; the recognizer must not be used afterwards.
func (rec *Recognizer) Close() {
	C.goface_free(rec.ptr)
	rec.ptr = nil
}

// An ImageLoadError is returned when an image cannot be decoded.
type ImageLoadError string

func (e ImageLoadError) Error() string { return string(e) }

// A SerializationError is returned when a model file is corrupt.
type SerializationError string

func (e SerializationError) Error() string { return string(e) }

// An UnknownError is any other error of dlib's.
type UnknownError string

func (e UnknownError) Error() string { return string(e) }

func makeError(s string, code int) error {
	switch code {
	case C.GOFACE_IMAGE_LOAD_ERROR:
		return ImageLoadError(s)
	case C.GOFACE_SERIALIZATION_ERROR:
		return SerializationError(s)
	default:
		return UnknownError(s)
	}
}
