package baar_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
)

// WithPrice on a listed model overrides what it sets and keeps the rest of
// the row: New no longer fails for want of a maximum output, and cache
// reads stay discounted.
func TestWithPriceKeepsTheRestOfTheRow(t *testing.T) {
	row, ok := budget.Lookup("gpt-4o")
	require.True(t, ok)
	require.Positive(t, row.CachedInput)
	// 1,000 prompt tokens, all read from the cache, and 1 output token.
	cheap := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
		return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "ok", StopReason: "stop",
			GenerationInfo: map[string]any{"PromptTokens": 1000, "CompletionTokens": 1, "TotalTokens": 1001, "PromptCachedTokens": 1000}}}}, nil
	}}
	hook, got := reports()
	r, err := baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: cheap, Name: "gpt-4o"},
		baar.WithPrice("gpt-4o", budget.Price{Input: 2, Output: 8}), baar.WithScorer(fixedScore(1)),
		baar.WithReportFunc(hook), baar.WithBudget(10), baar.WithMaxOutputTokens(int(row.MaxOutputTokens)))
	require.NoError(t, err, "the row's maximum output is kept: WithMaxOutputTokens up to it is valid")
	_, err = r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.True(t, strings.HasPrefix(a.PriceSource, "WithPrice over "), a.PriceSource)
	// Cache reads at the row's cached rate ($1.25/M), scaled by the new input
	// price? No: the cached rate is the row's, as given: 1,000 × $1.25/M +
	// 1 × $8/M.
	assert.InDelta(t, 1000*row.CachedInput/1e6+8/1e6, a.Cost, 1e-12, "the cached-input rate is kept")
}

func TestWithPriceTable(t *testing.T) {
	file, err := budget.LoadLiteLLMPricesFile("budget/testdata/litellm_prices.json", budget.AllowPriceMoves(1e9))
	require.NoError(t, err)
	cheap := &scripted{reply: answer(1, 1)}
	hook, got := reports()
	r, err := baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: cheap, Name: "gpt-4o"},
		baar.WithPriceTable(budget.LayerPrices(budget.EmbeddedPrices(), file)), baar.WithMaxOutputTokens(100),
		baar.WithReportFunc(hook), baar.WithScorer(fixedScore(0)))
	require.NoError(t, err)
	_, err = r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	assert.Contains(t, got()[0].Attempts[0].PriceSource, "litellm_prices.json", "the loaded file's row is used")

	// A table without the model fails New, naming the table.
	empty, err := budget.NewPriceTable("my prices", map[string]budget.Price{"gpt-4o": {Input: 1, Output: 1, MaxOutputTokens: 10}})
	require.NoError(t, err)
	_, err = baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: cheap, Name: "gpt-4o"}, baar.WithPriceTable(empty))
	assert.ErrorContains(t, err, `no price for the cheap model "gpt-4o-mini" in the price table (my prices`)
	_, err = baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: cheap, Name: "gpt-4o"}, baar.WithPriceTable(nil))
	assert.ErrorContains(t, err, "WithPriceTable(nil)")
}
