package baar_test

import (
	"context"
	"io"
	"testing"

	"github.com/tmc/langchaingo/llms"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
)

// discard is a span processor that drops ended spans: the spans are recorded
// (every attribute set), then thrown away, so the benchmark measures the
// instrumentation and not an exporter.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

func benchTelemetry(b *testing.B, opts ...baar.Option) {
	model := &baartest.Model{Name: "gpt-4o-mini", CachedFraction: 0.25}
	base := []baar.Option{baar.WithBudget(1e9), baar.WithMaxOutputTokens(256)}
	r, err := baar.New(
		baar.Tier{Model: model, Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: model, Name: "gpt-4o", Provider: "openai"},
		append(base, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt2KB)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.GenerateContent(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTelemetryOff and BenchmarkTelemetryOn make the same call through
// the same Router, with no-op providers and with recording SDK providers (every
// span sampled, every metric aggregated): the difference is the cost of the
// instrumentation per call.
//
//	go test -run '^$' -bench 'Telemetry' -benchmem -count 5 .
func BenchmarkTelemetryOff(b *testing.B) {
	benchTelemetry(b, baar.WithTracerProvider(tracenoop.NewTracerProvider()),
		baar.WithMeterProvider(metricnoop.NewMeterProvider()))
}

func BenchmarkTelemetryOn(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	benchTelemetry(b, baar.WithTracerProvider(tp), baar.WithMeterProvider(mp))
}

// BenchmarkTelemetryLog adds the telemetry log (to io.Discard) to the no-op
// providers: the cost of encoding one JSON line per call.
func BenchmarkTelemetryLog(b *testing.B) {
	benchTelemetry(b, baar.WithTracerProvider(tracenoop.NewTracerProvider()),
		baar.WithMeterProvider(metricnoop.NewMeterProvider()), baar.WithTelemetryLog(io.Discard))
}

// BenchmarkTelemetryOnTracesOnly records spans with no-op metrics.
func BenchmarkTelemetryOnTracesOnly(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
	benchTelemetry(b, baar.WithTracerProvider(tp), baar.WithMeterProvider(metricnoop.NewMeterProvider()))
}

// BenchmarkTelemetryOnSampled10 records metrics and samples one trace in ten
// (parent-based, trace-ID ratio), a common production set-up: unsampled spans
// do not record, so their attributes are never built.
func BenchmarkTelemetryOnSampled10(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	benchTelemetry(b, baar.WithTracerProvider(tp), baar.WithMeterProvider(mp))
}

// BenchmarkTelemetrySDKFloor is the OpenTelemetry SDK's own cost of what one
// call of BenchmarkTelemetryOn emits, without the Router: one call is recorded
// (its two spans with every attribute, its metric measurements with their
// attribute sets), then replayed straight into fresh SDK providers configured
// like BenchmarkTelemetryOn's, in the Router's order (attempt span ended, its
// measurements, call span ended, the decision counted). TelemetryOn −
// TelemetryOff − SDKFloor is what baar's own instrumentation code costs.
func BenchmarkTelemetrySDKFloor(b *testing.B) {
	sr := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	model := &baartest.Model{Name: "gpt-4o-mini", CachedFraction: 0.25}
	r, err := baar.New(
		baar.Tier{Model: model, Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: model, Name: "gpt-4o", Provider: "openai"},
		baar.WithBudget(1e9), baar.WithMaxOutputTokens(256),
		baar.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))),
		baar.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		b.Fatal(err)
	}
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt2KB)}
	if _, err := r.GenerateContent(context.Background(), msgs); err != nil {
		b.Fatal(err)
	}
	ended := sr.Ended()
	if len(ended) != 2 {
		b.Fatalf("recorded %d spans, want the call's and its attempt's", len(ended))
	}
	attempt, call := ended[0], ended[1] // the attempt ends first
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		b.Fatal(err)
	}

	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tracer := tp.Tracer(baar.ScopeName)
	meter := mp.Meter(baar.ScopeName)
	attemptMetrics, callMetrics := replayMetrics(b, meter, rm)
	callAttrs, attemptAttrs := call.Attributes(), attempt.Attributes()
	callKind := []trace.SpanStartOption{trace.WithSpanKind(call.SpanKind())}
	attemptKind := []trace.SpanStartOption{trace.WithSpanKind(attempt.SpanKind())}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cctx, cs := tracer.Start(ctx, call.Name(), callKind...)
		actx, as := tracer.Start(cctx, attempt.Name(), attemptKind...)
		as.SetAttributes(attemptAttrs...)
		as.End()
		for _, m := range attemptMetrics {
			m(actx)
		}
		cs.SetAttributes(callAttrs...)
		cs.End()
		for _, m := range callMetrics {
			m(cctx)
		}
	}
}

// replayMetrics returns, for every data point of the per-call instruments in
// rm, a function that records the same value with the same attribute set on
// a like instrument of meter: the decision counter's in callMetrics (the
// Router counts it with the call's context), the others in attemptMetrics.
func replayMetrics(b *testing.B, meter metric.Meter, rm metricdata.ResourceMetrics) (attemptMetrics, callMetrics []func(context.Context)) {
	b.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var fs []func(context.Context)
			var err error
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				var c metric.Float64Counter
				if c, err = meter.Float64Counter(m.Name); err == nil {
					fs = replaySum(d.DataPoints, c.Add)
				}
			case metricdata.Sum[int64]:
				var c metric.Int64Counter
				if c, err = meter.Int64Counter(m.Name); err == nil {
					fs = replaySum(d.DataPoints, c.Add)
				}
			case metricdata.Histogram[float64]:
				fs, err = replayHistogram(d.DataPoints, func(bounds []float64) (func(context.Context, float64, ...metric.RecordOption), error) {
					h, err := meter.Float64Histogram(m.Name, metric.WithExplicitBucketBoundaries(bounds...))
					return h.Record, err
				})
			case metricdata.Histogram[int64]:
				fs, err = replayHistogram(d.DataPoints, func(bounds []float64) (func(context.Context, int64, ...metric.RecordOption), error) {
					h, err := meter.Int64Histogram(m.Name, metric.WithExplicitBucketBoundaries(bounds...))
					return h.Record, err
				})
			default:
				continue // observable gauges: read at collection, not per call
			}
			if err != nil {
				b.Fatal(err)
			}
			if m.Name == "baar.decisions" {
				callMetrics = append(callMetrics, fs...)
			} else {
				attemptMetrics = append(attemptMetrics, fs...)
			}
		}
	}
	if len(attemptMetrics) != 4 || len(callMetrics) != 1 {
		b.Fatalf("replaying %d attempt and %d call measurements, want 4 and 1", len(attemptMetrics), len(callMetrics))
	}
	return attemptMetrics, callMetrics
}

// replaySum returns a function per data point adding its value with its
// attribute set.
func replaySum[N int64 | float64](dps []metricdata.DataPoint[N], add func(context.Context, N, ...metric.AddOption)) []func(context.Context) {
	var fs []func(context.Context)
	for _, dp := range dps {
		opt := metric.WithAttributeSet(dp.Attributes)
		fs = append(fs, func(ctx context.Context) { add(ctx, dp.Value, opt) })
	}
	return fs
}

// replayHistogram returns a function per data point recording its one value
// (its sum) with its attribute set on a histogram with its bucket bounds.
func replayHistogram[N int64 | float64](dps []metricdata.HistogramDataPoint[N],
	newHistogram func(bounds []float64) (func(context.Context, N, ...metric.RecordOption), error),
) ([]func(context.Context), error) {
	var fs []func(context.Context)
	for _, dp := range dps {
		record, err := newHistogram(dp.Bounds)
		if err != nil {
			return nil, err
		}
		opt := metric.WithAttributeSet(dp.Attributes)
		fs = append(fs, func(ctx context.Context) { record(ctx, dp.Sum, opt) })
	}
	return fs, nil
}
