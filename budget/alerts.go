package budget

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// MaxAlerts is the most alert thresholds an [Alerter] accepts.
const MaxAlerts = 16

// Crossing is an alert threshold crossed by a settlement: the spend of one
// budget (global or one key's) in one window reached Threshold × Limit. Each
// threshold of each budget is crossed at most once per window.
type Crossing struct {
	// Key is the budget key; empty for the global budget.
	Key string
	// Period is the period of the budget's window (Forever when it never
	// resets), Window the instant the window started (the zero time when it
	// never resets) and Generation its generation ([Window.Bounds]).
	Period     Period
	Window     time.Time
	Generation uint64
	// Threshold is the fraction of Limit that was reached.
	Threshold float64
	// Spent is the budget's settled spend right after the settlement, and
	// Limit its main limit.
	Spent, Limit Amount
}

// Alerter is implemented by ledgers that keep alert marks in their store:
// the mark of a threshold crossed is set atomically with the spend that
// crossed it, so that every threshold of every budget (global and per key,
// main limits only) fires exactly once per window, however many processes
// share the store, and a crash never loses a mark. Every ledger of this
// package and its subpackages implements it.
type Alerter interface {
	// SetAlerts sets the thresholds, fractions in (0, 1] of a budget's main
	// limit (at most [MaxAlerts], with a resolution of one millionth). It
	// must be called before the ledger is used, and only once with
	// different thresholds: it returns an error matching [ErrInvalid] when
	// the thresholds are invalid or differ from those already set.
	SetAlerts(thresholds []float64) error
	// CommitWithAlerts is [Ledger.Commit] that also returns the thresholds
	// the settlement crossed (nil when none, or when r was already settled).
	CommitWithAlerts(ctx context.Context, r Reservation, actual Amount) ([]Crossing, error)
}

// AlertLevels validates thresholds (see [Alerter.SetAlerts]) and returns them
// in millionths (ppm), sorted and without duplicates. Ledgers outside this
// package store marks as ppm, so that all processes agree on them.
func AlertLevels(thresholds []float64) ([]uint32, error) {
	if len(thresholds) > MaxAlerts {
		return nil, fmt.Errorf("%w: %d alert thresholds, at most %d", ErrInvalid, len(thresholds), MaxAlerts)
	}
	ppm := make([]uint32, 0, len(thresholds))
	for _, t := range thresholds {
		if !(t > 0 && t <= 1) {
			return nil, fmt.Errorf("%w: alert threshold %v is not in (0, 1]", ErrInvalid, t)
		}
		p := uint32(math.Round(t * 1e6))
		if p == 0 {
			return nil, fmt.Errorf("%w: alert threshold %v is below one millionth", ErrInvalid, t)
		}
		ppm = append(ppm, p)
	}
	slices.Sort(ppm)
	return slices.Compact(ppm), nil
}

// AlertAmount returns the spend at which threshold ppm (millionths) of limit
// is reached: ⌈limit × ppm / 10⁶⌉, exact for every limit ≥ 0.
func AlertAmount(limit Amount, ppm uint32) Amount {
	q, r := limit/1e6, limit%1e6
	return q*Amount(ppm) + (r*Amount(ppm)+1e6-1)/1e6
}

// alerts is the alert configuration of a ledger of this package.
type alerts struct {
	set bool
	ppm []uint32
}

// setAlerts implements [Alerter.SetAlerts] for a; the caller holds the
// ledger's lock.
func (a *alerts) setAlerts(thresholds []float64) error {
	ppm, err := AlertLevels(thresholds)
	if err != nil {
		return err
	}
	if a.set && !slices.Equal(a.ppm, ppm) {
		return fmt.Errorf("%w: the ledger's alert thresholds are already set to other values", ErrInvalid)
	}
	a.set, a.ppm = true, ppm
	return nil
}

// crossed returns, for a budget whose spend is spent of limit with the marks
// fired, the thresholds in ppm that spent reached and that are not marked.
func (a *alerts) crossed(limit, spent Amount, fired []uint32) []uint32 {
	if limit <= 0 {
		return nil
	}
	var out []uint32
	for _, p := range a.ppm {
		if spent >= AlertAmount(limit, p) && !slices.Contains(fired, p) {
			out = append(out, p)
		}
	}
	return out
}
