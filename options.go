package baar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tmc/langchaingo/callbacks"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

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
	// DefaultEscalationThreshold is the doubt at or above which a cascade
	// escalates: the verifier's doubt is the chance that the cheap answer is
	// wrong, so by default a call escalates when its cheap answer is more
	// likely wrong than right.
	DefaultEscalationThreshold = 0.5
	// DefaultMaxOutputTokens is the output cap of a call that sets none
	// (llms.WithMaxTokens) on a Router without WithMaxOutputTokens: 4,096
	// tokens, or the model's maximum output if lower, or 2,048 for the
	// providers whose langchaingo client sends 2,048 by default (anthropic,
	// gcp.gemini, gcp.vertex_ai), so the Router never raises a client's own
	// default. It bounds what a call may cost, and so what it reserves.
	DefaultMaxOutputTokens = 4096
	// DefaultMinOutputTokens is the floor of an output cap fitted to what is
	// left of the budget (see WithMinOutputTokens).
	DefaultMinOutputTokens = 256
	// defaultUtilizationSlope is how much the threshold rises as the budget is
	// used up: threshold + 0.18 × spent/budget (the Python Baar-Core's rule).
	defaultUtilizationSlope = 0.18
	// defaultThresholdCeiling caps the risen threshold (the Python Baar-Core's
	// 0.93); it never lowers a configured threshold that is already above it.
	defaultThresholdCeiling = 0.93
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
	eff := threshold + defaultUtilizationSlope*utilization
	if eff > defaultThresholdCeiling {
		eff = defaultThresholdCeiling
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
	priceTable   *budget.PriceTable
	maxOutput    int
	minOutput    int
	keyBudgetUSD float64
	keyBudgetSet bool
	scorer       scoring.Scorer
	callbacks    callbacks.Handler
	reportFunc   func(context.Context, *CallReport)
	noFailover   bool
	capableShare *capableShare

	// Cascade (cascade.go).
	cascade             scoring.Verifier
	escalationThreshold float64
	escalationShare     *escalationShare
	cascadeBypass       float64
	tel                 telemetryConfig // observability options, see otel.go

	// Routing policies (policy.go).
	policies    []Policy
	valueGate   *gatePolicy
	exploration *exploration
	sticky      StickyConversations

	alerts *alertConfig // WithBudgetAlerts (alerts.go)
}

type escalationShare struct {
	share   float64
	samples []EscalationSample
}

type capableShare struct {
	share   float64
	samples []string
}

func newConfig(opts []Option) *config {
	c := &config{
		budgetUSD:           DefaultBudget,
		threshold:           DefaultComplexityThreshold,
		escalationThreshold: DefaultEscalationThreshold,
		minOutput:           DefaultMinOutputTokens,
		schedule:            DefaultThresholdSchedule,
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
// capable model (default [DefaultComplexityThreshold]). It must be in [0, 1].
func WithComplexityThreshold(t float64) Option {
	return optionFunc(func(c *config) {
		if !finite(t) || t < 0 || t > 1 {
			c.fail("baar: WithComplexityThreshold(%v): the threshold must be in [0, 1] (scores are in [0, 1]; 1 sends only the hardest calls, those scoring exactly 1, to the capable model)", t)
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
// ≥ 0. Use it for models missing from the price table (a tier whose model has
// no price makes New fail) or to correct a listed one: the fields left zero
// keep the listed row's values (cached-input and cache-write rates,
// long-context tier, token limits).
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

// WithPriceTable replaces the embedded price table (budget.EmbeddedPrices)
// with t, e.g. one loaded from LiteLLM's price file and layered over the
// embedded one:
//
//	file, err := budget.LoadLiteLLMPricesFile("model_prices_and_context_window.json")
//	…
//	baar.WithPriceTable(budget.LayerPrices(budget.EmbeddedPrices(), file))
//
// WithPrice still overrides it. The table's provenance (t.Source()) shows in
// errors, and each attempt's price provenance in CallReport and on spans.
// The Router never fetches prices from the network.
func WithPriceTable(t *budget.PriceTable) Option {
	return optionFunc(func(c *config) {
		if t == nil {
			c.fail("baar: WithPriceTable(nil): give a table, e.g. budget.EmbeddedPrices()")
			return
		}
		c.priceTable = t
	})
}

// WithMaxOutputTokens sets the output cap used when a call sets no MaxTokens:
// the Router reserves n output tokens and sends llms.WithMaxTokens(n) to the
// provider, so the answer cannot cost more than reserved. Without it the cap
// is [DefaultMaxOutputTokens] (lower for some models and clients). n must not
// exceed either model's maximum output.
func WithMaxOutputTokens(n int) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.fail("baar: WithMaxOutputTokens(%d): the cap must be > 0", n)
			return
		}
		c.maxOutput = n
	})
}

// WithMinOutputTokens sets the floor of an output cap fitted to the budget
// (default [DefaultMinOutputTokens]). Near the end of a budget, a call whose
// worst case at its output cap does not fit gets the largest cap that fits,
// down to n tokens, before the Router downgrades or refuses it; the attempt
// reports it (Attempt.CapFitted) and the answer may stop at the cap (finish
// reason "length"). Only caps the Router chose are fitted: a call's own
// llms.WithMaxTokens never is. n must be ≥ 1; a floor equal to the cap
// disables fitting.
func WithMinOutputTokens(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail("baar: WithMinOutputTokens(%d): the floor must be ≥ 1 token", n)
			return
		}
		c.minOutput = n
	})
}

// WithKeyBudget gives every budget key (ContextWithBudgetKey) a budget of its
// own of usd, besides the global one, in the Router's in-memory ledger: a
// call must fit both. Without it, a call that names a key on a Router with
// the default ledger is refused (ErrInvalidRequest), so that a key is never
// silently ignored. For limits per key, windows or a shared store, use
// WithLedger with budget.NewScoped, budget.OpenFile or redisledger.New and
// their budget.Limits.
func WithKeyBudget(usd float64) Option {
	return optionFunc(func(c *config) {
		if !finite(usd) || usd < 0 {
			c.fail("baar: WithKeyBudget(%v): the budget must be a finite amount ≥ 0 USD", usd)
			return
		}
		c.keyBudgetUSD, c.keyBudgetSet = usd, true
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

// WithPolicy adds a routing policy under a name (used in reports, spans and
// the telemetry log). User policies run after the built-in ones, in the order
// given, and have the last word on the tier (the budget still downgrades and
// refuses). Examples: tool calls always to the capable model; images never to
// the cheap one.
func WithPolicy(name string, p Policy) Option {
	return optionFunc(func(c *config) {
		if p == nil || name == "" {
			c.fail("baar: WithPolicy(%q, %v): a policy needs a name and must not be nil", name, p)
			return
		}
		c.policies = append(c.policies, namedPolicy{name: PolicyName(name), p: p})
	})
}

// WithValueFunc enables the value gate with value function f and the
// defaults of [ValueGate]: WithValueGate(ValueGate{Value: f}).
func WithValueFunc(f ValueFunc) Option { return WithValueGate(ValueGate{Value: f}) }

// WithValueGate enables the value gate ([ValueGate]; Value is required,
// zero fields take the defaults).
func WithValueGate(g ValueGate) Option {
	return optionFunc(func(c *config) {
		if g.Value == nil {
			c.fail("baar: WithValueGate: ValueGate.Value is nil: the gate needs a value function")
			return
		}
		if g.Alpha == 0 {
			g.Alpha = DefaultValueAlpha
		}
		if g.MinGated == 0 {
			g.MinGated = DefaultMinGatedCalls
		}
		if g.MaxRejectRate == 0 {
			g.MaxRejectRate = DefaultMaxRejectRate
		}
		if !finite(g.Alpha) || g.Alpha < 0 || g.MinGated < 0 || !finite(g.MaxRejectRate) || g.MaxRejectRate < 0 || g.MaxRejectRate > 1 {
			c.fail("baar: WithValueGate(%+v): Alpha must be finite and ≥ 0, MinGated ≥ 0, MaxRejectRate in [0, 1]", ValueGate{Alpha: g.Alpha, MinGated: g.MinGated, MaxRejectRate: g.MaxRejectRate})
			return
		}
		c.valueGate = &gatePolicy{g: g}
	})
}

// WithExploration sends a call that would go to the capable model to the
// cheap one with probability rate (in [0, 1]), recorded as "exploration", so
// the cheap model's answers can be compared. The draws are a deterministic
// sequence for a given seed (the n-th call routed to capable gets the n-th
// draw), and safe under concurrency.
func WithExploration(rate float64, seed int64) Option {
	return optionFunc(func(c *config) {
		if !finite(rate) || rate < 0 || rate > 1 {
			c.fail("baar: WithExploration(%v): the rate must be in [0, 1]", rate)
			return
		}
		c.exploration = &exploration{rate: rate, seed: uint64(seed)}
	})
}

// WithStickyConversations bounds sticky conversations (see
// [StickyConversations]; zero fields take the defaults). Without this option
// a conversation stays on the capable model for [DefaultStickyTTL] after it
// was last answered there, with no step limit, and the Router remembers
// [DefaultStickyCacheSize] conversations.
func WithStickyConversations(s StickyConversations) Option {
	return optionFunc(func(c *config) {
		if s.MaxSteps < 0 || s.CacheSize < 0 {
			c.fail("baar: WithStickyConversations(%+v): MaxSteps and CacheSize must be ≥ 0", s)
			return
		}
		c.sticky = s
	})
}

// WithTracerProvider sets the provider of the Router's tracer. By default (or
// with nil) the Router uses the global provider, otel.GetTracerProvider(),
// which delegates to the SDK the application installs, even after New.
//
// Each GenerateContent call gets an INTERNAL span "baar.route" carrying the
// routing decision, the complexity score and threshold, the budget figures and
// the estimated and actual cost; each provider attempt gets a CLIENT child
// span "chat {model}" with the GenAI semantic-convention attributes (v1.41.0)
// and its cost. See docs/observability.md.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tel.tracerProvider = tp })
}

// WithMeterProvider sets the provider of the Router's meter. By default (or
// with nil) the Router uses the global provider, otel.GetMeterProvider().
//
// The Router records gen_ai.client.token.usage and
// gen_ai.client.operation.duration (with the conventions' bucket boundaries),
// a USD cost counter "baar.cost" by model and tier, a decisions counter
// "baar.decisions", and the budget's remaining, limit and spent amounts as
// observable gauges.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.tel.meterProvider = mp })
}

// WithBudgetName names the Router's budget in its telemetry: the attribute
// baar.budget.name on the budget gauges (baar.budget.remaining, .limit,
// .spent) and on every call's baar.route span. Without it the gauges carry no
// attribute, so Routers with different budgets that share a meter provider
// would report over one another; give each budget its own name ("tenant-42",
// "nightly-batch"). The name must be non-empty, valid UTF-8 text of at most
// 128 bytes, and low-cardinality: one series per name.
func WithBudgetName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" || len(name) > 128 || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
			c.fail("baar: WithBudgetName(%q): want non-empty UTF-8 text of at most 128 bytes, no control characters", name)
			return
		}
		c.tel.budgetName = name
	})
}

// WithContentCapture makes the attempts' spans carry the prompt and the
// completion, as the structured attributes gen_ai.input.messages and
// gen_ai.output.messages of the GenAI semantic conventions v1.41.0. Off by
// default: prompts and completions often hold personal data. The telemetry log
// never holds them.
func WithContentCapture(enabled bool) Option {
	return optionFunc(func(c *config) { c.tel.captureContent = enabled })
}

// WithCostAlias sets whether the attempts' spans also carry their USD cost as
// gen_ai.usage.cost, the de-facto attribute read by OpenLIT, Langfuse and
// Bifrost (default on). It is not a semantic convention, and it conflicts with
// the proposed gen_ai.usage.cost.* namespace: turn it off if your backend
// follows that proposal. The cost is always under baar.cost.usd.
func WithCostAlias(enabled bool) Option {
	return optionFunc(func(c *config) { c.tel.noCostAlias = !enabled })
}

// WithTelemetryLog writes one JSON line per GenerateContent call to w:
// refusals, downgrades and failovers included, with the decision, the score,
// the tokens, the costs, the budget, the attempts and their classified errors,
// and the trace and span ids. It never contains prompt or completion text.
// Lines are written whole, one Write per line, under a mutex, so w needs no
// locking of its own. A failed write never fails the call; it is reported to
// OpenTelemetry's error handler (otel.SetErrorHandler). A nil w disables the log. `baar-telemetry`
// summarizes such logs.
func WithTelemetryLog(w io.Writer) Option {
	return optionFunc(func(c *config) { c.tel.logWriter, c.tel.logPath = w, "" })
}

// WithTelemetryLogFile is WithTelemetryLog to a file, opened by New in append
// mode (created with mode 0600 if missing); New fails if it cannot be opened.
// Router.Close closes it (a Router dropped without Close closes it when it
// is garbage collected).
func WithTelemetryLogFile(path string) Option {
	return optionFunc(func(c *config) {
		if strings.TrimSpace(path) == "" {
			c.fail("baar: WithTelemetryLogFile: empty path")
			return
		}
		c.tel.logWriter, c.tel.logPath = nil, path
	})
}

// WithCascade makes the Router a cascade: the cheap model answers first, v
// judges the answer, and the capable model is asked only when v's doubt
// reaches the escalation threshold (default [DefaultEscalationThreshold]).
// Use scoring.DefaultVerifier() (offline, microseconds), scoring.Agreement(k)
// (self-consistency of k cheap answers), JudgeVerifier (a model judges), or
// a scoring.VerifierFunc of your own (run the code the model wrote). The
// complexity scorer no longer routes, but for the bypass (WithCascadeBypass)
// and the policies: a sticky conversation, a value gate or a policy of yours
// that picks a model is obeyed. See the package documentation for the data
// path, the budget and streaming.
func WithCascade(v scoring.Verifier) Option {
	return optionFunc(func(c *config) {
		if v == nil {
			c.fail("baar: WithCascade(nil): the cascade needs a verifier, e.g. scoring.DefaultVerifier()")
			return
		}
		c.cascade = v
	})
}

// WithEscalationThreshold sets the doubt (in [0, 1]) at or above which a
// cascade escalates to the capable model (default
// [DefaultEscalationThreshold]). Like the complexity threshold it rises as
// the budget is used up; ContextWithEscalationThreshold overrides it per
// call.
func WithEscalationThreshold(t float64) Option {
	return optionFunc(func(c *config) {
		if !finite(t) || t < 0 || t > 1 {
			c.fail("baar: WithEscalationThreshold(%v): the threshold must be in [0, 1]", t)
			return
		}
		c.escalationThreshold = t
	})
}

// WithEscalationShare calibrates the escalation threshold so that about share
// (in [0, 1]) of calls like samples escalate: "about 15% of calls may reach
// the capable model". Samples are typical prompts with the cheap model's
// answers (at least 20 recommended). It overrides WithEscalationThreshold and
// is applied at New with the cascade's verifier.
func WithEscalationShare(share float64, samples []EscalationSample) Option {
	return optionFunc(func(c *config) {
		if !finite(share) || share < 0 || share > 1 {
			c.fail("baar: WithEscalationShare(%v): the share must be in [0, 1]", share)
			return
		}
		if len(samples) == 0 {
			c.fail("baar: WithEscalationShare: no samples to calibrate on")
			return
		}
		c.escalationShare = &escalationShare{share: share, samples: append([]EscalationSample(nil), samples...)}
	})
}

// WithCascadeBypass makes a cascade a hybrid: a call whose complexity score
// is at or above bar (in (0, 1]) goes straight to the capable model, without
// a cheap answer first. Off by default (see the README's benchmark for
// why).
func WithCascadeBypass(bar float64) Option {
	return optionFunc(func(c *config) {
		if !finite(bar) || bar <= 0 || bar > 1 {
			c.fail("baar: WithCascadeBypass(%v): the bar must be in (0, 1]", bar)
			return
		}
		c.cascadeBypass = bar
	})
}

// WithBudgetAlerts calls fn when the settled spend of a budget (the global
// one, or a key's main budget) reaches a threshold, a fraction in (0, 1] of
// its limit: for instance 0.5, 0.8 and 0.95. Spend is counted when a call is
// settled, never from reservations. Each threshold fires once per budget,
// key and window (budget.Limits.Window).
//
// When the ledger implements budget.Alerter — every ledger of this module
// does: the default one, budget.NewMemory, budget.NewScoped and
// pgledger.New — the mark of a threshold is set in the ledger's store
// atomically with the spend that crossed it, so that it fires exactly once
// however many Routers and processes share the store, and a crash never
// loses it. With another ledger only the global budget is watched, and its
// marks are kept by this Router, in memory: each process fires its own, a
// restart fires them again, and the marks start again when the spend falls
// below the lowest threshold (a new window).
//
// fn never delays a call: alerts go through a queue of 256 to one
// goroutine, which calls fn with a context that keeps the crossing call's
// values but not its cancellation. When the queue is full the alert is
// dropped and counted (Router.DroppedBudgetAlerts); fn should return
// quickly and hand slow work (a webhook) to its own goroutines. The call
// that crossed a threshold also gets a span event "baar.budget.alert", the
// counter baar.budget.alerts is incremented, and the telemetry log's record
// of the call lists it.
func WithBudgetAlerts(thresholds []float64, fn func(ctx context.Context, a BudgetAlert)) Option {
	return optionFunc(func(c *config) {
		if fn == nil {
			c.fail("baar: WithBudgetAlerts: the callback must not be nil")
			return
		}
		if _, err := budget.AlertLevels(thresholds); err != nil {
			c.fail("baar: WithBudgetAlerts(%v): %v", thresholds, err)
			return
		}
		c.alerts = &alertConfig{thresholds: slices.Clone(thresholds), fn: fn}
	})
}
