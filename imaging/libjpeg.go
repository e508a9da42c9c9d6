package imaging

// #cgo LDFLAGS: -ljpeg
// #include <stdlib.h>
// #include "libjpeg.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// errNeedsGoDecoder reports a JPEG that libjpeg-turbo cannot turn into RGB (CMYK or YCCK): the
// standard library's decoder handles it.
var errNeedsGoDecoder = errors.New("jpeg: colour space left to the Go decoder")

// decodeJPEGScaled decodes a JPEG with libjpeg-turbo, scaled in the DCT domain by the smallest
// factor n/8 that keeps its longest side at least minSide (full size when minSide is 0 or the
// image is smaller). Decoding at 1/2, 1/4 or 1/8 of the size costs a fraction of a full decode
// and never allocates the full-size pixels. Corrupt or truncated data is an error, warnings
// included.
func decodeJPEGScaled(data []byte, minSide int) (*image.RGBA, error) {
	if len(data) == 0 {
		return nil, ErrNotImage
	}
	var out C.fm_jpeg
	var msg [C.FM_JPEG_MSG_LEN]C.char
	src, n := (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data))
	// First the output size, then the pixels, straight into Go memory.
	for _, img := range []*image.RGBA{nil, {}} {
		var pix *C.uchar
		if img != nil {
			*img = *image.NewRGBA(image.Rect(0, 0, int(out.width), int(out.height)))
			pix = (*C.uchar)(unsafe.Pointer(&img.Pix[0]))
		}
		switch C.fm_decode_jpeg(src, n, C.int(minSide), pix, &out, &msg[0]) {
		case C.FM_JPEG_OK:
		case C.FM_JPEG_UNSUPPORTED_COLOR:
			return nil, errNeedsGoDecoder
		default:
			return nil, fmt.Errorf("%w: jpeg: %s", ErrNotImage, C.GoString(&msg[0]))
		}
		if img != nil {
			return img, nil
		}
		if out.width <= 0 || out.height <= 0 {
			return nil, fmt.Errorf("%w: jpeg: empty image", ErrNotImage)
		}
	}
	panic("unreachable")
}

// encodeJPEG encodes an RGBA image (alpha ignored) with libjpeg-turbo.
func encodeJPEG(img *image.RGBA, quality int) ([]byte, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, errors.New("jpeg: empty image")
	}
	var out C.fm_jpeg_out
	var msg [C.FM_JPEG_MSG_LEN]C.char
	pix := img.Pix[img.PixOffset(b.Min.X, b.Min.Y):]
	if rc := C.fm_encode_jpeg((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(b.Dx()), C.int(b.Dy()), C.int(img.Stride), C.int(quality), &out, &msg[0]); rc != C.FM_JPEG_OK {
		return nil, fmt.Errorf("jpeg: %s", C.GoString(&msg[0]))
	}
	defer C.free(unsafe.Pointer(out.data))
	return C.GoBytes(unsafe.Pointer(out.data), C.int(out.len)), nil
}
