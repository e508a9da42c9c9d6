package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Decode decodes the pixels of data, whose header h was read by ReadHeader. It refuses data
// whose decoded size differs from its header (a second frame or a lying header) and turns a
// decoder panic into an error, so that no input can take the process down.
func Decode(data []byte, h Header) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: decoder failed", ErrNotImage)
		}
	}()
	r := bytes.NewReader(data)
	switch h.Format {
	case JPEG:
		img, err = jpeg.Decode(r)
	case PNG:
		img, err = png.Decode(r)
	case WebP:
		img, err = webp.Decode(r)
	case TIFF:
		img, err = tiff.Decode(r)
	default:
		return nil, ErrNotImage
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if b := img.Bounds(); b.Dx() != h.Width || b.Dy() != h.Height {
		return nil, fmt.Errorf("%w: decoded size %dx%d differs from the header's %dx%d",
			ErrNotImage, b.Dx(), b.Dy(), h.Width, h.Height)
	}
	return img, nil
}

// Working is an image prepared for face detection: upright (EXIF orientation applied), opaque,
// and reduced so that its longest side is at most the limit it was loaded with.
type Working struct {
	*image.RGBA
	// ScaleX and ScaleY convert a coordinate of the upright submitted image into one of RGBA.
	ScaleX, ScaleY float64
	// Width and Height are the dimensions of the upright submitted image.
	Width, Height int
}

// Load decodes data and prepares it for detection with Prepare.
func Load(data []byte, h Header, maxSide int) (*Working, error) {
	img, err := Decode(data, h)
	if err != nil {
		return nil, err
	}
	return Prepare(img, h, maxSide), nil
}

// Prepare reduces a decoded image so that its longest side is at most maxSide, then applies its
// EXIF orientation. Reducing before orienting keeps the work proportional to the output.
func Prepare(img image.Image, h Header, maxSide int) *Working {
	small := Reduce(img, maxSide)
	sx := float64(small.Bounds().Dx()) / float64(h.Width)
	sy := float64(small.Bounds().Dy()) / float64(h.Height)
	w, hh := h.OrientedSize()
	if h.Orientation >= 5 {
		sx, sy = sy, sx
	}
	return &Working{RGBA: Orient(small, h.Orientation), ScaleX: sx, ScaleY: sy, Width: w, Height: hh}
}
