package baar_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

func constValue(usd float64) baar.ValueFunc {
	return func(context.Context, scoring.Request) (float64, error) { return usd, nil }
}

// Worst cases with newRouter's prices and WithMaxOutputTokens(100), for a
// short prompt: cheap ≈ $0.0002, capable ≈ $0.002 (+ input).
func TestValueGate(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		score    float64
		value    float64
		wantErr  bool
		decision baar.Decision
		policy   baar.PolicyName
	}{
		{"worth it on capable", 1, 1.00, false, baar.DecisionCapable, "threshold"},
		{"below capable cost: downshift", 1, 0.0015, false, baar.DecisionCheap, "value-gate"},
		{"below alpha × capable cost: rejected", 1, 0.0001, true, baar.DecisionRejected, "threshold"},
		{"cheap and worth it", 0, 0.0001, false, baar.DecisionCheap, "threshold"},
		{"cheap and worthless: rejected", 0, 0.000001, true, baar.DecisionRejected, "threshold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cheap := &scripted{reply: answer(10, 10)}
			capable := &scripted{reply: answer(10, 10)}
			hook, got := reports()
			r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(tc.score)), baar.WithBudget(1),
				baar.WithMaxOutputTokens(100), baar.WithValueFunc(constValue(tc.value)), baar.WithReportFunc(hook))
			_, err := r.GenerateContent(ctx, human("hi"))
			rep := got()[0]
			assert.Equal(t, tc.decision, rep.Decision)
			assert.Equal(t, tc.policy, rep.Policy)
			if tc.wantErr {
				require.ErrorIs(t, err, baar.ErrTaskRejected)
				var tr *baar.TaskRejectedError
				require.ErrorAs(t, err, &tr)
				assert.Equal(t, tc.value, tr.Value)
				assert.Greater(t, tr.Cost, tc.value/baar.DefaultValueAlpha)
				assert.Equal(t, baar.DefaultValueAlpha, tr.Alpha)
				assert.Zero(t, cheap.Calls()+capable.Calls(), "no provider call")
				assert.Zero(t, r.Spent())
				assert.NotErrorIs(t, err, baar.ErrBudgetExceeded)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestValueGateRejectRateClamp(t *testing.T) {
	cheap := &scripted{reply: answer(10, 10)}
	r := newRouter(t, cheap, cheap, baar.WithScorer(fixedScore(0)), baar.WithBudget(10), baar.WithMaxOutputTokens(100),
		baar.WithValueGate(baar.ValueGate{Value: constValue(0), MinGated: 10, MaxRejectRate: 0.5}))
	ctx := context.Background()
	var rejected, answered int
	for i := 0; i < 100; i++ {
		_, err := r.GenerateContent(ctx, human("hi"))
		switch {
		case errors.Is(err, baar.ErrTaskRejected):
			rejected++
		case err == nil:
			answered++
		default:
			t.Fatal(err)
		}
	}
	gated, rej := r.GateCounts()
	assert.EqualValues(t, 100, gated)
	assert.EqualValues(t, rejected, rej)
	assert.InDelta(t, 50, rejected, 1, "the clamp keeps the reject rate at 50%%")
	assert.Equal(t, answered, cheap.Calls(), "clamped calls go to the cheap model")
}

func TestValueGateClampUnderConcurrency(t *testing.T) {
	cheap := &scripted{reply: answer(10, 10)}
	r := newRouter(t, cheap, cheap, baar.WithScorer(fixedScore(0)), baar.WithBudget(100), baar.WithMaxOutputTokens(10),
		baar.WithValueGate(baar.ValueGate{Value: constValue(0), MinGated: 20, MaxRejectRate: 0.3}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	rejected := 0
	for i := 0; i < 2000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.GenerateContent(context.Background(), human("hi"))
			if errors.Is(err, baar.ErrTaskRejected) {
				mu.Lock()
				rejected++
				mu.Unlock()
			} else if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	gated, rej := r.GateCounts()
	assert.EqualValues(t, 2000, gated)
	assert.EqualValues(t, rejected, rej)
	assert.LessOrEqual(t, float64(rej)/float64(gated), 0.3+1.0/2000)
	assert.GreaterOrEqual(t, float64(rej)/float64(gated), 0.29)
	assert.Equal(t, 2000-rejected, cheap.Calls())
}

func TestCalibrateAlpha(t *testing.T) {
	ratios := make([]float64, 100)
	for i := range ratios {
		ratios[i] = float64(i) / 10 // 0.0 … 9.9
	}
	a, err := baar.CalibrateAlpha(ratios, 0.2, "percentile")
	require.NoError(t, err)
	below := 0
	for _, x := range ratios {
		if x < a {
			below++
		}
	}
	assert.Equal(t, 20, below, "alpha %v", a)
	m, err := baar.CalibrateAlpha(ratios, 0.2, "median")
	require.NoError(t, err)
	assert.InDelta(t, 2*0.2*5.0, m, 0.11)
	_, err = baar.CalibrateAlpha(ratios, 1.5, "percentile")
	assert.Error(t, err)
	_, err = baar.CalibrateAlpha(nil, 0.2, "percentile")
	assert.Error(t, err)
	_, err = baar.CalibrateAlpha(ratios, 0.2, "mode")
	assert.Error(t, err)
}

func TestExploration(t *testing.T) {
	run := func(seed int64) []string {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: answer(10, 10)}
		hook, got := reports()
		r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithBudget(10),
			baar.WithMaxOutputTokens(10), baar.WithExploration(0.25, seed), baar.WithReportFunc(hook))
		for i := 0; i < 400; i++ {
			_, err := r.GenerateContent(context.Background(), human("hi"))
			require.NoError(t, err)
		}
		var seq []string
		explored := 0
		for _, rep := range got() {
			seq = append(seq, string(rep.Tier))
			if rep.Policy == "exploration" {
				explored++
				assert.Equal(t, baar.TierCheap, rep.Tier)
				assert.Equal(t, baar.DecisionCheap, rep.Decision)
			}
		}
		assert.Equal(t, explored, cheap.Calls())
		assert.InDelta(t, 100, explored, 30, "about 25%% explored")
		return seq
	}
	assert.Equal(t, run(7), run(7), "deterministic for a seed")
	assert.NotEqual(t, run(7), run(8))
}

func TestStickyConversations(t *testing.T) {
	ctx := context.Background()
	score := 1.0
	scorer := scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return score, nil })

	t.Run("stays on capable", func(t *testing.T) {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: answer(10, 10)}
		hook, got := reports()
		r := newRouter(t, cheap, capable, baar.WithScorer(scorer), baar.WithBudget(10), baar.WithMaxOutputTokens(10), baar.WithReportFunc(hook))
		agent := baar.ContextWithConversation(ctx, "run-1")
		score = 1
		_, err := r.GenerateContent(agent, human("plan"))
		require.NoError(t, err)
		score = 0
		for i := 0; i < 5; i++ {
			_, err = r.GenerateContent(agent, human("easy step"))
			require.NoError(t, err)
		}
		_, err = r.GenerateContent(ctx, human("another conversation"))
		require.NoError(t, err)
		assert.Equal(t, 6, capable.Calls())
		assert.Equal(t, 1, cheap.Calls())
		reps := got()
		assert.Equal(t, baar.PolicyName("sticky"), reps[3].Policy)
		assert.Equal(t, "run-1", reps[3].Conversation)
		assert.Equal(t, baar.DecisionCapable, reps[3].Decision)
		assert.Equal(t, baar.PolicyName("threshold"), reps[6].Policy)
	})

	t.Run("bounded by steps and time", func(t *testing.T) {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: answer(10, 10)}
		r := newRouter(t, cheap, capable, baar.WithScorer(scorer), baar.WithBudget(10), baar.WithMaxOutputTokens(10),
			baar.WithStickyConversations(baar.StickyConversations{TTL: -1, MaxSteps: 2, CacheSize: 100}))
		agent := baar.ContextWithConversation(ctx, "run-2")
		score = 1
		_, err := r.GenerateContent(agent, human("plan"))
		require.NoError(t, err)
		score = 0
		for i := 0; i < 4; i++ {
			_, err = r.GenerateContent(agent, human("step"))
			require.NoError(t, err)
		}
		assert.Equal(t, 3, capable.Calls(), "two sticky steps after the capable answer")
		assert.Equal(t, 2, cheap.Calls())

		r2 := newRouter(t, cheap, capable, baar.WithScorer(scorer), baar.WithBudget(10), baar.WithMaxOutputTokens(10),
			baar.WithStickyConversations(baar.StickyConversations{TTL: time.Nanosecond, CacheSize: 100}))
		score = 1
		_, err = r2.GenerateContent(agent, human("plan"))
		require.NoError(t, err)
		time.Sleep(time.Millisecond)
		score = 0
		_, err = r2.GenerateContent(agent, human("step"))
		require.NoError(t, err)
		assert.Equal(t, 4, capable.Calls(), "expired: back to threshold routing")
	})

	t.Run("memory is bounded", func(t *testing.T) {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: answer(10, 10)}
		r := newRouter(t, cheap, capable, baar.WithScorer(scorer), baar.WithBudget(100), baar.WithMaxOutputTokens(10),
			baar.WithStickyConversations(baar.StickyConversations{TTL: -1, CacheSize: 3}))
		score = 1
		for i := 0; i < 5; i++ {
			_, err := r.GenerateContent(baar.ContextWithConversation(ctx, fmt.Sprint("c", i)), human("plan"))
			require.NoError(t, err)
		}
		score = 0
		calls := capable.Calls()
		_, err := r.GenerateContent(baar.ContextWithConversation(ctx, "c0"), human("step"))
		require.NoError(t, err)
		assert.Equal(t, calls, capable.Calls(), "c0 was evicted (LRU of 3)")
		_, err = r.GenerateContent(baar.ContextWithConversation(ctx, "c4"), human("step"))
		require.NoError(t, err)
		assert.Equal(t, calls+1, capable.Calls(), "c4 is remembered")
	})

	t.Run("budget downgrades still apply", func(t *testing.T) {
		cheap := &scripted{reply: answer(10, 10)}
		capable := &scripted{reply: answer(10, 10)}
		hook, got := reports()
		// Capable worst case ≈ $0.002: room for one capable call only.
		r := newRouter(t, cheap, capable, baar.WithScorer(scorer), baar.WithBudget(0.0025), baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook))
		agent := baar.ContextWithConversation(ctx, "run-3")
		score = 1
		_, err := r.GenerateContent(agent, human("plan"))
		require.NoError(t, err)
		score = 0
		for i := 0; i < 3; i++ {
			_, err = r.GenerateContent(agent, human("step"))
			require.NoError(t, err)
		}
		reps := got()
		for _, rep := range reps[1:] {
			assert.Equal(t, baar.PolicyName("sticky"), rep.Policy, "the conversation wants the capable model")
			assert.Equal(t, baar.DecisionDowngraded, rep.Decision, "but the budget downgrades it")
		}
		assert.Equal(t, 1, capable.Calls())
		assert.LessOrEqual(t, r.Spent(), 0.0025)
	})
}

func TestUserPolicies(t *testing.T) {
	ctx := context.Background()
	toolsToCapable := baar.PolicyFunc(func(_ context.Context, in *baar.RouteInput, cur baar.Route) (baar.Route, error) {
		if len(in.Request.Tools) > 0 {
			return baar.Route{Tier: baar.TierCapable, Reason: "tool calls"}, nil
		}
		return cur, nil
	})
	noImagesOnCheap := baar.PolicyFunc(func(_ context.Context, in *baar.RouteInput, cur baar.Route) (baar.Route, error) {
		if in.Request.Attachments > 0 {
			return baar.Route{Tier: baar.TierCapable, Reason: "images"}, nil
		}
		return cur, nil
	})
	refuseDeep := baar.PolicyFunc(func(_ context.Context, in *baar.RouteInput, cur baar.Route) (baar.Route, error) {
		if in.Depth() > 50 {
			return cur, fmt.Errorf("conversation too long: %w", baar.ErrTaskRejected)
		}
		return cur, nil
	})
	cheap := &scripted{reply: answer(10, 10)}
	capable := &scripted{reply: answer(10, 10)}
	hook, got := reports()
	r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(0)), baar.WithBudget(10), baar.WithMaxOutputTokens(10),
		baar.WithExploration(1, 1),                       // would send every capable route to cheap…
		baar.WithPolicy("tools-capable", toolsToCapable), // …but user policies have the last word
		baar.WithPolicy("no-images-on-cheap", noImagesOnCheap),
		baar.WithPolicy("refuse-deep", refuseDeep),
		baar.WithReportFunc(hook))

	_, err := r.GenerateContent(ctx, human("plain"))
	require.NoError(t, err)
	_, err = r.GenerateContent(ctx, human("use a tool"), llms.WithTools([]llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "calc"}}}))
	require.NoError(t, err)
	_, err = r.GenerateContent(ctx, []llms.MessageContent{{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{
		llms.TextPart("what is this?"), llms.ImageURLPart("https://example.com/cat.png")}}})
	require.NoError(t, err)
	deep := make([]llms.MessageContent, 60)
	for i := range deep {
		deep[i] = llms.TextParts(llms.ChatMessageTypeHuman, "again")
	}
	_, err = r.GenerateContent(ctx, deep)
	require.ErrorIs(t, err, baar.ErrTaskRejected)

	reps := got()
	assert.Equal(t, baar.PolicyName("threshold"), reps[0].Policy)
	assert.Equal(t, baar.TierCheap, reps[0].Tier)
	assert.Equal(t, baar.PolicyName("tools-capable"), reps[1].Policy)
	assert.Equal(t, "tool calls", reps[1].Reason)
	assert.Equal(t, baar.TierCapable, reps[1].Tier)
	assert.Equal(t, baar.PolicyName("no-images-on-cheap"), reps[2].Policy)
	assert.Equal(t, baar.TierCapable, reps[2].Tier)
	assert.Equal(t, baar.DecisionRejected, reps[3].Decision)
	assert.Equal(t, 2, capable.Calls())
	assert.Equal(t, 1, cheap.Calls())

	// A policy choosing a tier that does not exist is an error, not a panic.
	bad := newRouter(t, cheap, capable, baar.WithPolicy("bad", baar.PolicyFunc(func(context.Context, *baar.RouteInput, baar.Route) (baar.Route, error) {
		return baar.Route{Tier: "premium"}, nil
	})))
	_, err = bad.GenerateContent(ctx, human("x"))
	assert.ErrorContains(t, err, "premium")
	_, err = baar.New(baar.Tier{Model: cheap, Name: "gpt-4o"}, baar.Tier{Model: cheap, Name: "gpt-4o"}, baar.WithPolicy("", nil))
	assert.Error(t, err)
}

// TestPolicyCombination: value gate + downgrade + stickiness + budget
// pressure together.
func TestPolicyCombination(t *testing.T) {
	ctx := context.Background()
	cheap := &scripted{reply: answer(10, 10)}
	capable := &scripted{reply: answer(10, 50)}
	hook, got := reports()
	score := 1.0
	r := newRouter(t, cheap, capable,
		baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return score, nil })),
		baar.WithBudget(0.005), baar.WithMaxOutputTokens(100),
		baar.WithValueFunc(func(_ context.Context, req scoring.Request) (float64, error) {
			if req.Messages[0].Text == "worthless" {
				return 0, nil
			}
			return 1, nil
		}),
		baar.WithReportFunc(hook))
	agent := baar.ContextWithConversation(ctx, "a")
	_, err := r.GenerateContent(agent, human("plan"))
	require.NoError(t, err)
	_, err = r.GenerateContent(agent, human("worthless"))
	require.ErrorIs(t, err, baar.ErrTaskRejected)
	score = 0
	var last error
	for i := 0; i < 1000 && last == nil; i++ {
		_, last = r.GenerateContent(agent, human("step"))
	}
	require.ErrorIs(t, last, baar.ErrBudgetExceeded)
	assert.LessOrEqual(t, r.Spent(), 0.005)
	seen := map[baar.Decision]bool{}
	for _, rep := range got() {
		seen[rep.Decision] = true
	}
	assert.True(t, seen[baar.DecisionCapable], "sticky capable steps")
	assert.True(t, seen[baar.DecisionDowngraded], "then downgraded by budget pressure")
	assert.True(t, seen[baar.DecisionRejected], "value gate and then the budget refuse")
	_ = budget.Dollar
}
