package baar_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
)

// With the default budget and no output cap, every chat model of the price
// table can be called, as the capable tier, without a downgrade: the
// default output cap suits the model, and the cap fits what is left.
func TestDefaultsReachEveryListedModel(t *testing.T) {
	for _, name := range budget.Models() {
		p, _ := budget.Lookup(name)
		if p.Mode == budget.ModeEmbedding {
			continue
		}
		t.Run(name, func(t *testing.T) {
			m := &scripted{reply: answer(10, 10)}
			hook, got := reports()
			r, err := baar.New(baar.Tier{Model: m, Name: name}, baar.Tier{Model: m, Name: name},
				baar.WithScorer(fixedScore(1)), baar.WithReportFunc(hook))
			require.NoError(t, err)
			for i := range 3 {
				_, err := r.GenerateContent(context.Background(), human("What is the capital of France?"))
				require.NoError(t, err, "call %d", i)
				assert.Equal(t, baar.DecisionCapable, got()[i].Decision, "call %d reaches the capable model", i)
			}
			assert.LessOrEqual(t, got()[0].Attempts[0].MaxTokens, baar.DefaultMaxOutputTokens)
			assert.LessOrEqual(t, r.Spent(), baar.DefaultBudget)
		})
	}
}

// Near the end of the budget the Router's output cap shrinks to what is left
// (down to the floor) before it downgrades, and says so.
func TestOutputCapFitsWhatIsLeft(t *testing.T) {
	cheap := &scripted{reply: answer(10, 10)}
	capable := &scripted{reply: answer(10, 10)}
	hook, got := reports()
	// capable: $20 per 1M output tokens; 1,000-token cap = $0.02 worst case.
	r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithReportFunc(hook),
		baar.WithMaxOutputTokens(1000), baar.WithBudget(0.01))
	_, err := r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, baar.DecisionCapable, got()[0].Decision)
	assert.True(t, a.CapFitted)
	assert.Less(t, a.MaxTokens, 1000)
	assert.GreaterOrEqual(t, a.MaxTokens, baar.DefaultMinOutputTokens)
	assert.Equal(t, a.MaxTokens, capable.opts[0].MaxTokens, "the provider is told the fitted cap")
	assert.LessOrEqual(t, a.Reserved, 0.01)

	// Below the floor the call is downgraded, and the report says what did
	// not fit.
	r2 := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithReportFunc(hook),
		baar.WithMaxOutputTokens(1000), baar.WithBudget(0.004), baar.WithMinOutputTokens(500))
	_, err = r2.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	rep := got()[1]
	assert.Equal(t, baar.DecisionDowngraded, rep.Decision)
	require.NotNil(t, rep.Downgrade, "the capable estimate that did not fit")
	assert.Greater(t, rep.Downgrade.Requested, 0.004)
	assert.Contains(t, rep.Downgrade.Error(), "WithBudget")

	// A call's own cap is never fitted.
	_, err = r2.GenerateContent(context.Background(), human("q"), llms.WithMaxTokens(100_000))
	assert.ErrorIs(t, err, baar.ErrBudgetExceeded)
}

// A downgrade is visible on the route span and in the telemetry log.
func TestDowngradeIsRecorded(t *testing.T) {
	var log lockedBuffer
	o := newObserved(t, &scripted{reply: answer(1, 1)}, &scripted{reply: answer(1, 1)}, scoreOf(1),
		baar.WithBudget(0.0015), baar.WithMinOutputTokens(100), baar.WithTelemetryLog(&log))
	_, err := o.r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	call, _ := callSpans(t, o.spans)
	assert.Greater(t, attrsOf(call)["baar.downgrade.needed_usd"].AsFloat64(), 0.0015)
	recs := log.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "downgraded", recs[0].Decision)
	assert.Greater(t, recs[0].DowngradeNeededUSD, 0.0015)
}

// A budget key on a Router whose ledger has no budgets per key fails loudly;
// WithKeyBudget gives every key one.
func TestBudgetKeyNeedsBudgetsPerKey(t *testing.T) {
	m := &scripted{reply: answer(10, 10)}
	ctx := baar.ContextWithBudgetKey(context.Background(), "tenant-42")
	r := newRouter(t, m, m, baar.WithMaxOutputTokens(100))
	_, err := r.GenerateContent(ctx, human("q"))
	assert.ErrorIs(t, err, baar.ErrInvalidRequest)
	assert.ErrorContains(t, err, "WithKeyBudget")
	assert.Zero(t, m.Calls())

	mem, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	r = newRouter(t, m, m, baar.WithMaxOutputTokens(100), baar.WithLedger(mem))
	_, err = r.GenerateContent(ctx, human("q"))
	assert.ErrorIs(t, err, baar.ErrInvalidRequest, "a budget.Memory has no budgets per key either")
	assert.Zero(t, m.Calls())

	r = newRouter(t, m, m, baar.WithMaxOutputTokens(100), baar.WithBudget(1), baar.WithKeyBudget(0.0005))
	var refused error
	for range 100 {
		if _, refused = r.GenerateContent(ctx, human("q")); refused != nil {
			break
		}
	}
	var be *baar.BudgetError
	require.ErrorAs(t, refused, &be, "the key's budget runs out")
	assert.Equal(t, "tenant-42", be.Key)
	_, err = r.GenerateContent(baar.ContextWithBudgetKey(context.Background(), "tenant-7"), human("q"))
	assert.NoError(t, err, "another key has its own budget")
}

// The Quick Start's mistake: openai.New's error ignored gives a typed-nil
// model, which New refuses instead of panicking on the first call.
func TestTypedNilModelIsRefused(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	llm, err := openai.New()
	require.Error(t, err)
	require.Nil(t, llm)
	_, err = baar.New(baar.Tier{Model: llm, Name: "gpt-4o-mini"}, baar.Tier{Model: &scripted{}, Name: "gpt-4o"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Model is nil")
}

func TestSameModelOnBothTiersIsAWarning(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	r, err := baar.New(baar.Tier{Model: m, Name: "gpt-4o"}, baar.Tier{Model: m, Name: "gpt-4o"})
	require.NoError(t, err)
	require.Len(t, r.Warnings(), 1)
	assert.Contains(t, r.Warnings()[0], "same model")
}

// Close closes the telemetry log file New opened.
func TestCloseReleasesTheTelemetryLogFile(t *testing.T) {
	path := t.TempDir() + "/telemetry.jsonl"
	m := &scripted{reply: answer(1, 1)}
	r := newRouter(t, m, m, baar.WithTelemetryLogFile(path), baar.WithMaxOutputTokens(10))
	_, err := r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")
	_, err = r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err, "a closed Router still answers; it no longer logs")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, bytes.Count(b, []byte("\n")), "one line, from before Close")
}
