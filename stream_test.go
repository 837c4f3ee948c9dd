package baar_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
	"github.com/tmc/langchaingo/llms/ollama"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// collector is a caller's streaming function that keeps what it receives.
type collector struct {
	mu sync.Mutex
	b  strings.Builder
}

func (c *collector) fn(_ context.Context, chunk []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.Write(chunk)
	return nil
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// requireCut checks a stream cut off at the reservation: a prompt budget
// error carrying the partial text the caller also received, and spend within
// the cap.
func requireCut(t *testing.T, r *baar.Router, err error, got *collector, elapsed time.Duration, capUSD float64) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.True(t, llms.IsQuotaExceededError(err))
	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)
	assert.True(t, be.StreamCut)
	assert.NotEmpty(t, be.Partial)
	assert.Equal(t, got.String(), be.Partial, "the text received so far is not lost")
	assert.Less(t, elapsed, 5*time.Second, "the call returns promptly")
	assert.LessOrEqual(t, r.Spent(), capUSD)
	assert.Positive(t, r.Spent(), "the cut stream is billed")
	st, serr := r.State(context.Background())
	require.NoError(t, serr)
	assert.Zero(t, st.Reserved)
}

func TestStreamingOpenAI(t *testing.T) {
	ctx := context.Background()

	t.Run("usage from the stream", func(t *testing.T) {
		srv := baartest.NewServer(baartest.WithStreamChunks(8, 0))
		defer srv.Close()
		var last baar.CallReport
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200),
			baar.WithReportFunc(func(_ context.Context, rep *baar.CallReport) { last = *rep }))
		var got collector
		resp, err := r.GenerateContent(ctx, human("Tell me about the weather in two sentences."), llms.WithStreamingFunc(got.fn))
		require.NoError(t, err)
		assert.Equal(t, resp.Choices[0].Content, got.String())
		require.Len(t, last.Attempts, 1)
		assert.True(t, last.Attempts[0].Streaming)
		assert.Equal(t, baar.UsageFromProvider, last.Attempts[0].UsageSource)
		assert.Equal(t, srv.Tokens().Completion, last.Attempts[0].Usage.OutputTokens)
	})

	t.Run("no usage: billed the reservation, whatever was streamed", func(t *testing.T) {
		srv := baartest.NewServer(baartest.WithStreamChunks(8, 0), baartest.WithUsageMode(baartest.UsageMissing))
		defer srv.Close()
		var last baar.CallReport
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200),
			baar.WithReportFunc(func(_ context.Context, rep *baar.CallReport) { last = *rep }))
		var got collector
		_, err := r.GenerateContent(ctx, human("Tell me about the weather."), llms.WithStreamingFunc(got.fn))
		require.NoError(t, err)
		a := last.Attempts[0]
		assert.Equal(t, baar.UsageFromReservation, a.UsageSource)
		assert.Equal(t, a.Reserved, a.Cost, "reasoning and tool calls are output a stream may not show")
		assert.InDelta(t, a.Cost, r.Spent(), 1e-12)
	})

	t.Run("endless stream is cut at the reservation", func(t *testing.T) {
		srv := baartest.NewServer(baartest.WithEndlessStream(), baartest.WithStreamChunks(16, 0))
		defer srv.Close()
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(0.01), baar.WithMaxOutputTokens(100))
		var got collector
		start := time.Now()
		_, err := r.GenerateContent(ctx, human("Count forever."), llms.WithStreamingFunc(got.fn))
		requireCut(t, r, err, &got, time.Since(start), 0.01)
		assert.Eventually(t, func() bool { return srv.Active() == 0 }, 5*time.Second, 10*time.Millisecond,
			"the provider connection is closed")
	})

	t.Run("a runaway of endless streams stops at the cap", func(t *testing.T) {
		srv := baartest.NewServer(baartest.WithEndlessStream(), baartest.WithStreamChunks(64, 0))
		defer srv.Close()
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(0.002), baar.WithMaxOutputTokens(50))
		refusedLocally := false
		for i := 0; i < 200 && !refusedLocally; i++ {
			var got collector
			_, err := r.GenerateContent(ctx, human("Count forever."), llms.WithStreamingFunc(got.fn))
			var be *baar.BudgetError
			require.ErrorAs(t, err, &be)
			refusedLocally = !be.StreamCut
		}
		assert.True(t, refusedLocally, "the budget ends the loop")
		assert.LessOrEqual(t, r.Spent(), 0.002)
	})

	t.Run("the caller's streaming error is returned", func(t *testing.T) {
		srv := baartest.NewServer(baartest.WithStreamChunks(4, 0))
		defer srv.Close()
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200))
		stop := errors.New("caller had enough")
		_, err := r.GenerateContent(ctx, human("Tell me a story."), llms.WithStreamingFunc(func(context.Context, []byte) error { return stop }))
		require.ErrorIs(t, err, stop)
		assert.NotErrorIs(t, err, baar.ErrBudgetExceeded)
	})
}

// anthropicEndless streams Anthropic SSE events until the client leaves.
func anthropicEndless(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(v string) bool {
			_, err := fmt.Fprintf(w, "event: x\ndata: %s\n\n", v)
			fl.Flush()
			return err == nil && r.Context().Err() == nil
		}
		send(`{"type":"message_start","message":{"id":"m1","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","usage":{"input_tokens":12,"output_tokens":1}}}`)
		send(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		for i := 0; i < 1_000_000; i++ {
			if !send(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"and again "}}`) {
				return
			}
		}
	}))
}

func TestStreamingAnthropicEndless(t *testing.T) {
	srv := anthropicEndless(t)
	defer srv.Close()
	mk := func(model string) llms.Model {
		m, err := anthropic.New(anthropic.WithToken("t"), anthropic.WithBaseURL(srv.URL+"/v1"), anthropic.WithModel(model))
		require.NoError(t, err)
		return m
	}
	r, err := baar.New(
		baar.Tier{Model: mk("claude-haiku-4-5-20251001"), Name: "claude-haiku-4-5-20251001"},
		baar.Tier{Model: mk("claude-sonnet-4-5-20250929"), Name: "claude-sonnet-4-5-20250929"},
		baar.WithBudget(0.01), baar.WithMaxOutputTokens(100), baar.WithScorer(fixedScore(0)))
	require.NoError(t, err)
	var got collector
	start := time.Now()
	_, err = r.GenerateContent(context.Background(), human("Count forever."), llms.WithStreamingFunc(got.fn))
	requireCut(t, r, err, &got, time.Since(start), 0.01)
}

// ollamaEndless streams Ollama NDJSON chat chunks until the client leaves.
func ollamaEndless(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := 0; i < 1_000_000; i++ {
			_, err := fmt.Fprintf(w, `{"model":"llama3","created_at":"2026-11-25T00:00:00Z","message":{"role":"assistant","content":"more "},"done":false}`+"\n")
			fl.Flush()
			if err != nil || r.Context().Err() != nil {
				return
			}
		}
	}))
}

func TestStreamingOllamaEndless(t *testing.T) {
	srv := ollamaEndless(t)
	defer srv.Close()
	m, err := ollama.New(ollama.WithServerURL(srv.URL), ollama.WithModel("llama3"))
	require.NoError(t, err)
	r, err := baar.New(baar.Tier{Model: m, Name: "llama3"}, baar.Tier{Model: m, Name: "llama3"},
		baar.WithPrice("llama3", budget.Price{Input: 0.1, Output: 0.2}),
		baar.WithBudget(0.001), baar.WithMaxOutputTokens(100))
	require.NoError(t, err)
	var got collector
	start := time.Now()
	_, err = r.GenerateContent(context.Background(), human("Count forever."), llms.WithStreamingFunc(got.fn))
	requireCut(t, r, err, &got, time.Since(start), 0.001)
}

// swallower streams like googleai and vertex: it ignores the streaming
// function's error and stops only when the context is cancelled, then
// returns the partial answer with no error.
type swallower struct{}

func (swallower) GenerateContent(ctx context.Context, _ []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var o llms.CallOptions
	for _, opt := range options {
		opt(&o)
	}
	var b strings.Builder
	for ctx.Err() == nil {
		b.WriteString("chunk ")
		_ = o.StreamingFunc(ctx, []byte("chunk "))
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: b.String()}}}, nil
}

func (s swallower) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, s, prompt, options...)
}

func TestStreamingCutWhenTheProviderSwallowsTheError(t *testing.T) {
	r := newRouter(t, swallower{}, swallower{}, baar.WithBudget(1), baar.WithMaxOutputTokens(50), baar.WithScorer(fixedScore(0)))
	var got collector
	start := time.Now()
	_, err := r.GenerateContent(context.Background(), human("go"), llms.WithStreamingFunc(got.fn))
	requireCut(t, r, err, &got, time.Since(start), 1)
}

func TestStreamingDoesNotCutAnHonestFullAnswer(t *testing.T) {
	// A provider that streams exactly its cap, one token per chunk.
	m := &scripted{reply: func(_ int, o llms.CallOptions) (*llms.ContentResponse, error) {
		for i := 0; i < o.MaxTokens; i++ {
			if err := o.StreamingFunc(context.Background(), []byte(" word")); err != nil {
				return nil, err
			}
		}
		return openAIUsage(10, o.MaxTokens), nil
	}}
	r := newRouter(t, m, m, baar.WithBudget(1), baar.WithMaxOutputTokens(64), baar.WithScorer(fixedScore(0)))
	var got collector
	_, err := r.GenerateContent(context.Background(), human("go"), llms.WithStreamingFunc(got.fn))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat(" word", 64), got.String())
}

// BenchmarkStreamingChunk is the Router's overhead per streamed chunk.
//
//	go test -run '^$' -bench StreamingChunk .
func BenchmarkStreamingChunk(b *testing.B) {
	const chunks = 1000
	m := &scripted{reply: func(_ int, o llms.CallOptions) (*llms.ContentResponse, error) {
		chunk := []byte(" token")
		for i := 0; i < chunks; i++ {
			if err := o.StreamingFunc(context.Background(), chunk); err != nil {
				return nil, err
			}
		}
		return openAIUsage(10, chunks), nil
	}}
	noop := func(context.Context, []byte) error { return nil }
	msgs := human("go")
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.GenerateContent(context.Background(), msgs, llms.WithMaxTokens(chunks), llms.WithStreamingFunc(noop)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/chunks, "ns/chunk")
	})
	b.Run("router", func(b *testing.B) {
		r, err := baar.New(baar.Tier{Model: m, Name: "gpt-4o-mini"}, baar.Tier{Model: m, Name: "gpt-4o"},
			baar.WithBudget(1e9), baar.WithScorer(fixedScore(0)))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := r.GenerateContent(context.Background(), msgs, llms.WithMaxTokens(chunks), llms.WithStreamingFunc(noop)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/chunks, "ns/chunk")
	})
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
	assert.Equal(t, baar.UsageFromReservation, a.UsageSource)
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

// A stream that breaks after chunks reached the caller is not failed over:
// the caller's stream and the returned error tell the same story.
func TestBrokenStreamIsNotSplicedWithAnotherAnswer(t *testing.T) {
	boom := &llms.Error{Code: llms.ErrCodeProviderUnavailable, Message: "connection reset mid-stream"}
	capable := &scripted{reply: func(_ int, o llms.CallOptions) (*llms.ContentResponse, error) {
		for _, c := range []string{"It helps ", "to measure "} {
			if err := o.StreamingFunc(context.Background(), []byte(c)); err != nil {
				return nil, err
			}
		}
		return nil, boom
	}}
	cheap := &scripted{reply: answer(10, 10)}
	r := newRouter(t, cheap, capable, baar.WithScorer(fixedScore(1)), baar.WithMaxOutputTokens(100))
	var streamed strings.Builder
	_, err := r.GenerateContent(context.Background(), human("q"), llms.WithStreamingFunc(func(_ context.Context, b []byte) error {
		streamed.Write(b)
		return nil
	}))
	var si *baar.StreamInterruptedError
	require.ErrorAs(t, err, &si)
	assert.Equal(t, "It helps to measure ", si.Partial)
	assert.Equal(t, streamed.String(), si.Partial, "what was streamed is what the error holds")
	assert.ErrorIs(t, err, boom)
	assert.Zero(t, cheap.Calls(), "no failover once the caller saw chunks")

	// Before any chunk, failover still happens.
	capable.reply = func(int, llms.CallOptions) (*llms.ContentResponse, error) { return nil, boom }
	_, err = r.GenerateContent(context.Background(), human("q"), llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
	require.NoError(t, err)
	assert.Equal(t, 1, cheap.Calls())
}
