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
	// The call's own output cap (never fitted to the budget, unlike the
	// Router's) puts its worst case above what is left.
	_, err = router.Call(context.Background(), "Summarize the news.", llms.WithMaxTokens(1000))
	var be *baar.BudgetError
	fmt.Println(errors.Is(err, baar.ErrBudgetExceeded), llms.IsQuotaExceededError(err), errors.As(err, &be))
	fmt.Println(err)
	fmt.Println("provider calls:", model.Calls())
	// Output:
	// true true true
	// baar: budget exceeded: my-model needs up to $0.004049, $0.000000 of the $0.003000 budget is spent and $0.000000 reserved; raise the budget (WithBudget or the ledger's limit) or lower the output cap (WithMaxOutputTokens, llms.WithMaxTokens)
	// provider calls: 0
}

// Routing policies: a user policy sends every call that offers tools to the
// capable model, whatever its score; reports say which policy decided.
func ExampleWithPolicy() {
	cheap := &baartest.Model{Name: "gpt-4o-mini"}
	capable := &baartest.Model{Name: "gpt-4o"}
	toolsToCapable := baar.PolicyFunc(func(_ context.Context, in *baar.RouteInput, current baar.Route) (baar.Route, error) {
		if len(in.Request.Tools) > 0 {
			return baar.Route{Tier: baar.TierCapable, Reason: "tools offered"}, nil
		}
		return current, nil
	})
	router, err := baar.New(
		baar.Tier{Model: cheap, Name: "gpt-4o-mini"},
		baar.Tier{Model: capable, Name: "gpt-4o"},
		baar.WithBudget(1), baar.WithMaxOutputTokens(200),
		baar.WithPolicy("tools-capable", toolsToCapable),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			fmt.Printf("%s by %s (%s)\n", r.Tier, r.Policy, r.Reason)
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "What time is it in Tokyo?")}
	_, _ = router.GenerateContent(ctx, msgs)
	_, _ = router.GenerateContent(ctx, msgs, llms.WithTools([]llms.Tool{{Type: "function",
		Function: &llms.FunctionDefinition{Name: "clock", Description: "current time in a city"}}}))
	// Output:
	// cheap by threshold (score below threshold)
	// capable by tools-capable (tools offered)
}
