// Package ledgertest checks that a [budget.Ledger] enforces a
// [budget.Limits]: budgets per key chosen through the context, calendar
// windows, leases, and the hard cap under concurrency. Every store of the
// budget package and its subpackages runs it, like slogtest for slog
// handlers.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York, whatever the machine has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
)

// Clock is an injected clock ([budget.Limits.Now]): tests move it instead of
// sleeping. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Opener opens a fresh, empty ledger with a global limit and a policy, for
// one test; it closes it when the test ends.
type Opener func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger

// unsettledLister is implemented by ledgers that list their unsettled
// reservations.
type unsettledLister interface {
	Unsettled(context.Context) ([]budget.Reservation, error)
}

// unsettled lists l's unsettled reservations, or returns errNoList when l
// cannot list them.
func unsettled(l budget.Ledger, ctx context.Context) ([]budget.Reservation, error) {
	u, ok := l.(unsettledLister)
	if !ok {
		return nil, errNoList
	}
	return u.Unsettled(ctx)
}

var errNoList = errors.New("the ledger does not list unsettled reservations")

// stateOf reads l's state for ctx.
func stateOf(t *testing.T, l budget.Ledger, ctx context.Context) budget.State {
	t.Helper()
	s, err := l.State(ctx)
	require.NoError(t, err)
	return s
}

// Run checks the policy semantics of the ledgers open returns: scopes
// (global and per-key budgets, atomic across both), windows (daily in
// America/New_York, settlements applied to their own window), leases
// (expired reservations charged as spent, late settlements correcting the
// charge), settlement rules, and a concurrent storm. Ledgers that have an
// Unsettled method also have it checked.
func Run(t *testing.T, open Opener) {
	t.Run("scopes", func(t *testing.T) {
		l := open(t, 10*budget.Dollar, budget.Limits{KeyLimit: 3 * budget.Dollar, KeyLimits: map[string]budget.Amount{"vip": 8 * budget.Dollar, "blocked": 0}})
		bg := context.Background()
		u1 := budget.ContextWithKey(bg, "user-1")

		r1, err := l.Reserve(u1, 2*budget.Dollar)
		require.NoError(t, err)
		// The key's budget refuses: nothing is held anywhere.
		_, err = l.Reserve(u1, 2*budget.Dollar)
		var ex *budget.ExceededError
		require.ErrorAs(t, err, &ex)
		assert.ErrorIs(t, err, budget.ErrExceeded)
		assert.Equal(t, budget.ExceededError{Limit: 3 * budget.Dollar, Reserved: 2 * budget.Dollar, Requested: 2 * budget.Dollar, Key: "user-1"}, *ex, "the key's budget refuses, and says so")
		assert.Contains(t, err.Error(), `"user-1"`)
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: 2 * budget.Dollar}, stateOf(t, l, bg), "no partial reservation")
		// The binding budget of user-1 is its own.
		assert.Equal(t, budget.State{Limit: 3 * budget.Dollar, Reserved: 2 * budget.Dollar}, stateOf(t, l, u1))

		// Other keys have their own budgets; a blocked key gets nothing.
		_, err = l.Reserve(budget.ContextWithKey(bg, "blocked"), 1)
		assert.ErrorIs(t, err, budget.ErrExceeded)
		rv, err := l.Reserve(budget.ContextWithKey(bg, "vip"), 7*budget.Dollar)
		require.NoError(t, err)
		// Now the global budget binds: 1 left.
		_, err = l.Reserve(budget.ContextWithKey(bg, "user-2"), 2*budget.Dollar)
		require.ErrorAs(t, err, &ex)
		assert.Equal(t, 10*budget.Dollar, ex.Limit, "refused by the global budget")
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: 9 * budget.Dollar}, stateOf(t, l, budget.ContextWithKey(bg, "user-2")))

		require.NoError(t, l.Commit(bg, r1, budget.Dollar))
		require.NoError(t, l.Cancel(bg, rv))
		assert.Equal(t, budget.State{Limit: 3 * budget.Dollar, Spent: budget.Dollar}, stateOf(t, l, u1))
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: budget.Dollar}, stateOf(t, l, bg))
		// Settling twice is a no-op; a foreign reservation is invalid.
		require.NoError(t, l.Commit(bg, r1, 5*budget.Dollar))
		assert.ErrorIs(t, l.Cancel(bg, budget.Reservation{ID: 99, Amount: 1}), budget.ErrInvalid)
		assert.ErrorIs(t, l.Cancel(bg, budget.Reservation{ID: 0}), budget.ErrInvalid)
		_, err = l.Reserve(bg, -1)
		assert.ErrorIs(t, err, budget.ErrInvalid)
	})

	t.Run("no key budget", func(t *testing.T) {
		l := open(t, budget.Dollar, budget.Limits{})
		ctx := budget.ContextWithKey(context.Background(), "anyone")
		_, err := l.Reserve(ctx, budget.Dollar)
		require.NoError(t, err)
		assert.Equal(t, budget.State{Limit: budget.Dollar, Reserved: budget.Dollar}, stateOf(t, l, ctx))
	})

	t.Run("windows", func(t *testing.T) {
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		clk := NewClock(time.Date(2025, 3, 9, 23, 0, 0, 0, ny))
		l := open(t, 10*budget.Dollar, budget.Limits{KeyLimit: 5 * budget.Dollar, Window: budget.Window{Period: budget.Daily, Location: ny}, Now: clk.Now})
		bg := context.Background()
		u := budget.ContextWithKey(bg, "u")
		old, err := l.Reserve(u, 4*budget.Dollar)
		require.NoError(t, err)
		assert.NotZero(t, old.Generation)
		spent, err := l.Reserve(bg, 5*budget.Dollar)
		require.NoError(t, err)
		require.NoError(t, l.Commit(bg, spent, 5*budget.Dollar))
		_, err = l.Reserve(bg, 2*budget.Dollar)
		require.ErrorIs(t, err, budget.ErrExceeded)

		clk.Add(time.Hour) // midnight in New York: a new day
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar}, stateOf(t, l, bg))
		assert.Equal(t, budget.State{Limit: 5 * budget.Dollar}, stateOf(t, l, u))
		r, err := l.Reserve(u, 5*budget.Dollar)
		require.NoError(t, err)
		assert.Equal(t, old.Generation+1, r.Generation)

		// The old reservation settles into its own day, not today.
		require.NoError(t, l.Commit(bg, old, 4*budget.Dollar))
		assert.Equal(t, budget.State{Limit: 5 * budget.Dollar, Reserved: 5 * budget.Dollar}, stateOf(t, l, u))
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: 5 * budget.Dollar}, stateOf(t, l, bg))
		require.NoError(t, l.Commit(bg, r, 3*budget.Dollar))
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: 3 * budget.Dollar}, stateOf(t, l, bg))
	})

	t.Run("leases", func(t *testing.T) {
		clk := NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
		l := open(t, 10*budget.Dollar, budget.Limits{KeyLimit: 5 * budget.Dollar, Lease: time.Minute, Now: clk.Now})
		bg := context.Background()
		u := budget.ContextWithKey(bg, "u")
		a, err := l.Reserve(u, 4*budget.Dollar)
		require.NoError(t, err)
		b, err := l.Reserve(bg, 3*budget.Dollar)
		require.NoError(t, err)
		clk.Add(59 * time.Second)
		c, err := l.Reserve(bg, budget.Dollar)
		require.NoError(t, err)
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: 8 * budget.Dollar}, stateOf(t, l, bg))

		clk.Add(2 * time.Second) // a and b expire: charged as spent
		z, err := l.Reserve(bg, 0)
		require.NoError(t, err)
		require.NoError(t, l.Cancel(bg, z))
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: 7 * budget.Dollar, Reserved: budget.Dollar}, stateOf(t, l, bg))
		assert.Equal(t, budget.State{Limit: 5 * budget.Dollar, Spent: 4 * budget.Dollar}, stateOf(t, l, u))
		if list, err := unsettled(l, bg); !errors.Is(err, errNoList) {
			require.NoError(t, err)
			assert.Equal(t, []budget.Reservation{a, b, c}, list)
		}

		// Late settlements correct the charge.
		require.NoError(t, l.Commit(bg, a, budget.Dollar))
		require.NoError(t, l.Cancel(bg, b))
		require.NoError(t, l.Commit(bg, c, budget.Dollar))
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: 2 * budget.Dollar}, stateOf(t, l, bg))
		assert.Equal(t, budget.State{Limit: 5 * budget.Dollar, Spent: budget.Dollar}, stateOf(t, l, u))
		if list, err := unsettled(l, bg); !errors.Is(err, errNoList) {
			require.NoError(t, err)
			assert.Empty(t, list)
		}
		require.NoError(t, l.Commit(bg, a, 9*budget.Dollar), "settled: no-op")
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: 2 * budget.Dollar}, stateOf(t, l, bg))
	})

	t.Run("negative commit", func(t *testing.T) {
		l := open(t, 10*budget.Dollar, budget.Limits{})
		bg := context.Background()
		r, err := l.Reserve(bg, 2*budget.Dollar)
		require.NoError(t, err)
		assert.ErrorIs(t, l.Commit(bg, r, -1), budget.ErrInvalid)
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: 2 * budget.Dollar}, stateOf(t, l, bg))
		r2, err := l.Reserve(bg, 2*budget.Dollar)
		require.NoError(t, err)
		assert.ErrorIs(t, l.Commit(bg, budget.Reservation{ID: r2.ID, Amount: 3}, 1), budget.ErrInvalid, "wrong amount")
		assert.ErrorIs(t, l.Commit(bg, budget.Reservation{ID: r2.ID, Amount: r2.Amount, Generation: 5}, 1), budget.ErrInvalid, "wrong generation")
		require.NoError(t, l.Commit(bg, r2, 1))
	})

	t.Run("saturated reservation", func(t *testing.T) {
		// An amount beyond what any store represents (a worst case that
		// saturated at budget.MaxAmount) is a refusal like any other, not
		// an invalid input: every budget is smaller.
		l := open(t, 10*budget.Dollar, budget.Limits{KeyLimit: 3 * budget.Dollar})
		bg := context.Background()
		held, err := l.Reserve(bg, budget.Dollar)
		require.NoError(t, err)
		for _, amount := range []budget.Amount{budget.MaxAmount, 1<<62 + 1, 1<<53 + 1} {
			for _, ctx := range []context.Context{bg, budget.ContextWithKey(bg, "u")} {
				_, err := l.Reserve(ctx, amount)
				var ex *budget.ExceededError
				require.ErrorAs(t, err, &ex, "reserving %v", amount)
				assert.ErrorIs(t, err, budget.ErrExceeded)
				assert.NotErrorIs(t, err, budget.ErrInvalid)
				assert.Equal(t, amount, ex.Requested)
				assert.Greater(t, ex.Requested, ex.Limit)
			}
		}
		assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Reserved: budget.Dollar}, stateOf(t, l, bg), "nothing held")
		require.NoError(t, l.Commit(bg, held, budget.Dollar))
		_, err = l.Reserve(budget.ContextWithKey(bg, "u"), 3*budget.Dollar)
		assert.NoError(t, err, "the budgets still grant what fits")
	})

	t.Run("storm", func(t *testing.T) {
		Storm(t, []budget.Ledger{open(t, 50*budget.Dollar, budget.Limits{KeyLimit: 10 * budget.Dollar})})
	})
}

// policyStorm runs concurrent reserve/commit/cancel on ledgers (l and
// others sharing its budget) with four keys and checks that no budget ever
// exceeded its limit and that the spend adds up.
func Storm(t *testing.T, ledgers []budget.Ledger) {
	require.NotEmpty(t, ledgers)
	l := ledgers[0]
	bg := context.Background()
	var mu sync.Mutex
	var total budget.Amount
	perKey := map[string]budget.Amount{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			led := ledgers[g%len(ledgers)]
			key := fmt.Sprintf("k%d", g%4)
			ctx := budget.ContextWithKey(bg, key)
			for range 150 {
				amt := budget.Amount(rng.IntN(int(budget.Dollar)))
				r, err := led.Reserve(ctx, amt)
				if errors.Is(err, budget.ErrExceeded) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				s, err := led.State(ctx)
				assert.NoError(t, err)
				assert.LessOrEqual(t, s.Spent+s.Reserved, s.Limit)
				if rng.IntN(4) == 0 {
					assert.NoError(t, led.Cancel(bg, r))
					continue
				}
				actual := budget.Amount(rng.Int64N(int64(amt) + 1))
				assert.NoError(t, led.Commit(bg, r, actual))
				mu.Lock()
				total += actual
				perKey[key] += actual
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s := stateOf(t, l, bg)
	assert.Equal(t, total, s.Spent)
	assert.Zero(t, s.Reserved)
	assert.LessOrEqual(t, s.Spent, s.Limit)
	for k, v := range perKey {
		ks := stateOf(t, l, budget.ContextWithKey(bg, k))
		if ks.Limit == 10*budget.Dollar { // the key binds
			assert.Equal(t, v, ks.Spent, k)
			assert.LessOrEqual(t, ks.Spent, ks.Limit, k)
		}
	}
}
