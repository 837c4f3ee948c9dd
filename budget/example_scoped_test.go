package budget_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baarcore/baar/budget"
)

// A global daily budget of $10 with $1 per user: a user's calls must fit
// both, and a reservation settled after midnight counts for its own day.
func ExampleNewScoped() {
	now := time.Date(2025, 6, 1, 23, 0, 0, 0, time.UTC)
	ledger, err := budget.NewScoped(10*budget.Dollar, budget.Limits{
		KeyLimit: budget.Dollar,
		Window:   budget.Window{Period: budget.Daily},
		Now:      func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ctx := budget.ContextWithKey(context.Background(), "user-42")
	r, _ := ledger.Reserve(ctx, 80*budget.Cent)
	_, err = ledger.Reserve(ctx, 30*budget.Cent)
	fmt.Println(errors.Is(err, budget.ErrExceeded), err)

	now = now.Add(time.Hour) // midnight: a new day
	_ = ledger.Commit(ctx, r, 50*budget.Cent)
	st, _ := ledger.State(ctx)
	fmt.Println(st.Spent, st.Remaining())
	// Output:
	// true budget of key "user-42": budget exceeded: requested $0.30 with $0.00 spent and $0.80 reserved of a $1.00 limit
	// $0.00 $1.00
}
