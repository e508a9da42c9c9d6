// Command matcherbench measures the matcher against plain dlib in one run and prints ratios:
// the per-stage milliseconds of our pipeline on 1-3 megapixel photos, the same photos through
// bin/dlibraw (dlib called directly the way go-face does, detection on the full-size image),
// the cost per face of the age/gender network on one core, pairs per second with 1 and 2
// workers, and the resident memory of each.
//
//	go run ./tools/matcherbench [-models models] [-dlibraw bin/dlibraw] [-repeat 5] [-seconds 20]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/agegender"
	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/matcher"
)

func main() {
	matcher.UseFastBLAS()
	models := flag.String("models", "models", "model folder")
	dlibraw := flag.String("dlibraw", "bin/dlibraw", "the plain-dlib reference program")
	repeat := flag.Int("repeat", 5, "runs per photo; medians are reported")
	seconds := flag.Float64("seconds", 30, "total duration of the throughput runs of each worker count")
	verbose = flag.Bool("v", false, "print every photo's times")
	child := flag.Int("child", 0, "internal: run the throughput test with this many workers and print JSON")
	flag.Parse()
	photos, err := benchPhotos()
	if err != nil {
		fail(err)
	}
	if *child > 0 {
		if err := throughputChild(*models, *child, *seconds, photos); err != nil {
			fail(err)
		}
		return
	}
	if err := run(*models, *dlibraw, *repeat, *seconds, photos); err != nil {
		fail(err)
	}
}

var verbose *bool

func fail(err error) {
	fmt.Fprintln(os.Stderr, "matcherbench:", err)
	os.Exit(1)
}

// benchPhotos lists the JPEG photos of the shared fixtures between 1 and 3 megapixels.
func benchPhotos() ([]string, error) {
	dir := shared.Dir()
	if dir == "" {
		return nil, fmt.Errorf("the shared folder ../shared is missing")
	}
	files, err := filepath.Glob(filepath.Join(dir, "fixtures", "faces", "*", "*.jp*g"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		h, err := imaging.ReadHeader(data)
		if err != nil {
			continue
		}
		if mp := h.Width * h.Height; mp >= 1_000_000 && mp <= 3_000_000 && h.Orientation == 1 {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	if len(out) < 2 {
		return nil, fmt.Errorf("found %d photos of 1-3 megapixels", len(out))
	}
	return out, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(models, dlibraw string, repeat int, seconds float64, photos []string) error {
	fmt.Printf("photos: %d JPEGs of 1-3 megapixels from ../shared/fixtures/faces, %d runs each, medians\n", len(photos), repeat)

	// Ours, one worker, stage by stage.
	var mu sync.Mutex
	stages := map[string]time.Duration{}
	m, err := matcher.New(matcher.Config{Models: models, Workers: 1, Observe: func(s string, d time.Duration) {
		mu.Lock()
		stages[s] += d
		mu.Unlock()
	}})
	if err != nil {
		return err
	}
	// Rounds alternate ours and raw over all photos, so that the machine's drifts (frequency,
	// neighbours) hit both alike; each photo's time is its median over the rounds.
	oursRuns := map[string][]float64{}
	var rawRuns [][]rawResult
	var workJPEGs []string
	tmp, err := os.MkdirTemp("", "matcherbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	datas := map[string][]byte{}
	for i, p := range photos {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		datas[p] = data
		// The detection image exactly as the matcher hands it to go-face, for dlibraw to
		// break the recognize stage down.
		h, _ := imaging.ReadHeader(data)
		w, err := imaging.Load(data, h, matcher.DefaultMaxSide)
		if err != nil {
			return err
		}
		wp := filepath.Join(tmp, fmt.Sprintf("%02d.jpg", i))
		if err := os.WriteFile(wp, imaging.EncodeJPEG(w.RGBA, matcher.DefaultQuality), 0o600); err != nil {
			return err
		}
		workJPEGs = append(workJPEGs, wp)
	}
	faces := 0
	for range repeat {
		for _, p := range photos {
			t := time.Now()
			a, err := m.Analyze(context.Background(), datas[p], false)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			oursRuns[p] = append(oursRuns[p], ms(time.Since(t)))
			for _, f := range a.Faces {
				if f.Attributes != nil {
					faces++
				}
			}
		}
		r, err := runDlibraw(dlibraw, models, 1, photos)
		if err != nil {
			return err
		}
		rawRuns = append(rawRuns, r)
	}
	m.Close()
	ours := map[string]float64{}
	for p, runs := range oursRuns {
		ours[p] = median(runs)
	}
	rawFull := make([]rawResult, len(photos))
	for i := range photos {
		var tot, dec, det, lm, desc []float64
		for _, round := range rawRuns {
			tot = append(tot, round[i].Total)
			dec = append(dec, round[i].Decode)
			det = append(det, round[i].Detect)
			lm = append(lm, round[i].Landmarks)
			desc = append(desc, round[i].Descriptor)
		}
		rawFull[i] = rawResult{File: photos[i], Total: median(tot), Decode: median(dec), Detect: median(det), Landmarks: median(lm), Descriptor: median(desc)}
	}
	n := float64(repeat * len(photos))
	stage := func(name string) float64 { return ms(stages[name]) / n }

	rawWork, err := runDlibraw(dlibraw, models, repeat, workJPEGs)
	if err != nil {
		return err
	}
	var oursSum, rawSum float64
	minR, maxR := 1e9, 0.0
	for i, p := range photos {
		oursSum += ours[p]
		rawSum += rawFull[i].Total
		r := ours[p] / rawFull[i].Total
		minR, maxR = min(minR, r), max(maxR, r)
		if *verbose {
			fmt.Printf("  %-45s ours %6.1f ms  raw %6.1f ms  ratio %.2f\n", filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), ours[p], rawFull[i].Total, r)
		}
	}
	k := float64(len(photos))
	mean := func(rs []rawResult, f func(rawResult) float64) float64 {
		s := 0.0
		for _, r := range rs {
			s += f(r)
		}
		return s / float64(len(rs))
	}
	fmt.Printf("\nours, 1 worker, mean ms per photo:\n")
	fmt.Printf("  decode %.1f  reduce %.1f  detect %.1f  fallback passes %.1f  age/gender %.1f  describe %.1f  total %.1f\n",
		stage("decode"), stage("reduce"), stage("detect-hog"), stage("detect-hog-2x")+stage("detect-cnn"), stage("agegender"), stage("describe"), oursSum/k)
	fmt.Printf("  detect includes each face's score (confidence), read from the same detection; age/gender = every face's crop and network\n")
	fmt.Printf("  detect = JPEG encoding and go-face on the %d-pixel detection image; dlib's stages on those same JPEGs:\n", matcher.DefaultMaxSide)
	fmt.Printf("    jpeg %.1f  detect %.1f  landmarks %.1f  descriptor %.1f\n",
		mean(rawWork, func(r rawResult) float64 { return r.Decode }), mean(rawWork, func(r rawResult) float64 { return r.Detect }),
		mean(rawWork, func(r rawResult) float64 { return r.Landmarks }), mean(rawWork, func(r rawResult) float64 { return r.Descriptor }))
	fmt.Printf("  describe = the chosen face's mirror image (or the face and its mirror image from a crop when small)\n")
	fmt.Printf("raw dlib (dlibraw, full-size detection), mean ms per photo:\n")
	fmt.Printf("  decode %.1f  detect %.1f  landmarks %.1f  descriptor %.1f  total %.1f\n",
		mean(rawFull, func(r rawResult) float64 { return r.Decode }), mean(rawFull, func(r rawResult) float64 { return r.Detect }),
		mean(rawFull, func(r rawResult) float64 { return r.Landmarks }), mean(rawFull, func(r rawResult) float64 { return r.Descriptor }), rawSum/k)
	fmt.Printf("RATIO ours/raw latency: %.2f (per photo %.2f to %.2f; target <= 0.6)\n", oursSum/rawSum, minR, maxR)

	if faces > 0 {
		fmt.Printf("\nage/gender in the pipeline: %.2f ms per face (crop and network, %d faces)\n", ms(stages["agegender"])/float64(faces), faces)
	}
	wall, cpu, nFaces, err := ageGenderCost(models, photos, datas, repeat)
	if err != nil {
		return err
	}
	fmt.Printf("age/gender network alone, one core: %.2f ms per face wall, %.2f ms CPU (medians of %d passes over %d faces; target < 10 ms)\n", wall, cpu, 20*repeat*nFaces, nFaces)

	// Throughput alternates one and two workers, three times each, so that the machine's drifts
	// hit both alike, and averages the runs.
	var one, two throughputResult
	const rounds = 3
	for range rounds {
		for _, w := range []int{1, 2} {
			r, err := throughput(models, w, seconds/rounds)
			if err != nil {
				return err
			}
			acc := &one
			if w == 2 {
				acc = &two
			}
			acc.PairsPerSecond += r.PairsPerSecond / rounds
			acc.PeakRSSMB = max(acc.PeakRSSMB, r.PeakRSSMB)
		}
	}
	fmt.Printf("\nthroughput: 1 worker %.2f pairs/s, 2 workers %.2f pairs/s\n", one.PairsPerSecond, two.PairsPerSecond)
	fmt.Printf("RATIO 2 workers / 1 worker: %.2f (target >= 1.8)\n", two.PairsPerSecond/one.PairsPerSecond)
	fmt.Printf("resident memory (peak VmHWM): 1 worker %.0f MB, 2 workers %.0f MB (aim < 300 MB)\n", one.PeakRSSMB, two.PeakRSSMB)
	return nil
}

// rawResult is one line of dlibraw bench.
type rawResult struct {
	File       string  `json:"file"`
	Decode     float64 `json:"decode_ms"`
	Detect     float64 `json:"detect_ms"`
	Landmarks  float64 `json:"landmarks_ms"`
	Descriptor float64 `json:"descriptor_ms"`
	Total      float64 `json:"total_ms"`
}

func runDlibraw(bin, models string, repeat int, files []string) ([]rawResult, error) {
	args := append([]string{"bench", "--repeat", strconv.Itoa(repeat), models}, files...)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s (build it with `make bin/dlibraw`)", bin, err, stderr.String())
	}
	var rs []rawResult
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r rawResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("dlibraw output %q: %w", line, err)
		}
		rs = append(rs, r)
	}
	if len(rs) != len(files) {
		return nil, fmt.Errorf("dlibraw reported %d images of %d", len(rs), len(files))
	}
	return rs, nil
}

// throughputResult is what a child process reports.
type throughputResult struct {
	PairsPerSecond float64 `json:"pairs_per_second"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
}

// throughput runs the throughput test in a fresh process, so that each measures its own memory.
func throughput(models string, workers int, seconds float64) (throughputResult, error) {
	self, err := os.Executable()
	if err != nil {
		return throughputResult{}, err
	}
	cmd := exec.Command(self, "-models", models, "-child", strconv.Itoa(workers), "-seconds", fmt.Sprint(seconds))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return throughputResult{}, fmt.Errorf("throughput with %d workers: %w", workers, err)
	}
	var r throughputResult
	return r, json.Unmarshal(out, &r)
}

// throughputChild compares consecutive photos as pairs, with two pairs in flight per worker,
// for the given time, and prints pairs per second and the peak resident memory.
func throughputChild(models string, workers int, seconds float64, photos []string) error {
	m, err := matcher.New(matcher.Config{Models: models, Workers: workers})
	if err != nil {
		return err
	}
	var imgs [][]byte
	for _, p := range photos {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		imgs = append(imgs, data)
	}
	// One warm-up pair per worker.
	for range workers {
		if _, err := m.Match(context.Background(), facematch.MatchInput{User: imgs[0], Ref: imgs[1], Threshold: 30}); err != nil {
			return err
		}
	}
	var done, next atomic.Int64
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for range 2 * workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := int(next.Add(1))
				a, b := imgs[i%len(imgs)], imgs[(i+1)%len(imgs)]
				if _, err := m.Match(context.Background(), facematch.MatchInput{User: a, Ref: b, Threshold: 30}); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(throughputResult{
		PairsPerSecond: float64(done.Load()) / elapsed,
		PeakRSSMB:      peakRSSMB(),
	})
}

// peakRSSMB reads the process's peak resident set size from /proc.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// ageGenderCost measures the age/gender network's forward pass on one core: the faces of the
// photos, each padded to a square, resized to 112x112 and run 20*repeat times on one locked OS
// thread. It returns the median wall and thread CPU milliseconds per pass and the faces' count.
func ageGenderCost(models string, photos []string, datas map[string][]byte, repeat int) (wall, cpu float64, faces int, err error) {
	net, err := agegender.Load(filepath.Join(models, agegender.ManifestFile), filepath.Join(models, agegender.ShardFile))
	if err != nil {
		return 0, 0, 0, err
	}
	m, err := matcher.New(matcher.Config{Models: models, Workers: 1})
	if err != nil {
		return 0, 0, 0, err
	}
	var inputs [][]byte
	for _, p := range photos {
		a, err := m.Analyze(context.Background(), datas[p], false)
		if err != nil {
			m.Close()
			return 0, 0, 0, err
		}
		h, _ := imaging.ReadHeader(datas[p])
		w, err := imaging.Load(datas[p], h, 0)
		if err != nil {
			m.Close()
			return 0, 0, 0, err
		}
		for _, f := range a.Faces {
			b := f.Box
			side := float64(max(b[2]-b[0], b[3]-b[1]))
			cx, cy := float64(b[0]+b[2])/2, float64(b[1]+b[3])/2
			inputs = append(inputs, agegender.Input(w.RGBA, cx-side/2, cy-side/2, side))
		}
	}
	m.Close()
	if len(inputs) == 0 {
		return 0, 0, 0, fmt.Errorf("no face in the photos")
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, in := range inputs { // warm-up
		if _, err := net.Predict(in); err != nil {
			return 0, 0, 0, err
		}
	}
	var walls, cpus []float64
	for range 20 * repeat {
		for _, in := range inputs {
			t, c := time.Now(), threadCPU()
			if _, err := net.Predict(in); err != nil {
				return 0, 0, 0, err
			}
			walls = append(walls, float64(time.Since(t).Microseconds())/1000)
			cpus = append(cpus, float64(threadCPU()-c)/1e6)
		}
	}
	return median(walls), median(cpus), len(inputs), nil
}
