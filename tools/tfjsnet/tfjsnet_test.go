package tfjsnet_test

import (
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/tools/tfjsnet"
)

// loadSharedNet loads the network from the shared TensorFlow.js export.
func loadSharedNet(tb testing.TB) *tfjsnet.Net {
	tb.Helper()
	dir := filepath.Join(sharedDir(tb, repoRoot(tb)), "models", "face-api-1.7.15")
	net, err := tfjsnet.Load(filepath.Join(dir, "face_recognition_model-weights_manifest.json"),
		filepath.Join(dir, "face_recognition_model.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return net
}

// grayChip returns a uniform chip of the given size.
func grayChip(size int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 128, 128, 128, 255
	}
	return img
}

func TestDescriptorRejectsWrongChipSize(t *testing.T) {
	net := loadSharedNet(t)
	if _, err := net.Descriptor(grayChip(149)); err == nil || !strings.Contains(err.Error(), "149x149") {
		t.Fatalf("got %v, want an error naming the 149x149 size", err)
	}
	if _, err := net.DescriptorFromRGB(make([]byte, 10)); err == nil {
		t.Fatal("a 10-byte chip was accepted")
	}
}

func TestDescriptorOfImageMatchesRGBBytes(t *testing.T) {
	net := loadSharedNet(t)
	chip := image.NewRGBA(image.Rect(0, 0, tfjsnet.ChipSize, tfjsnet.ChipSize))
	for y := 0; y < tfjsnet.ChipSize; y++ {
		for x := 0; x < tfjsnet.ChipSize; x++ {
			chip.Set(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: uint8(x + y), A: 255})
		}
	}
	fromImage, err := net.Descriptor(chip)
	if err != nil {
		t.Fatal(err)
	}
	fromBytes, err := net.DescriptorFromRGB(tfjsnet.RGBBytes(chip))
	if err != nil {
		t.Fatal(err)
	}
	if fromImage != fromBytes {
		t.Fatal("Descriptor and DescriptorFromRGB disagree on the same chip")
	}
	if fromImage == ([tfjsnet.DescriptorSize]float32{}) {
		t.Fatal("descriptor is all zeros")
	}
}

func BenchmarkDescriptor(b *testing.B) {
	net := loadSharedNet(b)
	chip := grayChip(tfjsnet.ChipSize)
	b.ResetTimer()
	for b.Loop() {
		if _, err := net.Descriptor(chip); err != nil {
			b.Fatal(err)
		}
	}
}
