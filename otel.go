package baar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/baarcore/baar/budget"
)

// telemetry emits the Router's OpenTelemetry spans and metrics and writes its
// telemetry log. Its hooks are called by the data path in llm.go; each is
// cheap when nothing records: attributes are built only for recording spans
// and enabled instruments.
type telemetry struct {
	tracer     trace.Tracer
	tokenUsage metric.Int64Histogram
	duration   metric.Float64Histogram
	cost       metric.Float64Counter
	decisions  metric.Int64Counter
	alerts     metric.Int64Counter // baar.budget.alerts (alerts.go)
	// alertThresholds are WithBudgetAlerts' thresholds, on every
	// telemetry-log line (baar-telemetry --html draws them).
	alertThresholds []float64
	// budget is read by the budget gauges' callback; it holds no reference to
	// the telemetry, so that a Router's log file can be closed when the Router
	// is collected.
	budget *ledgerRef

	captureContent bool
	costAlias      bool
	budgetName     attribute.KeyValue // baar.budget.name, or the zero KeyValue
	log            *telemetryLog      // nil when off

	spanNames   sync.Map // model → "chat {model}"
	attemptOpts sync.Map // attemptKey → *attemptOpts
	cachedOpts  atomic.Int64
}

// ledgerRef is the ledger the budget gauges observe, set once it exists.
type ledgerRef struct{ l atomic.Pointer[budget.Ledger] }

func (r *ledgerRef) set(l budget.Ledger) {
	if l != nil {
		r.l.Store(&l)
	}
}

var (
	callStartOpts    = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
	attemptStartOpts = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	decisionOpts     = func() map[Decision]metric.AddOption {
		m := make(map[Decision]metric.AddOption)
		for _, d := range []Decision{DecisionCheap, DecisionCapable, DecisionDowngraded, DecisionRejected, DecisionFailover} {
			m[d] = metric.WithAttributeSet(attribute.NewSet(keyDecision.String(string(d))))
		}
		return m
	}()
)

// newTelemetry builds the Router's telemetry from its options: the tracer and
// the instruments from the configured (else the global) providers, the budget
// gauges, and the telemetry log. Only a telemetry log file that cannot be
// opened is an error; instrument errors are reported to otel.Handle.
func newTelemetry(c *config) (*telemetry, error) {
	tc := &c.tel
	tp := tc.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := tc.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &telemetry{
		tracer: tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version),
			trace.WithSchemaURL(schemaURL)),
		budget:         &ledgerRef{},
		captureContent: tc.captureContent,
		costAlias:      !tc.noCostAlias,
	}
	if tc.budgetName != "" {
		t.budgetName = keyBudgetName.String(tc.budgetName)
	}
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version), metric.WithSchemaURL(schemaURL))
	if err := t.instruments(meter); err != nil {
		otel.Handle(fmt.Errorf("baar: telemetry: %w", err))
	}
	t.budget.set(c.ledger)

	switch {
	case tc.logPath != "":
		f, err := os.OpenFile(tc.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("baar: WithTelemetryLogFile: %w", err)
		}
		t.log = &telemetryLog{w: f, closer: f}
		// A Router dropped without Close still closes its file.
		runtime.AddCleanup(t, func(f *os.File) { _ = f.Close() }, f)
	case tc.logWriter != nil:
		t.log = &telemetryLog{w: tc.logWriter}
	}
	return t, nil
}

// instruments creates the metric instruments; an instrument that cannot be
// created is replaced by a no-op one.
func (t *telemetry) instruments(m metric.Meter) error {
	var errs []error
	var noop metricnoop.Meter
	var err error
	if t.tokenUsage, err = m.Int64Histogram(metricTokenUsage, metric.WithUnit(unitToken),
		metric.WithDescription("Number of input and output tokens used by each provider attempt."),
		metric.WithExplicitBucketBoundaries(tokenUsageBuckets...)); err != nil {
		errs = append(errs, err)
		t.tokenUsage, _ = noop.Int64Histogram(metricTokenUsage)
	}
	if t.duration, err = m.Float64Histogram(metricOperationDuration, metric.WithUnit(unitSeconds),
		metric.WithDescription("Duration of each provider attempt."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		errs = append(errs, err)
		t.duration, _ = noop.Float64Histogram(metricOperationDuration)
	}
	if t.cost, err = m.Float64Counter(metricCost, metric.WithUnit(unitUSD),
		metric.WithDescription("USD spent, as recorded in the budget, by model and tier.")); err != nil {
		errs = append(errs, err)
		t.cost, _ = noop.Float64Counter(metricCost)
	}
	if t.decisions, err = m.Int64Counter(metricDecisions, metric.WithUnit(unitCall),
		metric.WithDescription("Router calls by routing decision: cheap, capable, downgraded, rejected, failover.")); err != nil {
		errs = append(errs, err)
		t.decisions, _ = noop.Int64Counter(metricDecisions)
	}
	if t.alerts, err = m.Int64Counter(metricAlerts, metric.WithUnit("{alert}"),
		metric.WithDescription("Budget alert thresholds crossed (WithBudgetAlerts), by threshold.")); err != nil {
		errs = append(errs, err)
		t.alerts, _ = noop.Int64Counter(metricAlerts)
	}
	remaining, err1 := m.Float64ObservableGauge(metricBudgetRemaining, metric.WithUnit(unitUSD),
		metric.WithDescription("USD left in the budget: limit − spent − reservations of calls in flight."))
	limit, err2 := m.Float64ObservableGauge(metricBudgetLimit, metric.WithUnit(unitUSD),
		metric.WithDescription("The budget's cap in USD."))
	spent, err3 := m.Float64ObservableGauge(metricBudgetSpent, metric.WithUnit(unitUSD),
		metric.WithDescription("USD spent (settled) from the budget."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return errors.Join(append(errs, err)...)
	}
	ref := t.budget // the callback must not hold t
	var gaugeOpts []metric.ObserveOption
	if t.budgetName.Valid() {
		gaugeOpts = append(gaugeOpts, metric.WithAttributeSet(attribute.NewSet(t.budgetName)))
	}
	if _, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		lp := ref.l.Load()
		if lp == nil {
			return nil
		}
		st, err := (*lp).State(ctx)
		if err != nil {
			return fmt.Errorf("baar: reading the budget for its gauges: %w", err)
		}
		o.ObserveFloat64(remaining, st.Remaining().USD(), gaugeOpts...)
		o.ObserveFloat64(limit, st.Limit.USD(), gaugeOpts...)
		o.ObserveFloat64(spent, st.Spent.USD(), gaugeOpts...)
		return nil
	}, remaining, limit, spent); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// observeLedger makes the budget gauges observe l, the Router's ledger. New
// calls it once the ledger exists (a WithLedger ledger is observed from the
// start).
func (t *telemetry) observeLedger(l budget.Ledger) {
	if t != nil {
		t.budget.set(l)
	}
}

// callSpan is the INTERNAL span of one GenerateContent call.
type callSpan struct{ span trace.Span }

// attemptSpan is the CLIENT span of one provider attempt.
type attemptSpan struct{ span trace.Span }

// startCall starts the span of a GenerateContent call.
func (t *telemetry) startCall(ctx context.Context) (context.Context, callSpan) {
	if t == nil {
		return ctx, callSpan{}
	}
	ctx, span := t.tracer.Start(ctx, spanRoute, callStartOpts...)
	return ctx, callSpan{span: span}
}

// endCall ends the call's span with the report's decision and figures, records
// the call's metrics, and writes its telemetry-log line.
func (t *telemetry) endCall(ctx context.Context, s callSpan, rep *CallReport) {
	if t == nil || s.span == nil {
		return
	}
	span := s.span
	errType := callErrorType(rep)
	if span.IsRecording() {
		b := getAttrs()
		b.a = callAttributes(b.a, rep)
		if t.budgetName.Valid() {
			b.a = append(b.a, t.budgetName)
		}
		if rep.Err != nil {
			b.a = append(b.a, keyErrorType.String(errType))
			span.SetStatus(codes.Error, callErrorDescription(rep, errType))
		}
		span.SetAttributes(b.a...)
		putAttrs(b)
	}
	span.End()
	if t.decisions.Enabled(ctx) {
		if opt, ok := decisionOpts[rep.Decision]; ok {
			t.decisions.Add(ctx, 1, opt)
		} else {
			t.decisions.Add(ctx, 1, metric.WithAttributes(keyDecision.String(string(rep.Decision))))
		}
	}
	if t.log != nil {
		rec := newLogRecord(rep, errType, span.SpanContext())
		rec.AlertThresholds = t.alertThresholds
		t.log.write(rec)
	}
}

// attrBuf is a reusable attribute slice: the SDK copies the attributes it is
// given, so the slice can be reused once SetAttributes or Start returns.
type attrBuf struct{ a []attribute.KeyValue }

var attrPool = sync.Pool{New: func() any { return &attrBuf{a: make([]attribute.KeyValue, 0, 24)} }}

func getAttrs() *attrBuf { return attrPool.Get().(*attrBuf) }

func putAttrs(b *attrBuf) {
	clear(b.a)
	b.a = b.a[:0]
	attrPool.Put(b)
}

// callAttributes appends the call span's attributes to attrs.
func callAttributes(attrs []attribute.KeyValue, rep *CallReport) []attribute.KeyValue {
	attrs = append(attrs,
		keyDecision.String(string(rep.Decision)),
		keyThreshold.Float64(rep.Threshold),
		keyBudgetLimit.Float64(rep.Budget),
		keySpentBefore.Float64(rep.SpentBefore),
		keySpentAfter.Float64(rep.SpentAfter),
		keyRemaining.Float64(rep.Remaining),
		keyReserved.Float64(rep.Estimated),
		keyEstimated.Float64(estimated(rep)),
		keyCost.Float64(rep.Cost),
	)
	if !math.IsNaN(rep.Score) {
		attrs = append(attrs, keyScore.Float64(rep.Score))
	}
	if rep.ScoreErr != nil {
		attrs = append(attrs, keyScorerFailed.Bool(true))
	}
	if rep.Tier != "" {
		attrs = append(attrs, keyTier.String(string(rep.Tier)))
	}
	if rep.Model != "" {
		attrs = append(attrs, keyModel.String(rep.Model))
	}
	if rep.Policy != "" {
		attrs = append(attrs, keyPolicy.String(string(rep.Policy)))
	}
	if rep.Reason != "" && rep.Policy != PolicyThreshold {
		// The threshold's reason is its score against its threshold, both
		// on the span already.
		attrs = append(attrs, keyPolicyReason.String(rep.Reason))
	}
	if rep.Conversation != "" {
		attrs = append(attrs, keyConversationID.String(rep.Conversation))
	}
	if rep.Downgrade != nil {
		attrs = append(attrs, keyDowngradeNeeded.Float64(rep.Downgrade.Requested))
	}
	if rep.Verifier != "" {
		attrs = append(attrs,
			keyCascadeVerifier.String(rep.Verifier),
			keyCascadeThreshold.Float64(rep.EscalationThreshold),
			keyCascadeEscalated.Bool(rep.Escalated))
		if !math.IsNaN(rep.Doubt) {
			attrs = append(attrs, keyCascadeDoubt.Float64(rep.Doubt))
		}
		if rep.Escalation != "" {
			attrs = append(attrs, keyCascadeEscalation.String(string(rep.Escalation)))
		}
		if rep.VerifyErr != nil {
			attrs = append(attrs, keyCascadeVerifyErr.Bool(true))
		}
	}
	return attrs
}

// estimated is the worst-case cost the Router computed for the call: the sum
// of its reservations or, for a budget refusal, the refused amount.
func estimated(rep *CallReport) float64 {
	var be *BudgetError
	if rep.Estimated == 0 && rep.Err != nil && errors.As(rep.Err, &be) {
		return be.Requested
	}
	return rep.Estimated
}

// callErrorType is the error.type of a call: the class of a refusal, else the
// class of the last attempt's error ("" on success).
func callErrorType(rep *CallReport) string {
	err := rep.Err
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBudgetExceeded):
		return errTypeBudget
	case errors.Is(err, ErrLedgerUnavailable):
		return errTypeLedger
	case errors.Is(err, ErrInvalidRequest):
		return errTypeInvalid
	}
	if n := len(rep.Attempts); n > 0 && rep.Attempts[n-1].ErrClass != "" {
		return string(rep.Attempts[n-1].ErrClass)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errTypeCanceled
	}
	return errTypeOther
}

// callErrorDescription is the status description of a failed call: the
// Router's own message for a local refusal (no provider text in it), else
// the error class only, since provider errors may quote response bodies.
func callErrorDescription(rep *CallReport, errType string) string {
	if len(rep.Attempts) == 0 {
		return rep.Err.Error()
	}
	return "provider error: " + errType
}

// startAttempt starts the span of a provider attempt, a child of the call's.
func (t *telemetry) startAttempt(ctx context.Context, tr *tierModel, a *Attempt) (context.Context, attemptSpan) {
	if t == nil {
		return ctx, attemptSpan{}
	}
	ctx, span := t.tracer.Start(ctx, t.spanName(a.Model), attemptStartOpts...)
	return ctx, attemptSpan{span: span}
}

func (t *telemetry) spanName(model string) string {
	if v, ok := t.spanNames.Load(model); ok {
		return v.(string)
	}
	name := opChat + " " + model
	t.spanNames.Store(model, name)
	return name
}

// attemptStartAttributes appends an attempt span's request attributes to
// attrs.
func attemptStartAttributes(attrs []attribute.KeyValue, tr *tierModel, a *Attempt) []attribute.KeyValue {
	attrs = append(attrs,
		keyOperationName.String(opChat),
		keyRequestModel.String(a.Model),
		keyRequestMaxTokens.Int(a.MaxTokens),
		keyTier.String(string(a.Tier)),
	)
	provider := a.Provider
	if provider == "" && tr != nil {
		provider = tr.Provider
	}
	if provider != "" {
		attrs = append(attrs, keyProviderName.String(provider))
	}
	if a.Streaming {
		attrs = append(attrs, keyRequestStream.Bool(true))
	}
	if a.PriceSource != "" {
		attrs = append(attrs, keyPriceSource.String(a.PriceSource))
	}
	if a.Step != "" && a.Step != StepAnswer {
		attrs = append(attrs, keyAttemptStep.String(string(a.Step)))
	}
	return attrs
}

// endAttempt ends an attempt's span with its usage, cost and error, and
// records the attempt's metrics.
func (t *telemetry) endAttempt(ctx context.Context, s attemptSpan, a *Attempt) {
	if t == nil || s.span == nil {
		return
	}
	span := s.span
	if span.IsRecording() {
		b := getAttrs()
		attrs := attemptStartAttributes(b.a, nil, a)
		attrs = append(attrs, keyCost.Float64(a.Cost))
		if a.UsageSource != UsageFromProvider {
			// Provider-reported usage is told by the token counts below;
			// any other source (reservation, none) is named.
			attrs = append(attrs, keyUsageSource.String(string(a.UsageSource)))
		}
		if t.costAlias {
			attrs = append(attrs, keyUsageCostAlias.Float64(a.Cost))
		}
		if a.ResponseModel != "" {
			attrs = append(attrs, keyResponseModel.String(a.ResponseModel))
		}
		if a.UsageSource == UsageFromProvider {
			u := a.Usage
			attrs = append(attrs, keyInputTokens.Int64(u.InputTokens), keyOutputTokens.Int64(u.OutputTokens))
			if u.CacheReadTokens > 0 {
				attrs = append(attrs, keyCacheReadTokens.Int64(u.CacheReadTokens))
			}
			if u.CacheWriteTokens > 0 {
				attrs = append(attrs, keyCacheCreateTokens.Int64(u.CacheWriteTokens))
			}
			if u.ReasoningTokens > 0 {
				attrs = append(attrs, keyReasoningTokens.Int64(u.ReasoningTokens))
			}
		}
		if len(a.FinishReasons) > 0 {
			attrs = append(attrs, keyFinishReasons.StringSlice(a.FinishReasons))
		}
		if a.Err != nil {
			attrs = append(attrs, keyErrorType.String(string(a.ErrClass)))
			span.SetStatus(codes.Error, "provider error: "+string(a.ErrClass))
		}
		span.SetAttributes(attrs...)
		b.a = attrs
		putAttrs(b)
	}
	span.End()
	t.attemptMetrics(ctx, a)
}

func (t *telemetry) attemptMetrics(ctx context.Context, a *Attempt) {
	dur, tok, cost := t.duration.Enabled(ctx), t.tokenUsage.Enabled(ctx), t.cost.Enabled(ctx)
	if !dur && !tok && !cost {
		return
	}
	o := t.metricOpts(a)
	if cost && a.UsageSource != UsageNone {
		t.cost.Add(ctx, a.Cost, o.cost)
	}
	if dur {
		t.duration.Record(ctx, a.Latency.Seconds(), o.duration)
	}
	if tok && a.UsageSource == UsageFromProvider {
		t.tokenUsage.Record(ctx, a.Usage.InputTokens, o.input)
		t.tokenUsage.Record(ctx, a.Usage.OutputTokens, o.output)
	}
}

// attemptKey is what an attempt's metric attributes depend on.
type attemptKey struct {
	model         string
	tier          TierLabel
	provider      string
	responseModel string
	errClass      ErrorClass
}

// attemptOpts are the attribute sets of an attempt's measurements.
type attemptOpts struct {
	cost     metric.AddOption
	duration metric.RecordOption
	input    metric.RecordOption
	output   metric.RecordOption
}

// maxCachedAttemptOpts bounds the cache of attribute sets (the keys are
// low-cardinality: models, tiers and error classes).
const maxCachedAttemptOpts = 1024

// metricOpts returns the attribute sets of a's measurements, built once per
// distinct model, tier, provider, response model and error class.
func (t *telemetry) metricOpts(a *Attempt) *attemptOpts {
	k := attemptKey{a.Model, a.Tier, a.Provider, a.ResponseModel, a.ErrClass}
	if v, ok := t.attemptOpts.Load(k); ok {
		return v.(*attemptOpts)
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, keyOperationName.String(opChat), keyRequestModel.String(a.Model))
	if a.Provider != "" {
		attrs = append(attrs, keyProviderName.String(a.Provider))
	}
	if a.ResponseModel != "" {
		attrs = append(attrs, keyResponseModel.String(a.ResponseModel))
	}
	n := len(attrs)
	dattrs := attrs
	if a.Err != nil {
		dattrs = append(attrs[:n:n], keyErrorType.String(string(a.ErrClass)))
	}
	o := &attemptOpts{
		cost:     metric.WithAttributeSet(attribute.NewSet(keyRequestModel.String(a.Model), keyTier.String(string(a.Tier)))),
		duration: metric.WithAttributeSet(attribute.NewSet(dattrs...)),
		input:    metric.WithAttributeSet(attribute.NewSet(append(attrs[:n:n], keyTokenType.String(tokenTypeInput))...)),
		output:   metric.WithAttributeSet(attribute.NewSet(append(attrs[:n:n], keyTokenType.String(tokenTypeOutput))...)),
	}
	if t.cachedOpts.Add(1) <= maxCachedAttemptOpts {
		t.attemptOpts.Store(k, o)
	}
	return o
}

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
