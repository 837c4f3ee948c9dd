package baar_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// Prices from a price file in LiteLLM's format, layered over the embedded
// table: the file's rows win, and the models it does not list keep their
// embedded price. In production, download and review the file, see what it
// changes with `go run ./cmd/baar-prices diff FILE`, and load it with
// budget.LoadLiteLLMPricesFile.
func ExampleWithPriceTable() {
	litellm := strings.NewReader(`{"my-finetune": {"litellm_provider": "openai", "mode": "chat",
		"input_cost_per_token": 3e-07, "output_cost_per_token": 1.2e-06, "max_output_tokens": 16384}}`)
	file, err := budget.LoadLiteLLMPrices(litellm, budget.WithSource("litellm.json"), budget.WithChecked("2026-12-01"))
	if err != nil {
		fmt.Println(err)
		return
	}
	prices := budget.LayerPrices(budget.EmbeddedPrices(), file)

	cheap := baar.Tier{Model: &baartest.Model{Name: "my-finetune"}, Name: "my-finetune", Provider: "openai"}
	capable := baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o", Provider: "openai"}
	router, err := baar.New(cheap, capable,
		baar.WithPriceTable(prices),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			fmt.Printf("%s priced by %s\n", r.Model, r.Attempts[0].PriceSource)
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := router.Call(context.Background(), "Hello!"); err != nil {
		fmt.Println(err)
	}
	p, _ := prices.Lookup("gpt-4o")
	fmt.Printf("gpt-4o: $%v in, $%v out per 1M tokens (the embedded row)\n", p.Input, p.Output)
	// Output:
	// my-finetune priced by litellm.json, checked 2026-12-01
	// gpt-4o: $2.5 in, $10 out per 1M tokens (the embedded row)
}
