package redisledger_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
	"github.com/baarcore/baar/budget/redisledger"
)

func TestConformance(t *testing.T) {
	c := redisClient(t)
	ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
		return newLedger(t, c, budgetName(t, c), limit, p)
	})
}

// TestSharedConformance runs the conformance tests on two ledgers of one
// budget, each with its own connection pool, alternating operations.
func TestSharedConformance(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
		name := budgetName(t, c1)
		return ledgertest.Alternate(newLedger(t, c1, name, limit, p), newLedger(t, c2, name, limit, p))
	})
}

func TestKeysShareHashTag(t *testing.T) {
	c := redisClient(t)
	name := budgetName(t, c)
	ctx := context.Background()
	clk := ledgertest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newLedger(t, c, name, budget.Dollar, budget.Limits{KeyLimit: budget.Dollar, Lease: time.Second, Now: clk.Now, Window: budget.Window{Period: budget.Monthly}})
	_, err := l.Reserve(budget.ContextWithKey(ctx, "u"), budget.Cent)
	require.NoError(t, err)
	_, err = l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	clk.Add(time.Minute)
	_, err = l.State(ctx)
	require.NoError(t, err)
	keys, err := c.Keys(ctx, "*"+name+"*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 7, "%v", keys) // epoch gen seq tokmin w:<gen> x:<epoch>:1 x:<epoch>:2 (open, lease, tok and tokx emptied: gone)
	slot := -1
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, "{baar:"+name+"}:"), k)
		s, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil { // not a cluster: compute nothing more
			continue
		}
		if slot >= 0 {
			assert.Equal(t, int64(slot), s)
		}
		slot = int(s)
	}
	ttl, err := c.PTTL(ctx, "{baar:"+name+"}:w:"+fmt.Sprint(12*(2025-1970)+1)).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 30*24*time.Hour, "a window's key lives until a day after its end")
}

func TestNewInvalid(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, f := range map[string]func() error{
		"nil client": func() error { _, err := redisledger.New(nil, "a", 1, budget.Limits{}); return err },
		"empty name": func() error { _, err := redisledger.New(c, "", 1, budget.Limits{}); return err },
		"braces":     func() error { _, err := redisledger.New(c, "a}b", 1, budget.Limits{}); return err },
		"negative":   func() error { _, err := redisledger.New(c, "a", -1, budget.Limits{}); return err },
		"too big":    func() error { _, err := redisledger.New(c, "a", redisledger.MaxLimit+1, budget.Limits{}); return err },
		"key too big": func() error {
			_, err := redisledger.New(c, "a", 1, budget.Limits{KeyLimit: budget.MaxAmount})
			return err
		},
		"key limits": func() error {
			_, err := redisledger.New(c, "a", 1, budget.Limits{KeyLimits: map[string]budget.Amount{"k": -5}})
			return err
		},
		"lease": func() error { _, err := redisledger.New(c, "a", 1, budget.Limits{Lease: -1}); return err },
	} {
		assert.ErrorIs(t, f(), budget.ErrInvalid, name)
	}
	l, err := redisledger.New(c, "a", redisledger.MaxLimit, budget.Limits{})
	require.NoError(t, err)
	assert.Equal(t, "a", l.Name())
	_, err = l.Reserve(context.Background(), -1)
	assert.ErrorIs(t, err, budget.ErrInvalid)
	_, err = l.Reserve(context.Background(), redisledger.MaxLimit+1)
	assert.ErrorIs(t, err, budget.ErrUnavailable, "a refusal needs the budget's figures: no Redis, no answer")
	assert.ErrorIs(t, l.Cancel(context.Background(), budget.Reservation{}), budget.ErrInvalid)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.Reserve(ctx, 1)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestUnreachable checks that a ledger whose Redis does not answer fails
// closed with errors matching budget.ErrUnavailable.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l := newLedger(t, c, "down", budget.Dollar, budget.Limits{})
	ctx := context.Background()
	_, err = l.Reserve(ctx, 1)
	assert.ErrorIs(t, err, budget.ErrUnavailable)
	assert.NotErrorIs(t, err, budget.ErrExceeded)
	_, err = l.State(ctx)
	assert.ErrorIs(t, err, budget.ErrUnavailable)
	assert.ErrorIs(t, l.Commit(ctx, budget.Reservation{ID: 1<<40 | 1, Amount: 1}, 1), budget.ErrUnavailable)
	assert.ErrorIs(t, l.Cancel(ctx, budget.Reservation{ID: 1<<40 | 1, Amount: 1}), budget.ErrUnavailable)
}

// TestGarbage checks answers that are not the scripts': from a server that
// answers every command with a constant, and from a budget whose keys were
// overwritten with values of the wrong type.
func TestGarbage(t *testing.T) {
	ctx := context.Background()
	for _, answer := range []string{"+OK\r\n", ":7\r\n", "*2\r\n:1\r\n$3\r\nabc\r\n", "-ERR nope\r\n", "*3\r\n:1\r\n:-4\r\n:0\r\n"} {
		addr := fakeRedis(t, answer)
		c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
		l := newLedger(t, c, "g", budget.Dollar, budget.Limits{})
		_, err := l.Reserve(ctx, 1)
		assert.ErrorIs(t, err, budget.ErrUnavailable, "%q", answer)
		_, err = l.State(ctx)
		assert.ErrorIs(t, err, budget.ErrUnavailable, "%q", answer)
		if answer != ":7\r\n" {
			assert.ErrorIs(t, l.Commit(ctx, budget.Reservation{ID: 1<<40 | 1, Amount: 1}, 1), budget.ErrUnavailable, "%q", answer)
		}
		c.Close()
	}

	c := redisClient(t)
	name := budgetName(t, c)
	l := newLedger(t, c, name, budget.Dollar, budget.Limits{})
	require.NoError(t, c.HSet(ctx, "{baar:"+name+"}:seq", "x", "y").Err())
	_, err := l.Reserve(ctx, 1)
	assert.ErrorIs(t, err, budget.ErrUnavailable)
}

// TestLeaseExpiry checks that a reservation whose holder vanished is charged
// as spent when its lease expires, by another process's next operation.
func TestLeaseExpiry(t *testing.T) {
	c := redisClient(t)
	name := budgetName(t, c)
	ctx := context.Background()
	clk := ledgertest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	p := budget.Limits{Lease: 2 * time.Minute, Now: clk.Now}
	dead := newLedger(t, c, name, 10*budget.Dollar, p)
	_, err := dead.Reserve(ctx, 6*budget.Dollar)
	require.NoError(t, err)
	live := newLedger(t, redisClient(t), name, 10*budget.Dollar, p)
	_, err = live.Reserve(ctx, 5*budget.Dollar)
	require.ErrorIs(t, err, budget.ErrExceeded)
	clk.Add(2*time.Minute + time.Millisecond)
	st, err := live.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: 6 * budget.Dollar}, st)
	_, err = live.Reserve(ctx, 5*budget.Dollar)
	assert.ErrorIs(t, err, budget.ErrExceeded, "the expired reservation stays spent")
}

func TestLargeAmounts(t *testing.T) {
	c := redisClient(t)
	l := newLedger(t, c, budgetName(t, c), redisledger.MaxLimit, budget.Limits{})
	ctx := context.Background()
	r, err := l.Reserve(ctx, redisledger.MaxLimit-1)
	require.NoError(t, err)
	_, err = l.Reserve(ctx, 2)
	var ex *budget.ExceededError
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, budget.ExceededError{Limit: redisledger.MaxLimit, Reserved: redisledger.MaxLimit - 1, Requested: 2}, *ex)
	require.NoError(t, l.Commit(ctx, r, redisledger.MaxLimit-3))
	st, err := l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: redisledger.MaxLimit, Spent: redisledger.MaxLimit - 3}, st)
	assert.ErrorIs(t, l.Commit(ctx, budget.Reservation{ID: 5, Amount: 1}, 1), budget.ErrInvalid)
	assert.NoError(t, l.Commit(ctx, budget.Reservation{ID: r.ID, Amount: 1}, 1), "already settled: a no-op")
}

// A budget whose keys vanish does not start again from $0 under the
// ledgers that saw it (it used to, and to issue reservation 1 again, so
// that the settlement of an in-flight call settled a new call's
// reservation): they fail closed until it is re-initialized on purpose,
// and no reservation of the budget's earlier life settles one of the new.
func TestStateLossFailsClosed(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	name := budgetName(t, c)
	l := newLedger(t, c, name, 10*budget.Dollar, budget.Limits{})
	r, err := l.Reserve(ctx, 9*budget.Dollar)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, r, 9*budget.Dollar))
	inflight, err := l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)

	dropKeys(t, c, name)
	_, err = l.Reserve(ctx, 5*budget.Dollar)
	requireLost(t, err)
	_, err = l.State(ctx)
	requireLost(t, err)
	requireLost(t, l.Commit(ctx, inflight, budget.Cent))
	n, err := c.Exists(ctx, "{baar:"+name+"}:epoch", "{baar:"+name+"}:seq").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "nothing was written")

	// A process that never saw the budget cannot know: it starts one.
	fresh := newLedger(t, c, name, 10*budget.Dollar, budget.Limits{})
	first, err := fresh.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	require.NoError(t, fresh.Cancel(ctx, first))
	other, err := fresh.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	assert.Equal(t, inflight.Amount, other.Amount)
	assert.NotEqual(t, inflight.ID, other.ID, "IDs differ across the budget's lives")
	assert.Equal(t, inflight.ID&(1<<40-1), other.ID&(1<<40-1), "the same sequence number")
	_, err = l.Reserve(ctx, budget.Cent)
	requireLost(t, err)

	require.NoError(t, redisledger.Reinitialize(ctx, c, name))
	st, err := l.State(ctx)
	require.NoError(t, err, "re-initialized, the ledger adopts the budget as it is")
	assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: budget.Cent}, st)
	assert.ErrorIs(t, l.Commit(ctx, inflight, 5*budget.Dollar), budget.ErrInvalid, "a reservation of the lost life")
	st, err = fresh.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: budget.Cent}, st, "the new reservation was not touched")
	require.NoError(t, fresh.Commit(ctx, other, budget.Cent))
	r, err = l.Reserve(ctx, budget.Dollar)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, r, budget.Dollar))
	st, err = fresh.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: budget.Dollar + budget.Cent}, st)
}

// A state rolled back (an older snapshot restored, a failover to a replica
// that missed the latest writes) loses reservations a ledger was issued:
// the ledger fails closed.
func TestStateRollbackFailsClosed(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	name := budgetName(t, c)
	l := newLedger(t, c, name, 10*budget.Dollar, budget.Limits{})
	for range 3 {
		_, err := l.Reserve(ctx, budget.Cent)
		require.NoError(t, err)
	}
	require.NoError(t, c.Set(ctx, "{baar:"+name+"}:seq", 1, 0).Err())
	_, err := l.Reserve(ctx, budget.Cent)
	requireLost(t, err)
	assert.Contains(t, err.Error(), "rolled back")
	require.NoError(t, redisledger.Reinitialize(ctx, c, name))
	_, err = l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
}

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

// TestSharedAlerts commits from 1,000 goroutines through two ledgers of one
// budget on one Redis, each with its own connection pool: every threshold
// is reported exactly once in all.
func TestSharedAlerts(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	name := budgetName(t, c1)
	p := budget.Limits{KeyLimit: 5 * budget.Dollar}
	ledgertest.Alerts(t, []budget.Ledger{newLedger(t, c1, name, 10*budget.Dollar, p), newLedger(t, c2, name, 10*budget.Dollar, p)}, 1000)
}
