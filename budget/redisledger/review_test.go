package redisledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
)

// A settlement far above its reservation is recorded (saturated) and makes
// the ledger refuse what follows, as Memory/Scoped/File do. (It used to
// overflow HINCRBY half-way through the script, after the reservation was
// removed: the overspend was lost and the ledger kept granting.)
func TestHugeCommitIsRecordedAndRefusesWhatFollows(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	l := newLedger(t, c, budgetName(t, c), budget.Dollar, budget.Policy{})
	r, err := l.Reserve(ctx, 1)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, r, 1)) // spent = 1
	r, err = l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	cerr := l.Commit(ctx, r, budget.MaxAmount) // huge overspend
	require.NoError(t, cerr)
	st, err := l.State(ctx)
	require.NoError(t, err)
	_, rerr := l.Reserve(ctx, budget.Cent)
	assert.ErrorIs(t, rerr, budget.ErrExceeded, "ledger must refuse after an overspend")
	assert.GreaterOrEqual(t, st.Spent, budget.Dollar, "the overspend must be recorded")
}

// Same with a late settlement of an expired reservation (whose expiry charge
// used to be refunded before the add overflowed, and was lost).
func TestHugeLateCommitIsRecorded(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	clk := ledgertest.NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	l := newLedger(t, c, budgetName(t, c), budget.Dollar, budget.Policy{Lease: time.Minute, Now: clk.Now})
	r0, err := l.Reserve(ctx, 1)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, r0, 1))
	r, err := l.Reserve(ctx, budget.Dollar-1)
	require.NoError(t, err)
	clk.Add(2 * time.Minute)
	st, err := l.State(ctx)
	require.NoError(t, err)
	require.Equal(t, budget.Dollar, st.Spent)
	require.NoError(t, l.Commit(ctx, r, budget.MaxAmount))
	st, err = l.State(ctx)
	require.NoError(t, err)
	assert.Greater(t, st.Spent, budget.Dollar, "the truth replaces the expiry charge")
	_, rerr := l.Reserve(ctx, budget.Cent)
	assert.ErrorIs(t, rerr, budget.ErrExceeded)
}

// Above 2^53 the scripts' double comparison rounds: with limit 2^53 and spent
// 2^53+1 (an overspend of 1 nano), limit-spent rounds to 0; an exact
// comparison refuses even a $0 reservation, as every other ledger does once
// spent > limit.
func TestOverspendPastTwoTo53IsRefusedExactly(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	lim := budget.Amount(1 << 53)
	l := newLedger(t, c, budgetName(t, c), lim, budget.Policy{})
	r, err := l.Reserve(ctx, lim)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, r, lim+1))
	_, err = l.Reserve(ctx, 0)
	assert.ErrorIs(t, err, budget.ErrExceeded)
}

// A settlement that would overflow the stored sums fails before writing
// anything: its reservation stays open (held, and charged when its lease
// expires), nothing is lost.
func TestCommitOverflowLeavesTheReservationOpen(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	l := newLedger(t, c, budgetName(t, c), budget.Dollar, budget.Policy{})
	a, err := l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	b, err := l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, a, budget.MaxAmount), "recorded as 2^62")
	err = l.Commit(ctx, b, budget.MaxAmount)
	require.ErrorIs(t, err, budget.ErrUnavailable, "2^62 + 2^62 does not fit in int64")
	st, err := l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.Amount(1<<62), st.Spent)
	assert.Equal(t, budget.Cent, st.Reserved, "b is still open")
	require.NoError(t, l.Cancel(ctx, b), "and can still be settled")
	_, err = l.Reserve(ctx, 0)
	assert.ErrorIs(t, err, budget.ErrExceeded)
}
