package budget

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// Price is a model's list price in USD per million tokens. The zero value of an
// optional field means "not applicable" (see each field).
type Price struct {
	// Input and Output are the USD per 1M input and output tokens. Required
	// (≥ 0, finite). Reasoning tokens are billed at Output.
	Input  float64
	Output float64
	// CachedInput is the USD per 1M input tokens read from the prompt cache;
	// 0 means "no discount": cache reads are billed at Input.
	CachedInput float64
	// CacheWrite is the USD per 1M input tokens written to the prompt cache
	// (Anthropic); 0 means cache writes are billed at Input.
	CacheWrite float64
	// LongContextThreshold, when > 0, is the prompt size (input tokens) above
	// which the WHOLE request is billed at LongInput/LongOutput (Claude Sonnet 4
	// and 4.5, Gemini 2.5 Pro above 200k). Cached and cache-write rates scale
	// by LongInput/Input.
	LongContextThreshold int64
	LongInput            float64
	LongOutput           float64
	// MaxInputTokens and MaxOutputTokens are the model's context window and
	// output limit; 0 means unknown. MaxOutputTokens is the output cap of last
	// resort for a reservation.
	MaxInputTokens  int64
	MaxOutputTokens int64
	// Mode is "" for a chat or completion model and [ModeEmbedding] for an
	// embedding model, whose Output is 0. Informational.
	Mode string
	// Source and Checked say where the price comes from and when it was last
	// checked (YYYY-MM-DD). Informational: a router shows them in its reports
	// and spans.
	Source  string
	Checked string
}

// ModeEmbedding is the [Price.Mode] of an embedding model.
const ModeEmbedding = "embedding"

// Rates is a [Price] compiled to integers for billing: each per-million-token
// price becomes an integer count of femto-dollars (1e-15 USD) per token, which
// is the same number as nano-dollars per million tokens. It is exact for any
// price given to the nano-dollar per million tokens ($0.000000001 / 1M;
// finer digits are rounded to the nearest), so every price in the table is
// represented exactly, and a token count times a
// rate is an exact 128-bit product: a cost is computed with integer
// arithmetic only, then rounded up to the nano-dollar.
//
// Compile a Price once with [Price.Compile] and call [Rates.Cost] on every
// model call: it does not allocate and costs a few nanoseconds.
// [Price.Cost] compiles on every call.
//
// The zero Rates is not a price: its methods return an error matching
// [ErrUnknownPrice], so a forgotten price fails closed instead of costing $0.
// A Rates is immutable and safe for concurrent use.
type Rates struct {
	base, long tierRates
	// threshold, when > 0, is the input size above which long applies.
	threshold uint64
	ok        bool
}

// tierRates are the femto-dollars per token of one pricing tier.
type tierRates struct {
	input, output, cacheRead, cacheWrite uint64
	// worstInput is the highest of the input rates: what an input token can
	// cost at most.
	worstInput uint64
}

// femtoPerNano is the number of femto-dollars in a nano-dollar.
const femtoPerNano = 1_000_000

// errZeroRates is returned by the methods of the zero Rates.
var errZeroRates = fmt.Errorf("%w: zero Rates (compile a Price with Price.Compile)", ErrUnknownPrice)

// Validate reports whether p is a usable price. It returns an error matching
// [ErrInvalid] naming the first problem: a negative, NaN or infinite price, a
// price above [MaxAmount] per million tokens, a negative threshold or token
// limit, a long-context tier that is incomplete (LongContextThreshold,
// LongInput and LongOutput must be all set or all zero), cheaper than the
// base price (which would make cost decrease as a prompt grows), or set on a
// model with a zero Input price (its cache rates scale by LongInput/Input).
// A free model (every price zero) is valid.
func (p Price) Validate() error {
	_, err := p.Compile()
	return err
}

// Compile validates p (see [Price.Validate]) and converts it to integer
// [Rates].
func (p Price) Compile() (Rates, error) {
	if !(priceOK(p.Input) && priceOK(p.Output) && priceOK(p.CachedInput) &&
		priceOK(p.CacheWrite) && priceOK(p.LongInput) && priceOK(p.LongOutput)) {
		return Rates{}, p.priceError()
	}
	switch {
	case p.LongContextThreshold < 0:
		return Rates{}, fmt.Errorf("%w: price LongContextThreshold %d is negative", ErrInvalid, p.LongContextThreshold)
	case p.MaxInputTokens < 0:
		return Rates{}, fmt.Errorf("%w: price MaxInputTokens %d is negative", ErrInvalid, p.MaxInputTokens)
	case p.MaxOutputTokens < 0:
		return Rates{}, fmt.Errorf("%w: price MaxOutputTokens %d is negative", ErrInvalid, p.MaxOutputTokens)
	}
	var r Rates
	r.base.input = rate(p.Input)
	r.base.output = rate(p.Output)
	// A zero CachedInput or CacheWrite means "billed at Input".
	r.base.cacheRead, r.base.cacheWrite = r.base.input, r.base.input
	if p.CachedInput != 0 {
		r.base.cacheRead = rate(p.CachedInput)
	}
	if p.CacheWrite != 0 {
		r.base.cacheWrite = rate(p.CacheWrite)
	}
	r.base.worstInput = max(r.base.input, r.base.cacheRead, r.base.cacheWrite)
	if p.LongContextThreshold == 0 && p.LongInput == 0 && p.LongOutput == 0 {
		r.long = r.base
		r.ok = true
		return r, nil
	}
	r.long.input = rate(p.LongInput)
	r.long.output = rate(p.LongOutput)
	switch {
	case p.LongContextThreshold == 0 || r.long.input == 0 || r.long.output == 0:
		return Rates{}, fmt.Errorf("%w: price long-context tier is incomplete (LongContextThreshold %d, LongInput %v, LongOutput %v): set all three or none",
			ErrInvalid, p.LongContextThreshold, p.LongInput, p.LongOutput)
	case r.base.input == 0:
		return Rates{}, fmt.Errorf("%w: price has a long-context tier but Input is 0 (cache rates scale by LongInput/Input)", ErrInvalid)
	case r.long.input < r.base.input || r.long.output < r.base.output:
		return Rates{}, fmt.Errorf("%w: price long-context tier (%v in, %v out) is cheaper than the base price (%v in, %v out)",
			ErrInvalid, p.LongInput, p.LongOutput, p.Input, p.Output)
	}
	// Cache rates of the long tier: the base ones times LongInput/Input,
	// rounded up.
	r.long.cacheRead = scaleUp(r.base.cacheRead, r.long.input, r.base.input)
	r.long.cacheWrite = scaleUp(r.base.cacheWrite, r.long.input, r.base.input)
	r.long.worstInput = max(r.long.input, r.long.cacheRead, r.long.cacheWrite)
	r.threshold = uint64(p.LongContextThreshold)
	r.ok = true
	return r, nil
}

// maxPrice is the largest float64 price whose rate fits in an int64: the
// float64 just below MaxAmount nano-dollars per million tokens (the next one
// is above it).
const maxPrice = 9223372036.854775

// priceOK reports whether usd is a price Compile accepts (false for NaN).
func priceOK(usd float64) bool { return usd >= 0 && usd <= maxPrice }

// rate converts a price accepted by priceOK from USD per million tokens to
// femto-dollars per token (= nano-dollars per million tokens), rounded to
// the nearest.
func rate(usd float64) uint64 {
	n, _ := usdToNano(usd)
	return uint64(n)
}

// priceError returns the error for the first price of p that priceOK refuses.
func (p Price) priceError() error {
	for _, f := range [...]struct {
		name string
		usd  float64
	}{
		{"Input", p.Input}, {"Output", p.Output}, {"CachedInput", p.CachedInput},
		{"CacheWrite", p.CacheWrite}, {"LongInput", p.LongInput}, {"LongOutput", p.LongOutput},
	} {
		switch {
		case math.IsNaN(f.usd) || math.IsInf(f.usd, 0):
			return fmt.Errorf("%w: price %s is %v", ErrInvalid, f.name, f.usd)
		case f.usd < 0:
			return fmt.Errorf("%w: price %s %v is negative", ErrInvalid, f.name, f.usd)
		case f.usd > maxPrice:
			return fmt.Errorf("%w: price %s %v per million tokens is above the maximum %v", ErrInvalid, f.name, f.usd, MaxAmount)
		}
	}
	return nil
}

// scaleUp returns ⌈x·num/den⌉ for den > 0, saturated at MaxAmount.
func scaleUp(x, num, den uint64) uint64 {
	hi, lo := bits.Mul64(x, num)
	if hi >= den {
		return uint64(MaxAmount)
	}
	q, rem := bits.Div64(hi, lo, den)
	if rem != 0 {
		q++
	}
	return min(q, uint64(MaxAmount))
}

// Cost returns the cost of a call with usage u at price p, rounded up to the
// nano-dollar. It is [Price.Compile] followed by [Rates.Cost]; compile once
// when pricing many calls.
func (p Price) Cost(u Usage) (Amount, error) {
	r, err := p.Compile()
	if err != nil {
		return 0, err
	}
	return r.Cost(u)
}

// EstimateCost returns the worst-case cost of a call of inputTokens input
// tokens producing at most outputTokens output tokens: see
// [Rates.EstimateCost].
func (p Price) EstimateCost(inputTokens, outputTokens int64) (Amount, error) {
	r, err := p.Compile()
	if err != nil {
		return 0, err
	}
	return r.EstimateCost(inputTokens, outputTokens)
}

// Cost returns the cost of a call with usage u, rounded up to the nano-dollar
// (a settlement is never under-billed) and saturated at [MaxAmount]. It
// returns an error matching [ErrInvalid] when a token count is negative.
//
// Billing, under the [Usage] convention:
//   - uncached input = InputTokens − CacheReadTokens − CacheWriteTokens is
//     billed at Input, cache reads at CachedInput, cache writes at CacheWrite.
//     When the cache parts exceed InputTokens they are billed as reported and
//     the uncached input counts as 0.
//   - OutputTokens (reasoning included) is billed at Output; if
//     ReasoningTokens exceeds OutputTokens, ReasoningTokens is billed.
//   - When the input (the larger of InputTokens and the sum of its cache
//     parts) exceeds LongContextThreshold, the whole request is billed at the
//     long-context rates.
func (r Rates) Cost(u Usage) (Amount, error) {
	if !r.ok {
		return 0, errZeroRates
	}
	if u.InputTokens|u.OutputTokens|u.CacheReadTokens|u.CacheWriteTokens|u.ReasoningTokens < 0 {
		return 0, negativeUsage(u)
	}
	cached := uint64(u.CacheReadTokens) + uint64(u.CacheWriteTokens) // < 2^64
	input, uncached := cached, uint64(0)
	if in := uint64(u.InputTokens); in > cached {
		input, uncached = in, in-cached
	}
	t := &r.base
	if r.threshold != 0 && input > r.threshold {
		t = &r.long
	}
	// Each product is < 2^127 and the input parts sum to < 2^64 tokens, so
	// the 128-bit sum cannot overflow (< 2^127 + 2^126).
	hi, lo := bits.Mul64(uncached, t.input)
	hi, lo = mulAdd(hi, lo, uint64(u.CacheReadTokens), t.cacheRead)
	hi, lo = mulAdd(hi, lo, uint64(u.CacheWriteTokens), t.cacheWrite)
	hi, lo = mulAdd(hi, lo, uint64(max(u.OutputTokens, u.ReasoningTokens)), t.output)
	return femtoToAmount(hi, lo), nil
}

// EstimateCost returns the worst-case cost of a call of inputTokens input
// tokens producing at most outputTokens output tokens, for a reservation:
// every input token is priced at the highest input rate it may be billed at
// (no cache discount; the cache-write price when it is above the input
// price, as Anthropic's is), every output token at the output price, and the
// long-context tier applies when inputTokens exceeds its threshold. For any
// [Usage] u with u.InputTokens ≤ inputTokens, no cache part above
// inputTokens in total, and u.OutputTokens ≤ outputTokens, Cost(u) ≤
// EstimateCost(inputTokens, outputTokens). It returns an error matching
// [ErrInvalid] when a count is negative.
func (r Rates) EstimateCost(inputTokens, outputTokens int64) (Amount, error) {
	if !r.ok {
		return 0, errZeroRates
	}
	if inputTokens < 0 || outputTokens < 0 {
		return 0, fmt.Errorf("%w: negative token count (input %d, output %d)", ErrInvalid, inputTokens, outputTokens)
	}
	t := &r.base
	if r.threshold != 0 && uint64(inputTokens) > r.threshold {
		t = &r.long
	}
	hi, lo := bits.Mul64(uint64(inputTokens), t.worstInput)
	hi, lo = mulAdd(hi, lo, uint64(outputTokens), t.output)
	return femtoToAmount(hi, lo), nil
}

// mulAdd returns (hi,lo) + x·y in 128 bits; the caller guarantees no overflow.
func mulAdd(hi, lo, x, y uint64) (uint64, uint64) {
	h, l := bits.Mul64(x, y)
	var c uint64
	lo, c = bits.Add64(lo, l, 0)
	hi, _ = bits.Add64(hi, h, c)
	return hi, lo
}

// femtoToAmount converts a 128-bit count of femto-dollars to nano-dollars,
// rounding up and saturating at MaxAmount.
func femtoToAmount(hi, lo uint64) Amount {
	var q uint64
	if hi == 0 {
		q = lo / femtoPerNano // a multiplication: the divisor is constant
		if q*femtoPerNano != lo {
			q++
		}
	} else {
		if hi >= femtoPerNano {
			return MaxAmount
		}
		var rem uint64
		q, rem = bits.Div64(hi, lo, femtoPerNano)
		if rem != 0 {
			q++
		}
	}
	if q > uint64(MaxAmount) {
		return MaxAmount
	}
	return Amount(q)
}

// negativeUsage returns the error for a usage with a negative count.
func negativeUsage(u Usage) error {
	msg := ""
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"InputTokens", u.InputTokens},
		{"OutputTokens", u.OutputTokens},
		{"CacheReadTokens", u.CacheReadTokens},
		{"CacheWriteTokens", u.CacheWriteTokens},
		{"ReasoningTokens", u.ReasoningTokens},
	} {
		if f.v < 0 {
			if msg != "" {
				msg += ", "
			}
			msg += f.name + " " + strconv.FormatInt(f.v, 10)
		}
	}
	return fmt.Errorf("%w: negative token count in usage: %s", ErrInvalid, msg)
}
