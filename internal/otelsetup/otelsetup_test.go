package otelsetup

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

type receiver struct {
	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp proto.Message
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch r.URL.Path {
	case "/v1/traces":
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.traces = append(rc.traces, req)
		resp = &coltracepb.ExportTraceServiceResponse{}
	case "/v1/metrics":
		req := &colmetricpb.ExportMetricsServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.metrics = append(rc.metrics, req)
		resp = &colmetricpb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func TestDisabledWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	assert.False(t, Enabled())
	shutdown, err := Start(context.Background(), "x")
	require.NoError(t, err)
	assert.NoError(t, shutdown(context.Background()))

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	assert.True(t, Enabled())
	t.Setenv("OTEL_SDK_DISABLED", "true")
	assert.False(t, Enabled())
}

func TestUnknownProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, err := Start(context.Background(), "x")
	assert.ErrorContains(t, err, `"http/json"`)
}

// TestExportsARoutersTraceAndMetrics runs a Router on the global providers
// that Start installs, against an OTLP/HTTP receiver.
func TestExportsARoutersTraceAndMetrics(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")

	ctx := context.Background()
	shutdown, err := Start(ctx, "baar-otelsetup-test")
	require.NoError(t, err)
	ledger, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	r, err := baar.New(baar.Tier{Model: &baartest.Model{}, Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: &baartest.Model{}, Name: "gpt-4o", Provider: "openai"}, baar.WithMaxOutputTokens(50),
		baar.WithLedger(ledger))
	require.NoError(t, err)
	_, err = r.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "hello")})
	require.NoError(t, err)
	require.NoError(t, shutdown(ctx))

	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.NotEmpty(t, rc.traces)
	names := map[string]bool{}
	for _, req := range rc.traces {
		for _, rs := range req.ResourceSpans {
			res := map[string]string{}
			for _, kv := range rs.Resource.Attributes {
				res[kv.Key] = kv.Value.GetStringValue()
			}
			assert.Equal(t, "baar-otelsetup-test", res["service.name"])
			assert.Equal(t, "test", res["deployment.environment.name"])
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names[s.Name] = true
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"baar.route": true, "chat gpt-4o-mini": true}, names)

	require.NotEmpty(t, rc.metrics)
	metrics := map[string]bool{}
	for _, req := range rc.metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					metrics[m.Name] = true
				}
			}
		}
	}
	for _, want := range []string{"gen_ai.client.token.usage", "gen_ai.client.operation.duration", "baar.cost", "baar.decisions", "baar.budget.remaining"} {
		assert.True(t, metrics[want], want)
	}
}
