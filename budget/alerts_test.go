package budget

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlertLevels(t *testing.T) {
	ppm, err := AlertLevels([]float64{0.95, 0.5, 0.8, 0.5})
	require.NoError(t, err)
	assert.Equal(t, []uint32{500_000, 800_000, 950_000}, ppm)
	for _, bad := range [][]float64{{0}, {-0.1}, {1.01}, {math.NaN()}, {math.Inf(1)}, {1e-9}, make([]float64, MaxAlerts+1)} {
		_, err := AlertLevels(bad)
		assert.ErrorIs(t, err, ErrInvalid, "%v", bad)
	}
}

func TestAlertAmount(t *testing.T) {
	assert.Equal(t, Amount(5), AlertAmount(10, 500_000))
	assert.Equal(t, Amount(4), AlertAmount(7, 500_000), "rounded up")
	assert.Equal(t, Amount(0), AlertAmount(0, 500_000))
	assert.Equal(t, MaxAmount, AlertAmount(MaxAmount, 1_000_000), "no overflow")
	assert.Equal(t, 80*Dollar, AlertAmount(100*Dollar, 800_000))
	for _, l := range []Amount{1, 999_999, 1_000_001, 123_456_789_012, MaxAmount - 1} {
		for _, p := range []uint32{1, 333_333, 500_000, 999_999, 1_000_000} {
			got := AlertAmount(l, p)
			// got is the least amount whose ratio to l reaches p/1e6.
			assert.True(t, float64(got)*1e6 >= float64(l)*float64(p)*(1-1e-12), "%v×%v: %v too small", l, p, got)
			assert.True(t, float64(got-1)*1e6 < float64(l)*float64(p)*(1+1e-12), "%v×%v: %v too large", l, p, got)
		}
	}
}

func TestMemoryAlerts(t *testing.T) {
	m := newMemory(t, 10*Dollar)
	require.NoError(t, m.SetAlerts([]float64{0.5, 0.8}))
	require.ErrorIs(t, m.SetAlerts([]float64{0.5}), ErrInvalid, "other thresholds")
	ctx := context.Background()
	commit := func(a Amount) []Crossing {
		r, err := m.Reserve(ctx, a)
		require.NoError(t, err)
		cs, err := m.CommitWithAlerts(ctx, r, a)
		require.NoError(t, err)
		return cs
	}
	assert.Empty(t, commit(4*Dollar))
	assert.Equal(t, []Crossing{{Threshold: 0.5, Spent: 5 * Dollar, Limit: 10 * Dollar}}, commit(Dollar))
	assert.Equal(t, []Crossing{{Threshold: 0.8, Spent: 9 * Dollar, Limit: 10 * Dollar}}, commit(4*Dollar))
	assert.Empty(t, commit(Dollar), "each threshold once")

	// Concurrently: each threshold exactly once.
	m = newMemory(t, 10*Dollar)
	require.NoError(t, m.SetAlerts([]float64{0.25, 0.5, 0.75, 1}))
	var mu sync.Mutex
	var all []Crossing
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.Reserve(ctx, Dollar/10)
			if err != nil {
				return
			}
			cs, err := m.CommitWithAlerts(ctx, r, Dollar/10)
			assert.NoError(t, err)
			mu.Lock()
			all = append(all, cs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var ths []float64
	for _, c := range all {
		ths = append(ths, c.Threshold)
	}
	assert.ElementsMatch(t, []float64{0.25, 0.5, 0.75, 1}, ths)
}

func TestLimitsValidateRates(t *testing.T) {
	ok := Limits{Rates: []Rate{{Limit: Dollar, Period: Minutely}}, KeyRates: []Rate{{Limit: 0, Period: Hourly}}}
	require.NoError(t, ok.Validate())
	for _, bad := range []Limits{
		{Rates: []Rate{{Limit: -1, Period: Minutely}}},
		{KeyRates: []Rate{{Limit: Dollar}}},
		{Rates: []Rate{{Limit: Dollar, Period: Hourly + 1}}},
		{KeyRates: make([]Rate, MaxRates+1)},
	} {
		assert.ErrorIs(t, bad.Validate(), ErrInvalid, "%+v", bad)
	}
	p := Limits{KeyRates: []Rate{{Limit: Dollar, Period: Minutely}}}
	assert.True(t, p.Scoped("k"), "a key with rates only")
	assert.False(t, p.Scoped(""))
	assert.False(t, (&Limits{}).Scoped("k"))
}

func TestExceededErrorRateMessage(t *testing.T) {
	e := &ExceededError{Limit: Dollar, Spent: Dollar, Requested: 1, Period: Minutely, Rate: true}
	assert.Equal(t, "budget exceeded: requested $0.000000001 with $1.00 spent and $0.00 reserved of a $1.00 limit per minute", e.Error())
	e.Rate, e.Period = false, Daily
	assert.NotContains(t, e.Error(), "per", "a main budget's message is unchanged")
}
