package budget

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newMemory returns a Memory with limit, failing t on error.
func newMemory(t testing.TB, limit Amount) *Memory {
	t.Helper()
	m, err := NewMemory(limit)
	require.NoError(t, err)
	return m
}

// state returns m's state, failing t on error.
func state(t testing.TB, m *Memory) State {
	t.Helper()
	s, err := m.State(context.Background())
	require.NoError(t, err)
	return s
}

func TestNewMemory(t *testing.T) {
	_, err := NewMemory(-1)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "-$0.000000001")

	for _, limit := range []Amount{0, 1, MaxAmount} {
		m := newMemory(t, limit)
		assert.Equal(t, State{Limit: limit}, state(t, m))
	}
}

func TestMemoryReserveCommit(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, 10*Dollar)

	r1, err := m.Reserve(ctx, 3*Dollar)
	require.NoError(t, err)
	assert.Equal(t, Reservation{ID: 1, Amount: 3 * Dollar}, r1)
	r2, err := m.Reserve(ctx, 4*Dollar)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), r2.ID)
	assert.Equal(t, State{Limit: 10 * Dollar, Reserved: 7 * Dollar}, state(t, m))

	require.NoError(t, m.Commit(ctx, r1, 2*Dollar))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 2 * Dollar, Reserved: 4 * Dollar}, state(t, m))

	require.NoError(t, m.Cancel(ctx, r2))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 2 * Dollar}, state(t, m))
	assert.Equal(t, 8*Dollar, state(t, m).Remaining())

	r3, err := m.Reserve(ctx, 8*Dollar) // exactly the remainder
	require.NoError(t, err)
	assert.Equal(t, uint64(3), r3.ID)
	r4, err := m.Reserve(ctx, 0) // $0 fits in a full budget
	require.NoError(t, err)
	assert.Equal(t, uint64(4), r4.ID)
	require.NoError(t, m.Commit(ctx, r4, 0))
	require.NoError(t, m.Commit(ctx, r3, 8*Dollar))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 10 * Dollar}, state(t, m))
}

func TestMemoryExceeded(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, Dollar)
	r, err := m.Reserve(ctx, 60*Cent)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx, r, 30*Cent))
	_, err = m.Reserve(ctx, 50*Cent)
	require.NoError(t, err)

	before := state(t, m)
	_, err = m.Reserve(ctx, 20*Cent+1)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrExceeded)
	var e *ExceededError
	require.ErrorAs(t, err, &e)
	assert.Equal(t, ExceededError{Limit: Dollar, Spent: 30 * Cent, Reserved: 50 * Cent, Requested: 20*Cent + 1}, *e)
	assert.Equal(t, "budget exceeded: requested $0.200000001 with $0.30 spent and $0.50 reserved of a $1.00 limit", err.Error())
	assert.Equal(t, before, state(t, m), "a refusal changes nothing")

	r, err = m.Reserve(ctx, 20*Cent)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), r.ID, "a refusal consumes no ID")
}

func TestMemoryReserveInvalid(t *testing.T) {
	m := newMemory(t, Dollar)
	_, err := m.Reserve(context.Background(), -1)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.NotErrorIs(t, err, ErrExceeded)
	assert.Equal(t, State{Limit: Dollar}, state(t, m))
}

func TestMemoryReserveCancelledContext(t *testing.T) {
	m := newMemory(t, Dollar)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Reserve(ctx, Cent)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, State{Limit: Dollar}, state(t, m))

	// Settlements ignore the context: a cancelled call must still settle.
	r, err := m.Reserve(context.Background(), Cent)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), r.ID)
	require.NoError(t, m.Commit(ctx, r, Cent/2))
	r, err = m.Reserve(context.Background(), Cent)
	require.NoError(t, err)
	require.NoError(t, m.Cancel(ctx, r))
	assert.Equal(t, State{Limit: Dollar, Spent: Cent / 2}, state(t, m))
}

func TestMemorySettleIdempotent(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, Dollar)
	r, err := m.Reserve(ctx, 10*Cent)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx, r, 7*Cent))
	want := State{Limit: Dollar, Spent: 7 * Cent}
	assert.Equal(t, want, state(t, m))

	assert.NoError(t, m.Commit(ctx, r, 7*Cent))
	assert.NoError(t, m.Commit(ctx, r, 9*Cent))
	assert.NoError(t, m.Cancel(ctx, r))
	assert.Equal(t, want, state(t, m), "settling twice changes nothing")

	r2, err := m.Reserve(ctx, 10*Cent)
	require.NoError(t, err)
	require.NoError(t, m.Cancel(ctx, r2))
	assert.NoError(t, m.Cancel(ctx, r2))
	assert.NoError(t, m.Commit(ctx, r2, 5*Cent))
	assert.Equal(t, want, state(t, m), "a commit after a cancel changes nothing")
}

func TestMemorySettleForeign(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, Dollar)
	r, err := m.Reserve(ctx, 10*Cent)
	require.NoError(t, err)
	before := state(t, m)

	foreign := []Reservation{
		{ID: 0},
		{ID: 2, Amount: 10 * Cent},       // never issued
		{ID: 1 << 60},                    // never issued
		{ID: r.ID, Amount: r.Amount + 1}, // wrong amount
		{ID: r.ID, Amount: r.Amount, Generation: 1}, // wrong generation
	}
	for _, f := range foreign {
		err := m.Commit(ctx, f, Cent)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", f)
		assert.Contains(t, err.Error(), "not issued by this ledger")
		assert.ErrorIs(t, m.Cancel(ctx, f), ErrInvalid, "%+v", f)
		assert.Equal(t, before, state(t, m), "%+v changes nothing", f)
	}
	require.NoError(t, m.Commit(ctx, r, Cent), "the real reservation is intact")
	assert.Equal(t, State{Limit: Dollar, Spent: Cent}, state(t, m))
}

func TestMemoryCommitAboveReservation(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, Dollar)
	r, err := m.Reserve(ctx, 90*Cent)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx, r, 120*Cent), "recorded as is")
	s := state(t, m)
	assert.Equal(t, State{Limit: Dollar, Spent: 120 * Cent}, s)
	assert.Zero(t, s.Remaining())

	_, err = m.Reserve(ctx, 0)
	assert.ErrorIs(t, err, ErrExceeded, "an overspent budget refuses even $0")
	_, err = m.Reserve(ctx, 1)
	assert.ErrorIs(t, err, ErrExceeded)
}

func TestMemoryCommitNegative(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, Dollar)
	r, err := m.Reserve(ctx, 40*Cent)
	require.NoError(t, err)
	err = m.Commit(ctx, r, -5)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "-$0.000000005")
	assert.Equal(t, State{Limit: Dollar, Spent: 40 * Cent}, state(t, m),
		"the reservation is settled at its reserved amount, not lost")
	assert.NoError(t, m.Commit(ctx, r, Cent), "and is settled only once")
	assert.Equal(t, State{Limit: Dollar, Spent: 40 * Cent}, state(t, m))
}

func TestMemorySpentSaturates(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, MaxAmount)
	r1, err := m.Reserve(ctx, MaxAmount)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx, r1, MaxAmount))
	r2, err := m.Reserve(ctx, 0)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx, r2, MaxAmount))
	assert.Equal(t, State{Limit: MaxAmount, Spent: MaxAmount}, state(t, m))
}

func TestMemoryZeroValue(t *testing.T) {
	ctx := context.Background()
	var m Memory
	_, err := m.Reserve(ctx, 1)
	assert.ErrorIs(t, err, ErrExceeded)
	r, err := m.Reserve(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), r.ID)
	require.NoError(t, m.Commit(ctx, r, 0))
	assert.Equal(t, State{}, state(t, &m))
}

func TestMemorySetLimit(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, Dollar)
	assert.ErrorIs(t, m.SetLimit(-1), ErrInvalid)
	r, err := m.Reserve(ctx, 80*Cent)
	require.NoError(t, err)

	require.NoError(t, m.SetLimit(50*Cent))
	assert.Equal(t, State{Limit: 50 * Cent, Reserved: 80 * Cent}, state(t, m))
	assert.Zero(t, state(t, m).Remaining())
	_, err = m.Reserve(ctx, 0)
	assert.ErrorIs(t, err, ErrExceeded)

	require.NoError(t, m.Cancel(ctx, r))
	_, err = m.Reserve(ctx, 50*Cent)
	assert.NoError(t, err)
	require.NoError(t, m.SetLimit(2*Dollar))
	_, err = m.Reserve(ctx, 150*Cent)
	assert.NoError(t, err)
}

// TestMemoryStorm has 1,000 goroutines reserve, commit and cancel at random
// while another checks the invariant spent + reserved ≤ limit; at the end,
// Spent must be exactly the sum of the committed actuals.
func TestMemoryStorm(t *testing.T) {
	const (
		workers = 1000
		ops     = 200
		limit   = 150_000 * MicroDollar // exhausted about halfway through
	)
	ctx := context.Background()
	m := newMemory(t, limit)
	var (
		committed       atomic.Int64
		granted, refuse atomic.Int64
		violations      atomic.Int64
		stop            = make(chan struct{})
		checker         sync.WaitGroup
	)
	checker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, _ := m.State(ctx)
			if s.Spent+s.Reserved > s.Limit || s.Reserved < 0 || s.Spent < 0 {
				violations.Add(1)
			}
		}
	})

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 0x5eed))
			var held []Reservation
			for range ops {
				switch {
				case len(held) == 0 || rng.IntN(2) == 0:
					r, err := m.Reserve(ctx, Amount(rng.Int64N(int64(20*MicroDollar))))
					if err != nil {
						if !assert.ErrorIs(t, err, ErrExceeded) {
							return
						}
						refuse.Add(1)
						continue
					}
					granted.Add(1)
					held = append(held, r)
				default:
					i := rng.IntN(len(held))
					r := held[i]
					held = append(held[:i], held[i+1:]...)
					if rng.IntN(3) == 0 {
						assert.NoError(t, m.Cancel(ctx, r))
					} else {
						actual := Amount(rng.Int64N(int64(r.Amount) + 1)) // ≤ the reservation
						assert.NoError(t, m.Commit(ctx, r, actual))
						committed.Add(int64(actual))
					}
					if rng.IntN(4) == 0 { // a duplicate settlement is a no-op
						assert.NoError(t, m.Commit(ctx, r, r.Amount))
						assert.NoError(t, m.Cancel(ctx, r))
					}
				}
			}
			for _, r := range held {
				assert.NoError(t, m.Commit(ctx, r, r.Amount))
				committed.Add(int64(r.Amount))
			}
		})
	}
	wg.Wait()
	close(stop)
	checker.Wait()

	s := state(t, m)
	assert.Zero(t, violations.Load(), "spent + reserved > limit observed")
	assert.Zero(t, s.Reserved, "every reservation settled")
	assert.Equal(t, Amount(committed.Load()), s.Spent, "no settlement lost or double-counted")
	assert.LessOrEqual(t, s.Spent, s.Limit)
	assert.Positive(t, granted.Load())
	assert.Positive(t, refuse.Load(), "the storm must hit the limit")
	t.Logf("granted %d, refused %d, spent %v of %v", granted.Load(), refuse.Load(), s.Spent, s.Limit)
}

// TestMemoryRacingSettlements settles each reservation twice at once: exactly
// one settlement applies.
func TestMemoryRacingSettlements(t *testing.T) {
	const n = 2000
	ctx := context.Background()
	m := newMemory(t, n*Cent)
	rs := make([]Reservation, n)
	for i := range rs {
		r, err := m.Reserve(ctx, Cent)
		require.NoError(t, err)
		rs[i] = r
	}
	var wg sync.WaitGroup
	for _, r := range rs {
		for range 2 {
			wg.Go(func() { assert.NoError(t, m.Commit(ctx, r, Cent/2)) })
		}
	}
	wg.Wait()
	assert.Equal(t, State{Limit: n * Cent, Spent: n * Cent / 2}, state(t, m))
}
