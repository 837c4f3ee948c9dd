package budget

import (
	"context"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzLedger runs a random sequence of ledger operations decoded from the
// fuzz input against a Memory and a plain model of it, checking after every
// operation that both agree, that the invariant spent + reserved ≤ limit
// holds while no settlement exceeded its reservation and the limit was never
// lowered, and at the end that every settlement is accounted for.
func FuzzLedger(f *testing.F) {
	f.Add(uint32(1000), []byte{0, 10, 0, 0, 200, 0, 2, 0, 128, 3, 1, 0})
	f.Add(uint32(0), []byte{0, 0, 0, 2, 0, 0, 2, 0, 0, 3, 0, 0})
	f.Add(uint32(1<<31), []byte{0, 255, 31, 1, 255, 31, 2, 1, 4, 2, 0, 255, 4, 1, 1, 6, 9, 9, 5, 3, 0})
	f.Fuzz(func(t *testing.T, limit uint32, ops []byte) {
		ctx := context.Background()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		m, err := NewMemory(Amount(limit))
		require.NoError(t, err)

		// The model.
		var (
			lim, spent, reserved = Amount(limit), Amount(0), Amount(0)
			issued               []Reservation
			open                 = map[uint64]bool{}
			committed            Amount // sum of the amounts billed
			invariant            = true // spent + reserved ≤ limit must hold
		)
		check := func(step int) {
			// Plain comparisons first: testify only on failure keeps the
			// fuzzer fast.
			s, err := m.State(ctx)
			if want := (State{Limit: lim, Spent: spent, Reserved: reserved}); err != nil || s != want {
				require.NoError(t, err)
				require.Equal(t, want, s, "step %d", step)
			}
			if invariant && s.Spent+s.Reserved > s.Limit {
				require.LessOrEqual(t, s.Spent+s.Reserved, s.Limit, "step %d: invariant", step)
			}
		}
		settle := func(step int, r Reservation, commit bool, actual Amount) {
			var err error
			if commit {
				err = m.Commit(ctx, r, actual)
			} else {
				err = m.Cancel(ctx, r)
			}
			if !open[r.ID] {
				if err != nil {
					require.NoError(t, err, "step %d: settling a settled reservation is a no-op", step)
				}
				return
			}
			delete(open, r.ID)
			reserved -= r.Amount
			billed := actual
			switch {
			case commit && actual < 0:
				require.ErrorIs(t, err, ErrInvalid, "step %d", step)
				billed = r.Amount
			case err != nil:
				require.NoError(t, err, "step %d", step)
			}
			if !commit {
				return
			}
			if billed > r.Amount {
				invariant = false
			}
			spent += billed
			committed += billed
		}

		for step := 0; step+2 < len(ops); step += 3 {
			op, a, b := ops[step], ops[step+1], ops[step+2]
			switch op % 7 {
			case 0, 1: // reserve
				amount := Amount(a) << (b % 32)
				r, err := m.Reserve(ctx, amount)
				if spent+reserved+amount > lim {
					var e *ExceededError
					require.ErrorAs(t, err, &e, "step %d", step)
					require.Equal(t, ExceededError{Limit: lim, Spent: spent, Reserved: reserved, Requested: amount}, *e)
					break
				}
				if want := (Reservation{ID: uint64(len(issued) + 1), Amount: amount}); err != nil || r != want {
					require.NoError(t, err, "step %d", step)
					require.Equal(t, want, r, "step %d", step)
				}
				issued = append(issued, r)
				open[r.ID] = true
				reserved += amount
			case 2: // commit
				if len(issued) == 0 {
					break
				}
				r := issued[int(a)%len(issued)]
				var actual Amount
				switch {
				case b == 255:
					actual = -1
				case b%8 == 0:
					actual = r.Amount + Amount(b) // above the reservation
				default:
					actual = r.Amount * Amount(b) / 255
				}
				settle(step, r, true, actual)
			case 3: // cancel
				if len(issued) == 0 {
					break
				}
				settle(step, issued[int(a)%len(issued)], false, 0)
			case 4: // a reservation never issued
				r := Reservation{ID: uint64(len(issued)) + 1 + uint64(a), Amount: Amount(b)}
				require.ErrorIs(t, m.Commit(ctx, r, 1), ErrInvalid)
				require.ErrorIs(t, m.Cancel(ctx, r), ErrInvalid)
			case 5: // set the limit
				newLimit := Amount(a) << (b % 32)
				require.NoError(t, m.SetLimit(newLimit))
				if newLimit < spent+reserved {
					invariant = false
				}
				lim = newLimit
			case 6: // invalid or cancelled reserves change nothing
				_, err := m.Reserve(ctx, -Amount(a)-1)
				require.ErrorIs(t, err, ErrInvalid)
				_, err = m.Reserve(cancelled, Amount(b))
				require.ErrorIs(t, err, context.Canceled)
			}
			check(step)
		}

		for _, r := range issued {
			settle(-1, r, false, 0)
		}
		check(-1)
		require.Zero(t, reserved)
		require.Equal(t, committed, spent, "every settlement accounted for")
	})
}

// FuzzFromUSD checks that FromUSD never panics, rejects exactly the invalid
// inputs, rounds to the nano-dollar nearest the exact value of its input, and
// that String and USD round-trip.
func FuzzFromUSD(f *testing.F) {
	for _, v := range []float64{0, 1, 0.1, 2.5e-10, 5e-10, 1e-9, 123.456789012, 9223372036.854775, 9223372036.854776, -1, math.NaN(), math.Inf(1), 1e300} {
		f.Add(v)
	}
	maxNano := new(big.Float).SetInt64(int64(MaxAmount))
	f.Fuzz(func(t *testing.T, usd float64) {
		got, err := FromUSD(usd)
		if math.IsNaN(usd) || math.IsInf(usd, 0) || usd < 0 {
			require.ErrorIs(t, err, ErrInvalid)
			require.Zero(t, got)
			return
		}
		exact := new(big.Float).SetPrec(256).SetFloat64(usd)
		exact.Mul(exact, big.NewFloat(1e9))
		diff := new(big.Float).SetPrec(256).Sub(exact, maxNano)
		if diff.Cmp(big.NewFloat(0.5)) > 0 {
			require.ErrorIs(t, err, ErrInvalid, "%v is above MaxAmount", usd)
			return
		}
		if diff.Cmp(big.NewFloat(-1)) < 0 {
			require.NoError(t, err, "%v", usd)
		}
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.GreaterOrEqual(t, got, Amount(0))
		// |got − exact| ≤ ½ nano-dollar (plus the rounding of frac × 1e9).
		d := new(big.Float).SetPrec(256).SetInt64(int64(got))
		d.Sub(d, exact).Abs(d)
		require.LessOrEqual(t, d.Cmp(big.NewFloat(0.5+1e-6)), 0, "FromUSD(%v) = %d, exact %s", usd, int64(got), exact.Text('f', 12))

		back, err := parseDollars(got.String())
		require.NoError(t, err, got.String())
		require.Equal(t, got, back)
		if got < 1<<51 {
			again, err := FromUSD(got.USD())
			require.NoError(t, err)
			require.Equal(t, got, again)
		}
	})
}

// FuzzPriceCost checks that Price.Cost never panics, rejects exactly the
// invalid prices and usages, agrees with a math/big reference, is never
// negative, never decreases when a token of any kind is added, and never
// exceeds EstimateCost of bounds covering the usage.
func FuzzPriceCost(f *testing.F) {
	f.Add(2.5, 10.0, 1.25, 0.0, int64(0), 0.0, 0.0, int64(1000), int64(500), int64(100), int64(0), int64(0), uint32(1))
	f.Add(3.0, 15.0, 0.3, 3.75, int64(200_000), 6.0, 22.5, int64(200_000), int64(1000), int64(50_000), int64(20_000), int64(300), uint32(1))
	f.Add(1.25, 10.0, 0.125, 0.0, int64(200_000), 2.5, 15.0, int64(10), int64(5), int64(300_000), int64(0), int64(9), uint32(77))
	f.Add(0.0001, 0.0, 0.0, 0.0, int64(0), 0.0, 0.0, int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(0), uint32(1<<31))
	f.Add(1e9, 1e9, 0.0, 0.0, int64(0), 0.0, 0.0, int64(1), int64(-1), int64(0), int64(0), int64(0), uint32(0))
	f.Add(math.NaN(), 1.0, 0.0, 0.0, int64(0), 0.0, 0.0, int64(1), int64(1), int64(0), int64(0), int64(0), uint32(0))
	f.Fuzz(func(t *testing.T, input, output, cached, write float64, threshold int64, longIn, longOut float64,
		in, out, cr, cw, rs int64, delta uint32) {
		p := Price{Input: input, Output: output, CachedInput: cached, CacheWrite: write,
			LongContextThreshold: threshold, LongInput: longIn, LongOutput: longOut}
		u := Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: cr, CacheWriteTokens: cw, ReasoningTokens: rs}
		got, err := p.Cost(u)
		if verr := p.Validate(); verr != nil {
			require.ErrorIs(t, verr, ErrInvalid)
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		if in < 0 || out < 0 || cr < 0 || cw < 0 || rs < 0 {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.NoError(t, err)
		require.GreaterOrEqual(t, got, Amount(0))
		require.Equal(t, refCost(t, p, u), got, "%+v %+v", p, u)

		d := int64(delta)
		grow := func(name string, v Usage) {
			c, err := p.Cost(v)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, c, got, "adding %d %s tokens lowered the cost", d, name)
		}
		if in <= math.MaxInt64-d {
			grow("input", Usage{InputTokens: in + d, OutputTokens: out, CacheReadTokens: cr, CacheWriteTokens: cw, ReasoningTokens: rs})
			if cr <= math.MaxInt64-d {
				grow("cache-read", Usage{InputTokens: in + d, OutputTokens: out, CacheReadTokens: cr + d, CacheWriteTokens: cw, ReasoningTokens: rs})
			}
			if cw <= math.MaxInt64-d {
				grow("cache-write", Usage{InputTokens: in + d, OutputTokens: out, CacheReadTokens: cr, CacheWriteTokens: cw + d, ReasoningTokens: rs})
			}
		}
		if out <= math.MaxInt64-d {
			grow("output", Usage{InputTokens: in, OutputTokens: out + d, CacheReadTokens: cr, CacheWriteTokens: cw, ReasoningTokens: rs})
		}
		if rs <= math.MaxInt64-d {
			grow("reasoning", Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: cr, CacheWriteTokens: cw, ReasoningTokens: rs + d})
		}

		if cr <= math.MaxInt64-cw {
			est, err := p.EstimateCost(max(in, cr+cw), max(out, rs))
			require.NoError(t, err)
			require.GreaterOrEqual(t, est, got, "the estimate must bound the cost")
		}
	})
}
