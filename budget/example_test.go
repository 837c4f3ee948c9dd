package budget_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/baarcore/baar/budget"
)

func ExampleMemory() {
	ctx := context.Background()
	ledger, err := budget.NewMemory(1 * budget.Dollar)
	if err != nil {
		panic(err)
	}

	// Before a call: hold its worst-case cost.
	price, _ := budget.Lookup("gpt-4o-mini")
	worst, _ := price.EstimateCost(2_000, 1_000)
	r, err := ledger.Reserve(ctx, worst)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("reserved", r.Amount)

	// After it: settle to what the provider reports.
	actual, _ := price.Cost(budget.Usage{InputTokens: 2_000, CacheReadTokens: 1_024, OutputTokens: 312})
	if err := ledger.Commit(ctx, r, actual); err != nil {
		panic(err)
	}
	s, _ := ledger.State(ctx)
	fmt.Println("spent", s.Spent, "remaining", s.Remaining())

	// A call that does not fit is refused locally.
	_, err = ledger.Reserve(ctx, 2*budget.Dollar)
	fmt.Println(errors.Is(err, budget.ErrExceeded))
	fmt.Println(err)
	// Output:
	// reserved $0.0009
	// spent $0.0004104 remaining $0.9995896
	// true
	// budget exceeded: requested $2.00 with $0.0004104 spent and $0.00 reserved of a $1.00 limit
}

func ExamplePrice_Cost() {
	price, ok := budget.Lookup("anthropic/claude-sonnet-4-5")
	if !ok {
		fmt.Println("no price: refuse the call")
		return
	}
	// 10,000 prompt tokens of which 8,000 read from the cache, 500 output
	// tokens of which 200 of thinking.
	cost, err := price.Cost(budget.Usage{
		InputTokens:     10_000,
		CacheReadTokens: 8_000,
		OutputTokens:    500,
		ReasoningTokens: 200,
	})
	fmt.Println(cost, err)

	// Above 200k prompt tokens the whole request is billed at the long-context rates.
	cost, _ = price.Cost(budget.Usage{InputTokens: 250_000, OutputTokens: 500})
	fmt.Println(cost)
	// Output:
	// $0.0159 <nil>
	// $1.51125
}

func ExampleLookup() {
	for _, model := range []string{"gpt-4o", "groq/llama-3.1-8b-instant", "claude-haiku-4-5", "my-local-model"} {
		p, ok := budget.Lookup(model)
		fmt.Printf("%s: %v in=%v out=%v\n", model, ok, p.Input, p.Output)
	}
	// Output:
	// gpt-4o: true in=2.5 out=10
	// groq/llama-3.1-8b-instant: true in=0.05 out=0.08
	// claude-haiku-4-5: true in=1 out=5
	// my-local-model: false in=0 out=0
}

func ExamplePrice_Compile() {
	// Compile once, then price every call with integer arithmetic only.
	rates, err := budget.Price{Input: 0.15, Output: 0.60, CachedInput: 0.075}.Compile()
	if err != nil {
		panic(err)
	}
	cost, _ := rates.Cost(budget.Usage{InputTokens: 1_000_000, OutputTokens: 1})
	fmt.Println(cost)
	// Output:
	// $0.1500006
}

func ExampleFromUSD() {
	a, _ := budget.FromUSD(0.1)
	fmt.Println(a, int64(a))
	_, err := budget.FromUSD(-2)
	fmt.Println(err)
	// Output:
	// $0.10 100000000
	// invalid budget input: USD amount -2 is negative
}
