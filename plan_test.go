package baar_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
)

// honestOut answers within the MaxTokens and the number of choices it was
// given (N or CandidateCount), and reports that usage.
func honestOut(perChoice int) func(int, llms.CallOptions) (*llms.ContentResponse, error) {
	return func(_ int, o llms.CallOptions) (*llms.ContentResponse, error) {
		out := min(perChoice, o.MaxTokens) * max(1, o.N, o.CandidateCount)
		return openAIUsage(100, out), nil
	}
}

// A caller's huge MaxTokens times N must not wrap the output reservation to
// zero: the product saturates and the call is refused.
func TestHugeMaxTokensTimesChoicesSaturates(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1, 2, 4, 1 << 20} {
		m := &scripted{reply: honestOut(1_000_000)}
		r := newRouter(t, m, m, baar.WithBudget(1), baar.WithScorer(fixedScore(0)))
		_, err := r.GenerateContent(ctx, human("hello"), llms.WithMaxTokens(min(1<<62, math.MaxInt)), llms.WithN(n))
		require.ErrorIs(t, err, baar.ErrBudgetExceeded, "N=%d", n)
		assert.Zero(t, m.Calls(), "N=%d: refused locally", n)
		assert.Zero(t, r.Spent())
	}
}

// When the guaranteed input bound does not fit, only an exact count may
// shrink the reservation: OpenAI's encodings are counted exactly; other
// tokenizers' counts are estimates that can fall short, so those calls are
// refused rather than reserved below the bound.
func TestNearTheCapOnlyExactCountsShrinkTheReservation(t *testing.T) {
	ctx := context.Background()
	prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 90) // ~4 KB, ~900 tokens
	price := budget.Price{Input: 1, Output: 1, MaxOutputTokens: 100}
	for _, tc := range []struct {
		model  string
		served bool
	}{{"gpt-4o-mini", true}, {"claude-3-5-haiku-latest", false}, {"gemini-2.0-flash", false}} {
		m := &scripted{reply: answer(900, 10)}
		hook, got := reports()
		r, err := baar.New(baar.Tier{Model: m, Name: tc.model}, baar.Tier{Model: m, Name: tc.model},
			baar.WithPrice(tc.model, price), baar.WithBudget(0.002), baar.WithMaxOutputTokens(10),
			baar.WithScorer(fixedScore(0)), baar.WithReportFunc(hook))
		require.NoError(t, err)
		_, err = r.GenerateContent(ctx, human(prompt))
		rep := got()[0]
		if tc.served {
			require.NoError(t, err, tc.model)
			a := rep.Attempts[0]
			assert.Less(t, a.InputTokensEstimate, int64(len(prompt)/2), "%s: counted exactly", tc.model)
			assert.LessOrEqual(t, r.Spent(), r.Budget())
		} else {
			require.ErrorIs(t, err, baar.ErrBudgetExceeded, tc.model)
			assert.Zero(t, m.Calls(), "%s: refused locally", tc.model)
		}
	}
}
