package imageinfo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/facematch/facematch/internal/fuzzseeds"
	"github.com/facematch/facematch/internal/testimg"
)

// FuzzReadHeader runs the header and EXIF parsers on anything, as the server does with client
// bytes before any decoding. Its generated seeds (gen-*) come from `go generate ./imaging`.
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

// TestGeneratedSeedsAreCommitted checks that the committed gen-* seeds are what the generator
// makes today.
func TestGeneratedSeedsAreCommitted(t *testing.T) {
	seeds, err := fuzzseeds.Images()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		got, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzReadHeader", "gen-"+s.Name))
		if err != nil {
			t.Fatalf("%v (run go generate ./imaging)", err)
		}
		if string(got) != string(fuzzseeds.CorpusEntry(s.Data)) {
			t.Errorf("gen-%s differs from the generator's output (run go generate ./imaging)", s.Name)
		}
	}
}

func TestOrientationInTIFFAndWebP(t *testing.T) {
	// A TIFF carries the tag in its own first IFD; a WebP in an EXIF chunk. Hand-made
	// containers keep this independent of any encoder's support for metadata.
	if o := tiffOrientation(testimg.EXIF(6)); o != 6 {
		t.Fatalf("tiff orientation = %d, want 6", o)
	}
	webp := []byte("RIFF\x00\x00\x00\x00WEBP")
	chunk := append([]byte("Exif\x00\x00"), testimg.EXIF(8)...)
	webp = append(webp, "EXIF"...)
	webp = append(webp, byte(len(chunk)), 0, 0, 0)
	webp = append(webp, chunk...)
	if o := orientation(WebP, webp); o != 8 {
		t.Fatalf("webp orientation = %d, want 8", o)
	}
}
