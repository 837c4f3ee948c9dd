package baar_test

import (
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/telemetrylog"
	"github.com/baarcore/baar/scoring"
)

func TestSpanPolicyReason(t *testing.T) {
	tools := baar.PolicyFunc(func(context.Context, *baar.RouteInput, baar.Route) (baar.Route, error) {
		return baar.Route{Tier: baar.TierCapable, Reason: "tool calls"}, nil
	})
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1), baar.WithPolicy("tools", tools))
	_, err := o.r.GenerateContent(context.Background(), human("What is 2+2?"))
	require.NoError(t, err)
	call, _ := callSpans(t, o.spans)
	c := attrsOf(call)
	assert.Equal(t, "capable", c["baar.tier"].AsString())
	assert.Equal(t, "tools", c["baar.policy"].AsString())
	assert.Equal(t, "tool calls", c["baar.policy.reason"].AsString(), "a policy other than the threshold says why")
}

func TestSpanCheapCall(t *testing.T) {
	var rep baar.CallReport
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) { rep = *r }))
	ctx := baar.ContextWithConversation(context.Background(), "conv-42")
	_, err := o.r.GenerateContent(ctx, human("What is 2+2?"))
	require.NoError(t, err)

	call, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 1)
	c := attrsOf(call)
	spent := o.r.Spent()
	require.Greater(t, spent, 0.0)
	assert.Equal(t, "cheap", c["baar.decision"].AsString())
	assert.Equal(t, "cheap", c["baar.tier"].AsString())
	assert.Equal(t, "cheap", c["baar.model"].AsString())
	assert.Equal(t, 0.1, c["baar.complexity.score"].AsFloat64())
	assert.Equal(t, 0.8, c["baar.complexity.threshold"].AsFloat64())
	require.NotEmpty(t, rep.Policy)
	assert.Equal(t, string(rep.Policy), c["baar.policy"].AsString(), "why the call went where it went")
	assert.Equal(t, baar.PolicyThreshold, rep.Policy)
	assert.NotContains(t, c, "baar.policy.reason", "the threshold's reason is its score and threshold, on the span")
	assert.Equal(t, "conv-42", c["gen_ai.conversation.id"].AsString())
	assert.Equal(t, 0.1, c["baar.budget.limit_usd"].AsFloat64(), "the default budget")
	assert.Equal(t, 0.0, c["baar.budget.spent_before_usd"].AsFloat64())
	assert.Equal(t, spent, c["baar.budget.spent_after_usd"].AsFloat64())
	assert.InDelta(t, 0.1-spent, c["baar.budget.remaining_usd"].AsFloat64(), 1e-12)
	assert.Equal(t, spent, c["baar.cost.usd"].AsFloat64(), "the span's cost is what the budget recorded")
	assert.Positive(t, c["baar.cost.estimated_usd"].AsFloat64())
	assert.Equal(t, c["baar.cost.estimated_usd"], c["baar.budget.reserved_usd"])
	assert.NotContains(t, c, "error.type")
	assert.Equal(t, codes.Unset, call.Status().Code)

	a := attempts[0]
	assert.Equal(t, "chat cheap", a.Name())
	at := attrsOf(a)
	assert.Equal(t, "chat", at["gen_ai.operation.name"].AsString())
	assert.Equal(t, "openai", at["gen_ai.provider.name"].AsString())
	assert.Equal(t, "cheap", at["gen_ai.request.model"].AsString())
	assert.Equal(t, int64(100), at["gen_ai.request.max_tokens"].AsInt64())
	assert.NotContains(t, at, "gen_ai.request.stream", "set only when streaming")
	assert.Equal(t, int64(200), at["gen_ai.usage.input_tokens"].AsInt64(), "all input tokens, cached included")
	assert.Equal(t, int64(50), at["gen_ai.usage.output_tokens"].AsInt64())
	assert.Equal(t, int64(64), at["gen_ai.usage.cache_read.input_tokens"].AsInt64())
	assert.Equal(t, int64(20), at["gen_ai.usage.reasoning.output_tokens"].AsInt64())
	assert.NotContains(t, at, "gen_ai.usage.cache_creation.input_tokens")
	assert.Equal(t, []string{"stop"}, at["gen_ai.response.finish_reasons"].AsStringSlice())
	assert.Equal(t, spent, at["baar.cost.usd"].AsFloat64())
	assert.Equal(t, spent, at["gen_ai.usage.cost"].AsFloat64(), "the de-facto alias is on by default")
	assert.NotContains(t, at, "baar.usage.source", "provider usage is told by the token counts")
	assert.Equal(t, "cheap", at["baar.tier"].AsString())
	assert.NotContains(t, at, "baar.budget.reserved_usd", "on the call span")
	assert.NotContains(t, at, "error.type")
	assert.NotContains(t, at, "gen_ai.input.messages", "no content by default")
	assert.NotContains(t, at, "gen_ai.output.messages", "no content by default")
	assert.Equal(t, codes.Unset, a.Status().Code)
}

func TestSpanCapableStreamingCall(t *testing.T) {
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.95))
	_, err := o.r.GenerateContent(context.Background(), human("Prove it."),
		llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
	require.NoError(t, err)

	call, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 1)
	c := attrsOf(call)
	assert.Equal(t, "capable", c["baar.decision"].AsString())
	assert.Equal(t, "capable", c["baar.tier"].AsString())
	assert.Equal(t, 0.95, c["baar.complexity.score"].AsFloat64())
	assert.Equal(t, o.r.Spent(), c["baar.cost.usd"].AsFloat64())

	a := attempts[0]
	assert.Equal(t, "chat capable", a.Name())
	at := attrsOf(a)
	assert.Equal(t, "anthropic", at["gen_ai.provider.name"].AsString())
	assert.True(t, at["gen_ai.request.stream"].AsBool())
	assert.Equal(t, int64(170), at["gen_ai.usage.input_tokens"].AsInt64(), "Anthropic's uncached + cache read + cache write")
	assert.Equal(t, int64(30), at["gen_ai.usage.output_tokens"].AsInt64())
	assert.Equal(t, int64(50), at["gen_ai.usage.cache_read.input_tokens"].AsInt64())
	assert.Equal(t, int64(20), at["gen_ai.usage.cache_creation.input_tokens"].AsInt64())
	assert.NotContains(t, at, "gen_ai.usage.reasoning.output_tokens")
	assert.Equal(t, []string{"end_turn"}, at["gen_ai.response.finish_reasons"].AsStringSlice())
	assert.Equal(t, o.r.Spent(), at["baar.cost.usd"].AsFloat64())
}

func TestSpanDowngradedCall(t *testing.T) {
	// $0.001 affords the cheap worst case (~$0.0002) but not the capable one
	// (~$0.002).
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.95), baar.WithBudget(0.001))
	_, err := o.r.GenerateContent(context.Background(), human("Prove it."))
	require.NoError(t, err)

	call, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 1)
	c := attrsOf(call)
	assert.Equal(t, "downgraded", c["baar.decision"].AsString())
	assert.Equal(t, "cheap", c["baar.tier"].AsString())
	assert.Equal(t, 0.001, c["baar.budget.limit_usd"].AsFloat64())
	assert.Equal(t, o.r.Spent(), c["baar.cost.usd"].AsFloat64())
	assert.Equal(t, codes.Unset, call.Status().Code)
	assert.Equal(t, "chat cheap", attempts[0].Name())
}

func TestSpanFailoverCall(t *testing.T) {
	capable := failing(&llms.Error{Code: llms.ErrCodeRateLimit, Provider: "anthropic", Message: "secret provider body"})
	o := newObserved(t, openAIStyle(), capable, scoreOf(0.95))
	_, err := o.r.GenerateContent(context.Background(), human("Prove it."))
	require.NoError(t, err)

	call, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 2, "one child span per attempt")
	c := attrsOf(call)
	assert.Equal(t, "failover", c["baar.decision"].AsString())
	assert.Equal(t, "cheap", c["baar.tier"].AsString())
	assert.Equal(t, o.r.Spent(), c["baar.cost.usd"].AsFloat64())
	assert.Equal(t, codes.Unset, call.Status().Code, "the call succeeded")

	failed, ok := attempts[0], attempts[1]
	assert.Equal(t, "chat capable", failed.Name())
	f := attrsOf(failed)
	assert.Equal(t, codes.Error, failed.Status().Code)
	assert.NotContains(t, failed.Status().Description, "secret", "no provider text in telemetry")
	assert.Equal(t, "rate_limit", f["error.type"].AsString())
	assert.Equal(t, string(baar.UsageNone), f["baar.usage.source"].AsString(), "a rate-limited call is not billed")
	assert.Equal(t, 0.0, f["baar.cost.usd"].AsFloat64())
	assert.NotContains(t, f, "gen_ai.usage.input_tokens")

	assert.Equal(t, "chat cheap", ok.Name())
	assert.Equal(t, codes.Unset, ok.Status().Code)
	assert.Equal(t, o.r.Spent(), attrsOf(ok)["baar.cost.usd"].AsFloat64())
}

func TestSpanRefusedCall(t *testing.T) {
	cheap, capable := openAIStyle(), anthropicStyle()
	o := newObserved(t, cheap, capable, scoreOf(0.95), baar.WithBudget(0))
	_, err := o.r.GenerateContent(context.Background(), human("Prove it."))
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)

	call, attempts := callSpans(t, o.spans)
	assert.Empty(t, attempts, "a refused call has no child span")
	assert.Zero(t, cheap.calls.Load()+capable.calls.Load())
	c := attrsOf(call)
	assert.Equal(t, "rejected", c["baar.decision"].AsString())
	assert.Equal(t, "budget_exceeded", c["error.type"].AsString())
	assert.Equal(t, codes.Error, call.Status().Code)
	assert.Equal(t, err.Error(), call.Status().Description)
	assert.Equal(t, be.Requested, c["baar.cost.estimated_usd"].AsFloat64(), "the refused worst case")
	assert.Equal(t, 0.0, c["baar.budget.reserved_usd"].AsFloat64())
	assert.Equal(t, 0.0, c["baar.cost.usd"].AsFloat64())
	assert.Equal(t, 0.0, c["baar.budget.limit_usd"].AsFloat64())
	assert.NotContains(t, c, "baar.tier")
}

func TestSpanFailedCall(t *testing.T) {
	cheap := failing(&llms.Error{Code: llms.ErrCodeAuthentication, Message: "bad key sk-123"})
	o := newObserved(t, cheap, anthropicStyle(), scoreOf(0.1))
	_, err := o.r.GenerateContent(context.Background(), human("hi"))
	require.Error(t, err)

	call, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 1)
	c := attrsOf(call)
	assert.Equal(t, "authentication", c["error.type"].AsString())
	assert.Equal(t, codes.Error, call.Status().Code)
	assert.Equal(t, "provider error: authentication", call.Status().Description)
	assert.Equal(t, "authentication", attrsOf(attempts[0])["error.type"].AsString())
}

func TestSpanScorerFailureAndCostAliasOff(t *testing.T) {
	scorer := baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) {
		return 0, errors.New("scorer down")
	}))
	o := newObserved(t, openAIStyle(), anthropicStyle(), scorer, baar.WithCostAlias(false))
	_, err := o.r.GenerateContent(context.Background(), human("hi"))
	require.NoError(t, err)
	call, attempts := callSpans(t, o.spans)
	c := attrsOf(call)
	assert.NotContains(t, c, "baar.complexity.score", "no score when the scorer failed")
	assert.True(t, c["baar.complexity.scorer_failed"].AsBool())
	require.Len(t, attempts, 1)
	at := attrsOf(attempts[0])
	assert.NotContains(t, at, "gen_ai.usage.cost")
	assert.Equal(t, o.r.Spent(), at["baar.cost.usd"].AsFloat64())
}

// TestSpanCostsMatchTheBudget runs a mix of calls, concurrently, and checks
// that the costs on the spans add up to what the budget recorded.
func TestSpanCostsMatchTheBudget(t *testing.T) {
	var n atomic.Int64
	scorer := baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) {
		return float64(n.Add(1)%10) / 10, nil // 20% capable
	}))
	capable := anthropicStyle()
	reply := capable.reply
	capable.reply = func(call int64, o llms.CallOptions) (*llms.ContentResponse, error) {
		if call%3 == 1 { // the first capable call fails over, whatever the budget allows later
			return nil, &llms.Error{Code: llms.ErrCodeProviderUnavailable, Message: "overloaded"}
		}
		return reply(call, o)
	}
	o := newObserved(t, openAIStyle(), capable, scorer, baar.WithBudget(0.05))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				_, _ = o.r.GenerateContent(context.Background(), human("a question"))
			}
		})
	}
	wg.Wait()

	var callSum, attemptSum float64
	decisions := map[string]int{}
	for _, s := range o.spans.Ended() {
		a := attrsOf(s)
		if s.Name() == "baar.route" {
			callSum += a["baar.cost.usd"].AsFloat64()
			decisions[a["baar.decision"].AsString()]++
		} else {
			attemptSum += a["baar.cost.usd"].AsFloat64()
		}
	}
	spent := o.r.Spent()
	assert.InDelta(t, spent, callSum, 1e-9)
	assert.InDelta(t, spent, attemptSum, 1e-9)
	assert.Equal(t, 200, decisions["cheap"]+decisions["capable"]+decisions["failover"]+decisions["rejected"]+decisions["downgraded"])
	assert.Positive(t, decisions["failover"])
	assert.Positive(t, decisions["rejected"], "the budget ran out")
}

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, baar.ScopeName, sm.Scope.Name)
		assert.Equal(t, baar.Version, sm.Scope.Version)
		assert.Equal(t, "https://opentelemetry.io/schemas/1.41.0", sm.Scope.SchemaURL)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	ledger, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	var score atomic.Value
	scorer := baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) {
		return score.Load().(float64), nil
	}))
	capable := anthropicStyle()
	reply := capable.reply
	capable.reply = func(call int64, o llms.CallOptions) (*llms.ContentResponse, error) {
		if call == 2 {
			return nil, &llms.Error{Code: llms.ErrCodeRateLimit, Message: "slow down"}
		}
		return reply(call, o)
	}
	o := newObserved(t, openAIStyle(), capable, scorer, baar.WithLedger(ledger))
	ctx := context.Background()
	for _, s := range []float64{0.1, 0.95, 0.95} { // cheap, capable, failover
		score.Store(s)
		_, err := o.r.GenerateContent(ctx, human("q"))
		require.NoError(t, err)
	}
	_, err = o.r.GenerateContent(ctx, nil) // rejected: no messages
	require.ErrorIs(t, err, baar.ErrInvalidRequest)

	m := collect(t, o.reader)
	decisions := m["baar.decisions"]
	dps := decisions.Data.(metricdata.Sum[int64]).DataPoints
	order := map[string]int{"cheap": 0, "capable": 1, "failover": 2, "rejected": 3}
	slices.SortFunc(dps, func(a, b metricdata.DataPoint[int64]) int {
		x, _ := a.Attributes.Value("baar.decision")
		y, _ := b.Attributes.Value("baar.decision")
		return order[x.AsString()] - order[y.AsString()]
	})
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "baar.decisions", Description: "Router calls by routing decision: cheap, capable, downgraded, rejected, failover.", Unit: "{call}",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{
			{Attributes: attribute.NewSet(attribute.String("baar.decision", "cheap")), Value: 1},
			{Attributes: attribute.NewSet(attribute.String("baar.decision", "capable")), Value: 1},
			{Attributes: attribute.NewSet(attribute.String("baar.decision", "failover")), Value: 1},
			{Attributes: attribute.NewSet(attribute.String("baar.decision", "rejected")), Value: 1},
		}},
	}, decisions, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	// Cost: by model and tier, summing to the budget's spend; the
	// rate-limited attempt was not billed and has no data point.
	costs := m["baar.cost"].Data.(metricdata.Sum[float64])
	assert.True(t, costs.IsMonotonic)
	assert.Equal(t, "USD", m["baar.cost"].Unit)
	var total float64
	byModel := map[string]float64{}
	for _, dp := range costs.DataPoints {
		model, _ := dp.Attributes.Value("gen_ai.request.model")
		tier, _ := dp.Attributes.Value("baar.tier")
		assert.Equal(t, model.AsString(), tier.AsString())
		byModel[model.AsString()] += dp.Value
		total += dp.Value
	}
	assert.InDelta(t, o.r.Spent(), total, 1e-12)
	assert.Len(t, byModel, 2)

	// Tokens: the recommended buckets, input and output per billed attempt.
	tu := m["gen_ai.client.token.usage"]
	assert.Equal(t, "{token}", tu.Unit)
	hist := tu.Data.(metricdata.Histogram[int64])
	tokens := map[string]int64{}
	for _, dp := range hist.DataPoints {
		assert.Equal(t, []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}, dp.Bounds)
		typ, _ := dp.Attributes.Value("gen_ai.token.type")
		model, _ := dp.Attributes.Value("gen_ai.request.model")
		op, _ := dp.Attributes.Value("gen_ai.operation.name")
		assert.Equal(t, "chat", op.AsString())
		tokens[model.AsString()+"/"+typ.AsString()] += dp.Sum
	}
	assert.Equal(t, map[string]int64{"cheap/input": 400, "cheap/output": 100, "capable/input": 170, "capable/output": 30}, tokens)

	// Duration: seconds, the recommended buckets, one per attempt, error.type
	// on the failed one.
	du := m["gen_ai.client.operation.duration"]
	assert.Equal(t, "s", du.Unit)
	var count uint64
	var failed bool
	for _, dp := range du.Data.(metricdata.Histogram[float64]).DataPoints {
		assert.Equal(t, []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}, dp.Bounds)
		count += dp.Count
		if v, ok := dp.Attributes.Value("error.type"); ok {
			assert.Equal(t, "rate_limit", v.AsString())
			failed = true
		}
	}
	assert.Equal(t, uint64(4), count)
	assert.True(t, failed)

	// Budget gauges read the ledger.
	st, err := ledger.State(ctx)
	require.NoError(t, err)
	gauge := func(name string) float64 {
		g, ok := m[name].Data.(metricdata.Gauge[float64])
		require.True(t, ok, name)
		require.Len(t, g.DataPoints, 1, name)
		assert.Equal(t, "USD", m[name].Unit)
		return g.DataPoints[0].Value
	}
	assert.Equal(t, st.Remaining().USD(), gauge("baar.budget.remaining"))
	assert.Equal(t, 1.0, gauge("baar.budget.limit"))
	assert.Equal(t, o.r.Spent(), gauge("baar.budget.spent"))
}

func TestTelemetryLogRecordsEveryDecision(t *testing.T) {
	var mu sync.Mutex
	score := 0.0
	scorer := baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) {
		mu.Lock()
		defer mu.Unlock()
		return score, nil
	}))
	capable := anthropicStyle()
	reply := capable.reply
	capable.reply = func(call int64, o llms.CallOptions) (*llms.ContentResponse, error) {
		if call == 2 {
			return nil, &llms.Error{Code: llms.ErrCodeRateLimit, Message: "secret provider body"}
		}
		return reply(call, o)
	}
	var w lockedBuffer
	// $0.0053: cheap, capable and the failover fit, then the capable model
	// no longer does (downgrades), then nothing does (refusal).
	o := newObserved(t, openAIStyle(), capable, scorer, baar.WithTelemetryLog(&w), baar.WithBudget(0.0053))
	ctx := context.Background()
	var errs []error
	scores := []float64{0.1}
	for range 15 {
		scores = append(scores, 0.95)
	}
	for _, s := range scores {
		mu.Lock()
		score = s
		mu.Unlock()
		_, err := o.r.GenerateContent(ctx, human("What is the capital of France?"))
		errs = append(errs, err)
	}
	recs := w.records(t)
	require.Len(t, recs, len(errs))
	seen := map[string]telemetrylog.Record{}
	for _, r := range recs {
		if _, ok := seen[r.Decision]; !ok {
			seen[r.Decision] = r
		}
	}
	require.Contains(t, seen, "cheap")
	require.Contains(t, seen, "capable")
	require.Contains(t, seen, "failover")
	require.Contains(t, seen, "downgraded")
	require.Contains(t, seen, "rejected")

	// Trace and span ids are those of the call spans.
	calls := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range o.spans.Ended() {
		if s.Name() == "baar.route" {
			calls[s.SpanContext().SpanID().String()] = s
		}
	}
	var total float64
	for i, r := range recs {
		s, ok := calls[r.SpanID]
		require.True(t, ok, "record %d has its call's span id", i)
		assert.Equal(t, s.SpanContext().TraceID().String(), r.TraceID)
		assert.Equal(t, attrsOf(s)["baar.cost.usd"].AsFloat64(), r.CostUSD)
		assert.Equal(t, 0.0053, r.BudgetUSD)
		assert.Equal(t, telemetrylog.FormatVersion, r.V)
		assert.False(t, r.Time.IsZero())
		assert.Positive(t, r.LatencyMS)
		total += r.CostUSD
		if i > 0 {
			assert.GreaterOrEqual(t, r.SpentAfterUSD, recs[i-1].SpentAfterUSD, "cumulative spend")
		}
	}
	assert.InDelta(t, o.r.Spent(), total, 1e-12)
	assert.InDelta(t, o.r.Spent(), recs[len(recs)-1].SpentAfterUSD, 1e-12)

	cheap := seen["cheap"]
	assert.Equal(t, "cheap", cheap.Tier)
	assert.Equal(t, "cheap", cheap.Model)
	assert.NotEmpty(t, cheap.Policy)
	assert.NotEmpty(t, cheap.Reason)
	require.NotNil(t, cheap.Score)
	assert.Equal(t, 0.1, *cheap.Score)
	assert.Equal(t, 0.8, cheap.Threshold)
	assert.Equal(t, telemetrylog.Tokens{Input: 200, Output: 50, CacheRead: 64, Reasoning: 20}, cheap.Tokens)
	assert.Positive(t, cheap.EstimatedUSD)
	assert.Equal(t, cheap.EstimatedUSD, cheap.ReservedUSD)
	assert.Empty(t, cheap.Error)
	require.Len(t, cheap.Attempts, 1)
	assert.Equal(t, "provider", cheap.Attempts[0].UsageSource)
	assert.Equal(t, []string{"stop"}, cheap.Attempts[0].FinishReasons)
	assert.Equal(t, 100, cheap.Attempts[0].MaxTokens)

	fo := seen["failover"]
	require.Len(t, fo.Attempts, 2)
	assert.Equal(t, "rate_limit", fo.Attempts[0].Error)
	assert.Equal(t, "capable", fo.Attempts[0].Model)
	assert.Equal(t, "none", fo.Attempts[0].UsageSource)
	assert.Equal(t, "cheap", fo.Attempts[1].Model)
	assert.Equal(t, "cheap", fo.Tier)

	rej := seen["rejected"]
	assert.Equal(t, "budget_exceeded", rej.Error)
	assert.Empty(t, rej.Attempts)
	assert.Positive(t, rej.EstimatedUSD)
	assert.Zero(t, rej.CostUSD)

	// Never text: neither the prompt nor the provider's error body.
	w.mu.Lock()
	raw := w.buf.String()
	w.mu.Unlock()
	assert.NotContains(t, raw, "capital of France")
	assert.NotContains(t, raw, "secret")
	assert.NotContains(t, raw, "fine") // the completion
}

func TestTelemetryLogConcurrentWholeLines(t *testing.T) {
	var w lockedBuffer
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.5), baar.WithTelemetryLog(&w))
	var wg sync.WaitGroup
	const workers, calls = 16, 20
	for range workers {
		wg.Go(func() {
			for range calls {
				_, err := o.r.GenerateContent(context.Background(), human("q"))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	recs := w.records(t)
	assert.Len(t, recs, workers*calls)
	assert.Equal(t, workers*calls, w.writes, "one Write per line")
	assert.Zero(t, o.r.TelemetryLogErrors())
}

type brokenWriter struct{ n atomic.Int64 }

func (w *brokenWriter) Write(p []byte) (int, error) {
	if w.n.Add(1)%2 == 0 {
		return 0, errors.New("disk full")
	}
	return len(p) / 2, nil // a short write is a failure too
}

func TestTelemetryLogWriteFailureNeverFailsTheCall(t *testing.T) {
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1), baar.WithTelemetryLog(&brokenWriter{}))
	for range 4 {
		_, err := o.r.GenerateContent(context.Background(), human("q"))
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(4), o.r.TelemetryLogErrors())
}

func TestTelemetryLogFile(t *testing.T) {
	path := t.TempDir() + "/calls.jsonl"
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1), baar.WithTelemetryLogFile(path))
	for range 3 {
		_, err := o.r.GenerateContent(context.Background(), human("q"))
		require.NoError(t, err)
	}
	// A second Router appends to the same file.
	o2 := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1), baar.WithTelemetryLogFile(path))
	_, err := o2.r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)

	recs := readLog(t, path)
	assert.Len(t, recs, 4)

	_, err = baar.New(baar.Tier{Model: openAIStyle(), Name: "gpt-4o-mini"}, baar.Tier{Model: openAIStyle(), Name: "gpt-4o"},
		baar.WithTelemetryLogFile(t.TempDir()+"/missing/dir/calls.jsonl"))
	assert.ErrorContains(t, err, "WithTelemetryLogFile")
	_, err = baar.New(baar.Tier{Model: openAIStyle(), Name: "gpt-4o-mini"}, baar.Tier{Model: openAIStyle(), Name: "gpt-4o"},
		baar.WithTelemetryLogFile("  "))
	assert.ErrorContains(t, err, "empty path")
}

func TestNoProvidersMeansNoSpansButTheLogStillWorks(t *testing.T) {
	// With the no-op global providers nothing records, and the log has no
	// trace ids.
	var w lockedBuffer
	r, err := baar.New(baar.Tier{Model: openAIStyle(), Name: "gpt-4o-mini"}, baar.Tier{Model: anthropicStyle(), Name: "gpt-4o"},
		baar.WithTelemetryLog(&w), scoreOf(0.1), baar.WithMaxOutputTokens(10))
	require.NoError(t, err)
	_, err = r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	recs := w.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "cheap", recs[0].Decision)
	assert.False(t, math.IsNaN(recs[0].CostUSD))
}

func readLog(t *testing.T, path string) []telemetrylog.Record {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []telemetrylog.Record
	st, err := telemetrylog.Scan(f, func(r telemetrylog.Record) { out = append(out, r) })
	require.NoError(t, err)
	require.Zero(t, st.Malformed)
	return out
}

// Routers with different budgets on one meter provider report their gauges as
// separate series when each budget is named, and the name is on their spans.
func TestBudgetNameSeparatesGauges(t *testing.T) {
	ctx := context.Background()
	sr := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	routers := map[string]*baar.Router{}
	for name, limit := range map[string]float64{"tenant-a": 1, "tenant-b": 2} {
		r, err := baar.New(
			baar.Tier{Model: openAIStyle(), Name: "cheap", Provider: "openai"},
			baar.Tier{Model: anthropicStyle(), Name: "capable", Provider: "anthropic"},
			baar.WithPrice("cheap", budget.Price{Input: 1, Output: 2, CachedInput: 0.5, MaxOutputTokens: 1000}),
			baar.WithPrice("capable", budget.Price{Input: 10, Output: 20, CachedInput: 5, CacheWrite: 12.5, MaxOutputTokens: 1000}),
			baar.WithBudget(limit), baar.WithMaxOutputTokens(100), scoreOf(0.1),
			baar.WithTracerProvider(tp), baar.WithMeterProvider(mp), baar.WithBudgetName(name))
		require.NoError(t, err)
		routers[name] = r
	}
	_, err := routers["tenant-a"].GenerateContent(ctx, human("What is 2+2?"))
	require.NoError(t, err)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	limits, spent := map[string]float64{}, map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[float64])
			if !ok {
				continue
			}
			for _, dp := range g.DataPoints {
				name, ok := dp.Attributes.Value("baar.budget.name")
				require.True(t, ok, "%s carries the budget's name", m.Name)
				switch m.Name {
				case "baar.budget.limit":
					limits[name.AsString()] = dp.Value
				case "baar.budget.spent":
					spent[name.AsString()] = dp.Value
				}
			}
		}
	}
	assert.Equal(t, map[string]float64{"tenant-a": 1, "tenant-b": 2}, limits, "one series per budget")
	assert.Equal(t, routers["tenant-a"].Spent(), spent["tenant-a"])
	assert.Positive(t, spent["tenant-a"])
	assert.Zero(t, spent["tenant-b"])

	call, _ := callSpans(t, sr)
	assert.Equal(t, "tenant-a", attrsOf(call)["baar.budget.name"].AsString())

	for _, bad := range []string{"", "bad\xffname", "new\nline", strings.Repeat("x", 129)} {
		_, err := baar.New(
			baar.Tier{Model: openAIStyle(), Name: "cheap", Provider: "openai"},
			baar.Tier{Model: anthropicStyle(), Name: "capable", Provider: "anthropic"},
			baar.WithPrice("cheap", budget.Price{Input: 1, Output: 2, MaxOutputTokens: 1000}),
			baar.WithPrice("capable", budget.Price{Input: 10, Output: 20, MaxOutputTokens: 1000}),
			baar.WithBudgetName(bad))
		assert.ErrorContains(t, err, "WithBudgetName", "%q", bad)
	}
}

func TestWiredContentCaptureAndGauges(t *testing.T) {
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1), baar.WithContentCapture(true))
	_, err := o.r.GenerateContent(context.Background(), human("What is 2+2?"))
	require.NoError(t, err)
	_, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 1)
	at := attrsOf(attempts[0])
	in := at["gen_ai.input.messages"].AsSlice()
	require.Len(t, in, 1)
	assert.Contains(t, in[0].String(), "What is 2+2?")
	out := at["gen_ai.output.messages"].AsSlice()
	require.Len(t, out, 1)
	assert.Contains(t, out[0].String(), "fine")
	m := collect(t, o.reader)
	assert.Contains(t, m, "baar.budget.remaining", "the in-memory ledger is observed")
}
