package baar_test

// Regression tests for holes found by an adversarial review of the budget
// guarantee: each failed before its fix.

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
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
			o := newObserved(t, tc.model, tc.model, baar.WithLedger(l), scoreOf(0))
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
	assert.Equal(t, "provider", a.UsageSource)
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

// noUsageStreamer streams a short answer after reasoning deltas that reach
// a plain streaming function as empty chunks (langchaingo's openai client on
// a reasoning model), and reports no usage.
type noUsageStreamer struct{ reasoningChunks int }

func (s noUsageStreamer) GenerateContent(ctx context.Context, _ []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var o llms.CallOptions
	for _, opt := range options {
		opt(&o)
	}
	if o.StreamingFunc != nil {
		for range s.reasoningChunks {
			if err := o.StreamingFunc(ctx, []byte{}); err != nil {
				return nil, err
			}
		}
		if err := o.StreamingFunc(ctx, []byte("ok")); err != nil {
			return nil, err
		}
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "ok", StopReason: "stop"}}}, nil
}

func (s noUsageStreamer) Call(ctx context.Context, p string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, s, p, o...)
}

// A stream without usage is billed its reservation: the bytes a streaming
// function saw are no measure of the output (hidden reasoning, tool calls).
func TestStreamWithoutUsageBillsTheReservation(t *testing.T) {
	ctx := context.Background()
	s := noUsageStreamer{reasoningChunks: 1000}
	hook, got := reports()
	r := newRouter(t, s, s, baar.WithScorer(fixedScore(0)), baar.WithBudget(1), baar.WithReportFunc(hook),
		baar.WithMaxOutputTokens(1000))
	_, err := r.GenerateContent(ctx, human("hi"), llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, "reservation", a.UsageSource)
	assert.Equal(t, a.Reserved, a.Cost)
	assert.GreaterOrEqual(t, a.Cost, 0.002, "1,000 output tokens at $2/M")
}

// An error from the caller's own streaming function stops the call: it is
// returned as is, the attempt is billed (the provider produced output), and
// the Router does not fail over to a second paid call.
func TestCallerStreamingErrorIsTheCallers(t *testing.T) {
	ctx := context.Background()
	sinkDown := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED} // the caller's downstream
	capable := &baartest.Model{Name: "capable", StreamChunkSize: 4}
	cheap := &baartest.Model{Name: "cheap", StreamChunkSize: 4}
	hook, got := reports()
	r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithBudget(1), baar.WithReportFunc(hook))
	chunks := 0
	sink := func(context.Context, []byte) error {
		if chunks++; chunks == 5 {
			return sinkDown
		}
		return nil
	}
	_, err := r.GenerateContent(ctx, human("hello there, tell me a long story"), llms.WithStreamingFunc(sink))
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "the caller's own error")
	assert.False(t, errors.Is(err, baar.ErrBudgetExceeded))
	assert.Zero(t, cheap.Calls(), "no failover for the caller's error")
	rep := got()[0]
	require.Len(t, rep.Attempts, 1)
	a := rep.Attempts[0]
	assert.Equal(t, baar.ClassCaller, a.ErrClass)
	assert.Positive(t, a.Cost, "billed: the provider produced what was streamed")
	assert.InDelta(t, a.Cost, r.Spent(), 1e-12)
	st, err := r.State(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Reserved)
}

// A provider that ignores max_tokens and sends more than the reservation in
// chunks too big to cut in time is billed the truth, and what follows is
// refused: the promise of a hard cap holds for providers that honour
// max_tokens; for the others the ledger records what they billed.
func TestStreamAboveReservationRecordsTheTruth(t *testing.T) {
	ctx := context.Background()
	s := &scripted{reply: func(_ int, o llms.CallOptions) (*llms.ContentResponse, error) {
		text := strings.Repeat(" a", 300) // 300 tokens in one 600-byte chunk; max_tokens was 100
		if err := o.StreamingFunc(ctx, []byte(text)); err != nil {
			return nil, err
		}
		return openAIUsage(10, 300), nil
	}}
	hook, got := reports()
	r := newRouter(t, s, s, baar.WithScorer(fixedScore(0)), baar.WithBudget(0.001), baar.WithReportFunc(hook))
	_, err := r.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(100), llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, int64(300), a.Usage.OutputTokens)
	assert.Greater(t, a.Cost, a.Reserved, "the truth, above the reservation")
	assert.InDelta(t, a.Cost, r.Spent(), 1e-12)
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
