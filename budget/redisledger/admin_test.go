package redisledger_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
	"github.com/baarcore/baar/budget/redisledger"
)

// Keys lists every key of a budget, and only its (a name holding glob
// characters matches no other budget); Delete removes them, and the
// ledgers that saw the budget fail closed until it is re-initialized.
func TestKeysAndDelete(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	name := budgetName(t, c) + "-a*b?[c]"
	near := budgetName(t, c) + "-aXb?[c]" // matched by name taken as a pattern
	budgetNameCleanup(t, c, name)
	budgetNameCleanup(t, c, near)
	clk := ledgertest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	p := budget.Limits{KeyLimit: budget.Dollar, Lease: time.Minute, Now: clk.Now, Window: budget.Window{Period: budget.Daily}}
	l := newLedger(t, c, name, budget.Dollar, p)
	_, err := newLedger(t, c, near, budget.Dollar, p).Reserve(ctx, 1)
	require.NoError(t, err)
	_, err = l.Reserve(budget.ContextWithKey(ctx, "u"), budget.Cent)
	require.NoError(t, err)
	clk.Add(2 * time.Minute)
	open, err := l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)

	keys, err := redisledger.Keys(ctx, c, name)
	require.NoError(t, err)
	slices.Sort(keys)
	P := "{baar:" + name + "}:"
	want := []string{P + "epoch", P + "gen", P + "lease", P + "open", P + "seq", P + "w:20090",
		P + "x:" + u64s(open.ID>>40) + ":1", P + "tok", P + "tokx", P + "tokmin"}
	slices.Sort(want)
	assert.Equal(t, want, keys)

	n, err := redisledger.Delete(ctx, c, name)
	require.NoError(t, err)
	assert.Equal(t, int64(len(want)), n)
	keys, err = redisledger.Keys(ctx, c, name)
	require.NoError(t, err)
	assert.Empty(t, keys)
	left, err := redisledger.Keys(ctx, c, near)
	require.NoError(t, err)
	assert.NotEmpty(t, left, "the other budget is untouched")

	_, err = l.State(ctx)
	requireLost(t, err)
	require.NoError(t, redisledger.Reinitialize(ctx, c, name))
	st, err := l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: budget.Dollar}, st, "deleted and re-initialized: from $0")

	for _, f := range []func() error{
		func() error { _, err := redisledger.Keys(ctx, c, "a{b"); return err },
		func() error { _, err := redisledger.Delete(ctx, nil, "a"); return err },
		func() error { return redisledger.Reinitialize(ctx, c, "") },
	} {
		assert.ErrorIs(t, f(), budget.ErrInvalid)
	}
}
