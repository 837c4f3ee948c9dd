package baar

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/baarcore/baar/scoring"
)

// ErrTaskRejected is matched by calls a policy refused (the value gate's
// *TaskRejectedError included). No provider is contacted.
var ErrTaskRejected = errors.New("baar: task rejected")

// TaskRejectedError is the value gate's refusal: the task's estimated value
// is below its estimated cost × alpha. Amounts are in USD.
type TaskRejectedError struct {
	Value float64
	Cost  float64
	Alpha float64
	Tier  TierLabel
}

// Error implements error.
func (e *TaskRejectedError) Error() string {
	return fmt.Sprintf("baar: task rejected: its value %s is below %.2f × its estimated cost %s on the %s model",
		usd(e.Value), e.Alpha, usd(e.Cost), e.Tier)
}

// Is reports whether target is ErrTaskRejected.
func (e *TaskRejectedError) Is(target error) bool { return target == ErrTaskRejected }

// ValueFunc estimates what a task is worth, in USD.
type ValueFunc func(ctx context.Context, req scoring.Request) (usd float64, err error)

// Value-gate defaults (the Python Baar-Core's).
const (
	DefaultValueAlpha    = 0.3
	DefaultMinGatedCalls = 20
	DefaultMaxRejectRate = 0.5
)

// ValueGate is the value gate's configuration: Value is required, zero
// fields take the defaults.
type ValueGate struct {
	// Value estimates what a task is worth (required).
	Value ValueFunc
	// Alpha: a task worth less than its estimated cost × Alpha is rejected
	// (default 0.3).
	Alpha float64
	// MinGated is the number of gated calls before the reject-rate clamp
	// applies (default 20); MaxRejectRate the highest share of gated calls
	// that may be rejected (default 0.5): past it, a call that would be
	// rejected goes to the cheap model instead.
	MinGated      int
	MaxRejectRate float64
}

// gatePolicy is the value-gate policy; its counters are shared by all calls.
type gatePolicy struct {
	g ValueGate

	mu       sync.Mutex
	gated    int64
	rejected int64
}

func (v *gatePolicy) Route(ctx context.Context, in *RouteInput, current Route) (Route, error) {
	value, err := v.g.Value(ctx, in.Request)
	if err != nil {
		return current, fmt.Errorf("baar: value function: %w", err)
	}
	if !finite(value) {
		return current, fmt.Errorf("baar: value function returned %v", value)
	}
	cost, err := in.Estimate(current.Tier)
	if err != nil {
		return current, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gated++
	if value < cost*v.g.Alpha {
		if v.gated > int64(v.g.MinGated) && float64(v.rejected+1)/float64(v.gated) > v.g.MaxRejectRate {
			return Route{Tier: TierCheap, Policy: PolicyValueGate, Reason: "reject-rate clamp"}, nil
		}
		v.rejected++
		return current, &TaskRejectedError{Value: value, Cost: cost, Alpha: v.g.Alpha, Tier: current.Tier}
	}
	if current.Tier == TierCapable {
		capCost := cost
		if value < capCost {
			return Route{Tier: TierCheap, Policy: PolicyValueGate, Reason: "value below the capable model's cost"}, nil
		}
	}
	return current, nil
}

// gateCounts returns the value gate's counters: calls gated and rejected.
func (r *Router) gateCounts() (gated, rejected int64) {
	if r.gate == nil {
		return 0, 0
	}
	r.gate.mu.Lock()
	defer r.gate.mu.Unlock()
	return r.gate.gated, r.gate.rejected
}

// AlphaSource is how CalibrateAlpha derives alpha from value/cost ratios.
type AlphaSource string

// Alpha sources.
const (
	// AlphaFromPercentile takes the target reject rate's quantile of the
	// ratios (exact; the default).
	AlphaFromPercentile AlphaSource = "percentile"
	// AlphaFromMedian takes 2 × the target reject rate × the median ratio:
	// robust with few samples.
	AlphaFromMedian AlphaSource = "median"
)

// CalibrateAlpha returns the value gate's alpha that would reject about
// targetRejectRate (in [0, 1]) of tasks whose value/cost ratios are given.
// With [AlphaFromPercentile] it is the targetRejectRate quantile of the ratios
// (exact, as RouteLLM calibrates thresholds); with [AlphaFromMedian] it is
// 2 × targetRejectRate × the median ratio, a robust choice when few samples
// are at hand (the two agree when ratios are uniform on [0, 2 × median]).
func CalibrateAlpha(ratios []float64, targetRejectRate float64, source AlphaSource) (float64, error) {
	if !finite(targetRejectRate) || targetRejectRate < 0 || targetRejectRate > 1 {
		return 0, fmt.Errorf("baar: CalibrateAlpha: target reject rate %v not in [0, 1]", targetRejectRate)
	}
	clean := make([]float64, 0, len(ratios))
	for _, x := range ratios {
		if finite(x) && x >= 0 {
			clean = append(clean, x)
		}
	}
	if len(clean) == 0 {
		return 0, errors.New("baar: CalibrateAlpha: no finite, non-negative ratios")
	}
	switch source {
	case AlphaFromPercentile, "":
		// The threshold below which about targetRejectRate of samples fall:
		// scoring.ThresholdForShare gives the value ≥ which a share falls.
		t, err := scoring.ThresholdForShare(clean, 1-targetRejectRate)
		if err != nil {
			return 0, err
		}
		return t, nil
	case AlphaFromMedian:
		m, err := scoring.ThresholdForShare(clean, 0.5)
		if err != nil {
			return 0, err
		}
		return 2 * targetRejectRate * m, nil
	}
	return 0, fmt.Errorf("baar: CalibrateAlpha: unknown source %q (percentile or median)", source)
}
