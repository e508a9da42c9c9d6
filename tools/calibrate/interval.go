package main

import "math"

// clopperPearson is the exact (Clopper-Pearson) confidence interval of a proportion for k
// events in n trials, at confidence 1-alpha: each bound is where the binomial tail probability
// of what was observed equals alpha/2. Exact means conservative: the interval covers the true
// rate at least 1-alpha of the time, whatever the rate, which matters at 0 events, where the
// normal approximation gives the interval [0, 0].
func clopperPearson(k, n int, alpha float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	if k > 0 {
		// The lower bound: P(X >= k | p) = alpha/2, increasing in p.
		lo = bisect(func(p float64) bool { return 1-binomialCDF(k-1, n, p) < alpha/2 })
	}
	hi = 1
	if k < n {
		// The upper bound: P(X <= k | p) = alpha/2, decreasing in p.
		hi = bisect(func(p float64) bool { return binomialCDF(k, n, p) > alpha/2 })
	}
	return lo, hi
}

// bisect finds, in [0, 1], where below turns from true to false.
func bisect(below func(p float64) bool) float64 {
	a, b := 0.0, 1.0
	for range 100 {
		m := (a + b) / 2
		if below(m) {
			a = m
		} else {
			b = m
		}
	}
	return (a + b) / 2
}

// binomialCDF is P(X <= k) for X ~ Binomial(n, p), summed in log space so that n in the
// thousands neither overflows nor underflows.
func binomialCDF(k, n int, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n:
		return 1
	case p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	lgN, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for i := 0; i <= k; i++ {
		lgI, _ := math.Lgamma(float64(i + 1))
		lgNI, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lgN - lgI - lgNI + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return math.Min(sum, 1)
}
