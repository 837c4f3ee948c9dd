package baar

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
)

// TestSettle is the settlement rule, case by case: usage → cost, missing or
// nonsense usage → the reservation, error class → released or billed.
func TestSettle(t *testing.T) {
	rates, err := budget.Price{Input: 1, Output: 2}.Compile() // $1 and $2 per 1M tokens
	require.NoError(t, err)
	const reserved = 3 * budget.Cent
	honest := budget.Usage{InputTokens: 100, OutputTokens: 50} // $0.0001 + $0.0001
	for _, tc := range []struct {
		name   string
		o      outcome
		cost   budget.Amount
		source UsageSource
	}{
		{"answered with usage", outcome{usage: honest, usageOK: true, sentBytes: 400, receivedBytes: 200}, 200 * budget.MicroDollar, UsageFromProvider},
		{"usage above the reservation is the truth", outcome{usage: budget.Usage{InputTokens: 10, OutputTokens: 1_000_000}, usageOK: true}, 2*budget.Dollar + 10*budget.MicroDollar, UsageFromProvider},
		{"no usage", outcome{problem: "no usage reported", receivedBytes: 10}, reserved, UsageFromReservation},
		{"zero output for 6,000 bytes received", outcome{usage: budget.Usage{InputTokens: 100}, usageOK: true, receivedBytes: 6000}, reserved, UsageFromReservation},
		{"output below what was received", outcome{usage: budget.Usage{InputTokens: 100, OutputTokens: 10}, usageOK: true, receivedBytes: 6000}, reserved, UsageFromReservation},
		{"input below what was sent", outcome{usage: budget.Usage{InputTokens: 1, OutputTokens: 50}, usageOK: true, sentBytes: 100_000}, reserved, UsageFromReservation},
		{"one byte proves one token", outcome{usage: budget.Usage{InputTokens: 5}, usageOK: true, receivedBytes: 1}, reserved, UsageFromReservation},
		{"empty answer, no output tokens", outcome{usage: budget.Usage{InputTokens: 5}, usageOK: true}, 5 * budget.MicroDollar, UsageFromProvider},
		{"stopped by the caller's function, usage reported", outcome{class: ClassCaller, usage: honest, usageOK: true}, 200 * budget.MicroDollar, UsageFromProvider},
		{"stopped by the caller's function, no usage", outcome{class: ClassCaller}, reserved, UsageFromReservation},
		{"cut off at the cap", outcome{cut: true, usage: honest, usageOK: true}, reserved, UsageFromReservation},
		{"panicked", outcome{class: ClassUnknown}, reserved, UsageFromReservation},
		{"server error may be billed", outcome{class: ClassServer}, reserved, UsageFromReservation},
		{"timeout may be billed", outcome{class: ClassTimeout}, reserved, UsageFromReservation},
		{"network may be billed", outcome{class: ClassNetwork}, reserved, UsageFromReservation},
		{"cancelled mid-request may be billed", outcome{class: ClassCanceled}, reserved, UsageFromReservation},
		{"rate limit is not billed", outcome{class: ClassRateLimit}, 0, UsageNone},
		{"auth is not billed", outcome{class: ClassAuth}, 0, UsageNone},
		{"bad request is not billed", outcome{class: ClassBadRequest}, 0, UsageNone},
		{"connect is not billed", outcome{class: ClassConnect}, 0, UsageNone},
		{"provider quota is not billed", outcome{class: ClassQuota}, 0, UsageNone},
		{"a nested budget refusal is not billed", outcome{class: ClassBudget}, 0, UsageNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settle(tc.o, rates, reserved)
			assert.Equal(t, tc.cost, s.cost)
			assert.Equal(t, tc.source, s.source)
			if tc.source == UsageFromReservation && tc.o.class == "" && !tc.o.cut {
				assert.NotEmpty(t, s.problem, "why the usage was not believed")
			}
		})
	}
	t.Run("unpriceable usage", func(t *testing.T) {
		s := settle(outcome{usage: honest, usageOK: true}, budget.Rates{}, reserved)
		assert.Equal(t, reserved, s.cost, "a price that fails closes at the reservation")
		assert.NotEmpty(t, s.problem)
	})
}

func TestProvenTokens(t *testing.T) {
	assert.Zero(t, provenTokens(0))
	assert.EqualValues(t, 1, provenTokens(1))
	assert.EqualValues(t, 1, provenTokens(provenBytesPerToken))
	assert.EqualValues(t, 2, provenTokens(provenBytesPerToken+1))
	assert.EqualValues(t, 47, provenTokens(6000))
}
