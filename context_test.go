package baar_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

func TestBudgetKeyContext(t *testing.T) {
	_, ok := baar.BudgetKeyFromContext(context.Background())
	assert.False(t, ok)
	ctx := baar.ContextWithBudgetKey(context.Background(), "tenant-9")
	k, ok := baar.BudgetKeyFromContext(ctx)
	assert.True(t, ok)
	assert.Equal(t, "tenant-9", k)
	k, ok = budget.KeyFromContext(ctx)
	assert.True(t, ok, "the ledgers read the same key")
	assert.Equal(t, "tenant-9", k)
}

// TestRouterKeyBudgets checks that the Router enforces per-key budgets
// chosen through the context: a key over its budget is refused with no
// provider call, while other keys and key-less calls go on.
func TestRouterKeyBudgets(t *testing.T) {
	l, err := budget.NewScoped(20*budget.Cent, budget.Limits{KeyLimit: lgCallCost * 3, KeyLimits: map[string]budget.Amount{"blocked": 0}})
	require.NoError(t, err)
	m := &baartest.Model{FullOutput: true}
	r := lgRouter(t, m, l)
	ctx := context.Background()
	alice := baar.ContextWithBudgetKey(ctx, "alice")

	for i := range 3 {
		_, err := r.GenerateContent(alice, lgMessages(i))
		require.NoError(t, err)
	}
	calls := m.Calls()
	_, err = r.GenerateContent(alice, lgMessages(9))
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.Contains(t, err.Error(), (lgCallCost * 3).String(), "refused by alice's budget")
	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "alice", be.Key)
	assert.Contains(t, err.Error(), `of key "alice"'s $`)
	_, err = r.GenerateContent(baar.ContextWithBudgetKey(ctx, "blocked"), lgMessages(9))
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.Equal(t, calls, m.Calls(), "refused without a provider call")

	_, err = r.GenerateContent(baar.ContextWithBudgetKey(ctx, "bob"), lgMessages(1))
	require.NoError(t, err)
	_, err = r.GenerateContent(ctx, lgMessages(2))
	require.NoError(t, err)
	st, err := r.State(alice)
	require.NoError(t, err)
	assert.Equal(t, lgCallCost*3, st.Limit, "alice's budget binds her calls")
	st, err = r.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, 20*budget.Cent, st.Limit)
	assert.Zero(t, st.Reserved)
	assert.Equal(t, int64(5), m.Calls())
}
