package budget

import (
	"fmt"
	"time"
)

// ExceededError is the refusal of a reservation that does not fit in a
// budget: Spent + Reserved + Requested > Limit. It matches [ErrExceeded] with
// errors.Is. Its message is stable:
//
//	budget exceeded: requested $X with $Y spent and $Z reserved of a $L limit
//
// followed by " per P" (P a period: minute, hour, day, week or month) when
// the refusing limit is a rate limit ([Limits.Rates], [Limits.KeyRates]).
type ExceededError struct {
	Limit     Amount // the cap
	Spent     Amount // settled spend when the reservation was refused
	Reserved  Amount // outstanding reservations when it was refused
	Requested Amount // the amount asked for
	// Key is the budget key whose budget refused the reservation (see
	// ContextWithKey); empty when it is the global budget. The message does
	// not show it: scoped ledgers wrap the error with the key's name.
	Key string
	// Period is the period of the window of the refusing limit: the
	// Limits.Window's for a main budget (Forever when it never resets), the
	// rate's for a rate limit.
	Period Period
	// Rate reports that the refusing limit is a rate limit (Limits.Rates or
	// Limits.KeyRates) rather than a main budget.
	Rate bool
	// Resets is when the refusing limit's window ends and it starts again
	// from $0; the zero time when it never resets (or the ledger does not
	// know).
	Resets time.Time
}

// unit returns the noun of a rate limit's period ("minute"), or "".
func (p Period) unit() string {
	switch p {
	case Minutely:
		return "minute"
	case Hourly:
		return "hour"
	case Daily:
		return "day"
	case Weekly:
		return "week"
	case Monthly:
		return "month"
	}
	return ""
}

// Error implements error.
func (e *ExceededError) Error() string {
	b := make([]byte, 0, 128)
	b = append(b, "budget exceeded: requested "...)
	b = e.Requested.appendString(b)
	b = append(b, " with "...)
	b = e.Spent.appendString(b)
	b = append(b, " spent and "...)
	b = e.Reserved.appendString(b)
	b = append(b, " reserved of a "...)
	b = e.Limit.appendString(b)
	b = append(b, " limit"...)
	if u := e.Period.unit(); e.Rate && u != "" {
		b = append(b, " per "...)
		b = append(b, u...)
	}
	return string(b)
}

// Is reports whether target is [ErrExceeded].
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// CheckReserve reports whether a reservation of amount fits in s: it returns
// nil when s.Spent + s.Reserved + amount ≤ s.Limit, an *[ExceededError]
// carrying s's figures when it does not, and an error matching [ErrInvalid]
// when amount is negative. It is the admission rule of every [Ledger], exact
// for all int64 figures (no overflow), for implementations to share.
func (s State) CheckReserve(amount Amount) error {
	if amount < 0 {
		return fmt.Errorf("%w: reservation amount %v is negative", ErrInvalid, amount)
	}
	if !s.fits(amount) {
		return &ExceededError{Limit: s.Limit, Spent: s.Spent, Reserved: s.Reserved, Requested: amount}
	}
	return nil
}

// fits reports whether Spent + Reserved + amount ≤ Limit without overflow,
// for amount ≥ 0. Negative Spent or Reserved (never produced by a ledger) are
// treated as zero so that they cannot create room.
func (s State) fits(amount Amount) bool {
	room := s.Limit
	if s.Spent > 0 {
		if s.Spent > room {
			return false
		}
		room -= s.Spent
	}
	if s.Reserved > 0 {
		if s.Reserved > room {
			return false
		}
		room -= s.Reserved
	}
	return amount <= room
}
