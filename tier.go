package baar

import (
	"fmt"
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
	if t.Model == nil {
		return nil, fmt.Errorf("baar: the %s tier has no model", label)
	}
	if strings.TrimSpace(t.Name) == "" {
		return nil, fmt.Errorf("baar: the %s tier has no Name: the model id is needed to price its calls", label)
	}
	p, ok := r.priceOf(t.Name)
	if !ok {
		return nil, fmt.Errorf("baar: no price for the %s model %q: add it with baar.WithPrice(%q, budget.Price{Input: …, Output: …}) (USD per 1M tokens); unknown models are never assumed free", label, t.Name, t.Name)
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

func (r *Router) priceOf(model string) (budget.Price, bool) {
	if p, ok := r.prices[model]; ok {
		return p, true
	}
	return budget.Lookup(model)
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
