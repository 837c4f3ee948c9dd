package baar

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// telemetryConfig holds the observability options. Its zero value means: the
// global providers, no content, the gen_ai.usage.cost alias on, no telemetry
// log.
type telemetryConfig struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	captureContent bool
	noCostAlias    bool
	logWriter      io.Writer
	logPath        string
	budgetName     string
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
// locking of its own. A failed write never fails the call; it is counted (see
// Router.TelemetryLogErrors). A nil w disables the log. `baar-telemetry`
// summarizes such logs.
func WithTelemetryLog(w io.Writer) Option {
	return optionFunc(func(c *config) { c.tel.logWriter, c.tel.logPath = w, "" })
}

// WithTelemetryLogFile is WithTelemetryLog to a file, opened by New in append
// mode (created with mode 0600 if missing); New fails if it cannot be opened.
// The file stays open for the Router's lifetime and is closed once the Router
// is garbage collected.
func WithTelemetryLogFile(path string) Option {
	return optionFunc(func(c *config) {
		if strings.TrimSpace(path) == "" {
			c.fail("baar: WithTelemetryLogFile: empty path")
			return
		}
		c.tel.logWriter, c.tel.logPath = nil, path
	})
}
