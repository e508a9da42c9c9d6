package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Decode decodes the pixels of data at full size; h is its header, read by ReadHeader.
func Decode(data []byte, h Header) (image.Image, error) {
	return DecodeAtLeast(data, h, 0)
}

// DecodeAtLeast decodes the pixels of data, whose header h was read by ReadHeader. A JPEG may come
// out scaled down in the DCT domain, by a factor n/8 that keeps its longest side at least
// minSide (0: full size); other formats are decoded at full size. It refuses data whose decoded
// size differs from its header and turns a decoder panic into an error, so that no input can
// take the process down.
func DecodeAtLeast(data []byte, h Header, minSide int) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: decoder failed", ErrNotImage)
		}
	}()
	r := bytes.NewReader(data)
	switch h.Format {
	case JPEG:
		img, err = decodeJPEGScaled(data, minSide)
		if errors.Is(err, errNeedsGoDecoder) {
			img, err = jpeg.Decode(r)
		}
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
		if errors.Is(err, ErrNotImage) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	b := img.Bounds()
	full := b.Dx() == h.Width && b.Dy() == h.Height
	scaled := h.Format == JPEG && b.Dx() < h.Width && b.Dy() <= h.Height && b.Dx() >= min(minSide, h.Width)/8
	if !full && !scaled {
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
	img, err := DecodeAtLeast(data, h, maxSide)
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
