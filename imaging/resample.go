package imaging

import (
	"image"
	"image/color"
	"math"

	"golang.org/x/image/draw"
)

// Reduce returns src as an opaque RGBA image (transparent pixels composited over white) whose
// longest side is at most maxSide, scaled down with an area-averaging box filter. It reads src a
// row at a time, so it never holds a full-size converted copy of a large image.
func Reduce(src image.Image, maxSide int) *image.RGBA {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dw, dh := sw, sh
	if long := max(sw, sh); maxSide > 0 && long > maxSide {
		f := float64(maxSide) / float64(long)
		dw = max(1, int(math.Round(float64(sw)*f)))
		dh = max(1, int(math.Round(float64(sh)*f)))
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	row := make([]uint8, 3*sw)
	if dw == sw && dh == sh {
		for y := 0; y < sh; y++ {
			readRow(src, b.Min.Y+y, row)
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < sw; x++ {
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], 0xFF
			}
		}
		return dst
	}

	xs := boxWeights(sw, dw)
	ys := boxWeights(sh, dh)
	acc := make([]float32, 3*dw)
	hrow := make([]float32, 3*dw)
	cached := -1
	for dy := 0; dy < dh; dy++ {
		clear(acc)
		for _, t := range ys[dy] {
			if t.src != cached {
				readRow(src, b.Min.Y+t.src, row)
				horizontal(row, xs, hrow)
				cached = t.src
			}
			for i, v := range hrow {
				acc[i] += t.w * v
			}
		}
		out := dst.Pix[dy*dst.Stride:]
		for x := 0; x < dw; x++ {
			out[4*x] = clamp8(acc[3*x])
			out[4*x+1] = clamp8(acc[3*x+1])
			out[4*x+2] = clamp8(acc[3*x+2])
			out[4*x+3] = 0xFF
		}
	}
	return dst
}

// tap is one source sample of a destination sample and its weight.
type tap struct {
	src int
	w   float32
}

// boxWeights maps each of n destination samples onto the source samples its area covers, with
// weights proportional to the covered length, summing to one.
func boxWeights(srcN, n int) [][]tap {
	ratio := float64(srcN) / float64(n)
	out := make([][]tap, n)
	for d := range out {
		lo, hi := float64(d)*ratio, float64(d+1)*ratio
		for s := int(lo); s < srcN && float64(s) < hi; s++ {
			cover := math.Min(hi, float64(s+1)) - math.Max(lo, float64(s))
			if cover > 1e-9 {
				out[d] = append(out[d], tap{s, float32(cover / ratio)})
			}
		}
	}
	return out
}

func horizontal(row []uint8, xs [][]tap, out []float32) {
	for x, taps := range xs {
		var r, g, b float32
		for _, t := range taps {
			p := row[3*t.src:]
			r += t.w * float32(p[0])
			g += t.w * float32(p[1])
			b += t.w * float32(p[2])
		}
		out[3*x], out[3*x+1], out[3*x+2] = r, g, b
	}
}

func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// readRow writes row y of src into row as RGB bytes, compositing any transparency over white.
// The common decoder outputs have fast paths; anything else goes through the color model.
func readRow(src image.Image, y int, row []uint8) {
	b := src.Bounds()
	w := b.Dx()
	switch m := src.(type) {
	case *image.YCbCr:
		yi := m.YOffset(b.Min.X, y)
		for x := 0; x < w; x++ {
			ci := m.COffset(b.Min.X+x, y)
			r, g, bb := color.YCbCrToRGB(m.Y[yi+x], m.Cb[ci], m.Cr[ci])
			row[3*x], row[3*x+1], row[3*x+2] = r, g, bb
		}
	case *image.Gray:
		p := m.Pix[m.PixOffset(b.Min.X, y):]
		for x := 0; x < w; x++ {
			row[3*x], row[3*x+1], row[3*x+2] = p[x], p[x], p[x]
		}
	case *image.RGBA:
		p := m.Pix[m.PixOffset(b.Min.X, y):]
		for x := 0; x < w; x++ {
			bg := 0xFF - p[4*x+3] // premultiplied: adding the uncovered share of white
			row[3*x], row[3*x+1], row[3*x+2] = sat(p[4*x], bg), sat(p[4*x+1], bg), sat(p[4*x+2], bg)
		}
	case *image.NRGBA:
		p := m.Pix[m.PixOffset(b.Min.X, y):]
		for x := 0; x < w; x++ {
			a := uint32(p[4*x+3])
			row[3*x] = overWhite(p[4*x], a)
			row[3*x+1] = overWhite(p[4*x+1], a)
			row[3*x+2] = overWhite(p[4*x+2], a)
		}
	case *image.CMYK:
		p := m.Pix[m.PixOffset(b.Min.X, y):]
		for x := 0; x < w; x++ {
			r, g, bb := color.CMYKToRGB(p[4*x], p[4*x+1], p[4*x+2], p[4*x+3])
			row[3*x], row[3*x+1], row[3*x+2] = r, g, bb
		}
	case image.RGBA64Image:
		// 16-bit, paletted and YCbCr-with-alpha images: the same values as At().RGBA(), without
		// boxing a color per pixel (320 MB of garbage for a 40-megapixel image).
		for x := 0; x < w; x++ {
			c := m.RGBA64At(b.Min.X+x, y) // premultiplied, 16 bits
			bg := 0xFFFF - uint32(c.A)
			row[3*x], row[3*x+1], row[3*x+2] = uint8((uint32(c.R)+bg)>>8), uint8((uint32(c.G)+bg)>>8), uint8((uint32(c.B)+bg)>>8)
		}
	default:
		for x := 0; x < w; x++ {
			r, g, bb, a := src.At(b.Min.X+x, y).RGBA() // premultiplied, 16 bits
			bg := 0xFFFF - a
			row[3*x], row[3*x+1], row[3*x+2] = uint8((r+bg)>>8), uint8((g+bg)>>8), uint8((bb+bg)>>8)
		}
	}
}

func sat(v, add uint8) uint8 {
	if s := uint16(v) + uint16(add); s < 0xFF {
		return uint8(s)
	}
	return 0xFF
}

func overWhite(c uint8, a uint32) uint8 {
	return uint8((uint32(c)*a + 0xFF*(0xFF-a) + 127) / 0xFF)
}

// Scale returns img resized by factor f with bilinear interpolation; the detector's fallback uses
// it to enlarge faces that are too small to be found at their submitted size.
func Scale(img *image.RGBA, f float64) *image.RGBA {
	b := img.Bounds()
	w := max(1, int(math.Round(float64(b.Dx())*f)))
	h := max(1, int(math.Round(float64(b.Dy())*f)))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}
