package goface

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	upstream "github.com/Kagami/go-face"

	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/shared"
)

// modelDir is $FACEMATCH_MODELS, else models/ of the repository (`make models` builds it).
func modelDir() string {
	if dir := os.Getenv("FACEMATCH_MODELS"); dir != "" {
		return dir
	}
	return filepath.Join(shared.RepoRoot(), "models")
}

// workingJPEGs returns every photo of the shared fixtures reduced as the matcher reduces them
// (longest side maxSide) and encoded as the JPEG that dlib is handed, by name.
func workingJPEGs(t *testing.T, maxSide int) ([]string, [][]byte) {
	t.Helper()
	manifest := shared.Read(t, "fixtures", "faces", "MANIFEST.tsv")
	var names []string
	var jpegs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(manifest))
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), "\t")
		if name == "file" || name == "" {
			continue
		}
		data := shared.Read(t, "fixtures", "faces", name)
		h, err := imaging.ReadHeader(data)
		if err != nil {
			continue // not an image the matcher decodes: its own tests cover those
		}
		work, err := imaging.Load(data, h, maxSide)
		if err != nil {
			continue
		}
		names = append(names, name)
		jpegs = append(jpegs, imaging.EncodeJPEG(work.RGBA, 90))
	}
	if len(names) < 40 {
		t.Fatalf("only %d photos decoded from the shared fixtures", len(names))
	}
	return names, jpegs
}

// recognizeFunc is one detector of one recognizer, upstream's or the fork's, with its faces
// written as text.
type recognizeFunc func([]byte) (string, int, error)

// render writes faces as text, every float by its bits, so that equal texts are equal results.
func render(faces []Face) string {
	var b strings.Builder
	for _, f := range faces {
		fmt.Fprintf(&b, "rect %v\nshape %v\ndesc", f.Rectangle, f.Shapes)
		for _, v := range f.Descriptor {
			fmt.Fprintf(&b, " %08x", math.Float32bits(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func upstreamFunc(rec *upstream.Recognizer, cnn bool) recognizeFunc {
	return func(jpg []byte) (string, int, error) {
		run := rec.Recognize
		if cnn {
			run = rec.RecognizeCNN
		}
		up, err := run(jpg)
		faces := make([]Face, len(up))
		for i, f := range up {
			faces[i] = Face{Rectangle: f.Rectangle, Descriptor: Descriptor(f.Descriptor), Shapes: f.Shapes}
		}
		return render(faces), len(faces), err
	}
}

func forkFunc(rec *Recognizer, cnn bool) recognizeFunc {
	return func(jpg []byte) (string, int, error) {
		run := rec.Recognize
		if cnn {
			run = rec.RecognizeCNN
		}
		faces, err := run(jpg)
		return render(faces), len(faces), err
	}
}

// TestForkGivesUpstreamResults runs upstream go-face and the fork on every photo of the shared
// fixtures, HOG at the matcher's working size and CNN at its fallback size, the fork's two
// recognizers at once on their shared predictor: every rectangle, landmark and descriptor must
// be the same, bit for bit.
func TestForkGivesUpstreamResults(t *testing.T) {
	up, err := upstream.NewRecognizer(modelDir())
	if err != nil {
		t.Fatalf("upstream go-face: %v (run `make models`)", err)
	}
	defer up.Close()
	fork1, err := NewRecognizer(modelDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fork1.Close()
	fork2, err := NewRecognizer(modelDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fork2.Close()

	for _, c := range []struct {
		name    string
		maxSide int
		cnn     bool
		every   int // CNN is slow: every n-th photo only
	}{
		{"hog", 640, false, 1},
		{"cnn", 320, true, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			names, jpegs := workingJPEGs(t, c.maxSide)
			var idx []int
			for i := 0; i < len(names); i += c.every {
				idx = append(idx, i)
			}
			want := make([]string, len(names))
			faces := 0
			for _, i := range idx {
				s, n, err := upstreamFunc(up, c.cnn)(jpegs[i])
				if err != nil {
					t.Fatalf("%s: upstream: %v", names[i], err)
				}
				want[i] = s
				faces += n
			}
			if faces < len(idx)/2 {
				t.Fatalf("upstream found only %d faces in %d photos: the comparison would prove little", faces, len(idx))
			}
			// The fork's two recognizers share one predictor and run side by side.
			got := make([]string, len(names))
			var wg sync.WaitGroup
			for k, run := range []recognizeFunc{forkFunc(fork1, c.cnn), forkFunc(fork2, c.cnn)} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j, i := range idx {
						if j%2 != k {
							continue
						}
						s, _, err := run(jpegs[i])
						if err != nil {
							s = "error: " + err.Error()
						}
						got[i] = s
					}
				}()
			}
			wg.Wait()
			for _, i := range idx {
				if got[i] != want[i] {
					t.Errorf("%s: the fork differs from upstream\nfork:\n%s\nupstream:\n%s", names[i], got[i], want[i])
				}
			}
			t.Logf("%d photos, %d faces: the same rectangles, landmarks and descriptors", len(idx), faces)

			// Each face keeps its detector's score: dlib reports a window from its threshold,
			// 0, up, and the scores tell faces apart.
			distinct := map[float64]bool{}
			for _, i := range idx {
				run := fork1.Recognize
				if c.cnn {
					run = fork1.RecognizeCNN
				}
				got, err := run(jpegs[i])
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range got {
					if f.Score < 0 || math.IsNaN(f.Score) || f.Score > 10 {
						t.Errorf("%s: face %v scored %v, want a score from 0 up", names[i], f.Rectangle, f.Score)
					}
					distinct[f.Score] = true
				}
			}
			if len(distinct) < faces*3/4 {
				t.Errorf("%d faces have only %d distinct scores", faces, len(distinct))
			}
		})
	}
}

// TestForkErrors: the fork reports upstream's errors for a bad image and a missing model.
func TestForkErrors(t *testing.T) {
	if _, err := NewRecognizer(t.TempDir()); err == nil {
		t.Fatal("a folder without models loaded")
	} else if _, ok := err.(SerializationError); !ok {
		t.Errorf("missing models: %T %v, want a SerializationError", err, err)
	}
	rec, err := NewRecognizer(modelDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	for _, data := range [][]byte{nil, []byte("not a jpeg"), {0xff, 0xd8, 0xff, 0xe0, 0, 0x10}} {
		if faces, err := rec.Recognize(data); err == nil {
			t.Errorf("%q: %d faces, no error", data, len(faces))
		} else if _, ok := err.(ImageLoadError); !ok {
			t.Errorf("%q: %T %v, want an ImageLoadError", data, err, err)
		}
	}
	rec.Close()
	rec.Close() // twice is allowed, as upstream allows it
}

// residentEnv makes the test binary, started again by TestRecognizersSharePredictor, load
// recognizers and print its resident memory after each.
const residentEnv = "GOFACE_TEST_RESIDENT"

// TestRecognizersSharePredictor measures, in a fresh process, what each recognizer adds to the
// resident memory: upstream's each add the whole predictor (about 65 MB), the fork's past the
// first only their ResNet and detectors.
func TestRecognizersSharePredictor(t *testing.T) {
	if which := os.Getenv(residentEnv); which != "" {
		printResident(which)
		return
	}
	measure := func(which string) []float64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRecognizersSharePredictor$", "-test.count=1")
		cmd.Env = append(os.Environ(), residentEnv+"="+which)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", which, err, out)
		}
		var mb []float64
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "resident-kB "); ok {
				kb, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				mb = append(mb, kb/1024)
			}
		}
		if len(mb) != 4 {
			t.Fatalf("%s: want 4 measures, got %v\n%s", which, mb, out)
		}
		return mb
	}
	up, fork := measure("upstream"), measure("fork")
	upAdd := []float64{up[1] - up[0], up[2] - up[1], up[3] - up[2]}
	forkAdd := []float64{fork[1] - fork[0], fork[2] - fork[1], fork[3] - fork[2]}
	t.Logf("MB added by each of 3 recognizers: upstream %.1f, fork %.1f", upAdd, forkAdd)
	if upAdd[1] < 60 || upAdd[2] < 60 {
		t.Errorf("upstream's recognizers added %.1f MB: the measure does not see the predictor", upAdd)
	}
	if forkAdd[0] < 60 {
		t.Errorf("the fork's first recognizer added %.1f MB: it should load the predictor", forkAdd[0])
	}
	for _, add := range forkAdd[1:] {
		if add > upAdd[1]-50 {
			t.Errorf("a further recognizer of the fork added %.1f MB, upstream's %.1f: the predictor is not shared", add, upAdd[1])
		}
	}
}

func printResident(which string) {
	fmt.Printf("resident-kB %d\n", resident())
	for range 3 {
		var err error
		if which == "upstream" {
			_, err = upstream.NewRecognizer(modelDir())
		} else {
			_, err = NewRecognizer(modelDir())
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Printf("resident-kB %d\n", resident())
	}
}

// resident is the process's VmRSS in kB.
func resident() int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return -1
}
