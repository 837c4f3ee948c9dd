package baar_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/telemetrylog"
	"github.com/baarcore/baar/scoring"
)

// scripted is a model whose every answer is decided by the test.
type scripted struct {
	mu    sync.Mutex
	calls int
	opts  []llms.CallOptions
	reply func(call int, o llms.CallOptions) (*llms.ContentResponse, error)
}

func (s *scripted) GenerateContent(ctx context.Context, _ []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var o llms.CallOptions
	for _, opt := range options {
		opt(&o)
	}
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.opts = append(s.opts, o)
	s.mu.Unlock()
	return s.reply(n, o)
}

func (s *scripted) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, s, prompt, options...)
}

func (s *scripted) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func openAIUsage(in, out int) *llms.ContentResponse {
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "ok", StopReason: "stop",
		GenerationInfo: map[string]any{"PromptTokens": in, "CompletionTokens": out, "TotalTokens": in + out}}}}
}

func answer(in, out int) func(int, llms.CallOptions) (*llms.ContentResponse, error) {
	return func(int, llms.CallOptions) (*llms.ContentResponse, error) { return openAIUsage(in, out), nil }
}

func fixedScore(v float64) scoring.Scorer {
	return scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return v, nil })
}

// price is a round test price: $1 per 1M input tokens, $2 per 1M output tokens
// for "cheap"; ten times that for "capable".
var (
	cheapPrice   = budget.Price{Input: 1, Output: 2, MaxOutputTokens: 1000}
	capablePrice = budget.Price{Input: 10, Output: 20, MaxOutputTokens: 1000}
)

func newRouter(t *testing.T, cheap, capable llms.Model, opts ...baar.Option) *baar.Router {
	t.Helper()
	base := []baar.Option{
		baar.WithPrice("cheap", cheapPrice),
		baar.WithPrice("capable", capablePrice),
	}
	r, err := baar.New(baar.Tier{Model: cheap, Name: "cheap"}, baar.Tier{Model: capable, Name: "capable"}, append(base, opts...)...)
	require.NoError(t, err)
	return r
}

func human(text string) []llms.MessageContent {
	return []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, text)}
}

func reports() (func(context.Context, *baar.CallReport), func() []baar.CallReport) {
	var mu sync.Mutex
	var got []baar.CallReport
	return func(_ context.Context, r *baar.CallReport) {
			mu.Lock()
			got = append(got, *r)
			mu.Unlock()
		}, func() []baar.CallReport {
			mu.Lock()
			defer mu.Unlock()
			return append([]baar.CallReport(nil), got...)
		}
}

// countingHandler counts the LLM callbacks.
type countingHandler struct {
	callbacks.SimpleHandler
	start, end, errs atomic.Int64
}

func (h *countingHandler) HandleLLMGenerateContentStart(context.Context, []llms.MessageContent) {
	h.start.Add(1)
}

func (h *countingHandler) HandleLLMGenerateContentEnd(context.Context, *llms.ContentResponse) {
	h.end.Add(1)
}

func (h *countingHandler) HandleLLMError(context.Context, error) { h.errs.Add(1) }

// telModel is a fake model whose answers are scripted by the test.
type telModel struct {
	calls atomic.Int64
	reply func(call int64, o llms.CallOptions) (*llms.ContentResponse, error)
}

func (m *telModel) GenerateContent(_ context.Context, _ []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var o llms.CallOptions
	for _, opt := range options {
		opt(&o)
	}
	return m.reply(m.calls.Add(1), o)
}

func (m *telModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// openAIStyle answers with OpenAI-style usage: 200 prompt tokens of which 64
// cached, 50 completion tokens of which 20 reasoning.
func openAIStyle() *telModel {
	return &telModel{reply: func(int64, llms.CallOptions) (*llms.ContentResponse, error) {
		return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "fine", StopReason: "stop",
			GenerationInfo: map[string]any{"PromptTokens": 200, "CompletionTokens": 50, "TotalTokens": 250,
				"PromptCachedTokens": 64, "ReasoningTokens": 20}}}}, nil
	}}
}

// anthropicStyle answers with Anthropic-style usage: 100 uncached input
// tokens, 50 read from the cache and 20 written to it, 30 output tokens.
func anthropicStyle() *telModel {
	return &telModel{reply: func(int64, llms.CallOptions) (*llms.ContentResponse, error) {
		return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "fine", StopReason: "end_turn",
			GenerationInfo: map[string]any{"InputTokens": 100, "OutputTokens": 30,
				"CacheReadInputTokens": 50, "CacheCreationInputTokens": 20}}}}, nil
	}}
}

func failing(err error) *telModel {
	return &telModel{reply: func(int64, llms.CallOptions) (*llms.ContentResponse, error) { return nil, err }}
}

func scoreOf(v float64) baar.Option {
	return baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return v, nil }))
}

// observed is a Router with a span recorder and a manual metric reader.
type observed struct {
	r      *baar.Router
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newObserved(t *testing.T, cheap, capable llms.Model, opts ...baar.Option) *observed {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	base := []baar.Option{
		baar.WithPrice("cheap", budget.Price{Input: 1, Output: 2, CachedInput: 0.5, CacheWrite: 1.25, MaxOutputTokens: 1000}),
		baar.WithPrice("capable", budget.Price{Input: 10, Output: 20, CachedInput: 5, CacheWrite: 12.5, MaxOutputTokens: 1000}),
		baar.WithMaxOutputTokens(100),
		baar.WithTracerProvider(tp),
		baar.WithMeterProvider(mp),
	}
	r, err := baar.New(
		baar.Tier{Model: cheap, Name: "cheap", Provider: "openai"},
		baar.Tier{Model: capable, Name: "capable", Provider: "anthropic"},
		append(base, opts...)...)
	require.NoError(t, err)
	return &observed{r: r, spans: sr, reader: reader}
}

func attrsOf(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	m := make(map[string]attribute.Value)
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

// callSpans splits the recorded spans into the call's span and its attempts'.
func callSpans(t *testing.T, sr *tracetest.SpanRecorder) (sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan) {
	t.Helper()
	var call sdktrace.ReadOnlySpan
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == "baar.route" {
			require.Nil(t, call, "one call span")
			call = s
		} else {
			attempts = append(attempts, s)
		}
	}
	require.NotNil(t, call, "the call span")
	assert.Equal(t, trace.SpanKindInternal, call.SpanKind())
	assert.Equal(t, baar.ScopeName, call.InstrumentationScope().Name)
	assert.Equal(t, baar.Version, call.InstrumentationScope().Version)
	assert.Equal(t, "https://opentelemetry.io/schemas/1.41.0", call.InstrumentationScope().SchemaURL)
	for _, a := range attempts {
		assert.Equal(t, trace.SpanKindClient, a.SpanKind(), a.Name())
		assert.Equal(t, call.SpanContext().SpanID(), a.Parent().SpanID(), "%s is a child of the call span", a.Name())
		assert.Equal(t, call.SpanContext().TraceID(), a.SpanContext().TraceID())
	}
	return call, attempts
}

// lockedBuffer is a concurrency-safe buffer that records each Write.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *lockedBuffer) records(t *testing.T) []telemetrylog.Record {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []telemetrylog.Record
	st, err := telemetrylog.Scan(bytes.NewReader(b.buf.Bytes()), func(r telemetrylog.Record) { out = append(out, r) })
	require.NoError(t, err)
	require.Zero(t, st.Malformed, "every line is a record")
	return out
}
