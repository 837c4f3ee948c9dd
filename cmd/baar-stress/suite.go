package main

import (
	"fmt"
	"time"

	"github.com/baarcore/baar/baartest"
)

// suite lists the checks in the order they run.
func suite() []check {
	return []check{
		{"games/calibration", "threshold for a 20% capable share on the built-in sample (40 easy, 10 hard)", calibrationCheck},
		{"games/keyword-stuffing", fmt.Sprintf("easy sample prompts × %d buzzword stuffings", len(stuffingAttacks)), gameCheck(stuffingAttacks)},
		{"games/padding", fmt.Sprintf("easy sample prompts × %d paddings (up to 5 KB)", len(paddingAttacks)), gameCheck(paddingAttacks)},
		{"games/scorer-instructions", fmt.Sprintf("easy sample prompts × %d instructions aimed at the scorer", len(injectionAttacks)), gameCheck(injectionAttacks)},
		{"games/disguised-hard", fmt.Sprintf("%d hard tasks worded as quick questions (PASS = answered under the cap, tier reported)", len(disguisedHard)), disguisedCheck},

		{"bombs/8mb-prompt", "one 8 MB prompt", bomb(bombPrompt)},
		{"bombs/5000-messages", "a 5,000-message conversation", bomb(bombHistory)},
		{"bombs/1mb-tool-schema", "a 1 MB JSON schema via llms.WithTools", bomb(bombSchema)},
		{"bombs/invalid-utf8", "invalid UTF-8 in a prompt, a system message and a tool result", utf8Check},

		{"storms/max-output", "{n} goroutines, providers answering max_tokens every time", modelStorm(stormSpec{
			provider: func(m *baartest.Model, _ uint64) { m.FullOutput = true }, source: "provider"})},
		{"storms/random-failures", "{n} goroutines, 30% of requests fail (429, 500, 503, 401, 400, reset, timeout)", modelStorm(stormSpec{
			provider: func(m *baartest.Model, seed uint64) {
				m.FullOutput = true
				m.ErrFunc = randomFailures(seed, failureRate)
			}, source: "provider", injected: true})},
		{"storms/stall", fmt.Sprintf("{n} goroutines, providers that never answer, %v per-call timeout", defaultStallWait), modelStorm(stormSpec{
			provider: func(m *baartest.Model, _ uint64) { m.Latency = time.Hour }, callTimeout: defaultStallWait, stalls: true})},
		{"storms/usage-inflated", fmt.Sprintf("{n} goroutines, usage reported %d× (more than max_tokens)", baartest.InflationFactor), modelStorm(stormSpec{
			provider: func(m *baartest.Model, _ uint64) { m.FullOutput, m.UsageMode = true, baartest.UsageInflated }, overrun: true, source: "provider"})},
		{"storms/usage-negative", "{n} goroutines, negative usage", modelStorm(stormSpec{
			provider: func(m *baartest.Model, _ uint64) { m.FullOutput, m.UsageMode = true, baartest.UsageNegative }, source: "reservation"})},
		{"storms/usage-missing", "{n} goroutines, no usage reported", modelStorm(stormSpec{
			provider: func(m *baartest.Model, _ uint64) { m.FullOutput, m.UsageMode = true, baartest.UsageMissing }, source: "reservation"})},
		{"storms/usage-absurd", "{n} goroutines, 2^53−1 tokens reported", modelStorm(stormSpec{
			provider: func(m *baartest.Model, _ uint64) { m.FullOutput, m.UsageMode = true, baartest.UsageAbsurd }, source: "reservation"})},
		{"storms/http-random-failures", "{h} goroutines over the openai client, 30% HTTP failures (429, 500, 503, 401, 400, reset, truncated, stall)", httpStorm},

		{"loops/agent-until-refused", "an agent resending its growing history until refused", agentLoop},
		{"loops/agent-fleet", "200 agents looping on one budget", agentFleet},
		{"loops/endless-stream", "a stream that never ends (provider ignores max_tokens)", endlessStream},
		{"loops/rate-limit", "a runaway agent on a key limited to a tenth of the budget per minute", rateLimitLoop},
		{"storms/alerts-once", "{n} goroutines until the cap, alerts at 25%, 50%, 75%, 90%", alertsStorm},

		{"prices/unknown-model", "a tier with no price; NaN and negative prices", unknownPrice},
		{"prices/unknown-override", "llms.WithModel to an unpriced model", unknownOverride},
		{"prices/zero", "free models (price 0/0), 50 calls", zeroPrices},
		{"prices/zero-budget", "a $0 budget towards kill-switch.baar.invalid", zeroBudget},
	}
}
