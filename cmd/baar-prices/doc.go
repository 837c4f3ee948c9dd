// Command baar-prices compares a price file in LiteLLM's format
// (model_prices_and_context_window.json) with baar's embedded price table,
// and shows the price baar bills a model at. It never uses the network:
// download the file yourself.
//
// # Usage
//
//	baar-prices diff [--skip-invalid] FILE
//	baar-prices show [--file FILE] MODEL...
//
// diff loads FILE as budget.LoadLiteLLMPrices does, without the check on
// price moves (so that every move is shown), and prints:
//
//   - changed: embedded models whose row in FILE differs, field by field,
//     old → new, with the factor of each price change; a move beyond the
//     10× budget.LoadLiteLLMPrices accepts by default is marked "!";
//   - not in file: embedded models FILE does not price (a router stacking
//     FILE over the embedded table keeps billing them at the embedded price);
//   - added: models of FILE that are not embedded models (when the embedded
//     table priced one through an alias or a provider prefix, that price is
//     shown beside it);
//   - the rows FILE has that no token price is read from, counted by reason.
//
// With --skip-invalid, invalid rows are counted among the skipped ones
// instead of failing.
//
// show prints each MODEL's price (USD per 1M tokens), limits and provenance:
// from the embedded table, or, with --file, from FILE stacked over it
// (budget.LayerPrices), as a router given that stack would bill it.
//
// # Exit status
//
// diff: 0 when no embedded model changed or is missing from FILE (added
// models do not count), 1 when some did. show: 0 when every MODEL has a
// price, 1 when one has none. Both: 2 on a usage error, 3 when FILE cannot
// be read or has invalid rows (each named with its line). --help exits 0.
package main
