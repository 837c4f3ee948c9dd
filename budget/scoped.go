package budget

import (
	"context"
	"fmt"
	"sync"
)

// Scoped is a [Ledger] held in memory, like [Memory], that also enforces a
// [Limits]: budgets per key (chosen through the context with
// [ContextWithKey]), a calendar window, and reservation leases. A call must
// fit the global budget and its key's budget; both are held under one mutex,
// so a reservation holds both or neither.
//
// Reservation IDs are issued in order from 1; Generation is the window's (0
// when the budget never resets). A settlement is applied to the window its
// reservation was made in, never to a later one.
//
// Scoped is safe for concurrent use; it starts no goroutines. A Scoped must
// not be copied after first use.
type Scoped struct {
	mu    sync.Mutex
	limit Amount
	pol   Limits
	bk    *book
	al    alerts
}

var (
	_ Ledger  = (*Scoped)(nil)
	_ Alerter = (*Scoped)(nil)
)

// NewScoped returns an in-memory ledger with the global limit and policy p.
// It returns an error matching [ErrInvalid] when limit is negative or p is
// invalid.
func NewScoped(limit Amount, p Limits) (*Scoped, error) {
	if limit < 0 {
		return nil, fmt.Errorf("%w: budget limit %v is negative", ErrInvalid, limit)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Scoped{limit: limit, pol: p, bk: newBook()}, nil
}

// Reserve implements [Ledger.Reserve] for the global budget and the budget
// of ctx's key, if it has one. A refusal by the key's budget wraps an
// *[ExceededError] carrying that budget's figures. It returns ctx.Err()
// without reserving when ctx is already done.
func (s *Scoped) Reserve(ctx context.Context, amount Amount) (Reservation, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return Reservation{}, err
		}
	}
	key, _ := KeyFromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.pol.now()
	s.bk.sweep(now, true, s.bk.apply)
	e, err := s.bk.reserve(&s.pol, s.limit, key, amount, now)
	if err != nil {
		return Reservation{}, err
	}
	s.bk.apply(e)
	return Reservation{ID: e.id, Amount: e.amount, Generation: e.gen}, nil
}

// Commit implements [Ledger.Commit]. A reservation whose lease expired was
// charged as spent at its full amount; committing it corrects the charge to
// actual. It returns an error matching [ErrInvalid], changing nothing, when
// r was not issued by this ledger; a negative actual settles r at its
// reserved amount and returns an error matching ErrInvalid. ctx is not
// consulted.
func (s *Scoped) Commit(_ context.Context, r Reservation, actual Amount) error {
	_, err := s.settle(r, true, actual)
	return err
}

// SetAlerts implements [Alerter.SetAlerts].
func (s *Scoped) SetAlerts(thresholds []float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.al.setAlerts(thresholds)
}

// CommitWithAlerts implements [Alerter.CommitWithAlerts]: [Scoped.Commit]
// that also returns the thresholds of the global budget's and the key's main
// limits that the settlement's spend reached first in its window.
func (s *Scoped) CommitWithAlerts(_ context.Context, r Reservation, actual Amount) ([]Crossing, error) {
	return s.settle(r, true, actual)
}

// Cancel implements [Ledger.Cancel]. Cancelling a reservation whose lease
// expired refunds its charge. ctx is not consulted.
func (s *Scoped) Cancel(_ context.Context, r Reservation) error {
	_, err := s.settle(r, false, 0)
	return err
}

func (s *Scoped) settle(r Reservation, commit bool, actual Amount) ([]Crossing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok, err := s.bk.settle(r, commit, actual)
	if !ok {
		return nil, err
	}
	var marks []entry
	var cs []Crossing
	if commit {
		marks, cs = s.bk.crossings(&s.pol, s.limit, &s.al, e)
	}
	s.bk.apply(e)
	for _, m := range marks {
		s.bk.apply(m)
	}
	return cs, err
}

// State implements [Ledger.State]: the state of the budget that binds calls
// made with ctx, that is the one with the least remaining among the global
// budget and the budget of ctx's key. It never fails.
func (s *Scoped) State(ctx context.Context) (State, error) {
	key, _ := KeyFromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bk.state(&s.pol, s.limit, key, s.pol.now()), nil
}

// Unsettled returns the reservations not yet settled, in ID order, those
// whose lease expired included (they count as spent until settled).
func (s *Scoped) Unsettled(context.Context) ([]Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bk.unsettled(), nil
}
