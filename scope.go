package baar

import (
	"context"

	"github.com/baarcore/baar/budget"
)

// ContextWithBudgetKey returns a copy of ctx carrying a budget key (a user,
// tenant or session id): calls made with it must fit that key's budget as
// well as the global one, in ledgers that have budgets per key
// (budget.Limits, e.g. budget.NewScoped, budget.OpenFile,
// redisledger.New). It is budget.ContextWithKey.
func ContextWithBudgetKey(ctx context.Context, key string) context.Context {
	return budget.ContextWithKey(ctx, key)
}

// BudgetKeyFromContext returns the budget key carried by ctx and whether it
// carries a non-empty one.
func BudgetKeyFromContext(ctx context.Context) (string, bool) {
	return budget.KeyFromContext(ctx)
}
