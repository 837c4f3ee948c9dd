package baar

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
)

// Tier is one of the two models a Router routes between.
type Tier struct {
	// Model answers the calls routed to this tier.
	Model llms.Model
	// Name is the model id used for pricing and telemetry, e.g. "gpt-4o-mini".
	// It must have a price: in the embedded table (budget.Lookup) or given
	// with WithPrice.
	Name string
	// Provider is the OpenTelemetry provider name, e.g. "openai",
	// "anthropic", "gcp.gemini". Empty means inferred from Name where obvious.
	Provider string
}

type tierModel struct {
	Tier
	label TierLabel
	price budget.Price
	rates budget.Rates // price, compiled once
}

func (r *Router) newTier(t Tier, label TierLabel) (*tierModel, error) {
	if isNil(t.Model) {
		return nil, fmt.Errorf("baar: the %s tier's Model is nil: check the error of the client's constructor (openai.New fails without OPENAI_API_KEY, for one)", label)
	}
	if strings.TrimSpace(t.Name) == "" {
		return nil, fmt.Errorf("baar: the %s tier has no Name: the model id is needed to price its calls", label)
	}
	p, ok := r.priceOf(t.Name)
	if !ok {
		return nil, fmt.Errorf("baar: no price for the %s model %q in the price table (%s): add it with baar.WithPrice(%q, budget.Price{Input: …, Output: …}) (USD per 1M tokens) or load a table with baar.WithPriceTable; unknown models are never assumed free", label, t.Name, r.table.Source(), t.Name)
	}
	if t.Provider == "" {
		t.Provider = inferProvider(t.Name)
	}
	rates, err := p.Compile()
	if err != nil {
		return nil, fmt.Errorf("baar: the price of the %s model %q: %w", label, t.Name, err)
	}
	return &tierModel{Tier: t, label: label, price: p, rates: rates}, nil
}

// priceOf is model's price: its row of the price table (the embedded one,
// or WithPriceTable's), with WithPrice's fields over it. A WithPrice of a
// model the table lists keeps the row's other facts (cached-input and
// cache-write rates, long-context tier, limits) where it leaves them zero.
func (r *Router) priceOf(model string) (budget.Price, bool) { return priceOf(r.table, r.prices, model) }

// priceOf is model's row of table with the fields of its WithPrice override
// (in over) on top.
func priceOf(table *budget.PriceTable, over map[string]budget.Price, model string) (budget.Price, bool) {
	row, listed := table.Lookup(model)
	p, ok := over[model]
	switch {
	case !ok:
		return row, listed
	case !listed:
		return p, true
	}
	return overPrice(p, row), true
}

// overPrice is p with the zero fields of p taken from row.
func overPrice(p, row budget.Price) budget.Price {
	if p.CachedInput == 0 {
		p.CachedInput = row.CachedInput
	}
	if p.CacheWrite == 0 {
		p.CacheWrite = row.CacheWrite
	}
	if p.LongContextThreshold == 0 {
		p.LongContextThreshold, p.LongInput, p.LongOutput = row.LongContextThreshold, row.LongInput, row.LongOutput
	}
	if p.MaxInputTokens == 0 {
		p.MaxInputTokens = row.MaxInputTokens
	}
	if p.MaxOutputTokens == 0 {
		p.MaxOutputTokens = row.MaxOutputTokens
	}
	if p.Mode == "" {
		p.Mode = row.Mode
	}
	if p.Source == "" {
		p.Source, p.Checked = "WithPrice over "+row.Source, row.Checked
	}
	return p
}

// ratesOf prices a model a call names with llms.WithModel, or refuses it.
func (r *Router) ratesOf(model string) (budget.Price, budget.Rates, error) {
	p, ok := r.priceOf(model)
	if !ok {
		return p, budget.Rates{}, invalidRequest("llms.WithModel(%q) has no price: add it with baar.WithPrice", model)
	}
	rates, err := p.Compile()
	if err != nil {
		return p, rates, invalidRequest("llms.WithModel(%q): %v", model, err)
	}
	return p, rates, nil
}

func inferProvider(model string) string {
	m := strings.ToLower(model)
	switch {
	case strings.HasPrefix(m, "gpt-"), strings.HasPrefix(m, "o1"), strings.HasPrefix(m, "o3"),
		strings.HasPrefix(m, "o4"), strings.HasPrefix(m, "chatgpt"):
		return "openai"
	case strings.HasPrefix(m, "claude"):
		return "anthropic"
	case strings.HasPrefix(m, "gemini"):
		return "gcp.gemini"
	}
	return ""
}

// TierLabel names one of a Router's two tiers in routes, reports and
// telemetry.
type TierLabel string

// Tier labels.
const (
	TierCheap   TierLabel = "cheap"
	TierCapable TierLabel = "capable"
)

// isNil reports whether m is nil or a typed nil pointer (a constructor's
// result whose error was ignored).
func isNil(m llms.Model) bool {
	if m == nil {
		return true
	}
	v := reflect.ValueOf(m)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// checkTiers refuses tiers that cannot work as a Router's — a "cheap" model
// dearer than the capable one, an output cap beyond what a model can
// produce — and warns of one model on both tiers (a budget guard for one
// model, which is allowed).
func (r *Router) checkTiers() []error {
	var errs []error
	if strings.EqualFold(strings.TrimSpace(r.cheap.Name), strings.TrimSpace(r.capable.Name)) {
		r.warnings = append(r.warnings, fmt.Sprintf("the cheap and the capable tier are the same model %q: the Router guards its budget, routing has no effect", r.cheap.Name))
	}
	cp, kp := r.cheap.price, r.capable.price
	if cp.Input > kp.Input && cp.Output > kp.Output {
		errs = append(errs, fmt.Errorf("baar: the cheap tier %q ($%g/$%g per 1M input/output tokens) costs more than the capable tier %q ($%g/$%g): swap the two Tiers given to New",
			r.cheap.Name, cp.Input, cp.Output, r.capable.Name, kp.Input, kp.Output))
	}
	for _, t := range []*tierModel{r.cheap, r.capable} {
		if m := t.price.MaxOutputTokens; r.maxOutput > 0 && m > 0 && int64(r.maxOutput) > m {
			errs = append(errs, fmt.Errorf("baar: WithMaxOutputTokens(%d) is above the %s model %q's maximum output of %d tokens: lower it", r.maxOutput, t.label, t.Name, m))
		}
	}
	return errs
}
