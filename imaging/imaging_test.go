package imaging

import (
	"errors"
	"image"
	"image/color"
	"math"
	"runtime"
	"testing"

	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/internal/testimg"
)

// pattern is a 60x40 image with a red top-left corner and a blue top-right corner, so that every
// orientation of it can be told apart.
func pattern() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 60, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 60; x++ {
			c := color.RGBA{128, 128, 128, 255}
			switch {
			case x < 15 && y < 10:
				c = color.RGBA{255, 0, 0, 255}
			case x >= 45 && y < 10:
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func TestReadHeaderFormats(t *testing.T) {
	img := pattern()
	for _, f := range []string{"jpeg", "png", "webp", "tiff"} {
		t.Run(f, func(t *testing.T) {
			h, err := ReadHeader(testimg.Encode(t, img, f))
			if err != nil {
				t.Fatal(err)
			}
			if string(h.Format) != f || h.Width != 60 || h.Height != 40 || h.Orientation != 1 {
				t.Fatalf("header = %+v, want %s 60x40 orientation 1", h, f)
			}
		})
	}
}

func TestReadHeaderRefusesNonImages(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":          nil,
		"text":           []byte("hello, I am not an image"),
		"gif":            []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
		"truncated jpeg": testimg.Encode(t, pattern(), "jpeg")[:20],
		"png signature":  []byte("\x89PNG\r\n\x1a\n"),
		"riff not webp":  []byte("RIFF\x10\x00\x00\x00WAVEfmt "),
		"tiff header":    []byte("II*\x00\x08\x00\x00\x00"),
	} {
		if _, err := ReadHeader(data); !errors.Is(err, ErrNotImage) {
			t.Errorf("%s: err = %v, want ErrNotImage", name, err)
		}
	}
}

// [FM-IMG-2] A 20000x20000 PNG of a few kilobytes is refused from its header, without the
// gigabyte its pixels would take being allocated.
func TestReadHeaderRefusesBombWithoutDecoding(t *testing.T) {
	bomb := testimg.PNGBomb(20000, 20000)
	if len(bomb) > 64*1024 {
		t.Fatalf("bomb is %d bytes, want a few kilobytes", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadHeader(bomb)
	runtime.ReadMemStats(&after)
	var tooLarge *TooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Width != 20000 {
		t.Fatalf("err = %v, want TooLargeError for 20000x20000", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("reading the header allocated %d bytes", alloc)
	}
	// Exactly 40 megapixels is still accepted.
	if _, err := ReadHeader(testimg.PNGBomb(8000, 5000)); err != nil {
		t.Fatalf("40 MP: %v", err)
	}
	if _, err := ReadHeader(testimg.PNGBomb(8000, 5001)); !errors.As(err, &tooLarge) {
		t.Fatalf("40.008 MP: err = %v, want TooLargeError", err)
	}
}

// corner returns the colour name at the top-left of img.
func corner(img image.Image) string {
	r, g, b, _ := img.At(img.Bounds().Min.X+2, img.Bounds().Min.Y+2).RGBA()
	switch {
	case r > 0xC000 && g < 0x4000 && b < 0x4000:
		return "red"
	case b > 0xC000 && r < 0x4000 && g < 0x4000:
		return "blue"
	}
	return "grey"
}

// [FM-IMG-3] EXIF orientation is applied, from the container of every format that carries it.
func TestOrientation(t *testing.T) {
	// What the top-left corner of the upright image shows, and its size, for a stored pattern
	// tagged with each orientation. The pattern's red corner is stored top-left, blue top-right.
	want := map[uint16]struct {
		corner string
		w, h   int
	}{
		1: {"red", 60, 40}, 2: {"blue", 60, 40}, 3: {"grey", 60, 40}, 4: {"grey", 60, 40},
		5: {"red", 40, 60}, 6: {"grey", 40, 60}, 7: {"grey", 40, 60}, 8: {"blue", 40, 60},
		0: {"red", 60, 40}, 9: {"red", 60, 40}, 65535: {"red", 60, 40}, // invalid values are ignored
	}
	jpg := testimg.Encode(t, pattern(), "jpeg")
	pngData := testimg.Encode(t, pattern(), "png")
	for o, w := range want {
		for name, data := range map[string][]byte{
			"jpeg": testimg.WithJPEGOrientation(jpg, o),
			"png":  testimg.WithPNGOrientation(pngData, o),
		} {
			h, err := ReadHeader(data)
			if err != nil {
				t.Fatalf("%s orientation %d: %v", name, o, err)
			}
			work, err := Load(data, h, 1000)
			if err != nil {
				t.Fatalf("%s orientation %d: %v", name, o, err)
			}
			b := work.Bounds()
			if got := corner(work); got != w.corner || b.Dx() != w.w || b.Dy() != w.h {
				t.Errorf("%s orientation %d: corner %s %dx%d, want %s %dx%d", name, o, got, b.Dx(), b.Dy(), w.corner, w.w, w.h)
			}
			if work.Width != w.w || work.Height != w.h {
				t.Errorf("%s orientation %d: upright size %dx%d, want %dx%d", name, o, work.Width, work.Height, w.w, w.h)
			}
		}
	}
}

func TestReduceAveragesAreas(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 4, 2))
	copy(src.Pix, []uint8{0, 100, 200, 200, 0, 100, 200, 200})
	got := Reduce(src, 2)
	if got.Bounds().Dx() != 2 || got.Bounds().Dy() != 1 {
		t.Fatalf("size %v, want 2x1", got.Bounds())
	}
	if l, r := got.Pix[0], got.Pix[4]; l != 50 || r != 200 {
		t.Fatalf("pixels %d %d, want 50 200", l, r)
	}
	// A size that does not divide evenly keeps a uniform image uniform.
	uni := image.NewGray(image.Rect(0, 0, 997, 613))
	for i := range uni.Pix {
		uni.Pix[i] = 77
	}
	out := Reduce(uni, 100)
	for i := 0; i < len(out.Pix); i += 4 {
		if out.Pix[i] != 77 || out.Pix[i+3] != 255 {
			t.Fatalf("pixel %d = %v, want 77 opaque", i/4, out.Pix[i:i+4])
		}
	}
}

func TestTransparencyIsCompositedOverWhite(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(src.Pix, []uint8{0, 0, 0, 0 /* transparent black */, 0, 0, 0, 255 /* opaque black */})
	out := Reduce(src, 10)
	if out.Pix[0] != 255 || out.Pix[4] != 0 {
		t.Fatalf("got %v, want white then black", out.Pix)
	}
}

// meanAbsDiff compares two images of the same size channel by channel.
func meanAbsDiff(a, b *image.RGBA) float64 {
	var s float64
	for i := range a.Pix {
		s += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
	}
	return s / float64(len(a.Pix))
}

// The same photo decodes alike whether stored as RGB, CMYK (Adobe, inverted) or grayscale JPEG,
// and through every format.
func TestDecoderCasesAgree(t *testing.T) {
	load := func(data []byte) *Working {
		t.Helper()
		h, err := ReadHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		w, err := Load(data, h, 400)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	rgb := load(shared.Read(t, "fixtures", "faces", "filippo_giunchedi", "giunchedi_rgb.jpg"))
	cmyk := load(shared.Read(t, "fixtures", "faces", "filippo_giunchedi", "giunchedi_cmyk.jpg"))
	if d := meanAbsDiff(rgb.RGBA, cmyk.RGBA); d > 12 {
		t.Errorf("CMYK decodes %.1f levels away from RGB on average", d)
	}
	gray := load(shared.Read(t, "fixtures", "faces", "filippo_giunchedi", "giunchedi_grayscale.jpg"))
	if gray.Bounds() != rgb.Bounds() {
		t.Fatalf("grayscale %v, rgb %v", gray.Bounds(), rgb.Bounds())
	}
	photo := testimg.Decode(t, shared.Read(t, "fixtures", "faces", "filippo_giunchedi", "giunchedi_rgb.jpg"))
	for _, f := range []string{"png", "webp", "tiff"} {
		if d := meanAbsDiff(rgb.RGBA, load(testimg.Encode(t, photo, f)).RGBA); d > 1 {
			t.Errorf("%s decodes %.2f levels away from the JPEG it was made from", f, d)
		}
	}
	// 16-bit PNG with alpha.
	deep := image.NewNRGBA64(photo.Bounds())
	b := photo.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			deep.Set(x, y, photo.At(x, y))
		}
	}
	if d := meanAbsDiff(rgb.RGBA, load(testimg.Encode(t, deep, "png")).RGBA); d > 1 {
		t.Errorf("16-bit PNG decodes %.2f levels away", d)
	}
}

func TestDecodeRefusesLyingHeader(t *testing.T) {
	data := testimg.PNGBomb(100, 100) // the header promises rows the data does not hold
	h, err := ReadHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data, h); !errors.Is(err, ErrNotImage) {
		t.Fatalf("err = %v, want ErrNotImage", err)
	}
}
