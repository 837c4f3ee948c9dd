package baar_test

import (
	"context"
	"fmt"
	"log"
	"sort"
	"sync"

	"github.com/baarcore/baar"
)

// Alerts before the stop: a function called once per threshold of the
// budget's settled spend, on its own goroutine, never delaying a call.
func ExampleWithBudgetAlerts() {
	cheap, capable := exampleTiers()
	var mu sync.Mutex
	var got []string
	router, err := baar.New(cheap, capable,
		baar.WithBudget(0.01),
		baar.WithBudgetName("support-bot"),
		baar.WithBudgetAlerts([]float64{0.5, 0.8}, func(ctx context.Context, a baar.BudgetAlert) {
			mu.Lock() // a webhook, Slack or e-mail would go here
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s: %.0f%% of $%.2f spent", a.Budget, 100*a.Threshold, a.Limit))
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	for {
		if _, err := router.Call(context.Background(), "Summarize the ticket."); err != nil {
			break // the hard stop
		}
	}
	if err := router.Close(); err != nil { // delivers the alerts still queued
		log.Fatal(err)
	}
	sort.Strings(got)
	for _, line := range got {
		fmt.Println(line)
	}
	// Output:
	// support-bot: 50% of $0.01 spent
	// support-bot: 80% of $0.01 spent
}
