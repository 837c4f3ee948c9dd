package baar_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// panicking is a model whose client panics.
type panicking struct{ calls atomic.Int64 }

func (p *panicking) GenerateContent(context.Context, []llms.MessageContent, ...llms.CallOption) (*llms.ContentResponse, error) {
	p.calls.Add(1)
	panic("provider SDK bug")
}

func (p *panicking) Call(ctx context.Context, s string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, p, s, o...)
}

// A panic in the model, or in the caller's streaming function, reaches the
// caller, and the reservation does not leak: it is settled as spent (the
// provider may have billed), and the call's report and spans end.
func TestPanicSettlesTheReservation(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		model llms.Model
		opts  []llms.CallOption
	}{
		"model": {model: &panicking{}},
		"streaming function": {model: &baartest.Model{Name: "cheap"}, opts: []llms.CallOption{
			llms.WithStreamingFunc(func(context.Context, []byte) error { panic("ui bug") })}},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := budget.NewMemory(budget.Dollar)
			require.NoError(t, err)
			var h countingHandler
			hook, got := reports()
			var log lockedBuffer
			o := newObserved(t, tc.model, tc.model, baar.WithLedger(l), scoreOf(0),
				baar.WithCallbacks(&h), baar.WithReportFunc(hook), baar.WithTelemetryLog(&log))
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				_, _ = o.r.GenerateContent(ctx, human("hello"), tc.opts...)
			}()
			require.NotNil(t, recovered, "the panic goes on to the caller")
			st, err := l.State(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.Reserved, "no reservation left open")
			assert.Positive(t, st.Spent, "settled as spent: the provider may have billed")
			call, attempts := callSpans(t, o.spans)
			require.Len(t, attempts, 1)
			assert.Equal(t, st.Spent.USD(), attrsOf(attempts[0])["baar.cost.usd"].AsFloat64())
			assert.Equal(t, "Error", call.Status().Code.String())
			// Every record of the call sees what the panic cost.
			assert.Equal(t, st.Spent.USD(), attrsOf(call)["baar.cost.usd"].AsFloat64(), "the route span's cost")
			assert.EqualValues(t, 1, h.errs.Load(), "HandleLLMError sees the panicked call")
			reps := got()
			require.Len(t, reps, 1, "the report function sees the panicked call")
			assert.Equal(t, st.Spent.USD(), reps[0].Cost)
			require.Len(t, reps[0].Attempts, 1)
			assert.Equal(t, baar.UsageFromReservation, reps[0].Attempts[0].UsageSource)
			recs := log.records(t)
			require.Len(t, recs, 1)
			assert.Equal(t, st.Spent.USD(), recs[0].CostUSD, "the telemetry log's cost")
			if name == "model" {
				assert.Panics(t, func() { _, _ = o.r.GenerateContent(ctx, human("hello again")) })
			} else {
				_, err = o.r.GenerateContent(ctx, human("hello again"))
				require.NoError(t, err, "the Router works on")
			}
			st, err = l.State(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.Reserved)
		})
	}
}

// A nil llms.CallOption is dropped, not forwarded to a client that calls
// every option.
func TestNilCallOptionIsDropped(t *testing.T) {
	ctx := context.Background()
	l, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	m := &scripted{reply: answer(10, 10)} // calls every option, as langchaingo's clients do
	r := newRouter(t, m, m, baar.WithLedger(l), baar.WithScorer(fixedScore(0)))
	require.NotPanics(t, func() {
		_, err = r.GenerateContent(ctx, human("hello"), nil, llms.WithTemperature(0), nil)
	})
	require.NoError(t, err)
	st, err := l.State(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Reserved)
	assert.Positive(t, st.Spent)
}

// geminiLike is langchaingo's googleai client built with
// googleai.WithDefaultCandidateCount(n): its call options start from the
// client's defaults, so it answers n candidates unless the call says
// otherwise; each candidate honours max_tokens, and the usage covers all.
type geminiLike struct{ defaultCandidates int }

func (g geminiLike) GenerateContent(_ context.Context, _ []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	o := llms.CallOptions{CandidateCount: g.defaultCandidates, MaxTokens: 2048}
	for _, opt := range options {
		opt(&o)
	}
	out := o.MaxTokens * o.CandidateCount
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "x", StopReason: "MAX_TOKENS",
		GenerationInfo: map[string]any{"input_tokens": int32(20), "output_tokens": int32(out), "total_tokens": int32(20 + out)}}}}, nil
}

func (g geminiLike) Call(ctx context.Context, p string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, g, p, o...)
}

// A client's default candidate count cannot multiply the output behind the
// reservation: the Router pins the count it reserved for.
func TestClientDefaultCandidateCountIsPinned(t *testing.T) {
	ctx := context.Background()
	m := geminiLike{defaultCandidates: 4}
	hook, got := reports()
	r := newRouter(t, m, m, baar.WithScorer(fixedScore(0)), baar.WithBudget(0.003), baar.WithReportFunc(hook))
	_, err := r.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, baar.UsageFromProvider, a.UsageSource)
	assert.Equal(t, int64(a.MaxTokens), a.Usage.OutputTokens, "one candidate, as reserved")
	assert.LessOrEqual(t, a.Cost, a.Reserved)
	assert.LessOrEqual(t, r.Spent(), r.Budget())

	// Asked for 3 (N, OpenAI's name), a Gemini-style client is told 3 too.
	_, err = r.GenerateContent(ctx, human("hi"), llms.WithN(3), llms.WithMaxTokens(100))
	require.NoError(t, err)
	a = got()[1].Attempts[0]
	assert.Equal(t, int64(300), a.Usage.OutputTokens)
	assert.LessOrEqual(t, a.Cost, a.Reserved)
}

// A model that answers 6,000 bytes and reports no output tokens is not
// believed: the attempt is billed its reservation.
func TestImplausibleUsageBillsTheReservation(t *testing.T) {
	cheap := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
		return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: strings.Repeat("word ", 1200), StopReason: "stop",
			GenerationInfo: map[string]any{"PromptTokens": 20, "CompletionTokens": 0, "TotalTokens": 20}}}}, nil
	}}
	hook, got := reports()
	r := newRouter(t, cheap, &scripted{reply: answer(1, 1)}, baar.WithScorer(fixedScore(0)), baar.WithReportFunc(hook), baar.WithMaxOutputTokens(100))
	_, err := r.GenerateContent(context.Background(), human("write a long answer"))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, baar.UsageFromReservation, a.UsageSource)
	assert.Contains(t, a.UsageProblem, "0 output tokens reported for 6000 bytes")
	assert.InDelta(t, a.Reserved, a.Cost, 1e-12)
	assert.InDelta(t, a.Reserved, r.Spent(), 1e-12)
}
