package baar

import (
	"context"
	"sync/atomic"
)

type exploration struct {
	rate float64
	seed uint64
	n    atomic.Uint64
}

func (e *exploration) Route(_ context.Context, _ *RouteInput, current Route) (Route, error) {
	if current.Tier != TierCapable || e.rate == 0 {
		return current, nil
	}
	if draw(e.seed, e.n.Add(1)) < e.rate {
		return Route{Tier: TierCheap, Policy: PolicyExploration, Reason: "explored the cheap model"}, nil
	}
	return current, nil
}

// draw is the n-th uniform number in [0, 1) of the sequence seed (splitmix64).
func draw(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}
