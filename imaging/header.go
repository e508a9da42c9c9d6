// Package imaging turns the bytes of a submitted image into the pixels the matcher works on: it
// decodes JPEG (with libjpeg-turbo), PNG, WebP and TIFF, applies EXIF orientation and resamples.
// Headers are read by the pure-Go imageinfo package, whose names it carries on. It knows nothing
// of faces or HTTP.
package imaging

import "github.com/facematch/facematch/imageinfo"

// Format names an accepted image encoding.
type Format = imageinfo.Format

// The accepted encodings.
const (
	JPEG = imageinfo.JPEG
	PNG  = imageinfo.PNG
	WebP = imageinfo.WebP
	TIFF = imageinfo.TIFF
)

// MaxPixels is the largest decoded size accepted (FM-IMG-2).
const MaxPixels = imageinfo.MaxPixels

// Header is what can be learnt about an image without decoding its pixels.
type Header = imageinfo.Header

// TooLargeError reports an image whose header declares more than MaxPixels.
type TooLargeError = imageinfo.TooLargeError

// ErrNotImage reports bytes that are not an accepted image, or whose header is corrupt.
var ErrNotImage = imageinfo.ErrNotImage

// Sniff names the format of data from its first bytes, or "" when it is none of the accepted ones.
func Sniff(data []byte) Format { return imageinfo.Sniff(data) }

// ReadHeader reads format, dimensions and EXIF orientation without decoding pixels, refusing an
// image of more than MaxPixels.
func ReadHeader(data []byte) (Header, error) { return imageinfo.ReadHeader(data) }
