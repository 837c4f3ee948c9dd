package baar_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

func TestRoutesByScore(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		score       float64
		wantCheap   int
		wantCapable int
		decision    baar.Decision
	}{
		{0.1, 1, 0, baar.DecisionCheap},
		{0.79, 1, 0, baar.DecisionCheap},
		{0.80, 0, 1, baar.DecisionCapable},
		{0.95, 0, 1, baar.DecisionCapable},
	} {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: answer(10, 10)}
		hook, got := reports()
		r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(tc.score)), baar.WithReportFunc(hook))
		_, err := r.GenerateContent(ctx, human("hello"))
		require.NoError(t, err)
		assert.Equal(t, tc.wantCheap, cheap.Calls(), "score %v", tc.score)
		assert.Equal(t, tc.wantCapable, capable.Calls(), "score %v", tc.score)
		require.Len(t, got(), 1)
		assert.Equal(t, tc.decision, got()[0].Decision)
		assert.Equal(t, tc.score, got()[0].Score)
	}
}

func TestThresholdRisesWithUtilization(t *testing.T) {
	ctx := context.Background()
	// Budget $1: spend $0.50 first, then the effective threshold is
	// 0.80 + 0.18 × 0.5 = 0.89.
	ledger, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	res, err := ledger.Reserve(ctx, budget.Dollar/2)
	require.NoError(t, err)
	require.NoError(t, ledger.Commit(ctx, res, budget.Dollar/2))

	cheap := &scripted{reply: answer(10, 10)}
	capable := &scripted{reply: answer(10, 10)}
	hook, got := reports()
	r := newRouter(t, cheap, capable, baar.WithLedger(ledger), baar.WithScorer(fixedScore(0.85)), baar.WithReportFunc(hook))
	_, err = r.GenerateContent(ctx, human("hello"))
	require.NoError(t, err)
	assert.Equal(t, 1, cheap.Calls(), "0.85 < 0.89 must go to the cheap model")
	assert.InDelta(t, 0.89, got()[0].Threshold, 1e-9)

	assert.Equal(t, 0.80, baar.DefaultThresholdSchedule(0.80, 0))
	assert.InDelta(t, 0.93, baar.DefaultThresholdSchedule(0.80, 1), 1e-12, "capped at 0.93")
	assert.Equal(t, 0.95, baar.DefaultThresholdSchedule(0.95, 1), "never below the configured threshold")

	// A custom schedule that would lower the threshold is clamped.
	r2 := newRouter(t, cheap, capable, baar.WithLedger(ledger), baar.WithScorer(fixedScore(0.5)),
		baar.WithThresholdSchedule(func(th, u float64) float64 { return 0 }))
	_, err = r2.GenerateContent(ctx, human("hello"))
	require.NoError(t, err)
	assert.Equal(t, 2, cheap.Calls())
}

func TestInjectsMaxTokensWithoutTouchingCallerOptions(t *testing.T) {
	ctx := context.Background()
	cheap := &scripted{reply: answer(10, 10)}
	r := newRouter(t, cheap, cheap, baar.WithScorer(fixedScore(0)), baar.WithMaxOutputTokens(321))

	opts := make([]llms.CallOption, 1, 8) // spare capacity the router must not write into
	opts[0] = llms.WithTemperature(0.3)
	_, err := r.GenerateContent(ctx, human("hi"), opts...)
	require.NoError(t, err)
	assert.Equal(t, 321, cheap.opts[0].MaxTokens)
	assert.Equal(t, 0.3, cheap.opts[0].Temperature)
	full := opts[:2]
	assert.Nil(t, full[1], "the caller's backing array was written")

	// The caller's own cap is kept and reserved.
	_, err = r.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(50))
	require.NoError(t, err)
	assert.Equal(t, 50, cheap.opts[1].MaxTokens)

	// Without WithMaxOutputTokens the model's maximum output is the cap.
	r2 := newRouter(t, cheap, cheap, baar.WithScorer(fixedScore(0)))
	_, err = r2.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	assert.Equal(t, 1000, cheap.opts[2].MaxTokens)
}

func TestSettlesToReportedUsage(t *testing.T) {
	ctx := context.Background()
	cheap := &scripted{reply: answer(1000, 500)}
	r := newRouter(t, cheap, cheap, baar.WithScorer(fixedScore(0)), baar.WithBudget(1))
	_, err := r.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	// 1000 × $1/M + 500 × $2/M = $0.002
	assert.InDelta(t, 0.002, r.Spent(), 1e-12)
	assert.InDelta(t, 1-0.002, r.Remaining(), 1e-12)
	assert.Equal(t, 1.0, r.Budget())
}

func TestMissingUsageBillsTheReservation(t *testing.T) {
	ctx := context.Background()
	for name, info := range map[string]map[string]any{
		"missing":  nil,
		"negative": {"PromptTokens": -5, "CompletionTokens": 10},
		"absurd":   {"PromptTokens": int64(1) << 50, "CompletionTokens": 10},
	} {
		t.Run(name, func(t *testing.T) {
			m := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
				return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "x", GenerationInfo: info}}}, nil
			}}
			hook, got := reports()
			r := newRouter(t, m, m, baar.WithScorer(fixedScore(0)), baar.WithBudget(1), baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook))
			_, err := r.GenerateContent(ctx, human("hello there"))
			require.NoError(t, err)
			rep := got()[0]
			require.Len(t, rep.Attempts, 1)
			assert.Equal(t, baar.UsageFromReservation, rep.Attempts[0].UsageSource)
			assert.Greater(t, r.Spent(), 0.0, "never $0")
			assert.InDelta(t, rep.Attempts[0].Reserved, r.Spent(), 1e-12)
			// 100 output tokens at $2/M plus the input bound.
			assert.GreaterOrEqual(t, r.Spent(), 100*2/1e6)
		})
	}
}

func TestUsageAboveReservationIsRecordedAndRefusesWhatFollows(t *testing.T) {
	ctx := context.Background()
	// The provider ignores max_tokens: 1M output tokens = $2 at the cheap price.
	m := &scripted{reply: answer(10, 1_000_000)}
	r := newRouter(t, m, m, baar.WithScorer(fixedScore(0)), baar.WithBudget(0.5), baar.WithMaxOutputTokens(100))
	_, err := r.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	assert.InDelta(t, 2.00001, r.Spent(), 1e-9, "the truth is recorded")
	assert.Equal(t, 0.0, r.Remaining())

	_, err = r.GenerateContent(ctx, human("hi"))
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.Equal(t, 1, m.Calls(), "the refused call made no model call")
}

func TestDowngradeAndKillSwitch(t *testing.T) {
	ctx := context.Background()
	cheap := &scripted{reply: answer(10, 100)}
	capable := &scripted{reply: answer(10, 100)}
	hook, got := reports()
	// Capable worst case: 100 × $20/M = $0.002 + input; cheap: 100 × $2/M = $0.0002 + input.
	r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithBudget(0.001),
		baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook))
	_, err := r.GenerateContent(ctx, human("hard question"))
	require.NoError(t, err)
	assert.Equal(t, 0, capable.Calls())
	assert.Equal(t, 1, cheap.Calls())
	assert.Equal(t, baar.DecisionDowngraded, got()[0].Decision)
	assert.Equal(t, baar.TierCheap, got()[0].Tier)

	// Spend until the cheap model is unaffordable too.
	var refused error
	for i := 0; i < 100 && refused == nil; i++ {
		_, refused = r.GenerateContent(ctx, human("hard question"))
	}
	require.Error(t, refused)
	calls := cheap.Calls()
	_, err = r.GenerateContent(ctx, human("hard question"))
	require.Error(t, err)
	assert.Equal(t, calls, cheap.Calls(), "a refusal makes no call")
	assert.Equal(t, 0, capable.Calls())
	assert.LessOrEqual(t, r.Spent(), 0.001)

	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)
	assert.True(t, errors.Is(err, baar.ErrBudgetExceeded))
	assert.True(t, llms.IsQuotaExceededError(err))
	assert.Equal(t, "cheap", be.Model)
	assert.Equal(t, 0.001, be.Limit)
	assert.Greater(t, be.Requested, 0.0)
	assert.Greater(t, be.Requested, be.Limit-be.Spent-be.Reserved)
	assert.Contains(t, err.Error(), "baar: budget exceeded: cheap needs up to $")
	last := got()[len(got())-1]
	assert.Equal(t, baar.DecisionRejected, last.Decision)
	assert.Empty(t, last.Attempts)
}

func TestZeroBudgetRefusesEverything(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	r := newRouter(t, m, m, baar.WithBudget(0))
	_, err := r.Call(context.Background(), "hi")
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.Equal(t, 0, m.Calls())
}

func TestFailover(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name         string
		err          error
		failover     bool
		capableSpent bool // settled at the reservation
	}{
		{"429", errors.New("API returned unexpected status code: 429: slow down"), true, false},
		{"500", errors.New("API returned unexpected status code: 500: boom"), true, true},
		{"timeout", errors.New("request timeout: API call exceeded deadline"), true, true},
		{"401", errors.New("API returned unexpected status code: 401: bad key"), false, false},
		{"400", errors.New("API returned unexpected status code: 400: bad request"), false, false},
		{"nested budget", &baar.BudgetError{Model: "x"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cheap := &scripted{reply: answer(10, 10)}
			capable := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) { return nil, tc.err }}
			hook, got := reports()
			r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithBudget(1),
				baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook))
			_, err := r.GenerateContent(ctx, human("hi"))
			rep := got()[0]
			cheapCost := (10*1 + 10*2) / 1e6
			if tc.failover {
				require.NoError(t, err)
				assert.Equal(t, 1, cheap.Calls())
				assert.Equal(t, baar.DecisionFailover, rep.Decision)
				require.Len(t, rep.Attempts, 2)
				assert.Equal(t, baar.TierCapable, rep.Attempts[0].Tier)
				assert.Equal(t, baar.TierCheap, rep.Attempts[1].Tier)
			} else {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.err)
				assert.Equal(t, 0, cheap.Calls())
				require.Len(t, rep.Attempts, 1)
				cheapCost = 0
			}
			capableCost := 0.0
			if tc.capableSpent {
				capableCost = rep.Attempts[0].Reserved
				assert.Equal(t, baar.UsageFromReservation, rep.Attempts[0].UsageSource)
			} else {
				assert.Equal(t, baar.UsageNone, rep.Attempts[0].UsageSource)
			}
			assert.InDelta(t, capableCost+cheapCost, r.Spent(), 1e-12)
			assert.InDelta(t, r.Spent(), rep.Cost, 1e-12)
			st, err := r.State(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.Reserved, "every attempt settled")
		})
	}

	t.Run("disabled", func(t *testing.T) {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
			return nil, errors.New("API returned unexpected status code: 503")
		}}
		r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithFailover(false))
		_, err := r.GenerateContent(ctx, human("hi"))
		require.Error(t, err)
		assert.Equal(t, 0, cheap.Calls())
	})

	t.Run("failover unaffordable", func(t *testing.T) {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
			return nil, errors.New("API returned unexpected status code: 500")
		}}
		// Probe the two reservations, then give a budget where the capable
		// call fits but its 5xx, billed at the reservation, leaves too little
		// for the cheap one.
		hook, got := reports()
		probe := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithBudget(1), baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook))
		_, err := probe.GenerateContent(ctx, human("hi"))
		require.NoError(t, err)
		require.Len(t, got()[0].Attempts, 2)
		capRes, cheapRes := got()[0].Attempts[0].Reserved, got()[0].Attempts[1].Reserved
		limit := capRes + cheapRes/2
		cheapCalls := cheap.Calls()

		r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithBudget(limit), baar.WithMaxOutputTokens(100))
		_, err = r.GenerateContent(ctx, human("hi"))
		require.Error(t, err)
		assert.ErrorIs(t, err, baar.ErrBudgetExceeded)
		assert.Contains(t, err.Error(), "500")
		assert.Equal(t, cheapCalls, cheap.Calls())
		assert.InDelta(t, capRes, r.Spent(), 1e-12)
		assert.LessOrEqual(t, r.Spent(), limit)
	})
}

func TestCancellation(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	r := newRouter(t, m, m)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.GenerateContent(ctx, human("hi"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, m.Calls())

	// Cancelled while the provider runs: detected with ctx.Err() even though
	// the provider's error does not wrap it (langchaingo's openai client
	// returns a plain "request cancelled").
	ctx, cancel = context.WithCancel(context.Background())
	slow := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
		cancel()
		return nil, errors.New("request cancelled")
	}}
	cheap := &scripted{reply: answer(1, 1)}
	r = newRouter(t, cheap, slow, baar.WithScorer(fixedScore(1)), baar.WithBudget(1))
	_, err = r.GenerateContent(ctx, human("hi"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, cheap.Calls(), "no failover on cancellation")
	assert.Greater(t, r.Spent(), 0.0, "a call cancelled in flight is billed conservatively")
}

func TestCandidateCountMultipliesTheOutputReservation(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	hook, got := reports()
	r := newRouter(t, m, m, baar.WithScorer(fixedScore(0)), baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook), baar.WithBudget(1))
	_, err := r.GenerateContent(context.Background(), human("hi"))
	require.NoError(t, err)
	_, err = r.GenerateContent(context.Background(), human("hi"), llms.WithN(3))
	require.NoError(t, err)
	one, three := got()[0].Attempts[0].Reserved, got()[1].Attempts[0].Reserved
	assert.InDelta(t, 200*2/1e6, three-one, 1e-12, "two more choices of 100 output tokens at $2/M")
}

func TestCallerModelOverrideIsPricedOrRefused(t *testing.T) {
	m := &scripted{reply: answer(1000, 1000)}
	r := newRouter(t, m, m, baar.WithScorer(fixedScore(0)), baar.WithBudget(1))
	_, err := r.GenerateContent(context.Background(), human("hi"), llms.WithModel("some-unpriced-model"))
	require.ErrorIs(t, err, baar.ErrInvalidRequest)
	assert.Contains(t, err.Error(), "some-unpriced-model")
	assert.Equal(t, 0, m.Calls())

	_, err = r.GenerateContent(context.Background(), human("hi"), llms.WithModel("gpt-4o"))
	require.NoError(t, err)
	// 1000 × $2.50/M + 1000 × $10/M
	assert.InDelta(t, 0.0125, r.Spent(), 1e-12)
}

func TestNewValidates(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	good := baar.Tier{Model: m, Name: "gpt-4o-mini"}
	mem, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	cases := map[string]struct {
		cheap, capable baar.Tier
		opts           []baar.Option
		want           string
	}{
		"nil model":                 {baar.Tier{Name: "gpt-4o"}, good, nil, "Model is nil"},
		"no name":                   {baar.Tier{Model: m}, good, nil, "no Name"},
		"unknown price":             {good, baar.Tier{Model: m, Name: "my-finetune"}, nil, `baar.WithPrice("my-finetune"`},
		"NaN budget":                {good, good, []baar.Option{baar.WithBudget(math.NaN())}, "WithBudget"},
		"negative":                  {good, good, []baar.Option{baar.WithBudget(-1)}, "WithBudget"},
		"infinite":                  {good, good, []baar.Option{baar.WithBudget(math.Inf(1))}, "WithBudget"},
		"NaN price":                 {good, good, []baar.Option{baar.WithPrice("x", budget.Price{Input: math.NaN()})}, "WithPrice"},
		"negative price":            {good, good, []baar.Option{baar.WithPrice("x", budget.Price{Input: -1})}, "WithPrice"},
		"inf price":                 {good, good, []baar.Option{baar.WithPrice("x", budget.Price{Output: math.Inf(1)})}, "WithPrice"},
		"NaN threshold":             {good, good, []baar.Option{baar.WithComplexityThreshold(math.NaN())}, "WithComplexityThreshold"},
		"bad max out":               {good, good, []baar.Option{baar.WithMaxOutputTokens(-3)}, "WithMaxOutputTokens"},
		"nil scorer":                {good, good, []baar.Option{baar.WithScorer(nil)}, "WithScorer"},
		"nil ledger":                {good, good, []baar.Option{baar.WithLedger(nil)}, "WithLedger"},
		"max out above the model's": {good, baar.Tier{Model: m, Name: "gpt-4o"}, []baar.Option{baar.WithMaxOutputTokens(1_000_000)}, "WithMaxOutputTokens(1000000) is above"},
		"threshold above 1":         {good, good, []baar.Option{baar.WithComplexityThreshold(1.5)}, "WithComplexityThreshold(1.5)"},
		"threshold below 0":         {good, good, []baar.Option{baar.WithComplexityThreshold(-1)}, "WithComplexityThreshold(-1)"},
		"swapped tiers":             {baar.Tier{Model: m, Name: "gpt-4o"}, baar.Tier{Model: m, Name: "gpt-4o-mini"}, nil, "swap the two Tiers"},
		"unaffordable":              {good, baar.Tier{Model: m, Name: "gpt-4o"}, []baar.Option{baar.WithBudget(1e-9)}, "can never afford a call"},
		"bad floor":                 {good, good, []baar.Option{baar.WithMinOutputTokens(0)}, "WithMinOutputTokens(0)"},
		"key budget and ledger":     {good, good, []baar.Option{baar.WithKeyBudget(1), baar.WithLedger(mem)}, "exclusive"},
		"bad share":                 {good, good, []baar.Option{baar.WithCapableShare(1.5, []string{"a"})}, "WithCapableShare"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := baar.New(tc.cheap, tc.capable, tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	ledger, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	_, err = baar.New(good, good, baar.WithBudget(1), baar.WithLedger(ledger))
	assert.ErrorContains(t, err, "exclusive")

	r, err := baar.New(good, good, nil)
	require.NoError(t, err, "nil options are ignored")
	assert.Equal(t, baar.DefaultBudget, r.Budget())
	assert.Equal(t, baar.DefaultComplexityThreshold, r.Threshold())
}

func TestBadInputIsRefusedWithoutCalls(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	r := newRouter(t, m, m, baar.WithBudget(1))
	ctx := context.Background()
	for name, msgs := range map[string][]llms.MessageContent{
		"nil":          nil,
		"empty":        {{Role: llms.ChatMessageTypeHuman}},
		"invalid utf8": human("caf\xc3"),
	} {
		_, err := r.GenerateContent(ctx, msgs)
		assert.ErrorIs(t, err, baar.ErrInvalidRequest, name)
	}
	_, err := r.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(-1))
	assert.ErrorIs(t, err, baar.ErrInvalidRequest)

	// A 50 MB prompt: a clear budget refusal, quickly, without calling.
	huge := strings.Repeat("a", 50<<20)
	start := time.Now()
	_, err = r.GenerateContent(ctx, human(huge))
	assert.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 0, m.Calls())
	assert.Zero(t, r.Spent())
}

type erringScorer struct{}

func (erringScorer) Score(context.Context, scoring.Request) (float64, error) {
	return 0, errors.New("embedder down")
}

func TestScorerFailureRoutesCheap(t *testing.T) {
	cheap := &scripted{reply: answer(1, 1)}
	capable := &scripted{reply: answer(1, 1)}
	hook, got := reports()
	r := newRouter(t, cheap, capable, baar.WithScorer(erringScorer{}), baar.WithReportFunc(hook))
	_, err := r.GenerateContent(context.Background(), human("hi"))
	require.NoError(t, err)
	assert.Equal(t, 1, cheap.Calls())
	assert.ErrorContains(t, got()[0].ScoreErr, "embedder down")
	assert.True(t, math.IsNaN(got()[0].Score))
}

// downLedger is a ledger whose store is unreachable.
type downLedger struct{}

func (downLedger) Reserve(context.Context, budget.Amount) (budget.Reservation, error) {
	return budget.Reservation{}, budget.ErrUnavailable
}

func (downLedger) Commit(context.Context, budget.Reservation, budget.Amount) error {
	return budget.ErrUnavailable
}

func (downLedger) Cancel(context.Context, budget.Reservation) error { return budget.ErrUnavailable }

func (downLedger) State(context.Context) (budget.State, error) {
	return budget.State{}, budget.ErrUnavailable
}

func TestLedgerDownFailsClosed(t *testing.T) {
	m := &scripted{reply: answer(1, 1)}
	r := newRouter(t, m, m, baar.WithLedger(downLedger{}))
	_, err := r.GenerateContent(context.Background(), human("hi"))
	require.ErrorIs(t, err, baar.ErrLedgerUnavailable)
	assert.Equal(t, 0, m.Calls())
	// One rule for the conveniences: NaN when the ledger cannot be read.
	assert.True(t, math.IsNaN(r.Remaining()))
	assert.True(t, math.IsNaN(r.Spent()))
	assert.True(t, math.IsNaN(r.Budget()))
	assert.False(t, r.Remaining() > 0, "a check against it fails closed")
	_, err = r.State(context.Background())
	assert.ErrorIs(t, err, baar.ErrLedgerUnavailable, "State gives the error")
}

func TestCallbacksSeeEveryCallIncludingRefusals(t *testing.T) {
	m := &scripted{reply: answer(10, 10)}
	h := &countingHandler{}
	r := newRouter(t, m, m, baar.WithCallbacks(h), baar.WithBudget(0.0001), baar.WithMaxOutputTokens(10))
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, _ = r.GenerateContent(ctx, human("hi"))
	}
	assert.EqualValues(t, 5, h.start.Load())
	assert.EqualValues(t, 5, h.end.Load()+h.errs.Load())
	assert.Positive(t, h.errs.Load(), "refusals fire HandleLLMError")
	assert.Positive(t, h.end.Load())
}

// TestConcurrencyStorm: 1,000 goroutines against a provider that always
// returns the maximum output allowed; spent never exceeds the cap and every
// refused call made no model call.
func TestConcurrencyStorm(t *testing.T) {
	for run := 0; run < 3; run++ {
		cheap := &baartest.Model{Name: "cheap", FullOutput: true}
		capable := &baartest.Model{Name: "capable", FullOutput: true}
		const budgetUSD = 0.01
		r := newRouter(t, cheap, capable, baar.WithBudget(budgetUSD), baar.WithMaxOutputTokens(200))
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 1000; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				prompt := "What is 2+2?"
				if i%3 == 0 {
					prompt = strings.Repeat("Prove step by step that the algorithm terminates and analyze its complexity. ", 20)
				}
				_, err := r.GenerateContent(context.Background(), human(prompt))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, baar.ErrBudgetExceeded):
					refused.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
				st, err := r.State(context.Background())
				if assert.NoError(t, err) {
					assert.LessOrEqual(t, st.Spent+st.Reserved, st.Limit, "invariant")
				}
			}(i)
		}
		close(start)
		wg.Wait()
		assert.LessOrEqual(t, r.Spent(), budgetUSD)
		assert.EqualValues(t, ok.Load(), cheap.Calls()+capable.Calls(), "every model call is a successful call; refusals made none")
		assert.Positive(t, refused.Load(), "the budget is tight enough to refuse")
		assert.Positive(t, ok.Load())
		st, err := r.State(context.Background())
		require.NoError(t, err)
		assert.Zero(t, st.Reserved)
	}
}

// An error no class fits (langchaingo's ollama client drops the HTTP status)
// fails over from the capable model; an auth error still does not.
func TestUnknownErrorsFailOver(t *testing.T) {
	for name, tc := range map[string]struct {
		err      error
		failover bool
	}{
		"unknown": {errors.New("llama runner process has terminated: exit status 2"), true},
		"auth":    {&llms.Error{Code: llms.ErrCodeAuthentication, Message: "bad key"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			cheap := &scripted{reply: answer(10, 10)}
			capable := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) { return nil, tc.err }}
			hook, got := reports()
			r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithReportFunc(hook), baar.WithMaxOutputTokens(100))
			_, err := r.GenerateContent(context.Background(), human("q"))
			if tc.failover {
				require.NoError(t, err)
				assert.Equal(t, baar.DecisionFailover, got()[0].Decision)
				assert.Equal(t, 1, cheap.Calls())
			} else {
				require.Error(t, err)
				assert.Zero(t, cheap.Calls())
			}
		})
	}
}

// An empty prompt is refused before any reservation or provider call.
func TestEmptyPromptIsRefused(t *testing.T) {
	cheap := &scripted{reply: answer(1, 1)}
	r := newRouter(t, cheap, cheap, baar.WithMaxOutputTokens(100))
	for name, msgs := range map[string][]llms.MessageContent{
		"Call(\"\")":        human(""),
		"empty text parts":  {llms.TextParts(llms.ChatMessageTypeSystem, ""), llms.TextParts(llms.ChatMessageTypeHuman, "")},
		"no parts anywhere": {{Role: llms.ChatMessageTypeHuman}},
	} {
		_, err := r.GenerateContent(context.Background(), msgs)
		assert.ErrorIs(t, err, baar.ErrInvalidRequest, name)
	}
	_, err := r.Call(context.Background(), "")
	assert.ErrorIs(t, err, baar.ErrInvalidRequest)
	assert.Zero(t, cheap.Calls())
	assert.Zero(t, r.Spent())
}
