package matcher

import (
	"math"

	"github.com/facematch/facematch"
)

// The calibration of the score (FM-MATCH-5), measured on ../shared/fixtures/lfw-dev and
// documented with its error rates in docs/calibration.md.
const (
	// ScoreMidpoint is the descriptor distance that scores 50.
	ScoreMidpoint = 0.55
	// ScoreSlope is how fast the score falls around the midpoint, per unit of distance.
	ScoreSlope = 12.0
)

// Score maps the Euclidean distance between two face descriptors onto a similarity from 0 to
// 100, with two decimals: a logistic curve centred on ScoreMidpoint, rescaled so that distance 0
// scores exactly 100. It is strictly decreasing in d, so thresholds on the score are thresholds
// on the distance.
func Score(d float64) float64 {
	if d <= 0 {
		return 100
	}
	s := 100 * (1 + math.Exp(-ScoreSlope*ScoreMidpoint)) / (1 + math.Exp(ScoreSlope*(d-ScoreMidpoint)))
	return facematch.RoundScore(math.Min(100, s))
}

// DistanceAt inverts Score: the distance at which the unrounded score equals s (0 < s < 100).
func DistanceAt(s float64) float64 {
	c := 1 + math.Exp(-ScoreSlope*ScoreMidpoint)
	return ScoreMidpoint + math.Log(100*c/s-1)/ScoreSlope
}
