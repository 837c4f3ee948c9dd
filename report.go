package baar

import (
	"time"

	"github.com/baarcore/baar/budget"
)

// Decision says how the Router handled a call.
type Decision string

// Decisions.
const (
	// DecisionCheap: the score was below the effective threshold; the cheap
	// model answered.
	DecisionCheap Decision = "cheap"
	// DecisionCapable: the score reached the effective threshold; the capable
	// model answered.
	DecisionCapable Decision = "capable"
	// DecisionDowngraded: the capable model was wanted but the budget could
	// not afford it; the cheap model answered.
	DecisionDowngraded Decision = "downgraded"
	// DecisionRejected: the call was refused before any provider answered
	// (budget, ledger or invalid input).
	DecisionRejected Decision = "rejected"
	// DecisionFailover: the capable model failed with a retryable error and
	// the cheap model was tried next.
	DecisionFailover Decision = "failover"
	// DecisionEscalated: a cascade's verifier doubted the cheap answer; the
	// capable model answered.
	DecisionEscalated Decision = "escalated"
)

// CallReport is what the Router did for one GenerateContent call. Amounts are
// in USD. It never contains prompt or completion text.
type CallReport struct {
	// Decision is how the call was handled; Tier and Model are the tier and
	// model of the last attempt ("" when no attempt was made).
	Decision Decision
	Tier     TierLabel
	Model    string
	// Score is the complexity score (NaN if the scorer failed, see ScoreErr);
	// Threshold is the effective threshold it was compared with, and
	// BaseThreshold the configured one.
	Score         float64
	Threshold     float64
	BaseThreshold float64
	ScoreErr      error
	// Policy names the routing policy that chose the tier ("threshold",
	// "sticky", "value-gate", "exploration" or a WithPolicy name) and Reason
	// says why; the budget may still have downgraded or refused the call
	// (see Decision).
	Policy PolicyName
	Reason string
	// Conversation is the ContextWithConversation id, if any; BudgetKey the
	// ContextWithBudgetKey key, if any.
	Conversation string
	BudgetKey    string
	// Verifier names a cascade's verifier (WithCascade); empty when the call
	// did not go through the cascade. Doubt is its doubt about the cheap
	// answer (NaN when none was verified) and EscalationThreshold the
	// effective threshold it was compared with. Escalated reports that the
	// capable model was asked (Decision is DecisionEscalated when it
	// answered; Escalation says why it did not). VerifyErr is the verifier's
	// error: the call was then escalated.
	Verifier            string
	Doubt               float64
	EscalationThreshold float64
	Escalated           bool
	Escalation          Escalation
	VerifyErr           error
	// Budget is the cap; SpentBefore and SpentAfter the settled spend when the
	// call started and ended; Remaining what was left at the end (cap − spent
	// − reservations of calls in flight).
	Budget      float64
	SpentBefore float64
	SpentAfter  float64
	Remaining   float64
	// Downgrade is the capable model's refusal when the call was downgraded
	// (Decision DecisionDowngraded): the worst case that did not fit and the
	// budget's figures.
	Downgrade *BudgetError
	// Estimated is the sum of the reservations made (worst cases); Cost the sum
	// of what the attempts were settled at.
	Estimated float64
	Cost      float64
	// Alerts are the budget alert thresholds this call's settlements crossed
	// (WithBudgetAlerts).
	Alerts []BudgetAlert
	// Attempts lists every provider attempt in order (none for a refusal).
	Attempts []Attempt
	// Err is the error returned to the caller, if any.
	Err error
	// Start is when the call began; Latency how long it took.
	Start   time.Time
	Latency time.Duration
}

// UsageSource says where an attempt's settlement came from.
type UsageSource string

// Usage sources.
const (
	// UsageFromProvider: the provider's reported usage, priced.
	UsageFromProvider UsageSource = "provider"
	// UsageFromReservation: the worst case that was reserved, because the
	// usage was missing or implausible, the stream was cut off, the call
	// panicked, or the error may have been billed.
	UsageFromReservation UsageSource = "reservation"
	// UsageNone: nothing billed; the provider cannot have charged for the
	// error.
	UsageNone UsageSource = "none"
)

// Attempt is one provider call made by the Router.
type Attempt struct {
	// Step says what the attempt was for: the answer, a sample, a judge's
	// call, an escalation or a failover.
	Step     AttemptStep
	Tier     TierLabel
	Model    string
	Provider string
	// MaxTokens is the output cap sent (or the caller's), per choice;
	// CapFitted reports that the Router lowered it to fit what was left of
	// the budget (WithMinOutputTokens): the answer may stop at it.
	MaxTokens int
	CapFitted bool
	// Streaming reports whether the caller streamed the answer.
	Streaming bool
	// InputTokensEstimate is the input-token bound the reservation used.
	InputTokensEstimate int64
	// PriceSource is where the model's price came from and when it was
	// checked, e.g. "openai.com/api/pricing, checked 2026-11-25".
	PriceSource string
	// Reserved is the worst-case cost held before the call; Cost what the
	// attempt was settled at.
	Reserved float64
	Cost     float64
	// Usage is the provider's usage, normalized; UsageSource says where the
	// settlement came from: "provider" (reported usage), "reservation" (no
	// or invalid usage, streamed or not, a stream cut off, a panic, or an
	// error the provider may have billed: the worst case), "none" (not
	// billed: the provider cannot have charged for the error).
	Usage       budget.Usage
	UsageSource UsageSource
	// UsageProblem explains invalid usage reported by the provider.
	UsageProblem string
	// ResponseModel is the model the provider says answered, when reported.
	ResponseModel string
	// FinishReasons are the choices' stop reasons.
	FinishReasons []string
	// Err is the provider's error and ErrClass its classification.
	Err      error
	ErrClass ErrorClass
	// SettleErr is set when the settlement could not be recorded.
	SettleErr error
	Latency   time.Duration
}
