package imaging

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
)

// Orient applies an EXIF orientation (1-8) to img, returning the upright image. Orientation 1,
// or any value outside 1-8, returns img itself.
func Orient(img *image.RGBA, o int) *image.RGBA {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	// from maps a pixel (x, y) of the upright output onto the stored image.
	var from func(x, y int) (int, int)
	ow, oh := w, h
	switch o {
	case 2: // mirrored horizontally
		from = func(x, y int) (int, int) { return w - 1 - x, y }
	case 3: // rotated 180
		from = func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4: // mirrored vertically
		from = func(x, y int) (int, int) { return x, h - 1 - y }
	case 5: // transposed
		ow, oh = h, w
		from = func(x, y int) (int, int) { return y, x }
	case 6: // stored rotated 90 counter-clockwise: turn it 90 clockwise
		ow, oh = h, w
		from = func(x, y int) (int, int) { return y, h - 1 - x }
	case 7: // transversed
		ow, oh = h, w
		from = func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8: // stored rotated 90 clockwise: turn it 90 counter-clockwise
		ow, oh = h, w
		from = func(x, y int) (int, int) { return w - 1 - y, x }
	default:
		return img
	}
	return remap(img, ow, oh, from)
}

// Rotate turns img clockwise by deg, one of 0, 90, 180 or 270.
func Rotate(img *image.RGBA, deg int) *image.RGBA {
	switch deg {
	case 90:
		return Orient(img, 6)
	case 180:
		return Orient(img, 3)
	case 270:
		return Orient(img, 8)
	}
	return img
}

// Mirror flips img left to right.
func Mirror(img *image.RGBA) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		out := dst.Pix[y*dst.Stride:]
		for x := 0; x < w; x++ {
			copy(out[4*(w-1-x):4*(w-x)], src[4*x:4*x+4])
		}
	}
	return dst
}

// RotatePoint maps a point of an image of size w x h onto the same point once the image is
// turned clockwise by deg (0, 90, 180 or 270).
func RotatePoint(x, y float64, w, h int, deg int) (float64, float64) {
	switch deg {
	case 90:
		return float64(h) - y, x
	case 180:
		return float64(w) - x, float64(h) - y
	case 270:
		return y, float64(w) - x
	}
	return x, y
}

func remap(img *image.RGBA, ow, oh int, from func(x, y int) (int, int)) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < oh; y++ {
		out := dst.Pix[y*dst.Stride:]
		for x := 0; x < ow; x++ {
			sx, sy := from(x, y)
			copy(out[4*x:4*x+4], img.Pix[sy*img.Stride+4*sx:])
		}
	}
	return dst
}

// Crop copies the part of img inside r (clipped to img) into a new image whose origin is (0, 0).
func Crop(img *image.RGBA, r image.Rectangle) *image.RGBA {
	r = r.Intersect(img.Bounds())
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*r.Dx()], img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y):])
	}
	return dst
}

// EncodeJPEG encodes img as a baseline JPEG of the given quality (1-100), with libjpeg-turbo for
// an RGBA image and the standard library otherwise.
func EncodeJPEG(img image.Image, quality int) []byte {
	if rgba, ok := img.(*image.RGBA); ok {
		if data, err := encodeJPEG(rgba, quality); err == nil {
			return data
		}
	}
	var buf bytes.Buffer
	// Encoding into a bytes.Buffer cannot fail for an in-memory image.
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality})
	return buf.Bytes()
}

// UnorientRect maps a rectangle of the upright image onto the stored image of size w x h that
// carries EXIF orientation o: the inverse of what Orient does to pixels.
func UnorientRect(r image.Rectangle, o, w, h int) image.Rectangle {
	back := func(x, y int) image.Point {
		switch o {
		case 2:
			return image.Pt(w-x, y)
		case 3:
			return image.Pt(w-x, h-y)
		case 4:
			return image.Pt(x, h-y)
		case 5:
			return image.Pt(y, x)
		case 6:
			return image.Pt(y, h-x)
		case 7:
			return image.Pt(w-y, h-x)
		case 8:
			return image.Pt(w-y, x)
		}
		return image.Pt(x, y)
	}
	a, b := back(r.Min.X, r.Min.Y), back(r.Max.X, r.Max.Y)
	return image.Rectangle{Min: a, Max: b}.Canon()
}

// CropUpright returns the part r of the upright submitted image (coordinates after EXIF
// orientation, at the size its header h gives) out of img, the decoded stored image, which may
// have been decoded scaled down. The crop is reduced so that its longest side is at most maxSide;
// only the pixels of r are read.
func CropUpright(img image.Image, h Header, r image.Rectangle, maxSide int) *image.RGBA {
	b := img.Bounds()
	sr := UnorientRect(r, h.Orientation, h.Width, h.Height)
	fx, fy := float64(b.Dx())/float64(h.Width), float64(b.Dy())/float64(h.Height)
	sr = image.Rect(int(float64(sr.Min.X)*fx), int(float64(sr.Min.Y)*fy),
		int(math.Ceil(float64(sr.Max.X)*fx)), int(math.Ceil(float64(sr.Max.Y)*fy))).Add(b.Min).Intersect(b)
	if sr.Empty() {
		return image.NewRGBA(image.Rect(0, 0, 1, 1))
	}
	if sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		img = sub.SubImage(sr)
	} else {
		img = subImage{img, sr}
	}
	return Orient(Reduce(img, maxSide), h.Orientation)
}

// subImage restricts the bounds of an image type that has no SubImage method of its own.
type subImage struct {
	image.Image
	r image.Rectangle
}

func (s subImage) Bounds() image.Rectangle { return s.r }
