package baar_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// A Router over two models with a $0.05 budget. baartest.Model stands in for
// real langchaingo clients (openai.New, anthropic.New, …).
func ExampleNew() {
	cheap := &baartest.Model{Name: "gpt-4o-mini"}
	capable := &baartest.Model{Name: "gpt-4o"}
	router, err := baar.New(
		baar.Tier{Model: cheap, Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: capable, Name: "gpt-4o", Provider: "openai"},
		baar.WithBudget(0.05),
		baar.WithMaxOutputTokens(500),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = llms.GenerateFromSinglePrompt(context.Background(), router, "What is the capital of France?")
	fmt.Println("error:", err)
	fmt.Println("cheap calls:", cheap.Calls(), "capable calls:", capable.Calls())
	fmt.Printf("spent less than a cent: %v\n", router.Spent() > 0 && router.Spent() < 0.01)
	// Output:
	// error: <nil>
	// cheap calls: 1 capable calls: 0
	// spent less than a cent: true
}

// The kill-switch: a call the budget cannot afford is refused locally, with a
// typed error and no provider request.
func ExampleBudgetError() {
	model := &baartest.Model{Name: "my-model"}
	router, err := baar.New(
		baar.Tier{Model: model, Name: "my-model"},
		baar.Tier{Model: model, Name: "my-model"},
		baar.WithPrice("my-model", budget.Price{Input: 1, Output: 4}), // USD per 1M tokens
		baar.WithMaxOutputTokens(1000),
		baar.WithBudget(0.003),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = router.Call(context.Background(), "Summarize the news.")
	var be *baar.BudgetError
	fmt.Println(errors.Is(err, baar.ErrBudgetExceeded), llms.IsQuotaExceededError(err), errors.As(err, &be))
	fmt.Println(err)
	fmt.Println("provider calls:", model.Calls())
	// Output:
	// true true true
	// baar: budget exceeded: my-model needs up to $0.004035, $0.000000 of the $0.003000 budget is spent and $0.000000 reserved
	// provider calls: 0
}
