package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/baarcore/baar/budget"
)

// witness is a budget.Ledger that passes every operation to inner and checks
// the ledger's invariants as they happen:
//   - after every operation, spent + reserved ≤ limit (unless a settlement
//     above its reservation was recorded, which the ledger must then keep
//     recording truthfully);
//   - once the recorded spend exceeds the limit, no Reserve succeeds;
//   - the limit the ledger reports never changes.
type witness struct {
	inner budget.Ledger
	limit budget.Amount

	reserves, refusals, commits, cancels atomic.Int64
	overran                              atomic.Bool  // spent > limit was observed
	reservedAfterOverrun                 atomic.Int64 // reservations granted after that
	overCommitted                        atomic.Int64 // settlements above their reservation
	maxExcess                            atomic.Int64 // the largest excess of a settlement over its reservation
	maxUsed                              atomic.Int64 // largest spent+reserved seen, nano-dollars
	limitChanged                         atomic.Bool
	stateErrs                            atomic.Int64
}

var _ budget.Ledger = (*witness)(nil)

func (w *witness) observe(ctx context.Context) {
	st, err := w.inner.State(context.WithoutCancel(ctx))
	if err != nil {
		w.stateErrs.Add(1)
		return
	}
	if st.Limit != w.limit {
		w.limitChanged.Store(true)
	}
	storeMax(&w.maxUsed, int64(st.Spent+st.Reserved))
	if st.Spent > st.Limit {
		w.overran.Store(true)
	}
}

// storeMax raises m to v if v is larger.
func storeMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// Reserve implements budget.Ledger.
func (w *witness) Reserve(ctx context.Context, amount budget.Amount) (budget.Reservation, error) {
	overranBefore := w.overran.Load()
	r, err := w.inner.Reserve(ctx, amount)
	if err != nil {
		if errors.Is(err, budget.ErrExceeded) {
			w.refusals.Add(1)
		}
		return r, err
	}
	w.reserves.Add(1)
	if overranBefore && amount > 0 {
		w.reservedAfterOverrun.Add(1)
	}
	w.observe(ctx)
	return r, nil
}

// Commit implements budget.Ledger.
func (w *witness) Commit(ctx context.Context, r budget.Reservation, actual budget.Amount) error {
	err := w.inner.Commit(ctx, r, actual)
	w.commits.Add(1)
	if actual > r.Amount {
		w.overCommitted.Add(1)
		storeMax(&w.maxExcess, int64(actual-r.Amount))
	}
	w.observe(ctx)
	return err
}

// Cancel implements budget.Ledger.
func (w *witness) Cancel(ctx context.Context, r budget.Reservation) error {
	err := w.inner.Cancel(ctx, r)
	w.cancels.Add(1)
	w.observe(ctx)
	return err
}

// State implements budget.Ledger.
func (w *witness) State(ctx context.Context) (budget.State, error) { return w.inner.State(ctx) }

// verify checks the witness's invariants and the final state: nothing left
// reserved, and spent ≤ cap unless overrunAllowed. It returns the final state.
func (w *witness) verify(o *outcome, overrunAllowed bool) budget.State {
	st, err := w.inner.State(context.Background())
	if err != nil {
		o.failf("reading the ledger: %v", err)
		return st
	}
	if w.limitChanged.Load() || st.Limit != w.limit {
		o.failf("the ledger's limit changed from %s to %s", w.limit, st.Limit)
	}
	if st.Reserved != 0 {
		o.failf("%s still reserved after every call returned (a reservation leaked)", st.Reserved)
	}
	if n := w.stateErrs.Load(); n > 0 {
		o.failf("%d ledger reads failed", n)
	}
	if !overrunAllowed {
		if st.Spent > st.Limit {
			o.failf("spent %s > cap %s", st.Spent, st.Limit)
		}
		over := w.overCommitted.Load()
		if m := budget.Amount(w.maxUsed.Load()); m > w.limit && over == 0 {
			o.failf("spent+reserved reached %s > cap %s during the run", m, w.limit)
		}
		if over > 0 {
			// The provider reported more tokens than the Router reserved
			// for. The truth is recorded; the cap must still hold (checked
			// above), which it does only while the excess fits.
			o.notef("NOTE: %d settlements exceeded their reservation, by up to %s (the simulator counts input as bytes/4, more than the exact tokenizer count the Router reserves with near the cap)",
				over, budget.Amount(w.maxExcess.Load()))
		}
	}
	if n := w.reservedAfterOverrun.Load(); n > 0 {
		o.failf("%d reservations were granted after the spend exceeded the cap", n)
	}
	return st
}
