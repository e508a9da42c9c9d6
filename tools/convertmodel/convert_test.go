package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConversionIsDeterministic converts the shared TensorFlow.js export twice, through the
// command's own entry point, and requires byte-identical model files.
func TestConversionIsDeterministic(t *testing.T) {
	manifest, weights := sharedRecognitionExport(t)
	dir := t.TempDir()
	var outputs [][]byte
	for _, name := range []string{"first.dat", "second.dat"} {
		out := filepath.Join(dir, name)
		var stdout, stderr bytes.Buffer
		if err := run([]string{"--manifest", manifest, "--weights", weights, "--out", out}, &stdout, &stderr); err != nil {
			t.Fatalf("convert to %s: %v\n%s", name, err, stderr.String())
		}
		t.Log(strings.TrimSpace(stdout.String()))
		// stderr is not a terminal here: the progress is one line per 10%, no redrawn line.
		if p := stderr.String(); strings.Count(p, "\n") != 11 || !strings.Contains(p, "100% (31/31)") || strings.Contains(p, "\r") {
			t.Fatalf("progress in a log:\n%s", p)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, data)
	}
	if !bytes.Equal(outputs[0], outputs[1]) {
		t.Fatalf("two conversions of the same export differ (%d and %d bytes)", len(outputs[0]), len(outputs[1]))
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil || len(leftovers) > 0 {
		t.Fatalf("temporary files left behind: %v %v", leftovers, err)
	}
}

// TestConversionErrorsNameTheProblem checks that broken inputs give an error naming the file
// and what is wrong with it, and that no output file appears.
func TestConversionErrorsNameTheProblem(t *testing.T) {
	manifest, weights := sharedRecognitionExport(t)
	manifestBytes, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	weightsBytes, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	editManifest := func(name string, edit func(groups []weightsManifestGroup) []weightsManifestGroup) string {
		var groups []weightsManifestGroup
		if err := json.Unmarshal(manifestBytes, &groups); err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(edit(groups))
		if err != nil {
			t.Fatal(err)
		}
		return write(name, data)
	}

	missingWeights := filepath.Join(dir, "absent.bin")
	truncatedWeights := write("truncated.bin", weightsBytes[:len(weightsBytes)/2])
	paddedWeights := write("padded.bin", append(append([]byte{}, weightsBytes...), 0, 0, 0, 0))
	renamedTensor := editManifest("renamed.json", func(g []weightsManifestGroup) []weightsManifestGroup {
		for i := range g[0].Weights {
			if g[0].Weights[i].Name == "conv128_1/conv2/scale/biases" {
				g[0].Weights[i].Name = "conv128_1/conv2/scale/offsets"
			}
		}
		return g
	})
	extraTensor := editManifest("extra.json", func(g []weightsManifestGroup) []weightsManifestGroup {
		g[0].Weights = append(g[0].Weights, weightsManifestItem{Name: "fc2", Shape: []int{128, 10}, Dtype: "float32"})
		return g
	})
	unknownQuantization := editManifest("int4.json", func(g []weightsManifestGroup) []weightsManifestGroup {
		g[0].Weights[0].Quantization.Dtype = "int4"
		return g
	})
	unknownDtype := editManifest("int32.json", func(g []weightsManifestGroup) []weightsManifestGroup {
		g[0].Weights[1].Dtype = "int32"
		return g
	})
	notJSON := write("garbage.json", manifestBytes[:100])

	tests := []struct {
		name              string
		manifest, weights string
		want              []string
	}{
		{"missing manifest", filepath.Join(dir, "absent.json"), weights, []string{"missing", "absent.json", "manifest does not exist"}},
		{"missing weights", manifest, missingWeights, []string{"missing", missingWeights, "weights file does not exist"}},
		{"truncated weights", manifest, truncatedWeights, []string{truncatedWeights, "truncated", "3222016 bytes"}},
		{"weights too long", manifest, paddedWeights, []string{paddedWeights, "6444036 bytes", "describes 6444032"}},
		{"manifest lacks a tensor", renamedTensor, weights, []string{renamedTensor, `does not list tensor "conv128_1/conv2/scale/biases"`}},
		{"manifest names a tensor the weights lack", extraTensor, weights, []string{weights, "truncated", `tensor "fc2"`}},
		{"unknown quantization", unknownQuantization, weights, []string{unknownQuantization, `"conv32_down/conv/filters"`, `quantization dtype "int4"`}},
		{"unknown dtype", unknownDtype, weights, []string{unknownDtype, `"conv32_down/conv/bias"`, `dtype "int32"`}},
		{"corrupt manifest", notJSON, weights, []string{notJSON, "not a TensorFlow.js weights manifest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.dat")
			var stdout, stderr bytes.Buffer
			err := run([]string{"--manifest", tt.manifest, "--weights", tt.weights, "--out", out}, &stdout, &stderr)
			if err == nil {
				t.Fatal("conversion succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if _, statErr := os.Stat(out); statErr == nil {
				t.Errorf("a failed conversion wrote %s", out)
			}
		})
	}
}

// TestFlagsAreRequired checks the command refuses to run without its three paths.
func TestFlagsAreRequired(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"--manifest", "m.json"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("got %v, want an error saying the flags are required", err)
	}
}

// TestFiltersToDlib checks the [h,w,in,out] to [out,in,h,w] reordering on a labelled tensor.
func TestFiltersToDlib(t *testing.T) {
	const h, w, in, out = 2, 3, 4, 5
	tfjs := make([]float32, h*w*in*out)
	label := func(y, x, i, o int) float32 { return float32(y*1000 + x*100 + i*10 + o) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for i := 0; i < in; i++ {
				for o := 0; o < out; o++ {
					tfjs[((y*w+x)*in+i)*out+o] = label(y, x, i, o)
				}
			}
		}
	}
	dlib := filtersToDlib(tfjs, h, w, in, out)
	n := 0
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if dlib[n] != label(y, x, i, o) {
						t.Fatalf("dlib[%d] = %v, want filter %d input %d row %d col %d", n, dlib[n], o, i, y, x)
					}
					n++
				}
			}
		}
	}
}

// TestHalfToFloat32 checks the float16 decoder on representative values.
func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		half uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125},
		{0x7bff, 65504}, {0x0001, 5.960464477539063e-08}, {0x03ff, 6.097555160522461e-05},
	}
	for _, tt := range tests {
		if got := halfToFloat32(tt.half); got != tt.want {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", tt.half, got, tt.want)
		}
	}
}

// sharedRecognitionExport returns the paths of the shared TensorFlow.js export, read from
// $FACEMATCH_SHARED or ../shared next to the repository.
func sharedRecognitionExport(t *testing.T) (manifest, weights string) {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "models", "face-api-1.7.15")
	manifest = filepath.Join(dir, "face_recognition_model-weights_manifest.json")
	weights = filepath.Join(dir, "face_recognition_model.bin")
	for _, path := range []string{manifest, weights} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("shared model source missing (set FACEMATCH_SHARED): %v", err)
		}
	}
	return manifest, weights
}

// sharedDir is $FACEMATCH_SHARED, or ../shared next to the repository root.
func sharedDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("FACEMATCH_SHARED"); dir != "" {
		return dir
	}
	return filepath.Join(repoRoot(t), "..", "shared")
}

// repoRoot walks up from the test's directory to the folder holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}
