package tfjsnet_test

import (
	"bufio"
	"bytes"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/facematch/facematch/tools/tfjsnet"
)

// maxElementDifference is the largest difference allowed between an element of dlib's
// descriptor (converted model) and of the Go forward pass (original tensors).
const maxElementDifference = 1e-4

// samePersonDistance is dlib's usual cut-off: two descriptors of one person are closer.
const samePersonDistance = 0.6

// TestConvertedModelMatchesTFJSTensors feeds the same six pre-aligned face chips to dlib
// (bin/dlibraw with models/dlib_face_recognition_resnet_model_v1.dat) and to the Go forward
// pass over the TensorFlow.js tensors, and requires every descriptor element to agree.
func TestConvertedModelMatchesTFJSTensors(t *testing.T) {
	root := repoRoot(t)
	shared := sharedDir(t, root)
	dlibraw := filepath.Join(root, "bin", "dlibraw")
	modelsDir := filepath.Join(root, "models")
	for _, need := range []string{dlibraw, filepath.Join(modelsDir, "dlib_face_recognition_resnet_model_v1.dat")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s is missing: run `make models bin/dlibraw` first (%v)", need, err)
		}
	}

	faceapi := filepath.Join(shared, "models", "face-api-1.7.15")
	net, err := tfjsnet.Load(filepath.Join(faceapi, "face_recognition_model-weights_manifest.json"),
		filepath.Join(faceapi, "face_recognition_model.bin"))
	if err != nil {
		t.Fatal(err)
	}

	type chip struct {
		person, name string
		rgb          []byte
	}
	var chips []chip
	for _, person := range []string{"john_simm", "john_salley"} {
		files, err := filepath.Glob(filepath.Join(shared, "fixtures", "faces", person, "*.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		if len(files) != 3 {
			t.Fatalf("want 3 chips of %s in %s, found %d", person, filepath.Join(shared, "fixtures", "faces", person), len(files))
		}
		for _, file := range files {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("decode %s: %v", file, err)
			}
			if b := img.Bounds(); b.Dx() != tfjsnet.ChipSize || b.Dy() != tfjsnet.ChipSize {
				t.Fatalf("%s is %dx%d, want a %d-pixel chip", file, b.Dx(), b.Dy(), tfjsnet.ChipSize)
			}
			chips = append(chips, chip{person: person, name: filepath.Base(file), rgb: tfjsnet.RGBBytes(img)})
		}
	}

	var stdin bytes.Buffer
	for _, c := range chips {
		stdin.Write(c.rgb)
	}
	cmd := exec.Command(dlibraw, "chips", modelsDir)
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s chips %s: %v\n%s", dlibraw, modelsDir, err, stderr.String())
	}
	dlibDescriptors, err := parseDescriptorLines(out)
	if err != nil {
		t.Fatalf("%s chips: %v", dlibraw, err)
	}
	if len(dlibDescriptors) != len(chips) {
		t.Fatalf("%s chips printed %d descriptors for %d chips", dlibraw, len(dlibDescriptors), len(chips))
	}

	worst := 0.0
	goDescriptors := make([][tfjsnet.DescriptorSize]float32, len(chips))
	for i, c := range chips {
		goDescriptors[i], err = net.DescriptorFromRGB(c.rgb)
		if err != nil {
			t.Fatal(err)
		}
		chipWorst := 0.0
		for j := range goDescriptors[i] {
			chipWorst = max(chipWorst, math.Abs(float64(goDescriptors[i][j]-dlibDescriptors[i][j])))
		}
		t.Logf("%s/%s: max |dlib - go| = %.3g", c.person, c.name, chipWorst)
		if chipWorst > maxElementDifference {
			t.Errorf("%s/%s: dlib and the Go forward pass differ by %.3g in one element (limit %g)", c.person, c.name, chipWorst, maxElementDifference)
		}
		worst = max(worst, chipWorst)
	}
	t.Logf("max abs difference over %d chips x %d elements: %.3g", len(chips), tfjsnet.DescriptorSize, worst)

	// The descriptors must also mean something: one person's chips are close, two people's far.
	for i := range chips {
		for j := i + 1; j < len(chips); j++ {
			d := euclidean(dlibDescriptors[i], dlibDescriptors[j])
			same := chips[i].person == chips[j].person
			t.Logf("distance %s/%s - %s/%s = %.4f", chips[i].person, chips[i].name, chips[j].person, chips[j].name, d)
			if same && d >= samePersonDistance {
				t.Errorf("%s: %s and %s are %.4f apart, want < %g", chips[i].person, chips[i].name, chips[j].name, d, samePersonDistance)
			}
			if !same && d <= samePersonDistance {
				t.Errorf("%s/%s and %s/%s are %.4f apart, want > %g", chips[i].person, chips[i].name, chips[j].person, chips[j].name, d, samePersonDistance)
			}
		}
	}
}

func parseDescriptorLines(out []byte) ([][tfjsnet.DescriptorSize]float32, error) {
	var descriptors [][tfjsnet.DescriptorSize]float32
	scanner := bufio.NewScanner(bytes.NewReader(out))
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) != tfjsnet.DescriptorSize {
			return nil, fmt.Errorf("line %d has %d numbers, want %d", len(descriptors)+1, len(fields), tfjsnet.DescriptorSize)
		}
		var d [tfjsnet.DescriptorSize]float32
		for i, f := range fields {
			v, err := strconv.ParseFloat(f, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", len(descriptors)+1, err)
			}
			d[i] = float32(v)
		}
		descriptors = append(descriptors, d)
	}
	return descriptors, scanner.Err()
}

func euclidean(a, b [tfjsnet.DescriptorSize]float32) float64 {
	var sum float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d * d
	}
	return math.Sqrt(sum)
}

// repoRoot walks up from the test's directory to the folder holding go.mod.
func repoRoot(t testing.TB) string {
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

// sharedDir is $FACEMATCH_SHARED, or ../shared next to the repository.
func sharedDir(t testing.TB, root string) string {
	t.Helper()
	dir := os.Getenv("FACEMATCH_SHARED")
	if dir == "" {
		dir = filepath.Join(root, "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "face-api-1.7.15")); err != nil {
		t.Fatalf("shared data not found at %s (set FACEMATCH_SHARED): %v", dir, err)
	}
	return dir
}
