package baar

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/baarcore/baar/internal/telemetrylog"
)

// telemetryLog writes the telemetry log: one JSON line per call, each with a
// single Write under the mutex, so lines never interleave.
type telemetryLog struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer // the file WithTelemetryLogFile opened; nil for a caller's writer
	closed bool
	failed atomic.Uint64
}

// close closes the log's file, if the Router opened it; later lines are
// dropped.
func (l *telemetryLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.closer == nil {
		l.closed = true
		return nil
	}
	l.closed = true
	return l.closer.Close()
}

// write encodes rec (outside the lock) and writes it as one line. A failure is
// counted, never returned: the log must not fail the call.
func (l *telemetryLog) write(rec *telemetrylog.Record) {
	b, err := telemetrylog.Append(nil, rec)
	if err != nil {
		l.failed.Add(1)
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	n, err := l.w.Write(b)
	l.mu.Unlock()
	if err != nil || n != len(b) {
		l.failed.Add(1)
		if err == nil {
			err = io.ErrShortWrite
		}
		otel.Handle(fmt.Errorf("baar: telemetry log: %w", err))
	}
}

// telemetryLogErrors returns how many telemetry-log lines could not be
// written (see WithTelemetryLog); such failures never fail a call.
func (r *Router) telemetryLogErrors() uint64 {
	if r == nil || r.tel == nil || r.tel.log == nil {
		return 0
	}
	return r.tel.log.failed.Load()
}

// logAttempt is the telemetry-log record of one attempt: figures and the
// error's class, never text.
func logAttempt(a *Attempt) telemetrylog.Attempt {
	la := telemetrylog.Attempt{
		Tier:          string(a.Tier),
		Model:         a.Model,
		Provider:      a.Provider,
		ResponseModel: a.ResponseModel,
		MaxTokens:     max(a.MaxTokens, 0),
		Streaming:     a.Streaming,
		ReservedUSD:   nonNegative(a.Reserved),
		CostUSD:       nonNegative(a.Cost),
		UsageSource:   string(a.UsageSource),
		FinishReasons: a.FinishReasons,
		Error:         string(a.ErrClass),
		LatencyMS:     millis(a.Latency),
	}
	if a.Step != StepAnswer {
		la.Step = string(a.Step)
	}
	if a.UsageSource == UsageFromProvider {
		u := a.Usage
		la.Tokens = telemetrylog.Tokens{Input: u.InputTokens, Output: u.OutputTokens,
			CacheRead: u.CacheReadTokens, CacheWrite: u.CacheWriteTokens, Reasoning: u.ReasoningTokens}
	}
	return la
}

// newLogRecord is the telemetry-log record of a call: figures and classified
// errors only, never prompt, completion or provider error text.
func newLogRecord(rep *CallReport, errType string, sc trace.SpanContext) *telemetrylog.Record {
	rec := &telemetrylog.Record{
		V:              telemetrylog.FormatVersion,
		Time:           rep.Start.UTC(),
		Decision:       string(rep.Decision),
		Tier:           string(rep.Tier),
		Model:          rep.Model,
		Policy:         string(rep.Policy),
		Reason:         rep.Reason,
		ConversationID: rep.Conversation,
		Key:            rep.BudgetKey,
		ScorerFailed:   rep.ScoreErr != nil,
		Threshold:      finiteOr0(rep.Threshold),
		BaseThreshold:  finiteOr0(rep.BaseThreshold),
		EstimatedUSD:   nonNegative(estimated(rep)),
		ReservedUSD:    nonNegative(rep.Estimated),
		CostUSD:        nonNegative(rep.Cost),
		BudgetUSD:      nonNegative(rep.Budget),
		SpentBeforeUSD: nonNegative(rep.SpentBefore),
		SpentAfterUSD:  nonNegative(rep.SpentAfter),
		RemainingUSD:   nonNegative(rep.Remaining),
		LatencyMS:      millis(rep.Latency),
		Error:          errType,
	}
	if finite(rep.Score) {
		s := rep.Score
		rec.Score = &s
	}
	if rep.Downgrade != nil {
		rec.DowngradeNeededUSD = nonNegative(rep.Downgrade.Requested)
	}
	if rep.Verifier != "" {
		rec.Verifier, rec.EscalationThreshold = rep.Verifier, finiteOr0(rep.EscalationThreshold)
		rec.Escalated, rec.Escalation = rep.Escalated, string(rep.Escalation)
		if finite(rep.Doubt) {
			d := rep.Doubt
			rec.Doubt = &d
		}
	}
	if len(rep.Attempts) > 0 {
		rec.Attempts = make([]telemetrylog.Attempt, len(rep.Attempts))
	}
	for i := range rep.Attempts {
		a := &rep.Attempts[i]
		la := logAttempt(a)
		rec.Tokens.Input += la.Tokens.Input
		rec.Tokens.Output += la.Tokens.Output
		rec.Tokens.CacheRead += la.Tokens.CacheRead
		rec.Tokens.CacheWrite += la.Tokens.CacheWrite
		rec.Tokens.Reasoning += la.Tokens.Reasoning
		rec.Attempts[i] = la
	}
	for _, a := range rep.Alerts {
		la := telemetrylog.Alert{Threshold: a.Threshold, Key: a.Key, SpentUSD: nonNegative(a.Spent), LimitUSD: nonNegative(a.Limit)}
		if !a.Window.IsZero() {
			w := a.Window.UTC()
			la.WindowStart = &w
		}
		rec.Alerts = append(rec.Alerts, la)
	}
	if sc.IsValid() {
		rec.TraceID, rec.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	return rec
}

func millis(d time.Duration) float64 { return max(float64(d)/float64(time.Millisecond), 0) }

func finiteOr0(f float64) float64 {
	if !finite(f) {
		return 0
	}
	return f
}

func nonNegative(f float64) float64 {
	if !finite(f) || f < 0 {
		return 0
	}
	return f
}
