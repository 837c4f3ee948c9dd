// Package baar makes LLM agents safe to run on a budget.
//
// A [Router] is a langchaingo [llms.Model] over two models, a cheap one and a
// capable one. Use it wherever a single model goes: chains, agent executors,
// llms.GenerateFromSinglePrompt.
//
// # The data path of one call
//
// Router.GenerateContent reads top to bottom:
//
//  1. Score: the whole request (every message, tool calls and results, the
//     tools offered, attachments) is converted into a langchaingo-free
//     scoring.Request and rated by the configured scoring.Scorer (default
//     scoring.Default(): a trained, offline, microsecond scorer whose scores
//     are percentiles of reference traffic).
//  2. Decide: the effective threshold is the configured one (default 0.80),
//     raised as the budget is used up (default min(0.93, threshold + 0.18 ×
//     spent/budget), never lower than configured). Score ≥ effective → the
//     capable model, else the cheap one.
//  3. Reserve: the call's worst-case cost — input tokens (a cheap guaranteed
//     upper bound; an exact count only when the bound does not fit) at the
//     input price plus the output cap at the output price — is held atomically
//     in the budget.Ledger. The output cap is the caller's MaxTokens, else
//     WithMaxOutputTokens, else the model's maximum output, and the Router
//     appends llms.WithMaxTokens(cap) when the caller set none, so the provider
//     cannot spend more than was reserved. If the capable model is
//     unaffordable the call is downgraded to the cheap one; if that is
//     unaffordable too, the call is refused with a *BudgetError before any
//     provider request: no network, no DNS.
//  4. Call the chosen model with the caller's options, untouched.
//  5. Normalize usage: the provider's token usage (every langchaingo provider's
//     keys and types, cache and reasoning conventions; first choice only).
//  6. Settle: the reservation is committed at the actual cost from the
//     embedded, dated price table (cached input, cache writes, reasoning,
//     long-context tiers). No usage reported → the reservation is billed,
//     never $0. Usage above the reservation is recorded as is, and later calls
//     see it.
//  7. Fail over: a retryable error of the capable model (rate limit, 5xx,
//     timeout, network) is settled on its own and the cheap model is tried,
//     under its own reservation.
//  8. Record: callbacks and the optional report function see every call,
//     refusals included.
//
// # Provider errors and billing
//
// Errors that cannot have been billed (connection refused, DNS failure, 401,
// 403, 400, 404, 422, 429, the provider's own quota) release the reservation.
// Others (timeouts after the request was sent, 5xx, broken or ambiguous
// network errors, the caller cancelling mid-request) are settled at the
// reservation: the provider may have billed them, and the budget errs on the
// side of the cap.
//
// # Money
//
// All accounting is in integer nano-dollars (budget.Amount); the invariant
// spent + reserved ≤ cap holds at every instant as long as providers honour
// max_tokens.
package baar
