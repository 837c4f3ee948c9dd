package budget

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Prices of the tests, restated here so that a change to the table does not
// silently change what the billing tests check.
var (
	testGPT4o  = Price{Input: 2.50, Output: 10, CachedInput: 1.25, MaxInputTokens: 128_000, MaxOutputTokens: 16_384}
	testSonnet = Price{Input: 3, Output: 15, CachedInput: 0.30, CacheWrite: 3.75,
		LongContextThreshold: 200_000, LongInput: 6, LongOutput: 22.50}
	testGeminiPro = Price{Input: 1.25, Output: 10, CachedInput: 0.125,
		LongContextThreshold: 200_000, LongInput: 2.50, LongOutput: 15}
	testGroq8B = Price{Input: 0.05, Output: 0.08}
)

// usd converts a decimal literal in dollars for the tables below.
func usd(t *testing.T, v float64) Amount {
	t.Helper()
	a, err := FromUSD(v)
	require.NoError(t, err)
	return a
}

func TestPriceCost(t *testing.T) {
	tests := []struct {
		name  string
		price Price
		u     Usage
		want  float64 // USD
	}{
		{"no tokens", testGPT4o, Usage{}, 0},
		{"plain", testGPT4o, Usage{InputTokens: 1000, OutputTokens: 500}, 0.0075},
		{"openai cached read inside input", testGPT4o, Usage{InputTokens: 1000, CacheReadTokens: 400, OutputTokens: 500}, 0.007},
		{"reasoning is inside output", testGPT4o, Usage{InputTokens: 1000, OutputTokens: 500, ReasoningTokens: 300}, 0.0075},
		{"reasoning above output is billed", testGPT4o, Usage{OutputTokens: 10, ReasoningTokens: 20}, 0.0002},
		{"cache parts above input are billed as reported", testGPT4o, Usage{InputTokens: 100, CacheReadTokens: 150}, 0.0001875},
		{"anthropic read and write", testSonnet, Usage{InputTokens: 1000, CacheReadTokens: 200, CacheWriteTokens: 300, OutputTokens: 100}, 0.004185},
		{"at the threshold: base tier", testSonnet, Usage{InputTokens: 200_000, OutputTokens: 1000}, 0.615},
		{"above the threshold: whole request long", testSonnet, Usage{InputTokens: 200_001, OutputTokens: 1000}, 1.222506},
		{"long tier scales cache rates", testSonnet, Usage{InputTokens: 300_000, CacheReadTokens: 100_000, CacheWriteTokens: 50_000}, 1.335},
		{"cache parts decide the tier when above input", testSonnet, Usage{InputTokens: 10, CacheReadTokens: 200_001}, 0.1200006},
		{"gemini long with cache", testGeminiPro, Usage{InputTokens: 250_000, CacheReadTokens: 50_000, OutputTokens: 1000}, 0.5275},
		{"no cached price: reads billed at input", testGroq8B, Usage{InputTokens: 1000, CacheReadTokens: 1000, OutputTokens: 1000}, 0.00013},
		{"free model", Price{}, Usage{InputTokens: 1 << 40, OutputTokens: 1 << 40}, 0},
		{"one token of a cheap model", testGroq8B, Usage{InputTokens: 1}, 0.00000005},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.price.Cost(tt.u)
			require.NoError(t, err)
			assert.Equal(t, usd(t, tt.want), got, "got %v", got)

			r, err := tt.price.Compile()
			require.NoError(t, err)
			got2, err := r.Cost(tt.u)
			require.NoError(t, err)
			assert.Equal(t, got, got2)
			assert.Equal(t, refCost(t, tt.price, tt.u), got)
		})
	}
}

func TestPriceCostRoundsUp(t *testing.T) {
	p := Price{Input: 0.0001} // 0.1 nano-dollar per token
	for _, tt := range []struct {
		tokens int64
		want   Amount
	}{{0, 0}, {1, 1}, {9, 1}, {10, 1}, {11, 2}, {20, 2}, {21, 3}} {
		got, err := p.Cost(Usage{InputTokens: tt.tokens})
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "%d tokens", tt.tokens)
	}
}

func TestPriceCostSaturates(t *testing.T) {
	huge := Price{Input: 1e9, Output: 1e9, CachedInput: 1e9, CacheWrite: 1e9}
	max := int64(math.MaxInt64)
	for _, u := range []Usage{
		{InputTokens: max},
		{OutputTokens: max},
		{InputTokens: max, CacheReadTokens: max, CacheWriteTokens: max, OutputTokens: max, ReasoningTokens: max},
		{InputTokens: 1 << 40}, // 2^40 tokens × $1000 per token
	} {
		got, err := huge.Cost(u)
		require.NoError(t, err)
		assert.Equal(t, MaxAmount, got, "%+v", u)
	}
	// Just below saturation the result is exact.
	got, err := Price{Input: 0.001}.Cost(Usage{InputTokens: max}) // 1 nano-dollar per token
	require.NoError(t, err)
	assert.Equal(t, MaxAmount, got)
	got, err = Price{Input: 0.0001}.Cost(Usage{InputTokens: max}) // 0.1 nano-dollar per token
	require.NoError(t, err)
	assert.Equal(t, Amount(max/10+1), got)
	got, err = Price{Input: 0.001, Output: 0.001}.Cost(Usage{InputTokens: max / 2, OutputTokens: max / 2})
	require.NoError(t, err)
	assert.Equal(t, MaxAmount-1, got)
}

func TestPriceCostInvalid(t *testing.T) {
	for _, u := range []Usage{
		{InputTokens: -1},
		{OutputTokens: -1},
		{CacheReadTokens: -1},
		{CacheWriteTokens: -1},
		{ReasoningTokens: -1},
		{InputTokens: math.MinInt64, OutputTokens: math.MinInt64},
	} {
		got, err := testGPT4o.Cost(u)
		require.Error(t, err, "%+v", u)
		assert.ErrorIs(t, err, ErrInvalid)
		assert.Contains(t, err.Error(), "negative token count")
		assert.Zero(t, got)
	}
	_, err := testGPT4o.Cost(Usage{InputTokens: 1, CacheWriteTokens: -5, ReasoningTokens: -7})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CacheWriteTokens -5, ReasoningTokens -7")

	_, err = Price{Input: math.NaN()}.Cost(Usage{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = Price{Input: math.NaN()}.EstimateCost(1, 1)
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestZeroRates(t *testing.T) {
	var r Rates
	_, err := r.Cost(Usage{InputTokens: 1})
	assert.ErrorIs(t, err, ErrUnknownPrice)
	_, err = r.EstimateCost(1, 1)
	assert.ErrorIs(t, err, ErrUnknownPrice)

	r, err = Price{}.Compile()
	require.NoError(t, err)
	got, err := r.Cost(Usage{InputTokens: 1})
	require.NoError(t, err)
	assert.Zero(t, got, "a compiled free price is free")
}

func TestPriceValidate(t *testing.T) {
	valid := []Price{
		{},
		testGPT4o,
		testSonnet,
		testGeminiPro,
		{Input: 1, Output: 0}, // free output is allowed
		{Input: 1, Output: 1, CachedInput: 2},
		{Input: 1, Output: 1, LongContextThreshold: 1, LongInput: 1, LongOutput: 1}, // equal tiers
		{Input: 9223372036.854775, Output: 1},
	}
	for _, p := range valid {
		assert.NoError(t, p.Validate(), "%+v", p)
	}

	invalid := []struct {
		name    string
		p       Price
		mention string
	}{
		{"negative input", Price{Input: -1}, "Input -1"},
		{"NaN output", Price{Output: math.NaN()}, "Output is NaN"},
		{"infinite cached", Price{CachedInput: math.Inf(1)}, "CachedInput is +Inf"},
		{"negative cache write", Price{CacheWrite: -0.5}, "CacheWrite -0.5"},
		{"NaN long input", Price{LongInput: math.NaN()}, "LongInput"},
		{"negative long output", Price{LongOutput: -1}, "LongOutput"},
		{"too large", Price{Input: 1e10}, "above the maximum"},
		{"negative threshold", Price{LongContextThreshold: -1}, "LongContextThreshold -1"},
		{"negative max input", Price{MaxInputTokens: -1}, "MaxInputTokens"},
		{"negative max output", Price{MaxOutputTokens: -1}, "MaxOutputTokens"},
		{"long prices without threshold", Price{Input: 1, Output: 1, LongInput: 2, LongOutput: 2}, "incomplete"},
		{"threshold without long prices", Price{Input: 1, Output: 1, LongContextThreshold: 10}, "incomplete"},
		{"threshold with long input only", Price{Input: 1, Output: 1, LongContextThreshold: 10, LongInput: 2}, "incomplete"},
		{"threshold with long output only", Price{Input: 1, Output: 1, LongContextThreshold: 10, LongOutput: 2}, "incomplete"},
		{"long input cheaper", Price{Input: 2, Output: 1, LongContextThreshold: 10, LongInput: 1, LongOutput: 2}, "cheaper"},
		{"long output cheaper", Price{Input: 1, Output: 2, LongContextThreshold: 10, LongInput: 2, LongOutput: 1}, "cheaper"},
		{"long tier on free input", Price{Output: 1, LongContextThreshold: 10, LongInput: 2, LongOutput: 2}, "Input is 0"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.mention)
			_, err = tt.p.Cost(Usage{InputTokens: 1})
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestEstimateCost(t *testing.T) {
	tests := []struct {
		name    string
		price   Price
		in, out int64
		want    float64
	}{
		{"openai: input at full price", testGPT4o, 1000, 500, 0.0075},
		{"anthropic: input at the cache-write price", testSonnet, 1000, 100, 0.00525},
		{"at the threshold", testSonnet, 200_000, 0, 0.75},
		{"long tier", testSonnet, 300_000, 500, 2.26125},
		{"gemini long", testGeminiPro, 1_000_000, 65_535, 3.483025},
		{"zero", testGPT4o, 0, 0, 0},
		{"free", Price{}, 1 << 50, 1 << 50, 0},
		{"cached price above input", Price{Input: 1, Output: 1, CachedInput: 2}, 1000, 0, 0.002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.price.EstimateCost(tt.in, tt.out)
			require.NoError(t, err)
			assert.Equal(t, usd(t, tt.want), got, "got %v", got)
		})
	}
	for _, c := range [][2]int64{{-1, 0}, {0, -1}, {math.MinInt64, math.MinInt64}} {
		_, err := testGPT4o.EstimateCost(c[0], c[1])
		assert.ErrorIs(t, err, ErrInvalid)
	}
	got, err := testSonnet.EstimateCost(math.MaxInt64, math.MaxInt64)
	require.NoError(t, err)
	assert.Equal(t, MaxAmount, got)
}

// TestEstimateCostBoundsCost checks that no usage within the bounds of an
// estimate costs more than the estimate, on a grid of usages around the
// long-context threshold.
func TestEstimateCostBoundsCost(t *testing.T) {
	counts := []int64{0, 1, 1000, 199_999, 200_000, 200_001, 300_000}
	for _, p := range []Price{testGPT4o, testSonnet, testGeminiPro, testGroq8B, {Input: 1, Output: 1, CachedInput: 3, CacheWrite: 2}} {
		r, err := p.Compile()
		require.NoError(t, err)
		for _, in := range counts {
			est, err := r.EstimateCost(in, 1000)
			require.NoError(t, err)
			for _, cr := range counts {
				for _, cw := range counts {
					if cr+cw > in {
						continue
					}
					got, err := r.Cost(Usage{InputTokens: in, CacheReadTokens: cr, CacheWriteTokens: cw, OutputTokens: 1000, ReasoningTokens: 1000})
					require.NoError(t, err)
					assert.LessOrEqual(t, got, est, "%+v in=%d cr=%d cw=%d", p, in, cr, cw)
				}
			}
		}
	}
}

// refCost is an independent reference for Rates.Cost: the same documented
// rules computed with math/big.
func refCost(t testing.TB, p Price, u Usage) Amount {
	t.Helper()
	rate := func(usd, fallback float64) *big.Int {
		if usd == 0 {
			usd = fallback
		}
		a, err := FromUSD(usd) // nano-dollars per 1M tokens = femto-dollars per token
		require.NoError(t, err)
		return big.NewInt(int64(a))
	}
	in, out := rate(p.Input, 0), rate(p.Output, 0)
	cr, cw := rate(p.CachedInput, p.Input), rate(p.CacheWrite, p.Input)
	cached := new(big.Int).Add(big.NewInt(u.CacheReadTokens), big.NewInt(u.CacheWriteTokens))
	total := big.NewInt(u.InputTokens)
	if total.Cmp(cached) < 0 {
		total.Set(cached)
	}
	if p.LongContextThreshold > 0 && total.Cmp(big.NewInt(p.LongContextThreshold)) > 0 {
		longIn := rate(p.LongInput, 0)
		scale := func(x *big.Int) *big.Int {
			n := new(big.Int).Mul(x, longIn)
			n.Add(n, in).Sub(n, big.NewInt(1))
			n.Quo(n, in) // ceil
			return minBig(n, big.NewInt(int64(MaxAmount)))
		}
		cr, cw = scale(cr), scale(cw)
		in, out = longIn, rate(p.LongOutput, 0)
	}
	uncached := new(big.Int).Sub(total, cached)
	sum := new(big.Int).Mul(uncached, in)
	sum.Add(sum, new(big.Int).Mul(big.NewInt(u.CacheReadTokens), cr))
	sum.Add(sum, new(big.Int).Mul(big.NewInt(u.CacheWriteTokens), cw))
	sum.Add(sum, new(big.Int).Mul(big.NewInt(max(u.OutputTokens, u.ReasoningTokens)), out))
	sum.Add(sum, big.NewInt(femtoPerNano-1))
	sum.Quo(sum, big.NewInt(femtoPerNano))
	return Amount(minBig(sum, big.NewInt(int64(MaxAmount))).Int64())
}

func minBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) < 0 {
		return a
	}
	return b
}

func TestMaxPrice(t *testing.T) {
	a, err := FromUSD(maxPrice)
	require.NoError(t, err)
	assert.LessOrEqual(t, a, MaxAmount)
	_, err = FromUSD(math.Nextafter(maxPrice, math.Inf(1)))
	assert.ErrorIs(t, err, ErrInvalid, "the next float64 is above MaxAmount")
	assert.NoError(t, Price{Input: maxPrice}.Validate())
	assert.ErrorIs(t, Price{Input: math.Nextafter(maxPrice, math.Inf(1))}.Validate(), ErrInvalid)
}
