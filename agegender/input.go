package agegender

import (
	"image"
	"image/color"
	"math"
)

// Input samples a square of img, whose top-left corner is (x, y) and whose side is side pixels
// in img's coordinates, into the network's 112x112 RGB input (row-major R, G, B bytes), with
// bilinear interpolation. Where the square reaches past img it is black, as face-api.js pads a
// face crop to a square with zeros. img should not be much larger than the input (reduce it
// first): each output pixel reads only the four nearest pixels.
func Input(img image.Image, x, y, side float64) []byte {
	out := make([]byte, InputSize*InputSize*3)
	b := img.Bounds()
	rgba, _ := img.(*image.RGBA)
	at := func(px, py int) (float64, float64, float64) {
		if px < b.Min.X || py < b.Min.Y || px >= b.Max.X || py >= b.Max.Y {
			return 0, 0, 0
		}
		if rgba != nil {
			i := rgba.PixOffset(px, py)
			return float64(rgba.Pix[i]), float64(rgba.Pix[i+1]), float64(rgba.Pix[i+2])
		}
		c := color.RGBAModel.Convert(img.At(px, py)).(color.RGBA)
		return float64(c.R), float64(c.G), float64(c.B)
	}
	step := side / InputSize
	for v := 0; v < InputSize; v++ {
		sy := y + (float64(v)+0.5)*step - 0.5
		y0 := math.Floor(sy)
		fy := sy - y0
		for u := 0; u < InputSize; u++ {
			sx := x + (float64(u)+0.5)*step - 0.5
			x0 := math.Floor(sx)
			fx := sx - x0
			ix, iy := int(x0), int(y0)
			r00, g00, b00 := at(ix, iy)
			r10, g10, b10 := at(ix+1, iy)
			r01, g01, b01 := at(ix, iy+1)
			r11, g11, b11 := at(ix+1, iy+1)
			mix := func(c00, c10, c01, c11 float64) byte {
				top := c00 + (c10-c00)*fx
				bottom := c01 + (c11-c01)*fx
				return byte(math.Round(math.Max(0, math.Min(255, top+(bottom-top)*fy))))
			}
			o := 3 * (v*InputSize + u)
			out[o] = mix(r00, r10, r01, r11)
			out[o+1] = mix(g00, g10, g01, g11)
			out[o+2] = mix(b00, b10, b01, b11)
		}
	}
	return out
}
