package matcher

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// [FM-MATCH-1] The score curve: 100 at distance 0, 50 at the midpoint, strictly decreasing, two
// decimals, never outside 0-100.
func TestScoreCurve(t *testing.T) {
	for _, c := range []struct {
		d    float64
		want float64
	}{
		{-1, 100},
		{0, 100},
		{DistanceAt(50), 50},
		{ScoreMidpoint, 50.07}, // the rescaling that makes distance 0 score 100 lifts the midpoint by 0.07
		{DistanceAt(30), 30},
		{DistanceAt(60), 60},
		{DistanceAt(99.5), 99.5},
		{10, 0},
	} {
		if got := Score(c.d); got != c.want {
			t.Errorf("Score(%.4f) = %v, want %v", c.d, got, c.want)
		}
	}
	prev := Score(0)
	for d := 0.005; d < 2; d += 0.005 {
		s := Score(d)
		if s > prev || s < 0 || s > 100 {
			t.Fatalf("Score(%.3f) = %v after %v: not decreasing within 0-100", d, s, prev)
		}
		if r := math.Round(s*100) / 100; r != s {
			t.Fatalf("Score(%.3f) = %v has more than two decimals", d, s)
		}
		prev = s
	}
	// Strictly decreasing where it matters: around the thresholds users set.
	for _, th := range []float64{30, 50, 60} {
		d := DistanceAt(th)
		if !(Score(d-0.01) > Score(d) && Score(d) > Score(d+0.01)) {
			t.Errorf("score not strictly decreasing around %v", th)
		}
	}
}

// [FM-MATCH-5] docs/calibration.md documents the curve the code uses: its formula line names
// this package's constants, and each row of its threshold table gives the distance the code
// maps onto that threshold. Changing ScoreMidpoint or ScoreSlope without regenerating the
// document (make calibration) fails here.
func TestCalibrationDocumentMatchesConstants(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "calibration.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	m := regexp.MustCompile(`d0 = ([0-9.]+), k = ([0-9.]+)`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("docs/calibration.md has no formula line naming d0 and k")
	}
	if d0, _ := strconv.ParseFloat(m[1], 64); d0 != ScoreMidpoint {
		t.Errorf("document says d0 = %v, code has ScoreMidpoint = %v", d0, ScoreMidpoint)
	}
	if k, _ := strconv.ParseFloat(m[2], 64); k != ScoreSlope {
		t.Errorf("document says k = %v, code has ScoreSlope = %v", k, ScoreSlope)
	}
	rows := regexp.MustCompile(`(?m)^\| (\d+) \| ([0-9.]+) \| [0-9.]+% \((\d+)/(\d+)\) \| [0-9.]+% \((\d+)/(\d+)\) \|`).FindAllStringSubmatch(doc, -1)
	seen := map[string]bool{}
	for _, r := range rows {
		th, _ := strconv.ParseFloat(r[1], 64)
		if want := fmt.Sprintf("%.3f", DistanceAt(th)); r[2] != want {
			t.Errorf("threshold %s: document gives distance %s, the code's curve %s", r[1], r[2], want)
		}
		seen[r[1]] = true
	}
	for _, th := range []string{"30", "50", "60"} {
		if !seen[th] {
			t.Errorf("docs/calibration.md has no FAR/FRR row for threshold %s (FM-MATCH-5)", th)
		}
	}
	if !strings.Contains(doc, "10-fold accuracy") {
		t.Error("docs/calibration.md lacks the 10-fold accuracy")
	}
}
