package bench_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/scoring"
)

// newGateRouter is a Router over two fake models with the options shared by
// the probe and the gated routers.
func newGateRouter(t *testing.T, opts ...baar.Option) *baar.Router {
	t.Helper()
	base := []baar.Option{baar.WithBudget(1e6), baar.WithMaxOutputTokens(100), baar.WithComplexityThreshold(0.5)}
	r, err := baar.New(baar.Tier{Model: &baartest.Model{Name: "gpt-4o-mini"}, Name: "gpt-4o-mini"},
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o"}, append(base, opts...)...)
	require.NoError(t, err)
	return r
}

// TestGateAgreesWithRouter feeds the same sequence of calls (tier by score,
// value) to a real baar Router with WithValueGate and to bench.Gate, and
// checks every decision and the final counters agree, the reject-rate clamp
// included.
func TestGateAgreesWithRouter(t *testing.T) {
	ctx := context.Background()
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Summarise the attached quarterly report in three bullet points.")}

	// Probe the Router's estimates for this prompt on each tier.
	var cheapEst, capableEst float64
	probe := newGateRouter(t, baar.WithPolicy("probe", baar.PolicyFunc(func(_ context.Context, in *baar.RouteInput, cur baar.Route) (baar.Route, error) {
		var err error
		if cheapEst, err = in.Estimate(baar.TierCheap); err != nil {
			return cur, err
		}
		capableEst, err = in.Estimate(baar.TierCapable)
		return cur, err
	})))
	_, err := probe.GenerateContent(ctx, msgs)
	require.NoError(t, err)
	require.Greater(t, cheapEst, 0.0)
	require.Greater(t, capableEst, cheapEst)

	for _, cfg := range []bench.GateConfig{
		{Alpha: 0.3, MinGated: 20, MaxRejectRate: 0.5},
		{Alpha: 0.8, MinGated: 5, MaxRejectRate: 0.2},
		{Alpha: 2, MinGated: 1, MaxRejectRate: 1},
	} {
		rng := rand.New(rand.NewPCG(uint64(cfg.MinGated), 7))
		const n = 400
		capable := make([]bool, n)
		values := make([]float64, n)
		// Values straddle both bars: cost × alpha and the capable cost.
		mult := []float64{0, 0.1, 0.99, 1, 1.01, 3}
		for i := range values {
			capable[i] = rng.IntN(2) == 0
			cost := cheapEst
			if capable[i] {
				cost = capableEst
			}
			m := mult[rng.IntN(len(mult))]
			if i < 30 {
				m = 0 // a run of rejections first: the clamp's boundary
			}
			switch rng.IntN(3) {
			case 0:
				values[i] = cost * cfg.Alpha * m
			case 1:
				values[i] = cost * m
			default:
				values[i] = capableEst * m
			}
		}
		var call atomic.Int64
		var reps []baar.CallReport
		r := newGateRouter(t,
			baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) {
				if capable[call.Load()] {
					return 1, nil
				}
				return 0, nil
			})),
			baar.WithValueGate(baar.ValueGate{
				Value: func(context.Context, scoring.Request) (float64, error) { return values[call.Load()], nil },
				Alpha: cfg.Alpha, MinGated: cfg.MinGated, MaxRejectRate: cfg.MaxRejectRate}),
			baar.WithReportFunc(func(_ context.Context, rep *baar.CallReport) { reps = append(reps, *rep) }))
		g, err := bench.NewGate(cfg)
		require.NoError(t, err)
		counts := map[bench.GateDecision]int{}
		for i := 0; i < n; i++ {
			_, err := r.GenerateContent(ctx, msgs)
			rep := reps[len(reps)-1]
			var got bench.GateDecision
			switch {
			case errors.Is(err, baar.ErrTaskRejected):
				got = bench.GateRejected
			case err != nil:
				t.Fatal(err)
			case rep.Policy == "value-gate" && rep.Reason == "reject-rate clamp":
				got = bench.GateClamped
			case rep.Policy == "value-gate":
				got = bench.GateDownshifted
			case rep.Decision == baar.DecisionCapable:
				got = bench.GateCapable
			case rep.Decision == baar.DecisionCheap:
				got = bench.GateCheap
			default:
				t.Fatalf("call %d: unexpected decision %s", i, rep.Decision)
			}
			cost := cheapEst
			if capable[i] {
				cost = capableEst
			}
			want := g.Decide(capable[i], values[i], cost)
			require.Equal(t, want, got, "config %+v, call %d: value %v, capable %v", cfg, i, values[i], capable[i])
			counts[got]++
			call.Add(1)
		}
		// Every call reached the gate; the Router's refusals are its rejections.
		bg, br := g.Counts()
		assert.EqualValues(t, len(reps), bg)
		assert.EqualValues(t, counts[bench.GateRejected], br)
		// The sequence exercises every branch (no downshift when alpha ≥ 1:
		// a value ≥ cost × alpha is ≥ the cost).
		for _, d := range []bench.GateDecision{bench.GateCheap, bench.GateCapable, bench.GateRejected} {
			assert.Positive(t, counts[d], "config %+v: no %s decision", cfg, d)
		}
		if cfg.Alpha < 1 {
			assert.Positive(t, counts[bench.GateDownshifted], "config %+v: no downshift", cfg)
		} else {
			assert.Zero(t, counts[bench.GateDownshifted], "config %+v", cfg)
		}
		if cfg.MaxRejectRate < 1 {
			assert.Positive(t, counts[bench.GateClamped], "config %+v: the clamp never applied", cfg)
		}
	}
}
