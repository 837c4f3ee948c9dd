package baar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tmc/langchaingo/callbacks"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

// Defaults.
const (
	// DefaultBudget is the budget of a Router built without WithBudget or
	// WithLedger, in USD (the Python Baar-Core's default).
	DefaultBudget = 0.10
	// DefaultComplexityThreshold is the score at or above which a call goes to
	// the capable model when nothing has been spent yet. The default scorer's
	// scores are percentiles of reference traffic, so 0.80 sends about the
	// hardest 20% of calls to the capable model.
	DefaultComplexityThreshold = 0.80
	// DefaultUtilizationSlope is how much the threshold rises as the budget is
	// used up: threshold + 0.18 × spent/budget (the Python Baar-Core's rule).
	DefaultUtilizationSlope = 0.18
	// DefaultThresholdCeiling caps the risen threshold (the Python Baar-Core's
	// 0.93); it never lowers a configured threshold that is already above it.
	DefaultThresholdCeiling = 0.93
)

// Option configures a Router. Options are applied in order; a later option
// overrides an earlier one. A nil Option is ignored.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// ThresholdSchedule returns the effective complexity threshold given the
// configured threshold and the budget's utilization (spent/budget, in [0, 1]).
// The Router never uses a value below the configured threshold.
type ThresholdSchedule func(threshold, utilization float64) float64

// DefaultThresholdSchedule is min(0.93, threshold + 0.18 × utilization),
// never below threshold.
func DefaultThresholdSchedule(threshold, utilization float64) float64 {
	eff := threshold + DefaultUtilizationSlope*utilization
	if eff > DefaultThresholdCeiling {
		eff = DefaultThresholdCeiling
	}
	return max(eff, threshold)
}

type config struct {
	errs []error

	budgetUSD    float64
	budgetSet    bool
	ledger       budget.Ledger
	threshold    float64
	schedule     ThresholdSchedule
	prices       map[string]budget.Price
	maxOutput    int
	scorer       scoring.Scorer
	callbacks    callbacks.Handler
	reportFunc   func(context.Context, *CallReport)
	noFailover   bool
	capableShare *capableShare
	tel          telemetryConfig // observability options, see otel.go

	// Routing policies (policy.go).
	policies    []Policy
	valueGate   *valueGate
	exploration *exploration
	sticky      stickyConfig
}

type capableShare struct {
	share   float64
	samples []string
}

func newConfig(opts []Option) *config {
	c := &config{
		budgetUSD: DefaultBudget,
		threshold: DefaultComplexityThreshold,
		schedule:  DefaultThresholdSchedule,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// WithBudget sets the hard cap in USD for everything the Router spends
// (default $0.10). It must be finite and ≥ 0; a budget of 0 refuses every
// priced call without contacting any provider.
func WithBudget(usd float64) Option {
	return optionFunc(func(c *config) {
		if !finite(usd) || usd < 0 {
			c.fail("baar: WithBudget(%v): the budget must be a finite amount ≥ 0 USD", usd)
			return
		}
		c.budgetUSD = usd
		c.budgetSet = true
	})
}

// WithLedger makes the Router account its spending in l instead of a new
// in-memory ledger; the budget is then l's limit, and WithBudget must not be
// given. Use it to share one budget between Routers.
func WithLedger(l budget.Ledger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.fail("baar: WithLedger(nil): the ledger must not be nil")
			return
		}
		c.ledger = l
	})
}

// WithComplexityThreshold sets the score at or above which a call goes to the
// capable model (default 0.80). It must be finite.
func WithComplexityThreshold(t float64) Option {
	return optionFunc(func(c *config) {
		if !finite(t) {
			c.fail("baar: WithComplexityThreshold(%v): the threshold must be finite", t)
			return
		}
		c.threshold = t
	})
}

// WithThresholdSchedule replaces the rule by which the threshold rises with
// budget utilization (default [DefaultThresholdSchedule]).
func WithThresholdSchedule(s ThresholdSchedule) Option {
	return optionFunc(func(c *config) {
		if s == nil {
			c.fail("baar: WithThresholdSchedule(nil)")
			return
		}
		c.schedule = s
	})
}

// WithCapableShare calibrates the threshold so that about share (in [0, 1])
// of calls like samples go to the capable model: "about 20% of calls may go to
// the capable model" instead of a raw threshold. Samples should be typical
// prompts of the application's own traffic (at least 20 recommended). It
// overrides WithComplexityThreshold and is applied at New with the configured
// scorer.
func WithCapableShare(share float64, samples []string) Option {
	return optionFunc(func(c *config) {
		if !finite(share) || share < 0 || share > 1 {
			c.fail("baar: WithCapableShare(%v): the share must be in [0, 1]", share)
			return
		}
		if len(samples) == 0 {
			c.fail("baar: WithCapableShare: no sample prompts to calibrate on")
			return
		}
		c.capableShare = &capableShare{share: share, samples: append([]string(nil), samples...)}
	})
}

// WithPrice adds or overrides the price of a model (by the Tier.Name it is
// used under). Prices are in USD per million tokens and must be finite and
// ≥ 0. Use it for models missing from the embedded table: a tier whose model
// has no price makes New fail.
func WithPrice(model string, p budget.Price) Option {
	return optionFunc(func(c *config) {
		if strings.TrimSpace(model) == "" {
			c.fail("baar: WithPrice: empty model name")
			return
		}
		if err := p.Validate(); err != nil {
			c.fail("baar: WithPrice(%q): %w", model, err)
			return
		}
		if c.prices == nil {
			c.prices = make(map[string]budget.Price)
		}
		c.prices[model] = p
	})
}

// WithMaxOutputTokens sets the output cap used when a call sets no MaxTokens:
// the Router reserves n output tokens and sends llms.WithMaxTokens(n) to the
// provider, so the answer cannot cost more than reserved. Without it the cap
// is the model's maximum output from its price entry, which makes for large
// reservations.
func WithMaxOutputTokens(n int) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.fail("baar: WithMaxOutputTokens(%d): the cap must be > 0", n)
			return
		}
		c.maxOutput = n
	})
}

// WithScorer replaces the complexity scorer (default scoring.Default()).
func WithScorer(s scoring.Scorer) Option {
	return optionFunc(func(c *config) {
		if s == nil {
			c.fail("baar: WithScorer(nil)")
			return
		}
		c.scorer = s
	})
}

// WithCallbacks sets a langchaingo callbacks handler. The Router fires
// HandleLLMGenerateContentStart before every call, then
// HandleLLMGenerateContentEnd or HandleLLMError (local budget refusals
// included), whatever the provider does with its own callbacks.
func WithCallbacks(h callbacks.Handler) Option {
	return optionFunc(func(c *config) { c.callbacks = h })
}

// WithReportFunc sets a function called once at the end of every
// GenerateContent call, refusals included, with what the Router decided, each
// provider attempt and its cost. It is called synchronously on the caller's
// goroutine; it must be safe for concurrent use and must not retain the report.
func WithReportFunc(f func(ctx context.Context, r *CallReport)) Option {
	return optionFunc(func(c *config) { c.reportFunc = f })
}

// WithFailover enables or disables failover from the capable model to the
// cheap one on retryable provider errors (default enabled).
func WithFailover(enabled bool) Option {
	return optionFunc(func(c *config) { c.noFailover = !enabled })
}

func (c *config) err() error { return errors.Join(c.errs...) }
