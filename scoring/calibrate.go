package scoring

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrNoSamples is returned by ThresholdForShare and Calibrate for an empty
// sample.
var ErrNoSamples = errors.New("scoring: no samples")

// ThresholdForShare returns the threshold t such that about share of scores
// are ≥ t: the quantile RouteLLM calibrates its routers with. A router that
// sends a request to the capable model when its score is ≥ t then sends
// about share of traffic like the sample there.
//
// Ties: when equal scores straddle the cut, t is whichever of the tied
// value and the next higher score gives the share closer to the target
// (the lower share on an exact tie). share = 0 returns a threshold above
// every sample (math.Nextafter of the maximum), share = 1 the minimum. It
// fails for share outside [0,1] or NaN, an empty sample, or a NaN or
// infinite score.
func ThresholdForShare(scores []float64, share float64) (float64, error) {
	if math.IsNaN(share) || share < 0 || share > 1 {
		return 0, fmt.Errorf("scoring: share %v outside [0,1]", share)
	}
	if len(scores) == 0 {
		return 0, ErrNoSamples
	}
	s := make([]float64, len(scores))
	for i, v := range scores {
		if !finite(v) {
			return 0, fmt.Errorf("scoring: sample score %d is %v", i, v)
		}
		s[i] = v
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	n := len(s)
	k := int(math.Round(share * float64(n)))
	if k == 0 {
		return math.Nextafter(s[0], math.Inf(1)), nil
	}
	if k == n {
		return s[n-1], nil
	}
	t := s[k-1]
	// Shares selected by t (all scores ≥ t) and by the next higher value.
	hi := sort.Search(n, func(i int) bool { return s[i] < t })  // count ≥ t
	lo := sort.Search(n, func(i int) bool { return s[i] <= t }) // count > t
	if hi == k || lo == 0 {
		return t, nil
	}
	target := share * float64(n)
	if target-float64(lo) <= float64(hi)-target {
		return s[lo-1], nil
	}
	return t, nil
}

// Calibrate scores samples with s and returns ThresholdForShare of the
// scores: the threshold that sends about share of traffic like samples to
// the capable model.
func Calibrate(ctx context.Context, s Scorer, samples []Request, share float64) (float64, error) {
	if s == nil {
		return 0, errors.New("scoring: nil Scorer")
	}
	if len(samples) == 0 {
		return 0, ErrNoSamples
	}
	scores := make([]float64, len(samples))
	for i, req := range samples {
		v, err := s.Score(ctx, req)
		if err != nil {
			return 0, fmt.Errorf("scoring: sample %d: %w", i, err)
		}
		scores[i] = v
	}
	return ThresholdForShare(scores, share)
}
