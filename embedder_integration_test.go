package baar_test

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/schema"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/telemetrylog"
	"github.com/baarcore/baar/internal/tokens"
)

// embeddingsAPI is an OpenAI-compatible /embeddings endpoint: it answers
// each text with a hashed bag-of-words vector (so that similar texts are
// near) and reports usage.prompt_tokens as OpenAI does, the cl100k_base
// count of the inputs it received. status, when set, picks a request's HTTP
// status by its 1-based number.
type embeddingsAPI struct {
	requests atomic.Int64
	mu       sync.Mutex
	inputs   [][]string
	billed   int64 // prompt_tokens of the successful requests
	status   func(request int64) int
}

const dims = 64

func (a *embeddingsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.requests.Add(1)
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	if a.status != nil {
		if s := a.status(n); s != http.StatusOK {
			w.WriteHeader(s)
			_, _ = w.Write([]byte(`{"error":{"message":"injected failure"}}`))
			return
		}
	}
	count, exact := tokens.NewCounter().CountTexts(req.Model, req.Input, math.MaxInt64)
	if !exact {
		http.Error(w, `{"error":{"message":"not an OpenAI model"}}`, http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.inputs = append(a.inputs, req.Input)
	a.billed += count
	a.mu.Unlock()
	type datum struct {
		Object    string    `json:"object"`
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
	}
	resp := struct {
		Object string  `json:"object"`
		Data   []datum `json:"data"`
		Model  string  `json:"model"`
		Usage  struct {
			PromptTokens int64 `json:"prompt_tokens"`
			TotalTokens  int64 `json:"total_tokens"`
		} `json:"usage"`
	}{Object: "list", Model: req.Model}
	for i, s := range req.Input {
		resp.Data = append(resp.Data, datum{Object: "embedding", Embedding: bagOfWords(s), Index: i})
	}
	resp.Usage.PromptTokens, resp.Usage.TotalTokens = count, count
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (a *embeddingsAPI) Billed() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.billed
}

func (a *embeddingsAPI) Inputs() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.inputs)
}

// bagOfWords is a unit vector of s's lower-cased words hashed into dims
// buckets.
func bagOfWords(s string) []float32 {
	v := make([]float32, dims)
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !('a' <= r && r <= 'z') }) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w))
		v[h.Sum32()%dims]++
	}
	var norm float64
	for _, x := range v {
		norm += float64(x * x)
	}
	if norm > 0 {
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
	}
	return v
}

// openAIEmbedder is langchaingo's OpenAI embedder for model at baseURL.
func openAIEmbedder(t testing.TB, baseURL, model string, hc *http.Client, opts ...embeddings.Option) *embeddings.EmbedderImpl {
	t.Helper()
	o := []openai.Option{openai.WithToken("test-key"), openai.WithBaseURL(baseURL), openai.WithEmbeddingModel(model)}
	if hc != nil {
		o = append(o, openai.WithHTTPClient(hc))
	}
	llm, err := openai.New(o...)
	require.NoError(t, err)
	e, err := embeddings.NewEmbedder(llm, opts...)
	require.NoError(t, err)
	return e
}

func TestEmbedderOpenAIKillSwitch(t *testing.T) {
	ctx := context.Background()
	docs := []string{"What is the capital of France?", "Paris is the capital of France."}

	t.Run("budget $0", func(t *testing.T) {
		var nc baartest.NetCounter
		e := newEmbedder(t, openAIEmbedder(t, "http://embeddings.baar.invalid/v1", "text-embedding-3-small", nc.HTTPClient()),
			"text-embedding-3-small", baar.WithBudget(0))
		_, err := e.EmbedDocuments(ctx, docs)
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		_, err = e.EmbedQuery(ctx, docs[0])
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		assert.Zero(t, nc.Total(), "no dial, no look-up")
	})

	t.Run("budget spent by real calls", func(t *testing.T) {
		api := &embeddingsAPI{}
		srv := httptest.NewServer(api)
		defer srv.Close()
		l := ledger(t, 0.00001) // 500 tokens
		e := newEmbedder(t, openAIEmbedder(t, srv.URL, "text-embedding-3-small", nil), "text-embedding-3-small", baar.WithLedger(l))
		var refused error
		calls := 0
		for ; calls < 1000 && refused == nil; calls++ {
			_, refused = e.EmbedDocuments(ctx, docs)
		}
		require.ErrorIs(t, refused, baar.ErrBudgetExceeded)
		assert.Equal(t, int64(calls-1), api.requests.Load(), "every call but the refused one reached the server once")
		before := api.requests.Load()
		for i := 0; i < 10; i++ {
			_, err := e.EmbedDocuments(ctx, docs)
			require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		}
		assert.Equal(t, before, api.requests.Load(), "refusals make no request")
		st := state(t, l)
		assert.Equal(t, cost(t, api.Billed()), st.Spent, "spent exactly what the server billed")
		assert.LessOrEqual(t, st.Spent, st.Limit)
	})
}

// countingLedger counts reservations.
type countingLedger struct {
	budget.Ledger
	reserves, commits atomic.Int64
}

func (c *countingLedger) Reserve(ctx context.Context, a budget.Amount) (budget.Reservation, error) {
	c.reserves.Add(1)
	return c.Ledger.Reserve(ctx, a)
}

func (c *countingLedger) Commit(ctx context.Context, r budget.Reservation, a budget.Amount) error {
	c.commits.Add(1)
	return c.Ledger.Commit(ctx, r, a)
}

func TestEmbedderOpenAIBatches(t *testing.T) {
	ctx := context.Background()
	api := &embeddingsAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	l := &countingLedger{Ledger: ledger(t, 1)}
	rep, got := reports()
	e := newEmbedder(t, openAIEmbedder(t, srv.URL, "text-embedding-3-small", nil), "text-embedding-3-small",
		baar.WithLedger(l), baar.WithReportFunc(rep))

	docs := make([]string, 1200) // 512 a batch: 3 requests
	for i := range docs {
		docs[i] = strings.Repeat("Retrieval-augmented generation\nembeds documents. ", 1+i%7) + strings.Repeat("9", i%13)
	}
	original := slices.Clone(docs)
	vecs, err := e.EmbedDocuments(ctx, docs)
	require.NoError(t, err)
	require.Len(t, vecs, len(docs))
	assert.Len(t, vecs[0], dims)
	assert.Equal(t, original, docs, "the caller's slice is unchanged")
	assert.Equal(t, int64(3), api.requests.Load())
	assert.Equal(t, int64(1), l.reserves.Load(), "one reservation for the whole call")
	assert.Equal(t, int64(1), l.commits.Load(), "settled once")
	// The server counted what it received (newlines stripped by
	// langchaingo); the Embedder settled exactly that.
	for _, in := range api.Inputs() {
		for _, s := range in {
			require.NotContains(t, s, "\n")
		}
	}
	a := got()[0].Attempts[0]
	assert.Equal(t, baar.UsageFromCount, a.UsageSource)
	assert.Equal(t, api.Billed(), a.Usage.InputTokens)
	assert.Equal(t, cost(t, api.Billed()), state(t, l).Spent)
	assert.Greater(t, a.Reserved, a.Cost, "reserved by bytes, settled by tokens")
}

func TestEmbedderOpenAIFailures(t *testing.T) {
	ctx := context.Background()
	docs := make([]string, 5)
	for i := range docs {
		docs[i] = strings.Repeat("word ", i+1)
	}
	for _, tc := range []struct {
		name     string
		batch    int
		status   map[int64]int
		requests int64
		source   baar.UsageSource
	}{
		{"401 on the only request: nothing", 512, map[int64]int{1: 401}, 1, baar.UsageNone},
		{"400 on the second batch: the reservation", 2, map[int64]int{2: 400}, 2, baar.UsageFromReservation},
		{"500: the reservation", 512, map[int64]int{1: 500}, 1, baar.UsageFromReservation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &embeddingsAPI{status: func(n int64) int {
				if s, ok := tc.status[n]; ok {
					return s
				}
				return http.StatusOK
			}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			l := ledger(t, 1)
			rep, got := reports()
			e := newEmbedder(t, openAIEmbedder(t, srv.URL, "text-embedding-3-small", nil, embeddings.WithBatchSize(tc.batch)),
				"text-embedding-3-small", baar.WithLedger(l), baar.WithReportFunc(rep))
			_, err := e.EmbedDocuments(ctx, docs)
			require.Error(t, err)
			assert.Equal(t, tc.requests, api.requests.Load())
			assertFailureSettled(t, l, got()[0].Attempts[0], tc.source)
			assert.GreaterOrEqual(t, state(t, l).Spent, cost(t, api.Billed()), "never less than what was billed")
		})
	}
}

func TestEmbedderTelemetry(t *testing.T) {
	ctx := context.Background()
	api := &embeddingsAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	sr := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = tp.Shutdown(ctx); _ = mp.Shutdown(ctx) }()
	var log lockedBuffer
	l := ledger(t, 0.000001) // 50 tokens
	e := newEmbedder(t, openAIEmbedder(t, srv.URL, "text-embedding-3-small", nil), "text-embedding-3-small",
		baar.WithLedger(l), baar.WithTracerProvider(tp), baar.WithMeterProvider(mp), baar.WithTelemetryLog(&log),
		baar.WithBudgetName("rag"))

	secret := "tiktoken is great!"
	_, err := e.EmbedDocuments(ctx, []string{secret, "hello world"})
	require.NoError(t, err)
	_, err = e.EmbedQuery(ctx, strings.Repeat("secret text ", 100))
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)

	// Spans: one CLIENT span per call, refusals included; no text.
	spans := sr.Ended()
	require.Len(t, spans, 2)
	ok, refused := spans[0], spans[1]
	for _, s := range spans {
		assert.Equal(t, "embeddings text-embedding-3-small", s.Name())
		assert.Equal(t, trace.SpanKindClient, s.SpanKind())
		assert.Equal(t, baar.ScopeName, s.InstrumentationScope().Name)
		for _, kv := range s.Attributes() {
			assert.NotContains(t, kv.Value.String(), "secret", kv.Key)
			assert.NotContains(t, kv.Value.String(), "tiktoken", kv.Key)
		}
	}
	at := attrsOf(ok)
	assert.Equal(t, "embeddings", at["gen_ai.operation.name"].AsString())
	assert.Equal(t, "text-embedding-3-small", at["gen_ai.request.model"].AsString())
	assert.Equal(t, "openai", at["gen_ai.provider.name"].AsString())
	assert.Equal(t, int64(8), at["gen_ai.usage.input_tokens"].AsInt64())
	assert.Equal(t, int64(dims), at["gen_ai.embeddings.dimension.count"].AsInt64())
	assert.Equal(t, int64(2), at["baar.embeddings.inputs"].AsInt64())
	assert.Equal(t, "count", at["baar.usage.source"].AsString())
	assert.Equal(t, "rag", at["baar.budget.name"].AsString())
	assert.InDelta(t, cost(t, 8).USD(), at["baar.cost.usd"].AsFloat64(), 1e-15)
	assert.InDelta(t, cost(t, 8).USD(), at["gen_ai.usage.cost"].AsFloat64(), 1e-15)
	assert.InDelta(t, cost(t, 29).USD(), at["baar.budget.reserved_usd"].AsFloat64(), 1e-15)
	_, hasErr := at["error.type"]
	assert.False(t, hasErr)
	rt := attrsOf(refused)
	assert.Equal(t, "budget_exceeded", rt["error.type"].AsString())
	assert.Equal(t, "Error", refused.Status().Code.String())
	assert.Zero(t, rt["baar.cost.usd"].AsFloat64())
	assert.Positive(t, rt["baar.cost.estimated_usd"].AsFloat64())

	// Metrics: input tokens, duration and cost of the call that reached the
	// provider, by operation.
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[int64]:
				require.Len(t, d.DataPoints, 1, m.Name)
				op, _ := d.DataPoints[0].Attributes.Value("gen_ai.operation.name")
				tt, _ := d.DataPoints[0].Attributes.Value("gen_ai.token.type")
				assert.Equal(t, "embeddings", op.AsString())
				assert.Equal(t, "input", tt.AsString())
				assert.Equal(t, int64(8), d.DataPoints[0].Sum)
			case metricdata.Histogram[float64]:
				require.Len(t, d.DataPoints, 1, m.Name)
				assert.Equal(t, uint64(1), d.DataPoints[0].Count, "refusals are not provider operations")
			case metricdata.Sum[float64]:
				require.Len(t, d.DataPoints, 1, m.Name)
				assert.InDelta(t, cost(t, 8).USD(), d.DataPoints[0].Value, 1e-15)
			case metricdata.Gauge[float64]:
				require.Len(t, d.DataPoints, 1, m.Name)
				name, _ := d.DataPoints[0].Attributes.Value("baar.budget.name")
				assert.Equal(t, "rag", name.AsString())
			}
			seen[m.Name] = true
		}
	}
	for _, name := range []string{"gen_ai.client.token.usage", "gen_ai.client.operation.duration", "baar.cost",
		"baar.budget.remaining", "baar.budget.spent", "baar.budget.limit"} {
		assert.True(t, seen[name], name)
	}

	// The telemetry log: one line per call, no text.
	recs := log.records(t)
	require.Len(t, recs, 2)
	assert.Equal(t, telemetrylog.OperationEmbeddings, recs[0].Operation)
	assert.Equal(t, "embedded", recs[0].Decision)
	assert.Equal(t, int64(8), recs[0].Tokens.Input)
	require.Len(t, recs[0].Attempts, 1)
	assert.Equal(t, "count", recs[0].Attempts[0].UsageSource)
	assert.Equal(t, ok.SpanContext().TraceID().String(), recs[0].TraceID)
	assert.Equal(t, "rejected", recs[1].Decision)
	assert.Equal(t, "budget_exceeded", recs[1].Error)
	assert.NotContains(t, log.buf.String(), "secret")
	assert.NotContains(t, log.buf.String(), "tiktoken")
}

// vectorRetriever is a schema.Retriever over an in-memory corpus embedded
// with an embeddings.Embedder: the k documents most similar (cosine) to the
// query.
type vectorRetriever struct {
	e    embeddings.Embedder
	docs []schema.Document
	vecs [][]float32
	k    int
}

func newVectorRetriever(ctx context.Context, e embeddings.Embedder, texts []string, k int) (*vectorRetriever, error) {
	vecs, err := e.EmbedDocuments(ctx, texts)
	if err != nil {
		return nil, err
	}
	r := &vectorRetriever{e: e, vecs: vecs, k: k}
	for _, s := range texts {
		r.docs = append(r.docs, schema.Document{PageContent: s})
	}
	return r, nil
}

func (r *vectorRetriever) GetRelevantDocuments(ctx context.Context, query string) ([]schema.Document, error) {
	q, err := r.e.EmbedQuery(ctx, query)
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(r.docs))
	score := make([]float64, len(r.docs))
	for i, v := range r.vecs {
		idx[i] = i
		for j := range v {
			score[i] += float64(v[j] * q[j])
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return 0
	})
	out := make([]schema.Document, 0, r.k)
	for _, i := range idx[:min(r.k, len(idx))] {
		out = append(out, r.docs[i])
	}
	return out, nil
}

// TestEmbedderInRetrievalChain runs langchaingo's RetrievalQA offline: the
// corpus and the question embedded through an Embedder (langchaingo's OpenAI
// embedder), the answer from a Router (langchaingo's OpenAI chat client),
// both against one simulated OpenAI server and one shared budget.
func TestEmbedderInRetrievalChain(t *testing.T) {
	ctx := context.Background()
	var prompts []string
	var mu sync.Mutex
	chat := baartest.NewServer(baartest.WithResponder(func(req *baartest.ChatRequest) baartest.Reply {
		mu.Lock()
		prompts = append(prompts, req.Messages[len(req.Messages)-1].Content)
		mu.Unlock()
		return baartest.Reply{Content: "Water boils at a lower temperature at altitude."}
	}))
	defer chat.Close()
	api := &embeddingsAPI{}
	mux := http.NewServeMux()
	mux.Handle("/v1/embeddings", api)
	mux.Handle("/", chat.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	l := ledger(t, 0.05)
	var mu2 sync.Mutex
	var embedCost, chatCost float64
	e := newEmbedder(t, openAIEmbedder(t, srv.URL+"/v1", "text-embedding-3-small", nil), "text-embedding-3-small",
		baar.WithLedger(l), baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			mu2.Lock()
			embedCost += r.Cost
			mu2.Unlock()
		}))
	router := openAIRouter(t, srv.URL+"/v1", nil, baar.WithLedger(l), baar.WithMaxOutputTokens(200),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			mu2.Lock()
			chatCost += r.Cost
			mu2.Unlock()
		}))

	corpus := []string{
		"Water boils at 100 degrees Celsius at sea level, and at a lower temperature at high altitude where the air pressure is lower.",
		"The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
		"Photosynthesis converts light energy into chemical energy in plants.",
		"Go channels let goroutines communicate by sending and receiving values.",
	}
	retriever, err := newVectorRetriever(ctx, e, corpus, 1)
	require.NoError(t, err)
	qa := chains.NewRetrievalQAFromLLM(router, retriever)
	answer, err := chains.Run(ctx, qa, "At what temperature does water boil at high altitude?")
	require.NoError(t, err)
	assert.Equal(t, "Water boils at a lower temperature at altitude.", answer)

	require.Len(t, prompts, 1)
	assert.Contains(t, prompts[0], corpus[0], "the chain's prompt holds the retrieved document")
	assert.NotContains(t, prompts[0], corpus[1])
	assert.Equal(t, int64(2), api.requests.Load(), "the corpus in one request, the question in another")

	// One budget: its spend is the embeddings' (exactly what the server
	// billed) plus the chat call's.
	st := state(t, l)
	assert.Zero(t, st.Reserved)
	assert.InDelta(t, cost(t, api.Billed()).USD(), embedCost, 1e-15)
	assert.Positive(t, chatCost)
	assert.InDelta(t, st.Spent.USD(), embedCost+chatCost, 1e-12)
}
