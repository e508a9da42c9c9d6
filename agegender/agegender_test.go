package agegender_test

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/facematch/facematch/agegender"
	"github.com/facematch/facematch/internal/shared"
)

// Bounds of the faithfulness test: the largest differences allowed between the Go forward pass
// (float32) and the NumPy reference (float64) on one crop.
const (
	maxAgeDifference    = 1e-4 // years
	maxGenderDifference = 1e-6 // probability
)

// referencePython is Debian's interpreter, which python3-numpy (make deps) installs NumPy for.
const referencePython = "/usr/bin/python3"

// loadNet loads the network from the shared TensorFlow.js export.
func loadNet(tb testing.TB) *agegender.Net {
	tb.Helper()
	dir := shared.Path(tb, "models", "face-api-0.22.2")
	net, err := agegender.Load(filepath.Join(dir, agegender.ManifestFile), filepath.Join(dir, agegender.ShardFile))
	if err != nil {
		tb.Fatal(err)
	}
	return net
}

// faceCrops are real faces: the pre-aligned chips of dlib's example and the tight crops of
// face-api.js's examples, each padded to a square and resized to the input size.
var faceCrops = []string{
	"john_simm/000297_00470170.jpg", "john_simm/000306_00470222.jpg", "john_simm/000309_00470287.jpg",
	"john_salley/000179_02159509.jpg", "john_salley/000190_02159501.jpg", "john_salley/000200_02159354.jpg",
	"sheldon_bbt/sheldon1.png", "sheldon_bbt/sheldon3.png", "sheldon_bbt/sheldon4.png",
	"penny_bbt/penny1.png", "penny_bbt/penny3.png", "penny_bbt/penny5.png",
}

// cropInput decodes a shared face photo and makes it the network's input: the whole image,
// padded to a square around its centre.
func cropInput(tb testing.TB, rel string) []byte {
	tb.Helper()
	img, _, err := image.Decode(bytes.NewReader(shared.Read(tb, "fixtures", "faces", rel)))
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	b := img.Bounds()
	side := float64(max(b.Dx(), b.Dy()))
	return agegender.Input(img, float64(b.Min.X)-(side-float64(b.Dx()))/2, float64(b.Min.Y)-(side-float64(b.Dy()))/2, side)
}

// TestForwardPassMatchesNumPyReference runs the same real face crops through the Go forward
// pass and through testdata/reference.py, an independent NumPy implementation in float64, and
// requires age and gender probabilities to agree within the stated bounds.
func TestForwardPassMatchesNumPyReference(t *testing.T) {
	if _, err := os.Stat(referencePython); err != nil {
		t.Fatalf("%s is missing: install Debian's python3 and python3-numpy (make deps)", referencePython)
	}
	net := loadNet(t)
	dir := shared.Path(t, "models", "face-api-0.22.2")

	var stdin bytes.Buffer
	inputs := make([][]byte, len(faceCrops))
	for i, rel := range faceCrops {
		inputs[i] = cropInput(t, rel)
		stdin.Write(inputs[i])
	}
	cmd := exec.Command(referencePython, filepath.Join("testdata", "reference.py"),
		filepath.Join(dir, agegender.ManifestFile), filepath.Join(dir, agegender.ShardFile))
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference.py: %v\n%s(python3-numpy missing? make deps installs it)", err, stderr.String())
	}
	want, err := parseReference(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(faceCrops) {
		t.Fatalf("reference.py printed %d lines for %d crops", len(want), len(faceCrops))
	}

	worstAge, worstGender := 0.0, 0.0
	for i, rel := range faceCrops {
		got, err := net.Predict(inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		dAge := math.Abs(got.Age - want[i].Age)
		dGender := max(math.Abs(got.Male-want[i].Male), math.Abs(got.Female-want[i].Female))
		t.Logf("%s: age %.3f (reference %.6f, diff %.2g), male %.5f (reference %.7f, diff %.2g)",
			rel, got.Age, want[i].Age, dAge, got.Male, want[i].Male, dGender)
		if dAge > maxAgeDifference || dGender > maxGenderDifference {
			t.Errorf("%s: Go and NumPy differ by %.3g years and %.3g in probability (bounds %g, %g)", rel, dAge, dGender, maxAgeDifference, maxGenderDifference)
		}
		worstAge, worstGender = max(worstAge, dAge), max(worstGender, dGender)
	}
	t.Logf("over %d crops: max |Go - NumPy| = %.3g years of age, %.3g of gender probability", len(faceCrops), worstAge, worstGender)
}

func parseReference(out []byte) ([]agegender.Estimate, error) {
	var res []agegender.Estimate
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return nil, fmt.Errorf("reference line %q: want 3 numbers", sc.Text())
		}
		var v [3]float64
		for i, s := range f {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("reference line %q: %v", sc.Text(), err)
			}
			v[i] = x
		}
		res = append(res, agegender.Estimate{Age: v[0], Male: v[1], Female: v[2]})
	}
	return res, sc.Err()
}

// The six men's chips and the three of Penny are told apart, and every age is an adult's.
func TestEstimatesOfKnownFaces(t *testing.T) {
	net := loadNet(t)
	for _, rel := range faceCrops {
		e, err := net.Predict(cropInput(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		want := "male"
		if strings.HasPrefix(rel, "penny") {
			want = "female"
		}
		if e.Gender() != want || math.Abs(e.Male+e.Female-1) > 1e-9 {
			t.Errorf("%s: %s (male %.3f, female %.3f), want %s", rel, e.Gender(), e.Male, e.Female, want)
		}
		if e.Age < 18 || e.Age > 70 {
			t.Errorf("%s: age %.1f, want an adult's", rel, e.Age)
		}
	}
}

func TestPredictRejectsWrongInputSize(t *testing.T) {
	net := loadNet(t)
	if _, err := net.Predict(make([]byte, 111*111*3)); err == nil {
		t.Fatal("a 111x111 input was accepted")
	}
}

// Load names what is wrong with an export instead of computing with it.
func TestLoadRejectsBrokenExports(t *testing.T) {
	dir := shared.Path(t, "models", "face-api-0.22.2")
	manifest := filepath.Join(dir, agegender.ManifestFile)
	shard, err := os.ReadFile(filepath.Join(dir, agegender.ShardFile))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	short := filepath.Join(tmp, "short")
	if err := os.WriteFile(short, shard[:len(shard)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := agegender.Load(manifest, short); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a truncated shard: %v", err)
	}
	long := filepath.Join(tmp, "long")
	if err := os.WriteFile(long, append(shard, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := agegender.Load(manifest, long); err == nil {
		t.Error("a shard with a stray byte was accepted")
	}
	if _, err := agegender.Load(filepath.Join(dir, "nope.json"), filepath.Join(dir, agegender.ShardFile)); err == nil {
		t.Error("a missing manifest was accepted")
	}
}

// Input pads with black where the square reaches past the image, and copies pixels one to one
// when the square is the image at the input size.
func TestInputPadsWithBlack(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, agegender.InputSize, agegender.InputSize))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	same := agegender.Input(img, 0, 0, agegender.InputSize)
	for i, v := range same {
		if v != 200 {
			t.Fatalf("byte %d is %d, want 200", i, v)
		}
	}
	shifted := agegender.Input(img, -agegender.InputSize/2, 0, agegender.InputSize)
	row := agegender.InputSize * 3
	if shifted[0] != 0 || shifted[row-1] != 200 {
		t.Fatalf("left edge %d, right edge %d: want black then the image", shifted[0], shifted[row-1])
	}
}

// BenchmarkPredict measures one forward pass on one core; besides the wall time it reports the
// thread's CPU time per pass (cpu-ms/op), which neighbours on a shared machine do not inflate.
func BenchmarkPredict(b *testing.B) {
	net := loadNet(b)
	in := cropInput(b, faceCrops[0])
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU(b)
	for b.Loop() {
		if _, err := net.Predict(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(threadCPU(b)-start)/1e6/float64(b.N), "cpu-ms/op")
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
