package matcher

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Pair is one row of a pairs file: two image paths and, when known, whether they show the same
// person (1), different people (0) or nobody knows (-1).
type Pair struct {
	A, B string
	Same int
}

// ReadPairs reads a tab-separated pairs file whose header names the columns img_a, img_b and
// optionally same (1 or 0), in any order.
func ReadPairs(r io.Reader) ([]Pair, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	if !sc.Scan() {
		return nil, fmt.Errorf("pairs file is empty: want a header naming img_a, img_b and optionally same")
	}
	col := map[string]int{}
	for i, name := range strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t") {
		col[strings.TrimSpace(name)] = i
	}
	ia, okA := col["img_a"]
	ib, okB := col["img_b"]
	is, okS := col["same"]
	if !okA || !okB {
		return nil, fmt.Errorf("pairs header %q must name img_a and img_b", sc.Text())
	}
	var pairs []Pair
	for line := 2; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) <= max(ia, ib) || (okS && len(f) <= is) {
			return nil, fmt.Errorf("pairs line %d: %d columns, the header has %d", line, len(f), len(col))
		}
		p := Pair{A: f[ia], B: f[ib], Same: -1}
		if okS {
			switch strings.TrimSpace(f[is]) {
			case "1":
				p.Same = 1
			case "0":
				p.Same = 0
			case "":
			default:
				return nil, fmt.Errorf("pairs line %d: same is %q, want 1 or 0", line, f[is])
			}
		}
		pairs = append(pairs, p)
	}
	return pairs, sc.Err()
}

// AnalyzeFiles analyses every distinct file once, on all workers, calling progress after each.
// Paths are relative to root unless absolute. A file that cannot be read or decoded stops the
// run with an error naming it.
func (m *Matcher) AnalyzeFiles(ctx context.Context, root string, files []string, progress func(done, total int)) (map[string]*Analysis, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      = make(map[string]*Analysis, len(files))
		firstErr error
		done     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range m.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) || ctx.Err() != nil {
					return
				}
				path := files[i]
				if !filepath.IsAbs(path) {
					path = filepath.Join(root, path)
				}
				data, err := os.ReadFile(path)
				var a *Analysis
				if err == nil {
					a, err = m.Analyze(ctx, data, false)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", path, err)
					cancel()
				}
				out[files[i]] = a
				mu.Unlock()
				if progress != nil {
					progress(int(done.Add(1)), len(files))
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

// DistinctFiles lists the images named by pairs, each once, in order of first appearance.
func DistinctFiles(pairs []Pair) []string {
	seen := map[string]bool{}
	var files []string
	for _, p := range pairs {
		for _, f := range []string{p.A, p.B} {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	return files
}

// Scored is a pair with its descriptor distance and score; Score is nil and Distance NaN when
// either image has no face.
type Scored struct {
	Pair
	Distance float64
	Score    *float64
}

// ScorePairs scores every pair from the analyses of its images.
func ScorePairs(pairs []Pair, analyses map[string]*Analysis) []Scored {
	out := make([]Scored, len(pairs))
	for i, p := range pairs {
		out[i] = Scored{Pair: p, Distance: math.NaN()}
		a, b := analyses[p.A], analyses[p.B]
		if a == nil || b == nil || a.Chosen < 0 || b.Chosen < 0 {
			continue
		}
		out[i].Distance = Distance(a.Descriptor, b.Descriptor)
		s := Score(out[i].Distance)
		out[i].Score = &s
	}
	return out
}

// Rates are the error rates of a decision threshold over labelled pairs. A genuine pair without
// a score counts as a false reject; an impostor pair without one is correctly rejected.
type Rates struct {
	Threshold          float64
	Genuine, Impostor  int
	FalseAccepts       int
	FalseRejects       int
	FAR, FRR, Accuracy float64
}

// RatesAt measures the threshold t: a pair is accepted when its score is greater than t.
func RatesAt(scored []Scored, t float64) Rates {
	r := Rates{Threshold: t}
	for _, s := range scored {
		accepted := s.Score != nil && *s.Score > t
		switch s.Same {
		case 1:
			r.Genuine++
			if !accepted {
				r.FalseRejects++
			}
		case 0:
			r.Impostor++
			if accepted {
				r.FalseAccepts++
			}
		}
	}
	if r.Impostor > 0 {
		r.FAR = float64(r.FalseAccepts) / float64(r.Impostor)
	}
	if r.Genuine > 0 {
		r.FRR = float64(r.FalseRejects) / float64(r.Genuine)
	}
	if n := r.Genuine + r.Impostor; n > 0 {
		r.Accuracy = 1 - float64(r.FalseAccepts+r.FalseRejects)/float64(n)
	}
	return r
}

// TenFoldAccuracy follows the LFW protocol: the labelled pairs are dealt into ten folds (pair i
// into fold i mod 10); for each fold the distance threshold that is most accurate on the other
// nine is applied to it. It returns the mean and standard deviation of the ten accuracies.
// Pairs without a distance count as predicted different.
func TenFoldAccuracy(scored []Scored) (mean, std float64) {
	var labelled []Scored
	for _, s := range scored {
		if s.Same >= 0 {
			labelled = append(labelled, s)
		}
	}
	if len(labelled) < 10 {
		return math.NaN(), math.NaN()
	}
	accs := make([]float64, 10)
	for k := range 10 {
		var train, test []Scored
		for i, s := range labelled {
			if i%10 == k {
				test = append(test, s)
			} else {
				train = append(train, s)
			}
		}
		t := bestDistanceThreshold(train)
		correct := 0
		for _, s := range test {
			same := !math.IsNaN(s.Distance) && s.Distance < t
			if same == (s.Same == 1) {
				correct++
			}
		}
		accs[k] = float64(correct) / float64(len(test))
	}
	for _, a := range accs {
		mean += a
	}
	mean /= 10
	for _, a := range accs {
		std += (a - mean) * (a - mean)
	}
	return mean, math.Sqrt(std / 10)
}

// bestDistanceThreshold returns the distance cut (same when below) that classifies set best,
// taken midway between two consecutive observed distances.
func bestDistanceThreshold(set []Scored) float64 {
	var ds []float64
	for _, s := range set {
		if !math.IsNaN(s.Distance) {
			ds = append(ds, s.Distance)
		}
	}
	sort.Float64s(ds)
	best, bestCorrect := 0.0, -1
	for i := 0; i <= len(ds); i++ {
		var t float64
		switch {
		case len(ds) == 0:
			t = 0
		case i == 0:
			t = ds[0] - 1e-9
		case i == len(ds):
			t = ds[i-1] + 1e-9
		default:
			t = (ds[i-1] + ds[i]) / 2
		}
		correct := 0
		for _, s := range set {
			same := !math.IsNaN(s.Distance) && s.Distance < t
			if same == (s.Same == 1) {
				correct++
			}
		}
		if correct > bestCorrect {
			best, bestCorrect = t, correct
		}
	}
	return best
}
