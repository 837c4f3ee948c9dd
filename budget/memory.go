package budget

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a [Ledger] held in memory: one budget for one process, with no
// window (the budget never resets). It is safe for concurrent use: every
// operation takes one mutex for a few map operations and never blocks on
// anything else; it starts no goroutines.
//
// Reservation IDs are issued in order from 1; Generation is always 0.
//
// The zero Memory is a ledger with a $0 limit: it refuses every reservation
// but those of $0. A Memory must not be copied after first use.
type Memory struct {
	mu       sync.Mutex
	limit    Amount
	spent    Amount
	reserved Amount
	lastID   uint64            // the last ID issued; 0 before the first
	open     map[uint64]Amount // outstanding reservations by ID
	alerts   alerts
	fired    []uint32 // alert thresholds fired, in ppm
}

var (
	_ Ledger  = (*Memory)(nil)
	_ Alerter = (*Memory)(nil)
)

// NewMemory returns an in-memory ledger with the given limit. It returns an
// error matching [ErrInvalid] when limit is negative.
func NewMemory(limit Amount) (*Memory, error) {
	if limit < 0 {
		return nil, fmt.Errorf("%w: budget limit %v is negative", ErrInvalid, limit)
	}
	return &Memory{limit: limit, open: make(map[uint64]Amount)}, nil
}

// Reserve implements [Ledger.Reserve]. It returns ctx.Err() without
// reserving when ctx is already done, an error matching [ErrInvalid] when
// amount is negative, and an *[ExceededError] when Spent + Reserved + amount
// would exceed the limit. A reservation of $0 is allowed: it succeeds
// whenever Spent + Reserved ≤ Limit.
func (m *Memory) Reserve(ctx context.Context, amount Amount) (Reservation, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return Reservation{}, err
		}
	}
	if amount < 0 {
		return Reservation{}, fmt.Errorf("%w: reservation amount %v is negative", ErrInvalid, amount)
	}
	m.mu.Lock()
	s := State{Limit: m.limit, Spent: m.spent, Reserved: m.reserved}
	if !s.fits(amount) {
		m.mu.Unlock()
		return Reservation{}, &ExceededError{Limit: s.Limit, Spent: s.Spent, Reserved: s.Reserved, Requested: amount}
	}
	if m.open == nil {
		m.open = make(map[uint64]Amount)
	}
	m.lastID++
	id := m.lastID
	m.open[id] = amount
	m.reserved += amount
	m.mu.Unlock()
	return Reservation{ID: id, Amount: amount}, nil
}

// Commit implements [Ledger.Commit]: it releases r and adds actual to Spent
// (saturating at [MaxAmount]). Committing or cancelling an already settled
// reservation returns nil and changes nothing. It returns an error matching
// [ErrInvalid], changing nothing, when r was not issued by this ledger.
//
// A negative actual is a caller's bug, but the reservation must not leak: the
// reservation is settled at its reserved amount (the worst case) and an error
// matching [ErrInvalid] is returned.
//
// ctx is not consulted: a settlement must happen even when the call it
// settles was cancelled.
func (m *Memory) Commit(ctx context.Context, r Reservation, actual Amount) error {
	_, err := m.CommitWithAlerts(ctx, r, actual)
	return err
}

// SetAlerts implements [Alerter.SetAlerts].
func (m *Memory) SetAlerts(thresholds []float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.alerts.setAlerts(thresholds)
}

// CommitWithAlerts implements [Alerter.CommitWithAlerts]: [Memory.Commit]
// that also returns the thresholds of the limit the settlement's spend
// reached for the first time. The marks are kept in memory: they are lost
// with the Memory, and [Memory.SetLimit] does not reset them.
func (m *Memory) CommitWithAlerts(_ context.Context, r Reservation, actual Amount) ([]Crossing, error) {
	m.mu.Lock()
	held, err := m.release(r)
	if err != nil || held < 0 {
		m.mu.Unlock()
		return nil, err
	}
	billed := actual
	if actual < 0 {
		billed = held
	}
	if m.spent > MaxAmount-billed {
		m.spent = MaxAmount
	} else {
		m.spent += billed
	}
	var cs []Crossing
	for _, p := range m.alerts.crossed(m.limit, m.spent, m.fired) {
		m.fired = append(m.fired, p)
		cs = append(cs, Crossing{Threshold: float64(p) / 1e6, Spent: m.spent, Limit: m.limit})
	}
	m.mu.Unlock()
	if actual < 0 {
		return cs, fmt.Errorf("%w: committed amount %v is negative (reservation %d settled at its reserved %v)", ErrInvalid, actual, r.ID, held)
	}
	return cs, nil
}

// Cancel implements [Ledger.Cancel]: it releases r without spending
// anything. Cancelling or committing an already settled reservation returns
// nil and changes nothing. It returns an error matching [ErrInvalid] when r
// was not issued by this ledger. ctx is not consulted.
func (m *Memory) Cancel(_ context.Context, r Reservation) error {
	m.mu.Lock()
	_, err := m.release(r)
	m.mu.Unlock()
	return err
}

// release removes r from the open reservations and returns the amount it
// held, or -1 when r is already settled. m.mu must be held.
func (m *Memory) release(r Reservation) (Amount, error) {
	held, ok := m.open[r.ID]
	switch {
	case ok && held == r.Amount && r.Generation == 0:
		delete(m.open, r.ID)
		m.reserved -= held
		return held, nil
	case ok || r.ID == 0 || r.ID > m.lastID || r.Generation != 0:
		return 0, fmt.Errorf("%w: reservation %d of %v (generation %d) was not issued by this ledger", ErrInvalid, r.ID, r.Amount, r.Generation)
	default:
		return -1, nil // issued and already settled
	}
}

// State implements [Ledger.State]. It never fails.
func (m *Memory) State(context.Context) (State, error) {
	m.mu.Lock()
	s := State{Limit: m.limit, Spent: m.spent, Reserved: m.reserved}
	m.mu.Unlock()
	return s, nil
}

// SetLimit changes the limit. Lowering it below Spent + Reserved refuses
// every later reservation until enough is released; nothing already reserved
// or spent is undone. It returns an error matching
// [ErrInvalid] when limit is negative.
func (m *Memory) SetLimit(limit Amount) error {
	if limit < 0 {
		return fmt.Errorf("%w: budget limit %v is negative", ErrInvalid, limit)
	}
	m.mu.Lock()
	m.limit = limit
	m.mu.Unlock()
	return nil
}
