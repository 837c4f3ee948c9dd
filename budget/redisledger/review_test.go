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
	l := newLedger(t, c, budgetName(t, c), budget.Dollar, budget.Limits{})
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
	l := newLedger(t, c, budgetName(t, c), budget.Dollar, budget.Limits{Lease: time.Minute, Now: clk.Now})
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
	l := newLedger(t, c, budgetName(t, c), lim, budget.Limits{})
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
	l := newLedger(t, c, budgetName(t, c), budget.Dollar, budget.Limits{})
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

// A process whose clock is a little behind, reserving just after another
// moved the budget into the next window, does not give that window the
// short life of its own: the next window lives to its end (plus the
// late-settlement retention), or its spend would be forgotten mid-period.
func TestClockBehindKeepsTheNextWindowAlive(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	name := budgetName(t, c)
	start := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC) // a Monday: a new week
	ahead := ledgertest.NewClock(start.Add(time.Minute))
	behind := ledgertest.NewClock(start.Add(-time.Minute))
	pol := func(clk *ledgertest.Clock) budget.Limits {
		return budget.Limits{Window: budget.Window{Period: budget.Weekly}, Lease: time.Minute, Now: clk.Now}
	}
	a := newLedger(t, c, name, budget.Dollar, pol(ahead))
	b := newLedger(t, c, name, budget.Dollar, pol(behind))
	r, err := a.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	require.NoError(t, a.Commit(ctx, r, budget.Cent))
	r, err = b.Reserve(ctx, budget.Cent) // lands in the new week (the latest seen)
	require.NoError(t, err)
	require.NoError(t, b.Commit(ctx, r, budget.Cent))

	var windows []string
	iter := c.Scan(ctx, 0, "{baar:"+name+"}:w:*", 100).Iterator()
	for iter.Next(ctx) {
		windows = append(windows, iter.Val())
	}
	require.Len(t, windows, 1, "one window: the new week")
	left, err := c.PTTL(ctx, windows[0]).Result()
	require.NoError(t, err)
	assert.Greater(t, left, 6*24*time.Hour, "the new week's sums live to its end, not a day")
	st, err := a.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2*budget.Cent, st.Spent)
}
