package baar_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
)

// Spans, metrics and the telemetry log of a Router. In production the
// providers are the application's, with exporters (see docs/observability.md).
func ExampleWithTracerProvider() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	mp := sdkmetric.NewMeterProvider()
	dir, err := os.MkdirTemp("", "baar-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "baar-calls.jsonl")
	cheap := baar.Tier{Model: &baartest.Model{Name: "gpt-4o-mini"}, Name: "gpt-4o-mini", Provider: "openai"}
	capable := baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o", Provider: "openai"}

	router, err := baar.New(cheap, capable,
		baar.WithBudget(5),
		baar.WithTracerProvider(tp),        // default: otel.GetTracerProvider()
		baar.WithMeterProvider(mp),         // default: otel.GetMeterProvider()
		baar.WithTelemetryLogFile(logPath), // optional: one JSON line per call
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer router.Close()
	if _, err := router.Call(context.Background(), "What is the capital of France?"); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range spans.Ended() {
		fmt.Println("span:", s.Name())
	}
	f, err := os.Open(logPath)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines++
	}
	fmt.Println("log lines:", lines)
	// Output:
	// span: chat gpt-4o-mini
	// span: baar.route
	// log lines: 1
}
