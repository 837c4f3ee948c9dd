package baar

// Exported for the tests of package baar_test only.

// TelemetryLogErrors returns how many telemetry-log lines could not be written.
func (r *Router) TelemetryLogErrors() uint64 { return r.telemetryLogErrors() }

// GateCounts returns the value gate's counters: calls gated and rejected.
func (r *Router) GateCounts() (gated, rejected int64) { return r.gateCounts() }
