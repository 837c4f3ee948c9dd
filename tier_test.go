package baar_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	cheap := &scripted{reply: answer(1, 1)}
	hook, got := reports()
	r, err := baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: cheap, Name: "gpt-4o"},
		baar.WithPrice("gpt-4o", budget.Price{Input: 2, Output: 8}), baar.WithScorer(fixedScore(1)),
		baar.WithReportFunc(hook), baar.WithBudget(10))
	require.NoError(t, err, "the row's maximum output is kept")
	_, err = r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, int(row.MaxOutputTokens), a.MaxTokens)
	assert.True(t, strings.HasPrefix(a.PriceSource, "WithPrice over "), a.PriceSource)
	// $2/M input, $8/M output for 1 + 1 tokens.
	assert.InDelta(t, 10e-6, a.Cost, 1e-12)
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
