// Package budget is baar's money: prices, usage, and a ledger that holds a
// hard spending cap under any concurrency.
//
// It imports neither langchaingo nor OpenTelemetry and can be used on its own,
// like golang.org/x/time/rate.
//
// # Money
//
// Money is an [Amount]: an int64 count of nano-dollars (1e-9 USD). Floats appear
// only at the edges ([FromUSD], [Amount.USD], [Price]'s per-million fields);
// nothing is ever accumulated in float64.
//
// # The data path of one model call
//
//	est := price.Cost(worstCaseUsage)        // input bound × input price + output cap × output price
//	r, err := ledger.Reserve(ctx, est)       // atomic: fails with *ExceededError if spent+reserved+est > limit
//	... call the provider with max_tokens = output cap ...
//	ledger.Commit(ctx, r, price.Cost(usage)) // settle to the actual cost (more than est is recorded as is)
//	ledger.Cancel(ctx, r)                    // or release it when the provider cannot have billed
//
// The invariant spent + reserved ≤ limit holds at every instant as long as
// settlements do not exceed their reservations, which is what a provider that
// honours max_tokens guarantees. A settlement above its reservation is recorded
// truthfully (spent may then exceed the limit) and every later Reserve fails.
//
// # Prices
//
// [Lookup] reads an embedded, dated table of list prices (each row carries its
// source and check date). An unknown model has no price: callers must fail
// closed, never assume $0. Prices are never fetched from the network.
//
// The embedded table ages. [LoadLiteLLMPrices] reads the price file the
// ecosystem maintains (LiteLLM's model_prices_and_context_window.json), from
// disk, fail-closed: a bad row or a price that moved more than tenfold
// against the embedded one is an error naming the model and its line. Stack
// tables with [LayerPrices] so that your own prices win over the file's,
// which win over the embedded ones:
//
//	file, err := budget.LoadLiteLLMPricesFile("model_prices_and_context_window.json")
//	if err != nil { … }
//	mine, err := budget.NewPriceTable("contract", map[string]budget.Price{"gpt-4o": {Input: 2, Output: 8}})
//	if err != nil { … }
//	prices := budget.LayerPrices(budget.EmbeddedPrices(), file, mine)
//	p, ok := prices.Lookup("gpt-4o") // p.Source, p.Checked: where the price comes from
package budget
