package baar

import (
	"context"
)

// telemetry emits the Router's OpenTelemetry spans and metrics.
type telemetry struct{}

// telemetryConfig holds the observability options (WithTracerProvider, …).
type telemetryConfig struct{}

func newTelemetry(*config) (*telemetry, error) { return &telemetry{}, nil }

type callSpan struct{}
type attemptSpan struct{}

func (t *telemetry) startCall(ctx context.Context) (context.Context, callSpan) {
	return ctx, callSpan{}
}
func (t *telemetry) endCall(ctx context.Context, s callSpan, rep *CallReport) {}
func (t *telemetry) startAttempt(ctx context.Context, tr *tier, a *Attempt) (context.Context, attemptSpan) {
	return ctx, attemptSpan{}
}
func (t *telemetry) endAttempt(ctx context.Context, s attemptSpan, a *Attempt) {}
