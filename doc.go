// Package baar makes LLM agents safe to run on a budget.
//
// A [Router] is a langchaingo [llms.Model] over two models, a cheap one and a
// capable one, under a hard USD budget. Use it wherever a single model goes:
// chains, agent executors, [llms.GenerateFromSinglePrompt]. Build one with
// [New] and the options of options.go ([WithBudget], [WithCascade], …).
//
// # The data path of one call
//
// [Router.GenerateContent] reads top to bottom (llm.go):
//
//  1. Score: the request is converted into a langchaingo-free
//     [scoring.Request] and rated by the [scoring.Scorer] ([WithScorer];
//     default [scoring.Default]).
//  2. Decide: the policies choose a tier ([Policy]; policy.go): the score
//     against [DefaultComplexityThreshold] raised as the budget is used up
//     ([ThresholdSchedule]), then sticky conversations, the value gate,
//     exploration and the user's policies. With [WithCascade] the cheap
//     model answers first instead (cascade.go).
//  3. Reserve: the call's worst case — the input-token bound at the input
//     price plus the output cap at the output price — is held in the
//     [budget.Ledger] (plan.go). The output cap is the caller's
//     llms.WithMaxTokens, else [WithMaxOutputTokens], else
//     [DefaultMaxOutputTokens]; near the end of the budget the Router's own
//     cap is fitted to what is left ([WithMinOutputTokens]). An unaffordable
//     capable call is downgraded; an unaffordable cheap one is refused with a
//     [*BudgetError] before any provider request: no network, no DNS.
//  4. Call the model with the caller's options plus the reserved cap
//     (attempt.go); a stream is counted and cut at the cap (stream.go).
//  5. Settle: the provider's usage, normalized for every langchaingo
//     provider, is priced by the price table (prices of [budget.Price];
//     [WithPriceTable], [WithPrice]); usage that is missing or below what the
//     text proves bills the reservation, never $0; usage above it is
//     recorded as the truth and refuses what follows (settle.go).
//  6. Cascade (with [WithCascade]): a [scoring.Verifier] judges the cheap
//     answer, and a doubt at or above the escalation threshold sends the call
//     to the capable model, reserved and settled on its own.
//  7. Fail over: a capable attempt that failed with an error that may go away
//     is tried on the cheap model, under its own reservation; not once part
//     of a stream reached the caller ([*StreamInterruptedError]).
//  8. Record: a [CallReport] for [WithReportFunc], callbacks, OpenTelemetry
//     spans and metrics (otel.go) and the telemetry log ([WithTelemetryLog]),
//     never with prompt or completion text unless [WithContentCapture].
//
// # Provider errors and billing
//
// Errors that cannot have been billed (connection refused, DNS failure, 401,
// 403, 400, 404, 422, 429, the provider's own quota) release the reservation.
// Others are settled at the reservation: the provider may have billed them,
// and the budget errs on the side of the cap. [ErrorClass] names the classes.
//
// # Money
//
// All accounting is in integer nano-dollars ([budget.Amount]); spent +
// reserved ≤ cap holds at every instant, for every attempt, under any
// concurrency, as long as providers honour max_tokens.
package baar
