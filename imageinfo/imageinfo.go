// Package imageinfo reads what can be known of a submitted image without decoding its pixels:
// its format, its dimensions and its EXIF orientation. It is pure Go and links no image codec of
// its own, so that the HTTP layer can check images (FM-IMG-1, FM-IMG-2) without cgo; the imaging
// package decodes the pixels later.
package imageinfo

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

// Format names an accepted image encoding.
type Format string

// The accepted encodings.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
	TIFF Format = "tiff"
)

// MaxPixels is the largest decoded size accepted (FM-IMG-2): 40 megapixels.
const MaxPixels = 40_000_000

// Header is what can be learnt about an image without decoding its pixels.
type Header struct {
	Format Format
	// Width and Height are the stored dimensions, before EXIF orientation.
	Width, Height int
	// Orientation is the EXIF orientation tag, 1 to 8; 1 when absent or invalid.
	Orientation int
}

// OrientedSize is the size of the image once its EXIF orientation is applied.
func (h Header) OrientedSize() (w, h2 int) {
	if h.Orientation >= 5 {
		return h.Height, h.Width
	}
	return h.Width, h.Height
}

// ErrNotImage reports bytes that are not a JPEG, PNG, WebP or TIFF image, or whose header is
// corrupt.
var ErrNotImage = errors.New("not a JPEG, PNG, WebP or TIFF image, or a corrupted one")

// TooLargeError reports an image whose header declares more than MaxPixels.
type TooLargeError struct {
	Width, Height int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("image is %dx%d pixels (%.1f megapixels); at most %d megapixels are accepted",
		e.Width, e.Height, float64(e.Width)*float64(e.Height)/1e6, MaxPixels/1_000_000)
}

// Sniff names the format of data from its first bytes, or returns "" when it is none of the
// accepted ones.
func Sniff(data []byte) Format {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return WebP
	case bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")):
		return TIFF
	}
	return ""
}

// ReadHeader reads format, dimensions and EXIF orientation from data without decoding pixels,
// and refuses an image of more than MaxPixels (FM-IMG-2), so that a small file which would expand
// to gigabytes is never decoded.
func ReadHeader(data []byte) (Header, error) {
	f := Sniff(data)
	var (
		cfg image.Config
		err error
	)
	r := bytes.NewReader(data)
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case PNG:
		cfg, err = png.DecodeConfig(r)
	case WebP:
		cfg, err = webp.DecodeConfig(r)
	case TIFF:
		cfg, err = tiff.DecodeConfig(r)
	default:
		return Header{}, ErrNotImage
	}
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return Header{}, ErrNotImage
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return Header{}, &TooLargeError{Width: cfg.Width, Height: cfg.Height}
	}
	return Header{Format: f, Width: cfg.Width, Height: cfg.Height, Orientation: orientation(f, data)}, nil
}
