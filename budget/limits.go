package budget

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultLease is the lease of a reservation when [Limits.Lease] is 0.
const DefaultLease = 10 * time.Minute

// lateSettleRetention is how long a ledger remembers a reservation whose lease
// expired, so that a late settlement can correct its charge.
const lateSettleRetention = 24 * time.Hour

type keyContextKey struct{}

// ContextWithKey returns a copy of ctx carrying the budget key (a user,
// tenant or session id) whose budget applies to the calls made with it, in
// addition to the global budget. The empty key means no key.
func ContextWithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyContextKey{}, key)
}

// KeyFromContext returns the budget key carried by ctx and whether it carries
// a non-empty one.
func KeyFromContext(ctx context.Context) (string, bool) {
	if ctx == nil {
		return "", false
	}
	k, _ := ctx.Value(keyContextKey{}).(string)
	return k, k != ""
}

// Limits is what a ledger enforces beyond its global limit: budgets per key,
// a calendar window and leases. The zero Limits means one global budget that
// never resets, [DefaultLease] and [time.Now]. A Limits must not be changed
// after it was given to a ledger.
//
// Every call must fit the global budget and, when its context carries a key
// ([ContextWithKey]) that has a budget, that key's budget; a reservation
// holds both or neither.
type Limits struct {
	// KeyLimit is the limit of the budget of each key not in KeyLimits. 0
	// means that such keys have no budget of their own: only the global one
	// applies to them.
	KeyLimit Amount
	// KeyLimits are the limits of particular keys (a limit of 0 blocks the
	// key).
	KeyLimits map[string]Amount
	// Window is when every budget (global and per key) starts again from $0.
	// The zero Window never resets.
	Window Window
	// Lease is how long a reservation may stay unsettled. A reservation
	// still open when its lease expires (its holder died, or is very slow)
	// is charged as spent at its full amount; a settlement that arrives
	// later (within a day) corrects the charge to the actual amount. 0 means
	// DefaultLease.
	Lease time.Duration
	// Now is the clock; nil means time.Now. Tests inject one so that windows
	// and leases never need sleeping.
	Now func() time.Time

	// Rates are limits of the global budget besides its main one, each over
	// its own calendar window (in Window.Location): for instance $5 per
	// minute and $100 per hour under a $500 monthly budget. A call must fit
	// every one of them; a reservation holds all of them or none.
	Rates []Rate
	// KeyRates are the limits of every key's budget besides its main one
	// (KeyLimit or KeyLimits), each over its own window: for instance $1 per
	// minute and $50 per day. They apply to every non-empty key, also to
	// keys without a main budget of their own.
	KeyRates []Rate
}

// MaxRates is the most [Limits.Rates] and the most [Limits.KeyRates] a
// Limits may have.
const MaxRates = 8

// Rate is a spend-rate limit: at most Limit may be spent in each calendar
// window of Period (Minutely, Hourly, Daily, Weekly or Monthly). Windows are
// fixed calendar windows, not sliding ones (see [Window]).
type Rate struct {
	Limit  Amount
	Period Period
}

// Window returns the window of r in loc.
func (r Rate) Window(loc *time.Location) Window { return Window{Period: r.Period, Location: loc} }

// Validate reports an error matching [ErrInvalid] when a limit or the lease
// is negative or the window period is unknown.
func (p *Limits) Validate() error {
	if p.KeyLimit < 0 {
		return fmt.Errorf("%w: per-key budget limit %v is negative", ErrInvalid, p.KeyLimit)
	}
	for k, l := range p.KeyLimits {
		if l < 0 {
			return fmt.Errorf("%w: budget limit %v of key %q is negative", ErrInvalid, l, k)
		}
	}
	if p.Lease < 0 {
		return fmt.Errorf("%w: reservation lease %v is negative", ErrInvalid, p.Lease)
	}
	for _, rs := range [2][]Rate{p.Rates, p.KeyRates} {
		if len(rs) > MaxRates {
			return fmt.Errorf("%w: %d rate limits in one scope, at most %d", ErrInvalid, len(rs), MaxRates)
		}
		for _, r := range rs {
			if r.Limit < 0 {
				return fmt.Errorf("%w: rate limit %v per %v is negative", ErrInvalid, r.Limit, r.Period)
			}
			if r.Period == Forever {
				return fmt.Errorf("%w: rate limit %v has no period", ErrInvalid, r.Limit)
			}
			if err := r.Window(nil).validate(); err != nil {
				return err
			}
		}
	}
	return p.Window.validate()
}

// Scoped reports whether key's calls are held in a budget of key's own: key
// is not empty and has a main budget ([Limits.KeyLimitOf]) or rate limits
// ([Limits.KeyRates]).
func (p *Limits) Scoped(key string) bool {
	if key == "" {
		return false
	}
	_, ok := p.KeyLimitOf(key)
	return ok || len(p.KeyRates) > 0
}

// KeyLimitOf returns the limit of key's budget and whether key has one.
// It is exported for ledger implementations outside this package (the
// Redis ledger, third-party stores), so that every ledger reads a Limits
// the same way.
func (p *Limits) KeyLimitOf(key string) (Amount, bool) {
	if key == "" {
		return 0, false
	}
	if l, ok := p.KeyLimits[key]; ok {
		return l, true
	}
	return p.KeyLimit, p.KeyLimit > 0
}

// lease returns Lease, or DefaultLease when Lease is 0.
func (p *Limits) lease() time.Duration {
	if p.Lease > 0 {
		return p.Lease
	}
	return DefaultLease
}

// now returns the policy clock's current time.
func (p *Limits) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// binding returns the state of the budget that binds a call fitting both
// global and, when hasKey, key: the one with the least remaining (global on
// a tie). It is what a scoped ledger's State reports.
func binding(global, key State, hasKey bool) State {
	if hasKey && key.Remaining() < global.Remaining() {
		return key
	}
	return global
}

// mainExceeded marks the refusal err as the refusal of a main budget whose
// window has period and ends at end.
func mainExceeded(period Period, end time.Time, err error) error {
	var ex *ExceededError
	if errors.As(err, &ex) {
		ex.Period, ex.Resets = period, end
	}
	return err
}

// rateExceeded marks the refusal err as the refusal of rate r, whose window
// ends at end.
func rateExceeded(r Rate, end time.Time, err error) error {
	var ex *ExceededError
	if errors.As(err, &ex) {
		ex.Period, ex.Rate, ex.Resets = r.Period, true, end
	}
	return err
}

// keyExceeded wraps the refusal of key's budget so that the message names
// the key; it still errors.As an *ExceededError.
func keyExceeded(key string, err error) error {
	var ex *ExceededError
	if errors.As(err, &ex) {
		ex.Key = key
	}
	return fmt.Errorf("budget of key %q: %w", key, err)
}
