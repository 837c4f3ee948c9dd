package baar

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/baarcore/baar/internal/telemetrylog"
)

// embedTelemetry is an Embedder's telemetry: the Router's (tracer,
// instruments, budget gauges, telemetry log) with the span name and the
// metric attribute sets of the Embedder's one model, built once.
type embedTelemetry struct {
	*telemetry
	spanName string
	request  []attribute.KeyValue // operation, model, provider
	// The attribute sets of the cost, duration and input-token measurements.
	costOpt     metric.AddOption
	durationOpt metric.RecordOption
	inputOpt    metric.RecordOption
}

// embedSpan is the CLIENT span of one Embedder call.
type embedSpan struct{ span trace.Span }

func newEmbedTelemetry(t *telemetry, model, provider string) *embedTelemetry {
	request := []attribute.KeyValue{keyOperationName.String(opEmbeddings), keyRequestModel.String(model)}
	if provider != "" {
		request = append(request, keyProviderName.String(provider))
	}
	n := len(request)
	return &embedTelemetry{
		telemetry:   t,
		spanName:    opEmbeddings + " " + model,
		request:     request,
		costOpt:     metric.WithAttributeSet(attribute.NewSet(keyRequestModel.String(model), keyOperationName.String(opEmbeddings))),
		durationOpt: metric.WithAttributeSet(attribute.NewSet(request...)),
		inputOpt:    metric.WithAttributeSet(attribute.NewSet(append(request[:n:n], keyTokenType.String(tokenTypeInput))...)),
	}
}

// start starts the span of a call.
func (t *embedTelemetry) start(ctx context.Context) (context.Context, embedSpan) {
	ctx, span := t.tracer.Start(ctx, t.spanName, attemptStartOpts...)
	return ctx, embedSpan{span: span}
}

// end ends a call's span with its figures, records its metrics and writes
// its telemetry-log line. A refusal (no attempt) records no metric but its
// span and its line.
func (t *embedTelemetry) end(ctx context.Context, s embedSpan, rep *CallReport, st embedStats) {
	var a *Attempt
	if len(rep.Attempts) > 0 {
		a = &rep.Attempts[0]
	}
	errType := callErrorType(rep)
	span := s.span
	if span.IsRecording() {
		b := getAttrs()
		attrs := append(b.a, t.request...)
		attrs = append(attrs,
			keyEmbeddingsInputs.Int(st.inputs),
			keyBudgetLimit.Float64(rep.Budget),
			keySpentAfter.Float64(rep.SpentAfter),
			keyRemaining.Float64(rep.Remaining),
			keyReserved.Float64(rep.Estimated),
			keyEstimated.Float64(estimated(rep)),
			keyCost.Float64(rep.Cost),
		)
		if t.budgetName.Valid() {
			attrs = append(attrs, t.budgetName)
		}
		if a != nil {
			attrs = append(attrs, keyPriceSource.String(a.PriceSource))
			if a.UsageSource != UsageFromProvider {
				attrs = append(attrs, keyUsageSource.String(string(a.UsageSource)))
			}
			if a.UsageSource == UsageFromProvider || a.UsageSource == UsageFromCount {
				attrs = append(attrs, keyInputTokens.Int64(a.Usage.InputTokens))
			}
			if t.costAlias {
				attrs = append(attrs, keyUsageCostAlias.Float64(a.Cost))
			}
		}
		if st.dims > 0 {
			attrs = append(attrs, keyEmbeddingsDimension.Int(st.dims))
		}
		if rep.Err != nil {
			attrs = append(attrs, keyErrorType.String(errType))
			span.SetStatus(codes.Error, callErrorDescription(rep, errType))
		}
		span.SetAttributes(attrs...)
		b.a = attrs
		putAttrs(b)
	}
	span.End()
	if a != nil {
		t.embedMetrics(ctx, a)
	}
	if t.log != nil {
		rec := newLogRecord(rep, errType, span.SpanContext())
		rec.Operation = telemetrylog.OperationEmbeddings
		if a != nil && a.UsageSource == UsageFromCount {
			// newLogRecord keeps reported tokens only; an exact count is as
			// good.
			rec.Tokens.Input, rec.Attempts[0].Tokens.Input = a.Usage.InputTokens, a.Usage.InputTokens
		}
		t.log.write(rec)
	}
}

// embedMetrics records the metrics of a call that reached the provider.
func (t *embedTelemetry) embedMetrics(ctx context.Context, a *Attempt) {
	if a.UsageSource != UsageNone && t.cost.Enabled(ctx) {
		t.cost.Add(ctx, a.Cost, t.costOpt)
	}
	if t.duration.Enabled(ctx) {
		opt := t.durationOpt
		if a.Err != nil {
			n := len(t.request)
			opt = metric.WithAttributeSet(attribute.NewSet(append(t.request[:n:n], keyErrorType.String(string(a.ErrClass)))...))
		}
		t.duration.Record(ctx, a.Latency.Seconds(), opt)
	}
	if (a.UsageSource == UsageFromProvider || a.UsageSource == UsageFromCount) && t.tokenUsage.Enabled(ctx) {
		t.tokenUsage.Record(ctx, a.Usage.InputTokens, t.inputOpt)
	}
}
