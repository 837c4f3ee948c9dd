package budget

import (
	"context"
	"errors"
)

// Usage is the token usage of one model call, normalized to one convention
// whatever the provider:
//   - InputTokens counts ALL input tokens, cache reads and cache writes included;
//     CacheReadTokens and CacheWriteTokens are the parts of it read from and
//     written to the provider's prompt cache.
//   - OutputTokens counts ALL output tokens, reasoning included; ReasoningTokens
//     is the part of it spent on reasoning (billed at the output price).
type Usage struct {
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
}

// Reservation is a hold on part of a budget, returned by [Ledger.Reserve] and
// settled exactly once by [Ledger.Commit] or [Ledger.Cancel].
type Reservation struct {
	// ID identifies the reservation in its ledger.
	ID uint64
	// Amount is the amount held.
	Amount Amount
	// Generation is the ledger's window generation when the reservation was
	// made; a settlement is applied to that generation.
	Generation uint64
}

// State is a snapshot of a ledger.
type State struct {
	Limit    Amount // the cap
	Spent    Amount // settled spend
	Reserved Amount // outstanding reservations
}

// Remaining is Limit − Spent − Reserved, never below zero.
func (s State) Remaining() Amount {
	r := s.Limit - s.Spent - s.Reserved
	if r < 0 || s.Spent > s.Limit || s.Reserved > s.Limit {
		return 0
	}
	return r
}

// Ledger holds a budget. Implementations are safe for concurrent use, and each
// operation is atomic in its store.
type Ledger interface {
	// Reserve holds amount if Spent+Reserved+amount ≤ Limit, else returns an
	// error that errors.Is [ErrExceeded] (an *[ExceededError]). A ledger whose
	// store cannot be reached returns an error that errors.Is [ErrUnavailable].
	Reserve(ctx context.Context, amount Amount) (Reservation, error)
	// Commit settles r at actual: the reservation is released and actual is
	// added to Spent. actual may exceed r.Amount (it is recorded as is).
	// Committing or cancelling an already settled reservation is a no-op
	// returning nil.
	Commit(ctx context.Context, r Reservation, actual Amount) error
	// Cancel releases r without spending anything.
	Cancel(ctx context.Context, r Reservation) error
	// State reads the ledger.
	State(ctx context.Context) (State, error)
}

// Errors.
var (
	// ErrExceeded is matched (errors.Is) by every refusal to reserve.
	ErrExceeded = errors.New("budget exceeded")
	// ErrUnavailable is matched by errors of a ledger whose store is unreachable
	// or answers garbage; callers must fail closed.
	ErrUnavailable = errors.New("budget store unavailable")
	// ErrUnknownPrice is matched when a model has no known price.
	ErrUnknownPrice = errors.New("no price for model")
	// ErrInvalid is matched by invalid inputs: negative, NaN or infinite money
	// or prices, negative token counts.
	ErrInvalid = errors.New("invalid budget input")
)
