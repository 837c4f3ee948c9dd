// Command chain runs a langchaingo LLMChain over a batch of questions through
// a baar Router (concurrently, with chains.Apply), prints each call's route,
// cost and remaining budget, and ends with the kill-switch refusing a call.
//
// Offline by default (baar's OpenAI-compatible simulator behind langchaingo's
// real openai client); with OPENAI_API_KEY set it uses the real API:
//
//	go run ./examples/chain
//	OPENAI_API_KEY=sk-... go run ./examples/chain -budget 0.005
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/prompts"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/internal/demo"
	"github.com/baarcore/baar/internal/otelsetup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

var questions = []string{
	"What is the capital of Japan?",
	"Translate 'thank you' into Spanish.",
	"A shop sells pens at $1.20 each or 12 for $12. Ali needs 30 pens. What is the cheapest way to buy them, and how much does he save compared with buying them one by one? Show each step.",
	"Is 91 a prime number?",
	"Write a Go function that merges two sorted slices of ints in O(n+m) time and explain why it is correct.",
	"Name three primary colours.",
	"If f(x) = 3x^2 - 2x + 7, compute f(4) - f(-2) and explain the method.",
	"What day comes after Monday?",
}

func run() error {
	cheapName := flag.String("cheap", demo.Env("BAAR_CHEAP_MODEL", "gpt-4o-mini"), "cheap model (env BAAR_CHEAP_MODEL)")
	capableName := flag.String("capable", demo.Env("BAAR_CAPABLE_MODEL", "gpt-4o"), "capable model (env BAAR_CAPABLE_MODEL)")
	budgetUSD := flag.Float64("budget", 0.005, "hard budget in USD")
	maxOut := flag.Int("max-output", 200, "output-token cap per call")
	flag.Parse()

	ctx := context.Background()
	// OTLP export of the Router's spans and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set.
	shutdown, err := otelsetup.Start(ctx, "baar-example-chain")
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "chain: telemetry export:", err)
		}
	}()
	models, err := demo.NewModels(*cheapName, *capableName)
	if err != nil {
		return err
	}
	defer models.Close()
	cheap, capable := models.Cheap, models.Capable

	var mu sync.Mutex // chains.Apply calls concurrently
	router, err := baar.New(
		baar.Tier{Model: cheap, Name: *cheapName, Provider: "openai"},
		baar.Tier{Model: capable, Name: *capableName, Provider: "openai"},
		baar.WithBudget(*budgetUSD),
		baar.WithMaxOutputTokens(*maxOut),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			mu.Lock()
			defer mu.Unlock()
			if r.Decision == baar.DecisionRejected {
				fmt.Printf("%-10s %-12s score %.2f  refused: %v\n", r.Decision, "-", r.Score, r.Err)
				return
			}
			fmt.Printf("%-10s %-12s score %.2f  cost $%.6f  remaining $%.6f\n", r.Decision, r.Model, r.Score, r.Cost, r.Remaining)
		}),
	)
	if err != nil {
		return err
	}
	fmt.Printf("budget $%.4f, cheap %s, capable %s\n\n", router.Budget(), *cheapName, *capableName)

	chain := chains.NewLLMChain(router, prompts.NewPromptTemplate("Answer concisely.\nQuestion: {{.question}}", []string{"question"}))
	inputs := make([]map[string]any, len(questions))
	for i, q := range questions {
		inputs[i] = map[string]any{"question": q}
	}
	if _, err := chains.Apply(ctx, chain, inputs, 4); err != nil {
		return err
	}
	fmt.Printf("\nbatch done: spent $%.6f of $%.4f\n\n", router.Spent(), router.Budget())

	// Keep asking until the budget refuses: the kill-switch answers locally.
	for i := 0; i < 10_000; i++ {
		_, err := chains.Run(ctx, chain, questions[i%len(questions)])
		if errors.Is(err, baar.ErrBudgetExceeded) {
			fmt.Printf("\nkill-switch: %v\n", err)
			fmt.Printf("refused locally with no provider request; spent $%.6f of $%.4f\n", router.Spent(), router.Budget())
			return nil
		}
		if err != nil {
			return err
		}
	}
	return errors.New("the budget was never exhausted")
}
