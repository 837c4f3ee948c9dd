package baar

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/baarcore/baar/budget"
)

func recordingTelemetry(t *testing.T, opts ...Option) (*telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel, err := newTelemetry(newConfig(append([]Option{WithTracerProvider(tp)}, opts...)))
	require.NoError(t, err)
	return tel, sr
}

// attempt runs the hooks of one call with one attempt, as llm.go does.
func runHooks(tel *telemetry, msgs []llms.MessageContent, resp *llms.ContentResponse) {
	ctx, cs := tel.startCall(context.Background())
	tr := &tierModel{Tier: Tier{Name: "gpt-4o", Provider: "openai"}, label: TierCapable}
	a := Attempt{Tier: TierCapable, Model: "gpt-4o", Provider: "openai", MaxTokens: 50, UsageSource: "provider"}
	actx, as := tel.startAttempt(ctx, tr, &a)
	tel.captureInput(as, msgs)
	tel.captureOutput(as, resp)
	tel.endAttempt(actx, as, &a)
	tel.endCall(ctx, cs, &CallReport{Decision: DecisionCapable, Attempts: []Attempt{a}})
}

func attemptSpanOf(t *testing.T, sr *tracetest.SpanRecorder) map[attribute.Key]attribute.Value {
	t.Helper()
	for _, s := range sr.Ended() {
		if s.Name() == "chat gpt-4o" {
			m := map[attribute.Key]attribute.Value{}
			for _, kv := range s.Attributes() {
				m[kv.Key] = kv.Value
			}
			return m
		}
	}
	require.FailNow(t, "no attempt span")
	return nil
}

var contentMsgs = []llms.MessageContent{
	llms.TextParts(llms.ChatMessageTypeSystem, "Be brief."),
	{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{
		llms.TextContent{Text: "What is in this picture?"},
		llms.ImageURLContent{URL: "https://example.com/cat.png"},
		llms.BinaryContent{MIMEType: "image/png", Data: []byte("\x89PNG secret bytes")},
	}},
	{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{
		llms.ToolCall{ID: "call_1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "look", Arguments: `{"x":1}`}},
	}},
	{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
		llms.ToolCallResponse{ToolCallID: "call_1", Name: "look", Content: "a cat"},
	}},
}

var contentResp = &llms.ContentResponse{Choices: []*llms.ContentChoice{
	{Content: "A cat.", StopReason: "stop"},
	{StopReason: "tool_calls", ToolCalls: []llms.ToolCall{{ID: "call_2", FunctionCall: &llms.FunctionCall{Name: "zoom", Arguments: "{}"}}}},
}}

func mapOf(v attribute.Value) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range v.AsMap() {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func TestContentCaptureIsOffByDefault(t *testing.T) {
	tel, sr := recordingTelemetry(t)
	runHooks(tel, contentMsgs, contentResp)
	at := attemptSpanOf(t, sr)
	assert.NotContains(t, at, keyInputMessages)
	assert.NotContains(t, at, keyOutputMessages)
	for _, s := range sr.Ended() {
		for _, kv := range s.Attributes() {
			assert.NotContains(t, kv.Value.String(), "What is in this picture", "no prompt text in %s", kv.Key)
			assert.NotContains(t, kv.Value.String(), "A cat.", "no completion text in %s", kv.Key)
		}
	}
}

func TestContentCaptureUsesStructuredAttributes(t *testing.T) {
	tel, sr := recordingTelemetry(t, WithContentCapture(true))
	runHooks(tel, contentMsgs, contentResp)
	at := attemptSpanOf(t, sr)

	in := at[keyInputMessages]
	require.Equal(t, attribute.SLICE, in.Type(), "structured, not a JSON string")
	msgs := in.AsSlice()
	require.Len(t, msgs, 4)

	sys := mapOf(msgs[0])
	assert.Equal(t, "system", sys["role"].AsString())
	parts := sys["parts"].AsSlice()
	require.Len(t, parts, 1)
	assert.Equal(t, map[string]attribute.Value{"type": attribute.StringValue("text"), "content": attribute.StringValue("Be brief.")}, mapOf(parts[0]))

	user := mapOf(msgs[1])
	assert.Equal(t, "user", user["role"].AsString())
	parts = user["parts"].AsSlice()
	require.Len(t, parts, 3)
	assert.Equal(t, "What is in this picture?", mapOf(parts[0])["content"].AsString())
	assert.Equal(t, map[string]attribute.Value{"type": attribute.StringValue("uri"), "modality": attribute.StringValue("image"),
		"uri": attribute.StringValue("https://example.com/cat.png")}, mapOf(parts[1]))
	assert.Equal(t, map[string]attribute.Value{"type": attribute.StringValue("blob"), "mime_type": attribute.StringValue("image/png")},
		mapOf(parts[2]), "binary parts are described, not copied")

	ai := mapOf(msgs[2])
	assert.Equal(t, "assistant", ai["role"].AsString())
	assert.Equal(t, map[string]attribute.Value{"type": attribute.StringValue("tool_call"), "id": attribute.StringValue("call_1"),
		"name": attribute.StringValue("look"), "arguments": attribute.StringValue(`{"x":1}`)}, mapOf(ai["parts"].AsSlice()[0]))

	tool := mapOf(msgs[3])
	assert.Equal(t, "tool", tool["role"].AsString())
	assert.Equal(t, map[string]attribute.Value{"type": attribute.StringValue("tool_call_response"), "id": attribute.StringValue("call_1"),
		"result": attribute.StringValue("a cat")}, mapOf(tool["parts"].AsSlice()[0]))

	out := at[keyOutputMessages]
	require.Equal(t, attribute.SLICE, out.Type())
	choices := out.AsSlice()
	require.Len(t, choices, 2)
	first := mapOf(choices[0])
	assert.Equal(t, "assistant", first["role"].AsString())
	assert.Equal(t, "stop", first["finish_reason"].AsString())
	assert.Equal(t, "A cat.", mapOf(first["parts"].AsSlice()[0])["content"].AsString())
	second := mapOf(choices[1])
	assert.Equal(t, "tool_calls", second["finish_reason"].AsString())
	assert.Equal(t, "zoom", mapOf(second["parts"].AsSlice()[0])["name"].AsString())
}

func TestContentCaptureSkipsNonRecordingSpans(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	tel, err := newTelemetry(newConfig([]Option{WithTracerProvider(tp), WithContentCapture(true)}))
	require.NoError(t, err)
	_, as := tel.startAttempt(context.Background(), &tierModel{}, &Attempt{Model: "m"})
	require.False(t, as.span.IsRecording())
	assert.Zero(t, testing.AllocsPerRun(100, func() { tel.captureInput(as, contentMsgs) }), "no attribute is built")
}

func TestObserveLedgerFeedsTheBudgetGauges(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := newTelemetry(newConfig([]Option{WithMeterProvider(mp)}))
	require.NoError(t, err)

	gauges := func() map[string]float64 {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		out := map[string]float64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[float64]); ok && len(g.DataPoints) == 1 {
					out[m.Name] = g.DataPoints[0].Value
				}
			}
		}
		return out
	}
	assert.Empty(t, gauges(), "no ledger yet, nothing observed")

	ledger, err := budget.NewMemory(2 * budget.Dollar)
	require.NoError(t, err)
	ctx := context.Background()
	res, err := ledger.Reserve(ctx, budget.Dollar/2)
	require.NoError(t, err)
	require.NoError(t, ledger.Commit(ctx, res, budget.Dollar/4))
	_, err = ledger.Reserve(ctx, budget.Dollar/4) // in flight
	require.NoError(t, err)

	tel.observeLedger(ledger)
	assert.Equal(t, map[string]float64{"baar.budget.remaining": 1.5, "baar.budget.limit": 2, "baar.budget.spent": 0.25}, gauges())
}

func TestHooksOnNilTelemetry(t *testing.T) {
	var tel *telemetry
	ctx, cs := tel.startCall(context.Background())
	actx, as := tel.startAttempt(ctx, &tierModel{}, &Attempt{})
	tel.captureInput(as, contentMsgs)
	tel.captureOutput(as, contentResp)
	tel.endAttempt(actx, as, &Attempt{})
	tel.endCall(ctx, cs, &CallReport{})
	tel.observeLedger(nil)
}

// TestNoopPathCostsNothing checks that with no-op providers the hooks build
// no attribute and record nothing: the only allocations are the two contexts
// carrying the (no-op) spans.
func TestNoopPathCostsNothing(t *testing.T) {
	tel, err := newTelemetry(newConfig([]Option{WithTracerProvider(tracenoop.NewTracerProvider()),
		WithMeterProvider(metricnoop.NewMeterProvider())}))
	require.NoError(t, err)
	tr := &tierModel{Tier: Tier{Name: "gpt-4o-mini", Provider: "openai"}, label: TierCheap}
	a := Attempt{Tier: TierCheap, Model: "gpt-4o-mini", Provider: "openai", MaxTokens: 256, UsageSource: "provider",
		Usage: budget.Usage{InputTokens: 500, OutputTokens: 100}, FinishReasons: []string{"stop"}}
	rep := &CallReport{Decision: DecisionCheap, Tier: TierCheap, Model: "gpt-4o-mini", Score: 0.3, Attempts: []Attempt{a}}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		cctx, cs := tel.startCall(ctx)
		actx, as := tel.startAttempt(cctx, tr, &a)
		tel.captureInput(as, contentMsgs)
		tel.captureOutput(as, contentResp)
		tel.endAttempt(actx, as, &a)
		tel.endCall(cctx, cs, rep)
	})
	assert.LessOrEqual(t, allocs, 2.0)
}
