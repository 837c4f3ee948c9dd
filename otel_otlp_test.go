package baar_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes every
// ExportTraceServiceRequest it is sent.
type otlpReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []*tracepb.ResourceSpans
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	rcv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		rcv.got = append(rcv.got, req.ResourceSpans...)
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rcv.srv.Close)
	return rcv
}

func (r *otlpReceiver) spans() (scopes []*commonpb.InstrumentationScope, schemas []string, spans []*tracepb.Span) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range r.got {
		for _, ss := range rs.ScopeSpans {
			scopes = append(scopes, ss.Scope)
			schemas = append(schemas, ss.SchemaUrl)
			spans = append(spans, ss.Spans...)
		}
	}
	return scopes, schemas, spans
}

func otlpAttrs(s *tracepb.Span) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestOTLPExportOverHTTP(t *testing.T) {
	rcv := newOTLPReceiver(t)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(rcv.srv.URL+"/v1/traces"))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))

	capable := failing(&llms.Error{Code: llms.ErrCodeRateLimit, Message: "slow down"})
	r, err := baar.New(baar.Tier{Model: openAIStyle(), Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: capable, Name: "gpt-4o", Provider: "openai"},
		baar.WithTracerProvider(tp), baar.WithMaxOutputTokens(100), scoreOf(0.99))
	require.NoError(t, err)
	_, err = r.GenerateContent(ctx, human("Derive the formula."))
	require.NoError(t, err)
	require.NoError(t, tp.Shutdown(ctx), "flushes the batch to the receiver")

	scopes, schemas, spans := rcv.spans()
	require.Len(t, spans, 3, "the call's span and two attempts")
	for i := range scopes {
		assert.Equal(t, baar.ScopeName, scopes[i].Name)
		assert.Equal(t, baar.Version, scopes[i].Version)
		assert.Equal(t, "https://opentelemetry.io/schemas/1.41.0", schemas[i])
	}
	var call *tracepb.Span
	byName := map[string][]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		if s.Name == "baar.route" {
			call = s
		}
	}
	require.NotNil(t, call)
	assert.Equal(t, tracepb.Span_SPAN_KIND_INTERNAL, call.Kind)
	c := otlpAttrs(call)
	assert.Equal(t, "failover", c["baar.decision"].GetStringValue())
	assert.Equal(t, 0.99, c["baar.complexity.score"].GetDoubleValue())
	assert.Equal(t, r.Spent(), c["baar.cost.usd"].GetDoubleValue(), "exact over the wire")
	assert.Equal(t, 0.1, c["baar.budget.limit_usd"].GetDoubleValue())

	require.Len(t, byName["chat gpt-4o"], 1)
	require.Len(t, byName["chat gpt-4o-mini"], 1)
	failed, ok := byName["chat gpt-4o"][0], byName["chat gpt-4o-mini"][0]
	for _, s := range []*tracepb.Span{failed, ok} {
		assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, s.Kind)
		assert.Equal(t, call.SpanId, s.ParentSpanId)
		assert.Equal(t, call.TraceId, s.TraceId)
	}
	assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, failed.Status.Code)
	assert.Equal(t, "rate_limit", otlpAttrs(failed)["error.type"].GetStringValue())
	a := otlpAttrs(ok)
	assert.Equal(t, "chat", a["gen_ai.operation.name"].GetStringValue())
	assert.Equal(t, "openai", a["gen_ai.provider.name"].GetStringValue())
	assert.Equal(t, "gpt-4o-mini", a["gen_ai.request.model"].GetStringValue())
	assert.Equal(t, int64(200), a["gen_ai.usage.input_tokens"].GetIntValue())
	assert.Equal(t, int64(50), a["gen_ai.usage.output_tokens"].GetIntValue())
	assert.Equal(t, r.Spent(), a["baar.cost.usd"].GetDoubleValue())
	assert.Equal(t, r.Spent(), a["gen_ai.usage.cost"].GetDoubleValue())
	reasons := a["gen_ai.response.finish_reasons"].GetArrayValue().GetValues()
	require.Len(t, reasons, 1)
	assert.Equal(t, "stop", reasons[0].GetStringValue())
}

// globalSpans records the spans of the global tracer provider, installed once
// per test binary by TestGlobalProvidersAreUsedLazily (the only test that sets
// it).
var (
	globalOnce  sync.Once
	globalSpans = tracetest.NewSpanRecorder()
)

// TestGlobalProvidersAreUsedLazily builds a Router before the application
// installs its tracer provider: the spans still reach it.
func TestGlobalProvidersAreUsedLazily(t *testing.T) {
	r, err := baar.New(baar.Tier{Model: openAIStyle(), Name: "lazy-cheap"}, baar.Tier{Model: openAIStyle(), Name: "lazy-capable"},
		baar.WithPrice("lazy-cheap", budget.Price{Input: 1, Output: 1}), baar.WithPrice("lazy-capable", budget.Price{Input: 2, Output: 2}),
		baar.WithMaxOutputTokens(10), scoreOf(0.1))
	require.NoError(t, err)
	globalOnce.Do(func() { otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(globalSpans))) })

	_, err = r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	var attempt sdktrace.ReadOnlySpan
	for _, s := range globalSpans.Ended() {
		if s.Name() == "chat lazy-cheap" {
			attempt = s
		}
	}
	require.NotNil(t, attempt, "the attempt's span reached the global provider")
	var parent sdktrace.ReadOnlySpan
	for _, s := range globalSpans.Ended() {
		if s.SpanContext().SpanID() == attempt.Parent().SpanID() {
			parent = s
		}
	}
	require.NotNil(t, parent)
	assert.Equal(t, "baar.route", parent.Name())
}

func TestVersionIsSemver(t *testing.T) {
	// The semver.org regular expression.
	semver := regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	assert.Regexp(t, semver, baar.Version)
	assert.Equal(t, "github.com/baarcore/baar", baar.ScopeName)
}
