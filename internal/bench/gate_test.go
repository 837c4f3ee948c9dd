package bench

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseValuePolicy(t *testing.T) {
	for spec, want := range map[string]ValuePolicy{
		"flat:0.001":        {ValueFlat, 0.001},
		"per-token:0.5":     {ValuePerToken, 0.5},
		" capable-gap:2 ":   {ValueCapableGap, 2},
		"flat:1e-4":         {ValueFlat, 1e-4},
		"per-token: 0.0200": {ValuePerToken, 0.02},
	} {
		p, err := ParseValuePolicy(spec)
		require.NoError(t, err, spec)
		assert.Equal(t, want, p, spec)
	}
	p, _ := ParseValuePolicy("flat:1e-4")
	assert.Equal(t, "flat:0.0001", p.String())
	for _, bad := range []string{"", "flat", "flat:", "flat:x", "flat:0", "flat:-1", "flat:NaN", "flat:Inf", "free:1", "FLAT:1", ":1"} {
		_, err := ParseValuePolicy(bad)
		assert.Error(t, err, bad)
	}
}

func TestValues(t *testing.T) {
	// Train: group a has 4 items, 1 gap (cheap wrong, capable right); group
	// b 2 items, 2 gaps; dataset: 6 items, 3 gaps.
	train := Dataset{Name: "d", Items: []Item{
		{Prompt: "a1", Group: "a", CheapCorrect: true, CapableCorrect: true},
		{Prompt: "a2", Group: "a", CheapCorrect: false, CapableCorrect: true},
		{Prompt: "a3", Group: "a", CheapCorrect: false, CapableCorrect: false},
		{Prompt: "a4", Group: "a", CheapCorrect: true, CapableCorrect: false},
		{Prompt: "b1", Group: "b", CheapCorrect: false, CapableCorrect: true},
		{Prompt: "b2", Group: "b", CheapCorrect: false, CapableCorrect: true},
	}}
	tasks := Dataset{Name: "d", Items: []Item{
		// Its own labels (a gap) must not count: a test item's labels are
		// not in train.
		{Prompt: "t1", Group: "a", CheapCorrect: false, CapableCorrect: true},
		{Prompt: "t2", Group: "b"},
		{Prompt: "t3", Group: "c"}, // unseen group: the dataset's rate
		{Prompt: "a2", Group: "a"}, // itself in train: left out
		{Prompt: "b1", Group: "b"}, // left out: b2 remains
	}}
	tokens := []int{100, 2000, 0, 500, 1}

	v, err := ValuePolicy{ValueFlat, 0.5}.Values(tasks, tokens, train)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5, 0.5, 0.5, 0.5, 0.5}, v)

	v, err = ValuePolicy{ValuePerToken, 0.01}.Values(tasks, tokens, train)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{0.001, 0.02, 0, 0.005, 0.00001}, v, 1e-15)

	v, err = ValuePolicy{ValueCapableGap, 2}.Values(tasks, tokens, train)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{2 * 0.25, 2 * 1, 2 * 0.5, 2 * 0.0 / 3, 2 * 1}, v, 1e-15)

	// Labels of the tasks themselves never move their values.
	flipped := Dataset{Name: "d", Items: append([]Item(nil), tasks.Items...)}
	for i := range flipped.Items {
		flipped.Items[i].CheapCorrect = !flipped.Items[i].CheapCorrect
		flipped.Items[i].CapableCorrect = !flipped.Items[i].CapableCorrect
	}
	v2, err := ValuePolicy{ValueCapableGap, 2}.Values(flipped, tokens, train)
	require.NoError(t, err)
	assert.Equal(t, v, v2)

	// Without groups, the dataset is the group.
	noGroup := Dataset{Name: "d", Items: []Item{{Prompt: "x", CheapCorrect: false, CapableCorrect: true}, {Prompt: "y", CheapCorrect: true, CapableCorrect: true}}}
	v, err = ValuePolicy{ValueCapableGap, 1}.Values(Dataset{Name: "d", Items: []Item{{Prompt: "z"}, {Prompt: "x"}}}, []int{1, 1}, noGroup)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5, 0}, v)

	_, err = ValuePolicy{ValueFlat, 1}.Values(tasks, tokens[:2], train)
	assert.Error(t, err)
	_, err = ValuePolicy{"free", 1}.Values(tasks, tokens, train)
	assert.Error(t, err)
}

func TestOutputAssumptionAndEstimates(t *testing.T) {
	d := Dataset{OutputTokensKnown: true, Items: []Item{{CheapOutputTokens: 10, CapableOutputTokens: 30}, {CheapOutputTokens: 20, CapableOutputTokens: 50}}}
	c, s := OutputAssumption(d, 5)
	assert.Equal(t, 15.0, c)
	assert.Equal(t, 40.0, s)
	d.OutputTokensKnown = false
	c, s = OutputAssumption(d, 5)
	assert.Equal(t, 5.0, c)
	assert.Equal(t, 5.0, s)

	p := Prices{CheapIn: 1, CheapOut: 2, CapableIn: 10, CapableOut: 20}
	ch, ca := Estimates([]int{1000, 0}, p, 15, 40)
	assert.InDeltaSlice(t, []float64{(1000 + 30) / 1e6, 30 / 1e6}, ch, 1e-18)
	assert.InDeltaSlice(t, []float64{(10000 + 800) / 1e6, 800 / 1e6}, ca, 1e-18)
}

func TestGateDecide(t *testing.T) {
	_, err := NewGate(GateConfig{Alpha: 0, MinGated: 1, MaxRejectRate: 0.5})
	assert.Error(t, err)
	_, err = NewGate(GateConfig{Alpha: math.Inf(1), MinGated: 1, MaxRejectRate: 0.5})
	assert.Error(t, err)
	_, err = NewGate(GateConfig{Alpha: 0.3, MinGated: 0, MaxRejectRate: 0.5})
	assert.Error(t, err)
	_, err = NewGate(GateConfig{Alpha: 0.3, MinGated: 1, MaxRejectRate: 1.5})
	assert.Error(t, err)

	g, err := NewGate(GateConfig{Alpha: 0.5, MinGated: 100, MaxRejectRate: 0.5})
	require.NoError(t, err)
	assert.Equal(t, GateCapable, g.Decide(true, 10, 10))    // worth its cost
	assert.Equal(t, GateDownshifted, g.Decide(true, 6, 10)) // below the cost, above the bar
	assert.Equal(t, GateDownshifted, g.Decide(true, 5, 10)) // exactly at the bar: not rejected
	assert.Equal(t, GateRejected, g.Decide(true, 4.99, 10)) // below cost × alpha
	assert.Equal(t, GateCheap, g.Decide(false, 0.6, 1))     // cheap: no downshift rule
	assert.Equal(t, GateRejected, g.Decide(false, 0.49, 1)) // cheap, below the bar
	gated, rejected := g.Counts()
	assert.Equal(t, 6, gated)
	assert.Equal(t, 2, rejected)

	// The clamp: after MinGated gated calls, no rejection may push the
	// rate above MaxRejectRate.
	g, err = NewGate(GateConfig{Alpha: 1, MinGated: 4, MaxRejectRate: 0.5})
	require.NoError(t, err)
	var got []GateDecision
	for i := 0; i < 10; i++ {
		got = append(got, g.Decide(false, 0, 1))
	}
	// Calls 1–4: rejected (not past MinGated). Call 5: 5/5 > .5 → clamped;
	// from then on rejected only when (rejected+1)/gated ≤ .5: call 10
	// (5/10).
	assert.Equal(t, []GateDecision{GateRejected, GateRejected, GateRejected, GateRejected,
		GateClamped, GateClamped, GateClamped, GateClamped, GateClamped, GateRejected}, got)
	assert.Equal(t, "clamped", GateClamped.String())
}

func TestSimulateGate(t *testing.T) {
	o := []Outcome{
		{CheapCorrect: true, CapableCorrect: true, CheapCost: 1, CapableCost: 10},
		{CheapCorrect: false, CapableCorrect: true, CheapCost: 1, CapableCost: 10},
		{CheapCorrect: false, CapableCorrect: true, CheapCost: 1, CapableCost: 10},
		{CheapCorrect: true, CapableCorrect: false, CheapCost: 2, CapableCost: 20},
	}
	routes := []bool{false, true, true, true}
	tasks := GateTasks{
		Values:     []float64{5, 100, 5, 1},
		CheapEst:   []float64{1, 1, 1, 2},
		CapableEst: []float64{10, 10, 10, 20},
	}
	// alpha .3: task 0 cheap; 1 capable; 2 downshifted (5 < 10, ≥ 3);
	// 3 rejected (1 < 6).
	r, err := SimulateGate("s", GateConfig{Alpha: 0.3, MinGated: 20, MaxRejectRate: 0.5}, o, routes, tasks)
	require.NoError(t, err)
	assert.Equal(t, 1, r.Rejected)
	assert.Equal(t, 1, r.Downshifted)
	assert.Equal(t, 0, r.Clamped)
	assert.Equal(t, 0.25, r.RejectRate)
	assert.Equal(t, 0.25, r.Share)
	assert.Equal(t, 0.5, r.Accuracy)                    // tasks 0 and 1 right; 2 wrong on cheap; 3 rejected
	assert.InDelta(t, 2.0/3, r.AnsweredAccuracy, 1e-12) // of 3 answered
	assert.Equal(t, 12.0, r.Cost)                       // 1 + 10 + 1 + 0
	assert.InDelta(t, 12.0/50, r.CostVsCapable, 1e-12)
	assert.Equal(t, 0.75, r.UngatedAccuracy) // 1 + 1 + 1 + 0
	assert.Equal(t, 41.0, r.UngatedCost)     // 1 + 10 + 10 + 20

	ratios, err := tasks.Ratios(routes)
	require.NoError(t, err)
	assert.Equal(t, []float64{5, 10, 0.5, 0.05}, ratios)
	z := GateTasks{Values: []float64{1}, CheapEst: []float64{0}, CapableEst: []float64{0}}
	ratios, err = z.Ratios([]bool{false})
	require.NoError(t, err)
	assert.True(t, math.IsInf(ratios[0], 1))

	_, err = SimulateGate("s", GateConfig{Alpha: 0.3, MinGated: 20, MaxRejectRate: 0.5}, o, routes[:2], tasks)
	assert.Error(t, err)
	bad := tasks
	bad.Values = []float64{1, math.NaN(), 1, 1}
	_, err = SimulateGate("s", GateConfig{Alpha: 0.3, MinGated: 20, MaxRejectRate: 0.5}, o, routes, bad)
	assert.Error(t, err)
	_, err = SimulateGate("s", GateConfig{Alpha: 0.3, MinGated: 20, MaxRejectRate: 0.5}, nil, nil, GateTasks{})
	assert.ErrorIs(t, err, ErrNoData)
	assert.Equal(t, []bool{true, false, true}, Routes([]float64{0.8, 0.79, 1}, 0.8))
}
