package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/facematch/facematch/internal/testimg"
)

// The fuzz targets of this package take client bytes the way the server does: FuzzReadHeader
// runs the header and EXIF parsers on anything; FuzzDecode then decodes what passed, through
// every decoder path (libjpeg-turbo, the Go JPEG decoder for CMYK and YCCK, PNG, WebP lossy and
// lossless, TIFF), and prepares the pixels for detection. Seeds are in testdata/fuzz: tiny images
// of every kind (`go test ./imaging -run TestWriteFuzzSeeds -write-seeds` rewrites the generated
// ones), a few made with libjpeg and cwebp (see docs/reliability.md), and every crasher found.

// fuzzMaxPixels bounds the images FuzzDecode decodes, so that an iteration stays fast: the
// decoders' behaviour does not depend on size beyond a few blocks.
const fuzzMaxPixels = 4_000_000

func FuzzReadHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(data)
		for _, format := range []Format{JPEG, PNG, WebP, TIFF} {
			if o := orientation(format, data); o < 1 || o > 8 {
				t.Fatalf("orientation(%s) = %d, want 1..8", format, o)
			}
		}
		if o := tiffOrientation(data); o < 0 || o > 0xFFFF {
			t.Fatalf("tiffOrientation = %d", o)
		}
		if err != nil {
			var tooLarge *TooLargeError
			if !errors.Is(err, ErrNotImage) && !errors.As(err, &tooLarge) {
				t.Fatalf("error %v is neither ErrNotImage nor TooLargeError", err)
			}
			if tooLarge != nil && int64(tooLarge.Width)*int64(tooLarge.Height) <= MaxPixels {
				t.Fatalf("refused %dx%d as too large", tooLarge.Width, tooLarge.Height)
			}
			return
		}
		if h.Format != Sniff(data) || h.Width <= 0 || h.Height <= 0 || int64(h.Width)*int64(h.Height) > MaxPixels ||
			h.Orientation < 1 || h.Orientation > 8 {
			t.Fatalf("header %+v", h)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, minSide uint16) {
		h, err := ReadHeader(data)
		if err != nil || int64(h.Width)*int64(h.Height) > fuzzMaxPixels {
			return
		}
		side := int(minSide % 2048)
		img, err := DecodeAtLeast(data, h, side)
		if err != nil {
			if !errors.Is(err, ErrNotImage) {
				t.Fatalf("error %v is not ErrNotImage", err)
			}
			// libjpeg-turbo allocates what its own reading of the header says: it must agree
			// with the header that passed the size check.
			if strings.Contains(err.Error(), "differs from the header") {
				t.Fatalf("%s: %v", h.Format, err)
			}
			return
		}
		b := img.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx() > h.Width || b.Dy() > h.Height {
			t.Fatalf("decoded %v from a %dx%d header", b, h.Width, h.Height)
		}
		w := Prepare(img, h, 64)
		ow, oh := h.OrientedSize()
		if wb := w.Bounds(); wb.Dx() > 64 || wb.Dy() > 64 || wb.Empty() || w.Width != ow || w.Height != oh {
			t.Fatalf("prepared %v (%dx%d) from %+v", wb, w.Width, w.Height, h)
		}
	})
}

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the generated seeds under testdata/fuzz")

// TestWriteFuzzSeeds writes the generated seed corpus (files named gen-*) of the fuzz targets.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite testdata/fuzz/*/gen-*")
	}
	seeds := fuzzSeeds(t)
	for _, target := range []string{"FuzzReadHeader", "FuzzDecode"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "gen-*"))
		for _, p := range old {
			os.Remove(p)
		}
		for i, s := range seeds {
			entry := corpusEntry(s.data)
			if target == "FuzzDecode" {
				entry = corpusEntry(s.data, uint16([]int{0, 64, 640, 1}[i%4]))
			}
			if err := os.WriteFile(filepath.Join(dir, "gen-"+s.name), entry, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("wrote %d seeds for each target", len(seeds))
}

// corpusEntry encodes values in the file format of go test's fuzzing corpus.
func corpusEntry(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch x := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(x)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(x))
		default:
			fmt.Fprintf(&b, "%T(%v)\n", x, x)
		}
	}
	return []byte(b.String())
}

type seed struct {
	name string
	data []byte
}

// tinyPicture is a 9x7 gradient: odd sizes exercise partial JPEG blocks and chroma subsampling.
func tinyPicture() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 9, 7))
	for y := range 7 {
		for x := range 9 {
			img.Set(x, y, color.NRGBA{uint8(x * 28), uint8(y * 36), uint8(200 - x*10), uint8(255 - y*20)})
		}
	}
	return img
}

// fuzzSeeds are small images of every kind the decoders handle, with EXIF in each container,
// odd orientation values, truncations and oversized headers.
func fuzzSeeds(t *testing.T) []seed {
	pic := tinyPicture()
	opaque := image.NewRGBA(pic.Bounds())
	gray := image.NewGray(pic.Bounds())
	gray16 := image.NewGray16(pic.Bounds())
	pal := image.NewPaletted(pic.Bounds(), palette.WebSafe)
	deep := image.NewNRGBA64(pic.Bounds())
	for y := range 7 {
		for x := range 9 {
			c := pic.At(x, y)
			opaque.Set(x, y, color.RGBA{pic.Pix[pic.PixOffset(x, y)], pic.Pix[pic.PixOffset(x, y)+1], 9, 255})
			gray.Set(x, y, c)
			gray16.Set(x, y, c)
			pal.Set(x, y, c)
			deep.Set(x, y, c)
		}
	}
	var grayJPEG bytes.Buffer
	jpeg.Encode(&grayJPEG, gray, &jpeg.Options{Quality: 50})
	jpg := testimg.Encode(t, opaque, "jpeg")
	pngData := testimg.Encode(t, pic, "png")
	webp := testimg.Encode(t, pic, "webp")
	tiffData := testimg.Encode(t, pic, "tiff")
	var rawTIFF, grayTIFF, palTIFF bytes.Buffer
	tiff.Encode(&rawTIFF, opaque, nil)
	tiff.Encode(&grayTIFF, gray16, &tiff.Options{Compression: tiff.Deflate})
	tiff.Encode(&palTIFF, pal, nil)

	seeds := []seed{
		{"jpeg", jpg},
		{"jpeg-gray", grayJPEG.Bytes()},
		{"png", pngData},
		{"png-gray", testimg.Encode(t, gray, "png")},
		{"png-gray16", testimg.Encode(t, gray16, "png")},
		{"png-paletted", testimg.Encode(t, pal, "png")},
		{"png-nrgba64", testimg.Encode(t, deep, "png")},
		{"webp-lossless", webp},
		{"tiff-deflate", tiffData},
		{"tiff-raw", rawTIFF.Bytes()},
		{"tiff-gray16", grayTIFF.Bytes()},
		{"tiff-paletted", palTIFF.Bytes()},
		{"tiff-packbits", packBitsTIFF(9, 7)},
		{"webp-exif", withWebPEXIF(webp, testimg.EXIF(6))},
		{"tiff-orientation-8", withTIFFOrientation(rawTIFF.Bytes(), 8)},
		{"png-bomb-header", testimg.PNGBomb(20000, 20000)[:64]},
		{"png-too-large", testimg.PNGBomb(7000, 7000)},
		{"png-lying-header", testimg.PNGBomb(300, 300)},
	}
	for _, o := range []uint16{0, 3, 6, 8, 9, 65535} {
		seeds = append(seeds,
			seed{fmt.Sprintf("jpeg-orientation-%d", o), testimg.WithJPEGOrientation(jpg, o)},
			seed{fmt.Sprintf("png-orientation-%d", o), testimg.WithPNGOrientation(pngData, o)})
	}
	// EXIF oddities: a LONG orientation, a count of 2, big-endian, an IFD offset past the end,
	// an entry count running past the end.
	long := testimg.EXIF(5)
	binary.LittleEndian.PutUint16(long[12:], 4)
	two := testimg.EXIF(5)
	binary.LittleEndian.PutUint32(two[14:], 2)
	past := testimg.EXIF(6)
	binary.LittleEndian.PutUint32(past[4:], 0xFFFFFFF0)
	runaway := testimg.EXIF(6)
	binary.LittleEndian.PutUint16(runaway[8:], 0xFFFF)
	for name, exif := range map[string][]byte{"long": long, "count2": two, "ifd-past-end": past, "runaway": runaway, "big-endian": bigEndianEXIF(7)} {
		seeds = append(seeds, seed{"jpeg-exif-" + name, withJPEGEXIF(jpg, exif)})
	}
	var truncated []seed
	for _, s := range seeds[:13] {
		truncated = append(truncated,
			seed{s.name + "-header-only", s.data[:min(len(s.data), 40)]},
			seed{s.name + "-truncated", s.data[:len(s.data)*2/3]},
			seed{s.name + "-end-cut", s.data[:len(s.data)-10]})
	}
	return append(seeds, truncated...)
}

// withJPEGEXIF inserts an APP1 segment holding the TIFF structure exif after the SOI.
func withJPEGEXIF(jpg, exif []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), exif...)
	seg := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(len(payload)+2))
	out := append(append([]byte{}, jpg[:2]...), append(seg, payload...)...)
	return append(out, jpg[2:]...)
}

// withWebPEXIF appends an EXIF chunk to a WebP and fixes the RIFF size.
func withWebPEXIF(webp, exif []byte) []byte {
	out := append([]byte{}, webp...)
	out = append(out, "EXIF"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(exif)))
	out = append(out, exif...)
	if len(exif)%2 == 1 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// bigEndianEXIF is testimg.EXIF in Motorola byte order.
func bigEndianEXIF(o uint16) []byte {
	b := []byte("MM\x00*")
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, 0x0112)
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, o)
	b = append(b, 0, 0)
	return binary.BigEndian.AppendUint32(b, 0)
}

// withTIFFOrientation rewrites a little-endian TIFF's first IFD with an Orientation entry
// added, placed at the end of the file.
func withTIFFOrientation(t []byte, o uint16) []byte {
	off := binary.LittleEndian.Uint32(t[4:])
	n := int(binary.LittleEndian.Uint16(t[off:]))
	entries := append([]byte{}, t[off+2:int(off)+2+12*n]...)
	entry := binary.LittleEndian.AppendUint16(nil, 0x0112)
	entry = binary.LittleEndian.AppendUint16(entry, 3)
	entry = binary.LittleEndian.AppendUint32(entry, 1)
	entry = binary.LittleEndian.AppendUint16(entry, o)
	entry = append(entry, 0, 0)
	// Entries stay sorted by tag: insert before the first larger tag.
	at := len(entries)
	for i := 0; i < len(entries); i += 12 {
		if binary.LittleEndian.Uint16(entries[i:]) > 0x0112 {
			at = i
			break
		}
	}
	entries = append(entries[:at], append(entry, entries[at:]...)...)
	out := append([]byte{}, t...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	out = binary.LittleEndian.AppendUint16(out, uint16(n+1))
	out = append(out, entries...)
	return binary.LittleEndian.AppendUint32(out, 0)
}

// packBitsTIFF is a w x h 8-bit grayscale TIFF, one strip, PackBits-compressed as literal runs.
func packBitsTIFF(w, h int) []byte {
	var strip []byte
	for y := range h {
		strip = append(strip, byte(w-1))
		for x := range w {
			strip = append(strip, byte(x*20+y*9))
		}
	}
	type entry struct {
		tag, typ uint16
		val      uint32
	}
	const dataAt = 8
	ifdAt := uint32(dataAt + len(strip))
	ifdAt += ifdAt & 1
	entries := []entry{
		{256, 3, uint32(w)}, {257, 3, uint32(h)}, {258, 3, 8}, {259, 3, 32773}, {262, 3, 1},
		{273, 4, dataAt}, {277, 3, 1}, {278, 3, uint32(h)}, {279, 4, uint32(len(strip))},
	}
	out := []byte("II*\x00")
	out = binary.LittleEndian.AppendUint32(out, ifdAt)
	out = append(out, strip...)
	for uint32(len(out)) < ifdAt {
		out = append(out, 0)
	}
	out = binary.LittleEndian.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		out = binary.LittleEndian.AppendUint16(out, e.tag)
		out = binary.LittleEndian.AppendUint16(out, e.typ)
		out = binary.LittleEndian.AppendUint32(out, 1)
		if e.typ == 3 {
			out = binary.LittleEndian.AppendUint16(out, uint16(e.val))
			out = append(out, 0, 0)
		} else {
			out = binary.LittleEndian.AppendUint32(out, e.val)
		}
	}
	return binary.LittleEndian.AppendUint32(out, 0)
}

// TestFuzzSeedsAreImages checks that the valid seeds decode, so that the corpus starts from
// inputs that reach every decoder path rather than failing at the header.
func TestFuzzSeedsAreImages(t *testing.T) {
	for _, s := range fuzzSeeds(t) {
		if strings.Contains(s.name, "truncated") || strings.Contains(s.name, "header-only") || strings.Contains(s.name, "end-cut") || strings.Contains(s.name, "bomb") ||
			strings.Contains(s.name, "too-large") || strings.Contains(s.name, "lying") {
			continue
		}
		h, err := ReadHeader(s.data)
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		if _, err := DecodeAtLeast(s.data, h, 0); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
}
