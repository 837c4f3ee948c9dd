// Package telemetrylog is the format of baar's telemetry log: one JSON object
// per line, one line per Router call. The Router writes it (baar.WithTelemetryLog)
// and the baar-telemetry command reads it; this package is the one definition
// both share, with a tolerant reader that skips and counts malformed lines.
//
// A record never holds prompt or completion text, nor raw provider error
// bodies: errors are classified (e.g. "rate_limit", "budget_exceeded").
package telemetrylog
