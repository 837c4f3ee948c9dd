package baar

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/tokens"
)

// callPlan is the worst case of calling a tier's model for one request: the
// model that answers (the tier's, or the caller's llms.WithModel), its compiled
// price, the output cap per choice and for all choices, the input-token bound
// and the cost of it all.
type callPlan struct {
	chosen    bool // the Router chose maxTokens: it may be fitted to the budget
	choices   int  // answers asked for
	model     string
	source    string // the price's provenance
	rates     budget.Rates
	maxTokens int
	output    int64
	input     int64
	est       budget.Amount
}

// plan computes t's worst case for the request: input tokens (a cheap upper
// bound) at the input price plus the output cap (per choice) at the output
// price.
func (r *Router) plan(t *tierModel, msgs []llms.MessageContent, co *llms.CallOptions) (callPlan, error) {
	p := callPlan{model: t.Name, rates: t.rates, maxTokens: co.MaxTokens}
	price := t.price
	if co.Model != "" && co.Model != t.Name {
		// The caller overrides the provider's model: price that one, or refuse.
		var err error
		if price, p.rates, err = r.ratesOf(co.Model); err != nil {
			return p, err
		}
		p.model = co.Model
	}
	if p.maxTokens == 0 {
		p.maxTokens, p.chosen = r.outputCap(t, price), true
	}
	p.source = priceSource(price)
	p.choices = choices(co)
	p.output = outputTokens(p.maxTokens, p.choices)
	p.input = r.counter.Bound(p.model, msgs, co)
	est, err := p.rates.EstimateCost(p.input, p.output)
	if err != nil {
		return p, fmt.Errorf("baar: pricing %s: %w", p.model, err)
	}
	p.est = est
	return p, nil
}

// reserve holds the worst case of calling t (in.plan) in the ledger. It counts
// the input exactly only when the bound does not fit. A refusal is a
// *BudgetError.
func (r *Router) reserve(ctx context.Context, in *RouteInput, t *tierModel) (*hold, error) {
	h := &hold{t: t, stream: in.co.StreamingFunc, reasoning: in.co.StreamingReasoningFunc}
	h.a = Attempt{Step: StepAnswer, Tier: t.label, Model: t.Name, Provider: t.Provider, Streaming: h.streaming()}
	p, err := in.plan(t)
	if err != nil {
		return nil, err
	}
	h.a.Model, h.a.MaxTokens, h.a.InputTokensEstimate, h.a.PriceSource = p.model, p.maxTokens, p.input, p.source
	res, err := r.ledger.Reserve(ctx, p.est)
	var ex *budget.ExceededError
	if errors.As(err, &ex) && p.chosen {
		// Near the end of the budget: the largest output cap that fits, down
		// to the floor, before a downgrade or a refusal.
		if fp, ok := r.fit(p, ex); ok {
			h.a.MaxTokens, h.a.CapFitted, p = fp.maxTokens, true, fp
			res, err = r.ledger.Reserve(ctx, p.est)
		}
	}
	if errors.Is(err, budget.ErrExceeded) && tokens.FamilyOf(p.model).Exact() {
		// The bound does not fit: count exactly, where counting is exact.
		// Other tokenizers' counts are estimates that can fall short, so
		// their calls keep the guaranteed bound and are refused instead.
		if n := r.counter.Count(p.model, in.msgs, in.co); n < p.input {
			if e2, err2 := p.rates.EstimateCost(n, p.output); err2 == nil && e2 < p.est {
				h.a.InputTokensEstimate, p.input, p.est = n, n, e2
				res, err = r.ledger.Reserve(ctx, p.est)
			}
		}
	}
	if err != nil {
		if errors.As(err, &ex) {
			return nil, newBudgetError(p.model, ex, p.est, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("baar: reserving %s for %s: %w", p.est, p.model, err)
	}
	h.plan, h.res, h.a.Reserved = p, res, p.est.USD()
	return h, nil
}

// outputTokens is the output a call may produce: its cap for every choice,
// saturated at math.MaxInt64 (a reservation nothing can afford) rather than
// wrapped.
func outputTokens(maxTokens, choices int) int64 {
	m, n := int64(maxTokens), int64(choices)
	if m > math.MaxInt64/n {
		return math.MaxInt64
	}
	return m * n
}

// choices is the number of answers a call asks for (N for OpenAI-style
// clients, CandidateCount for Gemini-style ones), at least 1.
func choices(co *llms.CallOptions) int { return max(1, co.CandidateCount, co.N) }

// priceSource is a price's provenance for reports: its source and the date
// it was checked.
func priceSource(p budget.Price) string {
	switch {
	case p.Source == "":
		return "WithPrice"
	case p.Checked == "":
		return p.Source
	}
	return p.Source + ", checked " + p.Checked
}

// outputCap is the output cap the Router chooses for a call on t that sets
// none: WithMaxOutputTokens, else DefaultMaxOutputTokens bounded by the
// model's maximum output and by the client's own default.
func (r *Router) outputCap(t *tierModel, price budget.Price) int {
	if r.maxOutput > 0 {
		return r.maxOutput
	}
	c := DefaultMaxOutputTokens
	switch t.Provider {
	case "anthropic", "gcp.gemini", "gcp.vertex_ai":
		c = 2048 // langchaingo's anthropic and googleai clients' default
	}
	if m := price.MaxOutputTokens; m > 0 && m < int64(c) {
		c = int(m)
	}
	return c
}

// fit returns p with the largest output cap, at least the floor, whose worst
// case fits the room the refusal ex reports, if there is one.
func (r *Router) fit(p callPlan, ex *budget.ExceededError) (callPlan, bool) {
	room := ex.Limit - ex.Spent - ex.Reserved
	floor := min(r.minOutput, p.maxTokens)
	cost := func(m int) (budget.Amount, bool) {
		c, err := p.rates.EstimateCost(p.input, outputTokens(m, p.choices))
		return c, err == nil && c <= room
	}
	if room <= 0 || floor >= p.maxTokens {
		return p, false
	}
	if _, ok := cost(floor); !ok {
		return p, false
	}
	lo, hi := floor, p.maxTokens-1 // cost(lo) fits; find the largest that does
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if _, ok := cost(mid); ok {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	p.maxTokens, p.output = lo, outputTokens(lo, p.choices)
	p.est, _ = cost(lo)
	return p, true
}
