// Package testimg makes the images tests need: a photo re-encoded in each accepted format, with
// EXIF orientation tags, rotated copies and decompression bombs. Nothing here is used outside
// tests.
package testimg

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/HugoSmits86/nativewebp"
	"golang.org/x/image/tiff"
)

// Encode encodes img as format ("jpeg", "png", "webp" or "tiff").
func Encode(tb testing.TB, img image.Image, format string) []byte {
	tb.Helper()
	b, err := EncodeBytes(img, format)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// EncodeBytes encodes img as jpeg, png, webp or tiff, for generators that run outside tests.
func EncodeBytes(img image.Image, format string) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92})
	case "png":
		err = png.Encode(&buf, img)
	case "webp":
		err = nativewebp.Encode(&buf, img, nil)
	case "tiff":
		err = tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate})
	default:
		return nil, fmt.Errorf("testimg: unknown format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("testimg: encoding %s: %w", format, err)
	}
	return buf.Bytes(), nil
}

// Decode decodes a JPEG or PNG from the shared fixtures.
func Decode(tb testing.TB, data []byte) image.Image {
	tb.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("testimg: %v", err)
	}
	return img
}

// EXIF returns a little-endian TIFF structure whose first IFD holds one Orientation tag.
func EXIF(orientation uint16) []byte {
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint16(b, 1) // one entry
	b = binary.LittleEndian.AppendUint16(b, 0x0112)
	b = binary.LittleEndian.AppendUint16(b, 3) // SHORT
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint16(b, orientation)
	b = append(b, 0, 0)
	return binary.LittleEndian.AppendUint32(b, 0) // no next IFD
}

// WithJPEGOrientation inserts an EXIF APP1 segment carrying orientation right after the SOI.
func WithJPEGOrientation(jpg []byte, orientation uint16) []byte {
	payload := append([]byte("Exif\x00\x00"), EXIF(orientation)...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// WithPNGOrientation inserts an eXIf chunk carrying orientation right after the IHDR chunk.
func WithPNGOrientation(p []byte, orientation uint16) []byte {
	ihdrEnd := 8 + 12 + int(binary.BigEndian.Uint32(p[8:]))
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, PNGChunk("eXIf", EXIF(orientation))...)
	return append(out, p[ihdrEnd:]...)
}

// PNGChunk encodes one PNG chunk with its CRC.
func PNGChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// PNGBomb returns a PNG of a few kilobytes whose header declares w x h RGB pixels: its image
// data holds the first rows only, so a decoder that trusts the header allocates w*h*4 bytes
// before it finds out.
func PNGBomb(w, h int) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, deflate, no filter, no interlace
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+3*w)
	for range min(h, 64) {
		zw.Write(row)
	}
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, PNGChunk("IHDR", ihdr)...)
	out = append(out, PNGChunk("IDAT", z.Bytes())...)
	return append(out, PNGChunk("IEND", nil)...)
}
