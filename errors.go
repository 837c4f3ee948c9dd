package baar

import (
	"errors"
	"fmt"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
)

// Errors returned by the Router. Match them with errors.Is; they hold through
// chains.Run, chains.Call and agent executors, which do not wrap model errors.
var (
	// ErrBudgetExceeded is matched by every refusal of a call the budget
	// cannot afford. Such a refusal contacts no provider. The error is a
	// *BudgetError and also satisfies llms.IsQuotaExceededError.
	ErrBudgetExceeded = budget.ErrExceeded
	// ErrLedgerUnavailable is matched when the budget's store cannot be read
	// or written: the Router fails closed and contacts no provider.
	ErrLedgerUnavailable = budget.ErrUnavailable
	// ErrInvalidRequest is matched by calls refused for bad input (no
	// messages, invalid UTF-8, a malformed part) before any provider call.
	ErrInvalidRequest = errors.New("baar: invalid request")
)

// BudgetError is the error of a call refused because the budget cannot afford
// it. Amounts are in USD. Its message is stable.
type BudgetError struct {
	// Model is the model whose call was refused (the cheapest one tried).
	Model string
	// Key is the budget key (ContextWithBudgetKey) whose budget refused the
	// call; empty when the global budget did. Limit, Spent and Reserved are
	// that budget's.
	Key string
	// Limit is the budget's cap.
	Limit float64
	// Spent is the settled spend when the call was refused.
	Spent float64
	// Reserved is the amount held by calls in flight at that time.
	Reserved float64
	// Requested is the worst-case cost of the refused call: its input tokens
	// at the input price plus its output cap at the output price.
	Requested float64
	// Window is the period of the refusing budget's window ("minutely",
	// "hourly", "daily", "weekly", "monthly"; "" when it never resets), and
	// Rate reports that the refusing limit is a rate limit
	// (budget.Limits.Rates or KeyRates) rather than a main budget. Resets
	// is when its window ends (the zero time when it never resets).
	Window string
	Rate   bool
	Resets time.Time
	// StreamCut reports a streamed answer cut off because it outgrew the
	// output cap that was reserved (the provider did not honour max_tokens).
	// The call was settled at its reservation.
	StreamCut bool
	// Partial is the text streamed before the cut. The caller's streaming
	// function has received it too.
	Partial string

	cause    error
	noOutput bool // an embedding: no output cap to lower
}

// Error implements error.
func (e *BudgetError) Error() string {
	if e.StreamCut {
		return fmt.Sprintf("baar: budget exceeded: %s streamed past its reserved output cap and was cut off after %d bytes (%s reserved)",
			e.Model, len(e.Partial), usd(e.Requested))
	}
	which := "the"
	if e.Key != "" {
		which = fmt.Sprintf("key %q's", e.Key)
	}
	knob := "raise the budget (WithBudget or the ledger's limit)"
	if e.Key != "" {
		knob = "raise the key's limit (WithKeyBudget or budget.Limits)"
	}
	if e.Rate {
		return fmt.Sprintf("baar: budget exceeded: %s needs up to %s, %s of %s %s %s rate limit is spent and %s reserved; wait for the window to reset at %s",
			e.Model, usd(e.Requested), usd(e.Spent), which, usd(e.Limit), e.Window, usd(e.Reserved), e.Resets.Format(time.RFC3339))
	}
	if !e.noOutput {
		knob += " or lower the output cap (WithMaxOutputTokens, llms.WithMaxTokens)"
	}
	return fmt.Sprintf("baar: budget exceeded: %s needs up to %s, %s of %s %s budget is spent and %s reserved; %s",
		e.Model, usd(e.Requested), usd(e.Spent), which, usd(e.Limit), usd(e.Reserved), knob)
}

// Is reports whether target is ErrBudgetExceeded.
func (e *BudgetError) Is(target error) bool { return target == ErrBudgetExceeded }

// Unwrap returns the ledger's refusal, if any.
func (e *BudgetError) Unwrap() error { return e.cause }

// As lets errors.As find an *llms.Error with code ErrCodeQuotaExceeded in a
// BudgetError, so that llms.IsQuotaExceededError holds.
func (e *BudgetError) As(target any) bool {
	if t, ok := target.(**llms.Error); ok {
		*t = &llms.Error{Code: llms.ErrCodeQuotaExceeded, Provider: "baar", Message: e.Error(), Cause: e}
		return true
	}
	return false
}

// StreamInterruptedError is the error of a streamed call whose model failed
// after part of its answer had reached the caller's streaming function. The
// Router does not fail over such a call (another model's answer would follow
// the partial one in the stream): the caller gets the partial text and the
// model's error, which it unwraps to.
type StreamInterruptedError struct {
	// Model is the model whose stream broke.
	Model string
	// Partial is the text streamed before it broke.
	Partial string
	// Err is the model's error.
	Err error
}

// Error implements error.
func (e *StreamInterruptedError) Error() string {
	return fmt.Sprintf("baar: %s failed after streaming %d bytes (not failed over): %v", e.Model, len(e.Partial), e.Err)
}

// Unwrap returns the model's error.
func (e *StreamInterruptedError) Unwrap() error { return e.Err }

func usd(v float64) string { return fmt.Sprintf("$%.6f", v) }

func newBudgetError(model string, ex *budget.ExceededError, requested budget.Amount, cause error) *BudgetError {
	e := &BudgetError{Model: model, Requested: requested.USD(), cause: cause}
	if ex != nil {
		e.Limit, e.Spent, e.Reserved, e.Key = ex.Limit.USD(), ex.Spent.USD(), ex.Reserved.USD(), ex.Key
		if ex.Period != budget.Forever {
			e.Window, e.Rate, e.Resets = ex.Period.String(), ex.Rate, ex.Resets
		}
	}
	return e
}

func invalidRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
}

// errPanicked is the error of an attempt (and a call) during which the model
// or the caller's streaming function panicked: the reservation is settled as
// spent and the panic goes on to the caller.
var errPanicked = errors.New("baar: the model or the caller's streaming function panicked")
