package budget_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/baarcore/baar/budget"
)

// Several limits per scope: $500 a month for everyone, and for each key $50
// a day and $1 a minute. A runaway agent is stopped by the minute's limit
// long before the month notices.
func ExampleRate() {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	limits := budget.Limits{
		Window: budget.Window{Period: budget.Monthly}, // the global $500 resets monthly
		KeyRates: []budget.Rate{
			{Limit: 50 * budget.Dollar, Period: budget.Daily},
			{Limit: budget.Dollar, Period: budget.Minutely},
		},
		Now: func() time.Time { return now },
	}
	l, err := budget.NewScoped(500*budget.Dollar, limits) // or OpenFile, redisledger.New, pgledger.New
	if err != nil {
		log.Fatal(err)
	}
	agent := budget.ContextWithKey(context.Background(), "agent-7")
	calls := 0
	for {
		r, err := l.Reserve(agent, 30*budget.Cent)
		if err != nil {
			fmt.Println(calls, "calls, then:", err)
			break
		}
		if err := l.Commit(agent, r, 30*budget.Cent); err != nil {
			log.Fatal(err)
		}
		calls++
	}
	now = now.Add(time.Minute) // the next minute's window
	_, err = l.Reserve(agent, 30*budget.Cent)
	fmt.Println("a minute later:", err)
	// Output:
	// 3 calls, then: budget of key "agent-7": budget exceeded: requested $0.30 with $0.90 spent and $0.00 reserved of a $1.00 limit per minute
	// a minute later: <nil>
}
