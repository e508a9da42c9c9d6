package main

import (
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/facematch/facematch/matcher"
)

// syntheticScores are 875 genuine and 875 impostor pairs with distances spread like LFW's, and a
// few pairs without a face.
func syntheticScores() []matcher.Scored {
	rng := rand.New(rand.NewPCG(3, 4))
	var out []matcher.Scored
	for i := range 1750 {
		same := i % 2
		d := 0.79 + 0.08*rng.NormFloat64()
		if same == 1 {
			d = 0.42 + 0.07*rng.NormFloat64()
		}
		s := matcher.Scored{Pair: matcher.Pair{Same: same}, Distance: d}
		if i%300 != 7 {
			score := matcher.Score(d)
			s.Score = &score
		}
		out = append(out, s)
	}
	return out
}

// The three charts render as PNG pictures of the size the document shows.
func TestChartsRender(t *testing.T) {
	dir := t.TempDir()
	scored := syntheticScores()
	for name, draw := range map[string]func([]matcher.Scored, string) error{
		"distances.png": plotDistances, "roc.png": plotROC, "rates.png": plotRates,
	} {
		path := filepath.Join(dir, name)
		if err := draw(scored, path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 672 || cfg.Height != 432 {
			t.Fatalf("%s: %+v %v", name, cfg, err)
		}
	}
}

// The rates table's numbers: the measured rates, their exact intervals, and the one-sided bound
// that 0 false accepts give.
func TestRatesAt(t *testing.T) {
	scored := syntheticScores()
	r := ratesAt(scored, 50)
	if r.rates.Impostor != 875 || r.rates.Genuine != 875 {
		t.Fatalf("%+v", r.rates)
	}
	if !(r.farLo <= r.rates.FAR && r.rates.FAR <= r.farHi && r.frrLo <= r.rates.FRR && r.rates.FRR <= r.frrHi) {
		t.Fatalf("rates outside their intervals: %+v", r)
	}
	if r.rates.FalseAccepts == 0 && (r.farOneSidedMax < 0.0034 || r.farOneSidedMax > 0.0035) {
		t.Fatalf("0 of 875 bounds FAR below %g", r.farOneSidedMax)
	}
	if n := pairsToShowBelow(0.001); n != 2995 {
		t.Fatalf("pairs to show FAR below 0.1%%: %d", n)
	}
}
