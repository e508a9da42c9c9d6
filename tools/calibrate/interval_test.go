package main

import (
	"math"
	"testing"
)

// The exact interval against its closed forms at the edges, its symmetry, and values published
// for it.
func TestClopperPearson(t *testing.T) {
	near := func(got, want, tol float64) bool { return math.Abs(got-want) <= tol }
	for _, n := range []int{10, 875, 1750} {
		// 0 events: [0, 1 - (alpha/2)^(1/n)]; n events: [(alpha/2)^(1/n), 1].
		lo, hi := clopperPearson(0, n, 0.05)
		if lo != 0 || !near(hi, 1-math.Pow(0.025, 1/float64(n)), 1e-9) {
			t.Errorf("0/%d: [%g, %g]", n, lo, hi)
		}
		lo, hi = clopperPearson(n, n, 0.05)
		if hi != 1 || !near(lo, math.Pow(0.025, 1/float64(n)), 1e-9) {
			t.Errorf("%d/%d: [%g, %g]", n, n, lo, hi)
		}
		for _, k := range []int{1, n / 3, n - 1} {
			lo, hi := clopperPearson(k, n, 0.05)
			mlo, mhi := clopperPearson(n-k, n, 0.05)
			if !near(lo, 1-mhi, 1e-9) || !near(hi, 1-mlo, 1e-9) || !(lo < float64(k)/float64(n) && float64(k)/float64(n) < hi) {
				t.Errorf("%d/%d: [%g, %g], mirrored [%g, %g]", k, n, lo, hi, mlo, mhi)
			}
		}
	}
	// One-sided 95% (alpha 0.10 two-sided) for 0 of 875 impostor pairs: 1 - 0.05^(1/875), 0.342%.
	if _, hi := clopperPearson(0, 875, 0.10); !near(hi, 0.003418, 1e-6) {
		t.Errorf("0/875 one-sided 95%%: %g", hi)
	}
	// Published exact intervals: 1 of 10 is [0.0025, 0.4450]; 5 of 10 is [0.1871, 0.8129].
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{{1, 10, 0.0025, 0.4450}, {5, 10, 0.1871, 0.8129}} {
		if lo, hi := clopperPearson(c.k, c.n, 0.05); !near(lo, c.lo, 1e-4) || !near(hi, c.hi, 1e-4) {
			t.Errorf("%d/%d: [%.4f, %.4f], want [%.4f, %.4f]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
}
