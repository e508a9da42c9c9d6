package main

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/facematch/facematch/matcher"
)

// rateAt is the false-accept and false-reject rates at one score threshold, with their exact 95%
// confidence intervals.
type rateAt struct {
	threshold      float64
	rates          matcher.Rates
	farLo, farHi   float64
	frrLo, frrHi   float64
	farOneSidedMax float64 // one-sided 95% upper bound of the false-accept rate
}

func ratesAt(scored []matcher.Scored, t float64) rateAt {
	r := matcher.RatesAt(scored, t)
	out := rateAt{threshold: t, rates: r}
	out.farLo, out.farHi = clopperPearson(r.FalseAccepts, r.Impostor, 0.05)
	out.frrLo, out.frrHi = clopperPearson(r.FalseRejects, r.Genuine, 0.05)
	_, out.farOneSidedMax = clopperPearson(r.FalseAccepts, r.Impostor, 0.10)
	return out
}

// pairsToShowBelow is how many impostor pairs, all rejected, bound the false-accept rate below
// rate at 95% confidence (one-sided): the n with (1-rate)^n <= 0.05.
func pairsToShowBelow(rate float64) int {
	return int(math.Ceil(math.Log(0.05) / math.Log1p(-rate)))
}

// rateFloor is where a rate of 0 is drawn on the log scale.
const rateFloor = 1e-4

// plotRates draws FAR and FRR against the score threshold, on a log scale, each with its 95%
// confidence band: what users set is the threshold, and what the pairs support is the band, not
// the line.
func plotRates(scored []matcher.Scored, path string) error {
	var pts []rateAt
	for t := 0.0; t <= 100; t += 0.5 {
		pts = append(pts, ratesAt(scored, t))
	}
	p := plot.New()
	p.Title.Text = "Error rates against the score threshold, with 95% confidence"
	p.X.Label.Text = "score threshold (a score at or below it is Declined)"
	p.Y.Label.Text = "rate (log; 0 drawn at 0.01%)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = percentTicks{}
	p.X.Min, p.X.Max = 0, 100
	p.Y.Min, p.Y.Max = rateFloor, 1
	clamp := func(v float64) float64 { return math.Max(v, rateFloor) }
	for _, s := range []struct {
		name     string
		c        color.NRGBA
		rate     func(rateAt) float64
		lo, hi   func(rateAt) float64
		dashLine bool
	}{
		{"FAR: impostors accepted", color.NRGBA{220, 80, 40, 255}, func(r rateAt) float64 { return r.rates.FAR }, func(r rateAt) float64 { return r.farLo }, func(r rateAt) float64 { return r.farHi }, false},
		{"FRR: genuine pairs rejected", color.NRGBA{30, 120, 200, 255}, func(r rateAt) float64 { return r.rates.FRR }, func(r rateAt) float64 { return r.frrLo }, func(r rateAt) float64 { return r.frrHi }, false},
	} {
		var band, line plotter.XYs
		for _, r := range pts {
			band = append(band, plotter.XY{X: r.threshold, Y: clamp(s.lo(r))})
			line = append(line, plotter.XY{X: r.threshold, Y: clamp(s.rate(r))})
		}
		for i := len(pts) - 1; i >= 0; i-- {
			band = append(band, plotter.XY{X: pts[i].threshold, Y: clamp(s.hi(pts[i]))})
		}
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return err
		}
		fill := s.c
		fill.A = 60
		poly.Color = fill
		poly.LineStyle.Width = 0
		p.Add(poly)
		l, err := plotter.NewLine(line)
		if err != nil {
			return err
		}
		l.Color = s.c
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l, poly)
	}
	for _, t := range []float64{30, 50, 60} {
		l, err := plotter.NewLine(plotter.XYs{{X: t, Y: rateFloor}, {X: t, Y: 0.5}})
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(l)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: t, Y: 0.55}}, Labels: []string{fmt.Sprintf("%.0f", t)}})
		if err != nil {
			return err
		}
		lab.TextStyle[0].XAlign = draw.XCenter
		p.Add(lab)
	}
	// Top, between the curves, which leave the middle of the top free.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(150), -vg.Points(26)
	p.Legend.Padding = vg.Points(3)
	return save(p, path)
}

// percentTicks marks the decades of a log axis of rates as percentages.
type percentTicks struct{}

// Ticks returns a tick at each decade from min to max.
func (percentTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for v := math.Pow(10, math.Floor(math.Log10(min))); v <= max*1.0001; v *= 10 {
		label := fmt.Sprintf("%g%%", 100*v)
		if v == rateFloor {
			label = "0.01%"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	return ticks
}

// renderRates writes the section of calibration.md on the error rates against the threshold:
// the chart, a table with the intervals, and what the pairs support.
func renderRates(w func(string, ...any), scored []matcher.Scored) {
	w("\n## Error rates against the threshold\n\n![FAR and FRR against the score threshold, with 95%% confidence bands](calibration-rates.png)\n\n")
	w("The threshold is the number users set (`face_match_score_decline_threshold`). The lines are the rates measured\n")
	w("on these pairs; the bands are exact (Clopper-Pearson) 95%% confidence intervals of the true rates on pairs like\n")
	w("these. With %d pairs of each kind, no rate is known better than its band is wide.\n\n", matcher.RatesAt(scored, 50).Impostor)
	w("| score threshold | FAR measured | FAR, 95%% interval | FRR measured | FRR, 95%% interval |\n|---|---|---|---|---|\n")
	for _, t := range []float64{20, 30, 40, 50, 60, 70} {
		r := ratesAt(scored, t)
		w("| %.0f | %.2f%% (%d/%d) | %.2f%% to %.2f%% | %.2f%% (%d/%d) | %.2f%% to %.2f%% |\n", t,
			100*r.rates.FAR, r.rates.FalseAccepts, r.rates.Impostor, 100*r.farLo, 100*r.farHi,
			100*r.rates.FRR, r.rates.FalseRejects, r.rates.Genuine, 100*r.frrLo, 100*r.frrHi)
	}
	at50 := ratesAt(scored, 50)
	w("\n**What the data supports.** ")
	if at50.rates.FalseAccepts == 0 {
		w("At 50, 0 false accepts out of %d impostor pairs bound the false-accept rate below %.2f%% with 95%%\n", at50.rates.Impostor, 100*at50.farOneSidedMax)
		w("confidence (one-sided; the two-sided band of the chart reaches %.2f%%). They do not show that 50 \"accepts no\n", 100*at50.farHi)
		w("impostor\": ")
	} else {
		w("At 50, %d false accepts out of %d impostor pairs put the false-accept rate below %.2f%% with 95%% confidence\n", at50.rates.FalseAccepts, at50.rates.Impostor, 100*at50.farOneSidedMax)
		w("(one-sided). ")
	}
	w("other LFW pairs than these will show some impostors above 50, and more so look-alikes (relatives,\n")
	w("twins) or photos unlike LFW's (low light, webcams, ID-card prints). Showing a false-accept rate below 0.1%%\n")
	w("with 95%% confidence takes %d impostor pairs without a single false accept, below 0.01%% %d; these pairs are for\n", pairsToShowBelow(0.001), pairsToShowBelow(0.0001))
	w("choosing the curve, not for certifying it. Measure on your own population before relying on a threshold.\n")
}
