package telemetrylog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// FormatVersion is the value of Record.V written by this version.
const FormatVersion = 1

// MaxLineBytes is the longest line Scan accepts; longer lines are counted as
// malformed and skipped.
const MaxLineBytes = 1 << 20

// Decisions, as written in Record.Decision.
const (
	DecisionCheap      = "cheap"
	DecisionCapable    = "capable"
	DecisionDowngraded = "downgraded"
	DecisionRejected   = "rejected"
	DecisionFailover   = "failover"
	DecisionEscalated  = "escalated"
)

// OperationEmbeddings is the Record.Operation of an embeddings call.
const OperationEmbeddings = "embeddings"

// Record is one Router call. Amounts are USD; token counts follow the
// normalized convention of budget.Usage (input tokens include cached ones,
// output tokens include reasoning ones) and are summed over the attempts.
type Record struct {
	// V is the format version (FormatVersion).
	V int `json:"v"`
	// Time is when the call started (RFC 3339 with nanoseconds, UTC).
	Time time.Time `json:"time"`
	// Operation is "" for a Router's chat call and [OperationEmbeddings] for
	// an Embedder's call (whose Decision is "embedded" or "rejected").
	Operation string `json:"operation,omitempty"`
	// Decision is cheap, capable, downgraded, rejected, failover or escalated.
	Decision string `json:"decision"`
	// Tier and Model are those of the last attempt (empty for a refusal).
	Tier  string `json:"tier,omitempty"`
	Model string `json:"model,omitempty"`
	// Policy is the routing policy that chose the tier and Reason its
	// low-cardinality explanation; ConversationID the caller's conversation
	// id, if any.
	Policy         string `json:"policy,omitempty"`
	Reason         string `json:"reason,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Score is the complexity score, nil when the scorer failed (then
	// ScorerFailed is true); Threshold the effective threshold and
	// BaseThreshold the configured one.
	Score         *float64 `json:"score"`
	ScorerFailed  bool     `json:"scorer_failed,omitempty"`
	Threshold     float64  `json:"threshold"`
	BaseThreshold float64  `json:"base_threshold"`
	// Cascade figures (WithCascade), absent for calls that did not go
	// through one: the verifier's name, its doubt (nil when no answer was
	// verified), the escalation threshold, whether the call escalated and,
	// when the capable model did not answer, why ("unaffordable",
	// "failed").
	Verifier            string   `json:"verifier,omitempty"`
	Doubt               *float64 `json:"doubt,omitempty"`
	EscalationThreshold float64  `json:"escalation_threshold,omitempty"`
	Escalated           bool     `json:"escalated,omitempty"`
	Escalation          string   `json:"escalation,omitempty"`
	// Tokens are the provider-reported tokens of all attempts.
	Tokens Tokens `json:"tokens"`
	// EstimatedUSD is the worst-case cost computed for the call (for a budget
	// refusal, the refused amount); ReservedUSD what was held; CostUSD what
	// the budget recorded.
	EstimatedUSD float64 `json:"estimated_usd"`
	// DowngradeNeededUSD is, for a downgraded call, the capable model's worst
	// case that the budget could not afford.
	DowngradeNeededUSD float64 `json:"downgrade_needed_usd,omitempty"`
	ReservedUSD        float64 `json:"reserved_usd"`
	CostUSD            float64 `json:"cost_usd"`
	// BudgetUSD is the cap; SpentBeforeUSD and SpentAfterUSD the cumulative
	// settled spend at the call's start and end; RemainingUSD what was left at
	// the end.
	BudgetUSD      float64 `json:"budget_usd"`
	SpentBeforeUSD float64 `json:"spent_before_usd"`
	SpentAfterUSD  float64 `json:"spent_after_usd"`
	RemainingUSD   float64 `json:"remaining_usd"`
	// LatencyMS is the call's duration in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// Key is the budget key the call was charged to (budget.ContextWithKey),
	// "" for the global budget or when not recorded.
	Key string `json:"budget_key,omitempty"`
	// AlertThresholds are the budget's alert thresholds as fractions of
	// BudgetUSD in (0, 1], when the writer knows them.
	AlertThresholds []float64 `json:"alert_thresholds,omitempty"`
	// Alerts are the alert thresholds the call's settlements crossed.
	Alerts []Alert `json:"alerts,omitempty"`
	// Error is the error class of a failed or refused call, "" on success.
	Error string `json:"error,omitempty"`
	// Attempts are the provider attempts in order (none for a refusal).
	Attempts []Attempt `json:"attempts,omitempty"`
	// TraceID and SpanID identify the call's span when it was sampled.
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
}

// Alert is a budget alert threshold crossed by a call: the settled spend of
// the budget of Key ("" the global one) reached Threshold × LimitUSD in the
// window that started at WindowStart (absent for a budget that never
// resets).
type Alert struct {
	Threshold   float64    `json:"threshold"`
	Key         string     `json:"budget_key,omitempty"`
	SpentUSD    float64    `json:"spent_usd"`
	LimitUSD    float64    `json:"limit_usd"`
	WindowStart *time.Time `json:"window_start,omitempty"`
}

// Tokens are token counts.
type Tokens struct {
	Input      int64 `json:"input"`
	Output     int64 `json:"output"`
	CacheRead  int64 `json:"cache_read,omitempty"`
	CacheWrite int64 `json:"cache_write,omitempty"`
	Reasoning  int64 `json:"reasoning,omitempty"`
}

// Attempt is one provider attempt of a call.
type Attempt struct {
	// Step is what the attempt was for: "answer" (omitted), "sample",
	// "judge", "escalation" or "failover".
	Step          string   `json:"step,omitempty"`
	Tier          string   `json:"tier"`
	Model         string   `json:"model"`
	Provider      string   `json:"provider,omitempty"`
	ResponseModel string   `json:"response_model,omitempty"`
	MaxTokens     int      `json:"max_tokens"`
	Streaming     bool     `json:"streaming,omitempty"`
	Tokens        Tokens   `json:"tokens"`
	ReservedUSD   float64  `json:"reserved_usd"`
	CostUSD       float64  `json:"cost_usd"`
	UsageSource   string   `json:"usage_source"`
	FinishReasons []string `json:"finish_reasons,omitempty"`
	// Error is the attempt's error class ("" on success).
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// Append appends rec as one JSON line (with its newline) to dst.
func Append(dst []byte, rec *Record) ([]byte, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return dst, fmt.Errorf("telemetrylog: encoding a record: %w", err)
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

// ErrMalformed is matched by the errors of Parse.
var ErrMalformed = errors.New("telemetrylog: malformed record")

// Parse decodes and checks one line (without or with its newline). Unknown
// fields are ignored, for forward compatibility.
func Parse(line []byte) (Record, error) {
	var rec Record
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return rec, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		// JSON allows a newline between tokens, a line of the log does not:
		// Scan would read such a record as several malformed lines.
		return rec, fmt.Errorf("%w: a newline inside the record", ErrMalformed)
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := rec.check(); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return rec, nil
}

func (r *Record) check() error {
	switch {
	case r.V < 1:
		return errors.New("missing or invalid format version")
	case r.Time.IsZero():
		return errors.New("missing time")
	case r.Decision == "":
		return errors.New("missing decision")
	case r.Score != nil && !finite(*r.Score):
		return errors.New("invalid score")
	}
	for name, v := range map[string]float64{
		"estimated_usd": r.EstimatedUSD, "reserved_usd": r.ReservedUSD, "cost_usd": r.CostUSD,
		"budget_usd": r.BudgetUSD, "spent_before_usd": r.SpentBeforeUSD, "spent_after_usd": r.SpentAfterUSD,
		"remaining_usd": r.RemainingUSD, "latency_ms": r.LatencyMS,
	} {
		if !finite(v) || v < 0 {
			return fmt.Errorf("invalid %s %v", name, v)
		}
	}
	for _, a := range r.AlertThresholds {
		if !finite(a) || a <= 0 || a > 1 {
			return fmt.Errorf("invalid alert threshold %v", a)
		}
	}
	for _, a := range r.Alerts {
		if !finite(a.Threshold) || a.Threshold <= 0 || a.Threshold > 1 || !finite(a.SpentUSD) || a.SpentUSD < 0 || !finite(a.LimitUSD) || a.LimitUSD < 0 {
			return fmt.Errorf("invalid alert %+v", a)
		}
	}
	if err := r.Tokens.check(); err != nil {
		return err
	}
	for i := range r.Attempts {
		a := &r.Attempts[i]
		if a.Model == "" {
			return fmt.Errorf("attempt %d: missing model", i+1)
		}
		if !finite(a.CostUSD) || a.CostUSD < 0 || !finite(a.ReservedUSD) || a.ReservedUSD < 0 ||
			!finite(a.LatencyMS) || a.LatencyMS < 0 || a.MaxTokens < 0 {
			return fmt.Errorf("attempt %d: invalid figures", i+1)
		}
		if err := a.Tokens.check(); err != nil {
			return fmt.Errorf("attempt %d: %w", i+1, err)
		}
	}
	return nil
}

func (t Tokens) check() error {
	if t.Input < 0 || t.Output < 0 || t.CacheRead < 0 || t.CacheWrite < 0 || t.Reasoning < 0 {
		return errors.New("negative token count")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// ScanStats counts what Scan read.
type ScanStats struct {
	// Records is the number of well-formed records; Malformed the number of
	// lines that were not (blank lines are neither).
	Records   int
	Malformed int
}

// Scan reads r line by line and calls fn with each well-formed record in
// order. Malformed lines (invalid JSON, failed checks, longer than
// MaxLineBytes, a truncated last line) are skipped and counted. The error is
// that of reading r, never of a line's content.
func Scan(r io.Reader, fn func(Record)) (ScanStats, error) {
	var st ScanStats
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxLineBytes+1 { // +1: the newline
				tooLong, line = true, line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(chunk) > 0 || len(line) > 0 || tooLong {
			switch {
			case tooLong:
				st.Malformed++
			case len(bytes.TrimSpace(line)) == 0:
			default:
				if rec, perr := Parse(line); perr != nil {
					st.Malformed++
				} else {
					st.Records++
					fn(rec)
				}
			}
		}
		line, tooLong = line[:0], false
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
}
