// Command baar-stress is an adversarial suite for a baar configuration: it
// attacks a Router built with your models, prices, budget and output cap, and
// checks that the cap holds, that every refusal stays local and that every
// attempt is accounted for. It runs offline, against baartest's simulator
// through langchaingo's real openai client (or baartest.Model where raw speed
// matters), in a few seconds; CI runs it as a test.
//
// # Usage
//
//	go run ./cmd/baar-stress [flags]
//
//	--budget USD            cap each check runs under (default 0.10); storms
//	                        lower it to the worst case of a quarter of their
//	                        calls so that most calls must be refused
//	--cheap-model NAME      cheap tier (default gpt-4o-mini)
//	--capable-model NAME    capable tier (default gpt-4o)
//	--cheap-price IN,OUT    USD per 1M tokens, for models not in the table
//	--capable-price IN,OUT
//	--max-output N          output cap per call (default 256)
//	--seed N                seed of the random failures (default 1)
//	--only REGEX            run only the matching checks
//	--goroutines N          goroutines per storm (default 10000)
//	--check-timeout D       a check still running after D is a FAIL (default 30s)
//	--quick D               how fast a token bomb must end, an endless stream
//	                        be cut, a storm call return (default 5s)
//	--json                  print one JSON object instead of the table
//
// It reports each check on standard error as it runs, then prints a table
// (check, what was tried, PASS or FAIL, spend against the cap, time, detail)
// and exits 1 if a check failed, 2 on a usage error (an unpriced model
// without --cheap-price or --capable-price, say), 0 otherwise and for --help.
//
// # Checks
//
// Complexity games (games/…). The threshold is calibrated to a 20% capable
// share on a built-in sample of 40 easy and 10 hard prompts
// (scoring.Calibrate, and baar.WithCapableShare must agree). Keyword
// stuffing, padding and instructions aimed at the scorer are applied to every
// easy sample prompt below the threshold; a check passes when no attack lifts
// one to the threshold. A hard task worded as a quick question
// (games/disguised-hard) usually goes to the cheap model: a lexical scorer
// cannot see difficulty the wording hides. That check passes when each call
// is answered under the cap, and it reports the tier each went to.
//
// Token bombs (bombs/…): an 8 MB prompt, 5,000 messages, a 1 MB JSON tool
// schema, invalid UTF-8. Each must end within --quick (5 s) with an answer or a clear
// error, without panic, with spend ≤ cap; a refusal must send nothing.
//
// Concurrency storms (storms/…): 10,000 goroutines released at once on a
// tight budget against providers that answer max_tokens every time, fail at
// random, stall (each call has a timeout), or misreport usage: inflated past
// max_tokens (the truth must be recorded, and every reservation after the
// spend passed the cap refused), negative, missing or absurd (billed the
// reservation). A 1,000-goroutine storm does the same over HTTP with the
// simulator's failures (429, 500, 503, 401, 400, resets, truncated bodies,
// stalls). After each: spend ≤ cap (but for the inflated storm), nothing left
// reserved, spent + reserved ≤ cap at every settlement, the provider's
// request count equals the attempts the call reports list (so no refused
// call reached it), the ledger's spend equals the sum of the attempts' costs,
// and each attempt is settled as documented (released for errors that cannot
// have been billed, at the reservation for the others).
//
// Runaway loops (loops/…): an agent resending its growing history until
// refused (it must stop at the cap, refused because the next call does not
// fit), 200 such agents on one budget, a stream that never ends, which
// the Router must cut at its reservation: the call returns within --quick (5 s) with an
// error matching baar.ErrBudgetExceeded and the connection is closed, and an
// agent whose key may spend a tenth of the budget per minute: refused by
// that limit, named in the refusal, and answered again the next minute.
// storms/alerts-once runs the storm's goroutines with budget alerts at 25%,
// 50%, 75% and 90% until the cap: each fires exactly once, none dropped.
//
// Prices (prices/…): a model without a price (New fails naming the model and
// WithPrice; llms.WithModel to it is refused), free models (calls succeed,
// spend stays $0), and a $0 budget towards kill-switch.baar.invalid (refused
// with zero dials and zero DNS look-ups, counted by baartest.NetCounter).
//
// A check that panics or does not return within --check-timeout is a FAIL
// row, never a hung tool.
package main
