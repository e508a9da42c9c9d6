// Package fuzzseeds makes the generated seed corpus of the image fuzz targets: tiny images of
// every kind the decoders handle, with EXIF in each container, odd orientation values,
// truncations and oversized headers. `go generate ./imaging` writes them as files named gen-*.
package fuzzseeds

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"strconv"
	"strings"

	"github.com/facematch/facematch/internal/testimg"
	"golang.org/x/image/tiff"
)

// CorpusEntry encodes values in the file format of go test's fuzzing corpus.
func CorpusEntry(vals ...any) []byte {
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

// Seed is one generated input: a file name and its bytes.
type Seed struct {
	Name string
	Data []byte
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

// Images are small images of every kind the decoders handle, with EXIF in each container,
// odd orientation values, truncations and oversized headers.
func Images() ([]Seed, error) {
	var encErr error
	encode := func(img image.Image, format string) []byte {
		b, err := testimg.EncodeBytes(img, format)
		if err != nil && encErr == nil {
			encErr = err
		}
		return b
	}
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
	jpg := encode(opaque, "jpeg")
	pngData := encode(pic, "png")
	webp := encode(pic, "webp")
	tiffData := encode(pic, "tiff")
	var rawTIFF, grayTIFF, palTIFF bytes.Buffer
	tiff.Encode(&rawTIFF, opaque, nil)
	tiff.Encode(&grayTIFF, gray16, &tiff.Options{Compression: tiff.Deflate})
	tiff.Encode(&palTIFF, pal, nil)

	seeds := []Seed{
		{"jpeg", jpg},
		{"jpeg-gray", grayJPEG.Bytes()},
		{"png", pngData},
		{"png-gray", encode(gray, "png")},
		{"png-gray16", encode(gray16, "png")},
		{"png-paletted", encode(pal, "png")},
		{"png-nrgba64", encode(deep, "png")},
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
			Seed{fmt.Sprintf("jpeg-orientation-%d", o), testimg.WithJPEGOrientation(jpg, o)},
			Seed{fmt.Sprintf("png-orientation-%d", o), testimg.WithPNGOrientation(pngData, o)})
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
	// A list, not a map: the generated corpus must be the same on every run.
	for _, e := range []struct {
		name string
		exif []byte
	}{{"long", long}, {"count2", two}, {"ifd-past-end", past}, {"runaway", runaway}, {"big-endian", bigEndianEXIF(7)}} {
		seeds = append(seeds, Seed{"jpeg-exif-" + e.name, withJPEGEXIF(jpg, e.exif)})
	}
	var truncated []Seed
	for _, s := range seeds[:13] {
		truncated = append(truncated,
			Seed{s.Name + "-header-only", s.Data[:min(len(s.Data), 40)]},
			Seed{s.Name + "-truncated", s.Data[:len(s.Data)*2/3]},
			Seed{s.Name + "-end-cut", s.Data[:len(s.Data)-10]})
	}
	return append(seeds, truncated...), encErr
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
