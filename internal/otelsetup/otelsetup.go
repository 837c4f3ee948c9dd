// Package otelsetup installs OpenTelemetry export for baar's example programs
// from the standard OTEL_* environment variables, so the same binary exports
// to a local Jaeger, an OpenTelemetry Collector or Honeycomb.
//
// Export is on when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. The exporters read the usual
// variables themselves: endpoints, OTEL_EXPORTER_OTLP_HEADERS (e.g.
// x-honeycomb-team=KEY), timeouts, compression, certificates.
// OTEL_EXPORTER_OTLP_PROTOCOL selects http/protobuf (the default) or grpc;
// OTEL_TRACES_EXPORTER=none and OTEL_METRICS_EXPORTER=none turn a signal off
// (a Jaeger backend takes traces only); OTEL_SDK_DISABLED=true turns both off;
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the service.
package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Shutdown flushes what is buffered and stops the exporters.
type Shutdown func(context.Context) error

// Enabled reports whether the environment asks for OTLP export.
func Enabled() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
}

// Start installs global tracer and meter providers exporting over OTLP when
// Enabled, with serviceName as the service.name unless the environment names
// the service. Without export configured it installs nothing and returns a
// Shutdown that does nothing. Call the Shutdown before the program exits, or
// the last spans are lost.
func Start(ctx context.Context, serviceName string) (Shutdown, error) {
	nothing := func(context.Context) error { return nil }
	if !Enabled() {
		return nothing, nil
	}
	res, err := newResource(serviceName)
	if err != nil {
		return nothing, err
	}
	var shutdowns []Shutdown
	shutdown := func(ctx context.Context) error {
		var errs []error
		for _, s := range shutdowns {
			errs = append(errs, s(ctx))
		}
		return errors.Join(errs...)
	}

	if exporterOn("OTEL_TRACES_EXPORTER") {
		exp, err := traceExporter(ctx)
		if err != nil {
			return nothing, err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
		shutdowns = append(shutdowns, tp.Shutdown)
	}
	if exporterOn("OTEL_METRICS_EXPORTER") {
		exp, err := metricExporter(ctx)
		if err != nil {
			_ = shutdown(ctx)
			return nothing, err
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)), sdkmetric.WithResource(res))
		otel.SetMeterProvider(mp)
		shutdowns = append(shutdowns, mp.Shutdown)
	}
	return shutdown, nil
}

// exporterOn reads OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER: "otlp"
// (the default) or "none".
func exporterOn(key string) bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv(key)))
	return v != "none"
}

func protocol(signal string) string {
	p := os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL")
	if p == "" {
		p = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	return strings.ToLower(strings.TrimSpace(p))
}

func traceExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	switch p := protocol("TRACES"); p {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("otelsetup: OTEL_EXPORTER_OTLP_PROTOCOL %q: use http/protobuf or grpc", p)
	}
}

func metricExporter(ctx context.Context) (sdkmetric.Exporter, error) {
	switch p := protocol("METRICS"); p {
	case "", "http/protobuf":
		return otlpmetrichttp.New(ctx)
	case "grpc":
		return otlpmetricgrpc.New(ctx)
	default:
		return nil, fmt.Errorf("otelsetup: OTEL_EXPORTER_OTLP_PROTOCOL %q: use http/protobuf or grpc", p)
	}
}

// newResource is the SDK's default resource (which reads OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES) with serviceName as the default service name.
// The added attribute is schemaless: merging a resource with another schema
// URL into the default one fails.
func newResource(serviceName string) (*resource.Resource, error) {
	named := os.Getenv("OTEL_SERVICE_NAME") != "" || strings.Contains(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), "service.name=")
	if named || serviceName == "" {
		return resource.Default(), nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", serviceName)))
	if err != nil {
		return nil, fmt.Errorf("otelsetup: resource: %w", err)
	}
	return res, nil
}
