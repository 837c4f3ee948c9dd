package baar_test

import (
	"context"
	"io"
	"testing"

	"github.com/tmc/langchaingo/llms"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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
