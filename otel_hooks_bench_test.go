package baar

import (
	"context"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/baarcore/baar/budget"
)

type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }

// BenchmarkHooks measures the telemetry hooks of one call with one attempt,
// alone: spans only, metrics only, both, and neither.
func BenchmarkHooks(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(dropSpans{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	mpNoEx := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"off", []Option{WithTracerProvider(tracenoop.NewTracerProvider()), WithMeterProvider(metricnoop.NewMeterProvider())}},
		{"spans", []Option{WithTracerProvider(tp), WithMeterProvider(metricnoop.NewMeterProvider())}},
		{"metrics", []Option{WithTracerProvider(tracenoop.NewTracerProvider()), WithMeterProvider(mp)}},
		{"both", []Option{WithTracerProvider(tp), WithMeterProvider(mp)}},
		{"both-no-exemplars", []Option{WithTracerProvider(tp), WithMeterProvider(mpNoEx)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tel, err := newTelemetry(newConfig(bc.opts))
			if err != nil {
				b.Fatal(err)
			}
			tr := &tierModel{Tier: Tier{Name: "gpt-4o-mini", Provider: "openai"}, label: TierCheap}
			a := Attempt{Tier: TierCheap, Model: "gpt-4o-mini", Provider: "openai", MaxTokens: 256, Reserved: 0.001,
				Cost: 0.0002, UsageSource: "provider", FinishReasons: []string{"stop"}, Latency: time.Second,
				Usage: budget.Usage{InputTokens: 500, OutputTokens: 100, CacheReadTokens: 128}}
			rep := &CallReport{Decision: DecisionCheap, Tier: TierCheap, Model: "gpt-4o-mini", Score: 0.3, Threshold: 0.8,
				BaseThreshold: 0.8, Budget: 1, SpentBefore: 0.1, SpentAfter: 0.1002, Remaining: 0.8998, Estimated: 0.001,
				Cost: 0.0002, Attempts: []Attempt{a}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				cctx, cs := tel.startCall(ctx)
				actx, as := tel.startAttempt(cctx, tr, &a)
				tel.endAttempt(actx, as, &a)
				tel.endCall(cctx, cs, rep)
			}
		})
	}
}
