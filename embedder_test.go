package baar_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/tokens"
	"github.com/baarcore/baar/scoring"
)

// fakeClient is an embeddings client: it records the texts of each request
// and answers with 3-dimensional vectors, or with err.
type fakeClient struct {
	mu       sync.Mutex
	requests [][]string
	err      func(request int) error
	panics   bool
}

func (f *fakeClient) CreateEmbedding(_ context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	f.requests = append(f.requests, append([]string(nil), texts...))
	n := len(f.requests)
	f.mu.Unlock()
	if f.panics {
		panic("embedder bug")
	}
	if f.err != nil {
		if err := f.err(n); err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = []float32{float32(len(s)), 1, 0}
	}
	return out, nil
}

func (f *fakeClient) Requests() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.requests...)
}

// langchaingoEmbedder is langchaingo's EmbedderImpl over c.
func langchaingoEmbedder(t testing.TB, c embeddings.EmbedderClient, opts ...embeddings.Option) *embeddings.EmbedderImpl {
	t.Helper()
	e, err := embeddings.NewEmbedder(c, opts...)
	require.NoError(t, err)
	return e
}

func newEmbedder(t testing.TB, e embeddings.Embedder, model string, opts ...baar.Option) *baar.Embedder {
	t.Helper()
	em, err := baar.NewEmbedder(e, model, opts...)
	require.NoError(t, err)
	return em
}

func ledger(t testing.TB, usd float64) *budget.Memory {
	t.Helper()
	limit, err := budget.FromUSD(usd)
	require.NoError(t, err)
	m, err := budget.NewMemory(limit)
	require.NoError(t, err)
	return m
}

func state(t testing.TB, l budget.Ledger) budget.State {
	t.Helper()
	st, err := l.State(context.Background())
	require.NoError(t, err)
	return st
}

// cost is n tokens of text-embedding-3-small ($0.02 per 1M tokens).
func cost(t testing.TB, n int64) budget.Amount {
	t.Helper()
	p, _ := budget.Lookup("text-embedding-3-small")
	c, err := p.Cost(budget.Usage{InputTokens: n})
	require.NoError(t, err)
	return c
}

// keepRoute is a policy that keeps the route.
var keepRoute = baar.PolicyFunc(func(_ context.Context, _ *baar.RouteInput, r baar.Route) (baar.Route, error) { return r, nil })

// countCL100k is the cl100k_base count of s.
func countCL100k(t testing.TB, s string) int64 {
	t.Helper()
	n, exact := tokens.NewCounter().CountTexts("text-embedding-3-small", []string{s}, tokens.TextCountLimit)
	require.True(t, exact)
	return n
}

func TestNewEmbedderRefusesBadConfiguration(t *testing.T) {
	fake := langchaingoEmbedder(t, &fakeClient{})
	for _, tc := range []struct {
		name  string
		e     embeddings.Embedder
		model string
		opts  []baar.Option
		want  []string
	}{
		{"nil embedder", nil, "text-embedding-3-small", nil, []string{"embedder is nil"}},
		{"empty model", fake, " ", nil, []string{"empty model name"}},
		{"unknown price", fake, "my-embedder", nil, []string{`no price for the embedding model "my-embedder"`, "baar.WithPrice(", "never assumed free"}},
		{"chat model", fake, "gpt-4o-mini", nil, []string{`"gpt-4o-mini" is priced as a chat model`, "budget.ModeEmbedding"}},
		{"WithPrice without mode", fake, "my-embedder", []baar.Option{baar.WithPrice("my-embedder", budget.Price{Input: 0.01})},
			[]string{"priced as a chat model"}},
		{"budget and ledger", fake, "text-embedding-3-small", []baar.Option{baar.WithBudget(1), baar.WithLedger(ledger(t, 1))},
			[]string{"WithBudget and WithLedger are exclusive"}},
		{"invalid option", fake, "text-embedding-3-small", []baar.Option{baar.WithBudget(-1)}, []string{"WithBudget(-1)"}},
		{"scorer", fake, "text-embedding-3-small", []baar.Option{baar.WithScorer(scoring.Default())},
			[]string{"WithScorer does not apply to an Embedder"}},
		{"cascade and policy", fake, "text-embedding-3-small",
			[]baar.Option{baar.WithCascade(scoring.Agreement(2)), baar.WithPolicy("p", keepRoute)},
			[]string{"WithCascade does not apply", "WithPolicy does not apply"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := baar.NewEmbedder(tc.e, tc.model, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, e)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	// A model of one's own, priced as an embedding model, is accepted; so is
	// a WithPrice over a listed embedding model, which keeps its mode.
	_, err := baar.NewEmbedder(fake, "my-embedder", baar.WithPrice("my-embedder", budget.Price{Input: 0.01, Mode: budget.ModeEmbedding}))
	assert.NoError(t, err)
	_, err = baar.NewEmbedder(fake, "text-embedding-3-small", baar.WithPrice("text-embedding-3-small", budget.Price{Input: 0.03}))
	assert.NoError(t, err)
}

// TestEmbedderOptionsAreClassified fails when an Option is added to the
// package without deciding whether it applies to an Embedder: every exported
// function returning Option must be in one of the two lists, and each
// refused one must make NewEmbedder fail naming it.
func TestEmbedderOptionsAreClassified(t *testing.T) {
	applies := map[string]bool{
		"WithBudget": true, "WithLedger": true, "WithPrice": true, "WithPriceTable": true,
		"WithTracerProvider": true, "WithMeterProvider": true, "WithBudgetName": true, "WithCostAlias": true,
		"WithTelemetryLog": true, "WithTelemetryLogFile": true, "WithReportFunc": true, "WithKeyBudget": true,
	}
	gate := baar.ValueGate{Value: func(context.Context, scoring.Request) (float64, error) { return 1, nil }}
	refused := map[string]baar.Option{
		"WithComplexityThreshold": baar.WithComplexityThreshold(0.5),
		"WithMinOutputTokens":     baar.WithMinOutputTokens(10),
		"WithThresholdSchedule":   baar.WithThresholdSchedule(baar.DefaultThresholdSchedule),
		"WithCapableShare":        baar.WithCapableShare(0.2, []string{"a prompt"}),
		"WithScorer":              baar.WithScorer(scoring.Default()),
		"WithCallbacks":           baar.WithCallbacks(&countingHandler{}),
		"WithFailover":            baar.WithFailover(false),
		"WithMaxOutputTokens":     baar.WithMaxOutputTokens(10),
		"WithPolicy":              baar.WithPolicy("p", keepRoute),
		"WithValueFunc":           baar.WithValueFunc(gate.Value),
		"WithValueGate":           baar.WithValueGate(gate),
		"WithExploration":         baar.WithExploration(0.1, 1),
		"WithStickyConversations": baar.WithStickyConversations(baar.StickyConversations{MaxSteps: 3}),
		"WithContentCapture":      baar.WithContentCapture(true),
		"WithCascade":             baar.WithCascade(scoring.Agreement(2)),
		"WithEscalationThreshold": baar.WithEscalationThreshold(0.5),
		"WithEscalationShare":     baar.WithEscalationShare(0.2, []baar.EscalationSample{{Prompt: "p", Answers: []string{"a"}}}),
		"WithCascadeBypass":       baar.WithCascadeBypass(0.9),
		"WithBudgetAlerts":        baar.WithBudgetAlerts([]float64{0.5}, func(context.Context, baar.BudgetAlert) {}),
	}
	fake := langchaingoEmbedder(t, &fakeClient{})
	for name, opt := range refused {
		_, err := baar.NewEmbedder(fake, "text-embedding-3-small", opt)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), name, "the error names the option")
		}
	}
	// Every Option constructor of the package is classified.
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	found := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil || len(fn.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fn.Type.Results.List[0].Type.(*ast.Ident); !ok || id.Name != "Option" {
				continue
			}
			found++
			_, isRefused := refused[fn.Name.Name]
			assert.True(t, applies[fn.Name.Name] != isRefused,
				"%s: add it to embedderOnly (embedder_options.go) or document that it applies to an Embedder", fn.Name.Name)
		}
	}
	assert.Equal(t, len(applies)+len(refused), found, "every classified option exists")
}

func TestEmbedderSettlesAtTheExactCount(t *testing.T) {
	ctx := context.Background()
	client := &fakeClient{}
	l := ledger(t, 1)
	rep, got := reports()
	e := newEmbedder(t, langchaingoEmbedder(t, client), "text-embedding-3-small", baar.WithLedger(l), baar.WithReportFunc(rep))

	// tiktoken's documented counts: 6 + 2 tokens, 18 + 11 bytes.
	texts := []string{"tiktoken is great!", "hello world"}
	vecs, err := e.EmbedDocuments(ctx, texts)
	require.NoError(t, err)
	assert.Equal(t, [][]float32{{18, 1, 0}, {11, 1, 0}}, vecs)
	assert.Equal(t, budget.State{Limit: budget.Dollar, Spent: cost(t, 8)}, state(t, l))
	assert.Equal(t, budget.Amount(160), cost(t, 8), "20 nano-dollars a token")

	r := got()
	require.Len(t, r, 1)
	assert.Equal(t, baar.DecisionEmbedded, r[0].Decision)
	require.Len(t, r[0].Attempts, 1)
	a := r[0].Attempts[0]
	assert.Equal(t, baar.UsageFromCount, a.UsageSource)
	assert.Equal(t, int64(8), a.Usage.InputTokens)
	assert.Equal(t, int64(29), a.InputTokensEstimate, "reserved by the byte bound")
	assert.InDelta(t, cost(t, 29).USD(), a.Reserved, 1e-15)
	assert.InDelta(t, cost(t, 8).USD(), a.Cost, 1e-15)
	assert.Equal(t, "openai", a.Provider)
	assert.Contains(t, a.PriceSource, "OpenAI")

	// EmbedQuery likewise.
	_, err = e.EmbedQuery(ctx, "hello world")
	require.NoError(t, err)
	assert.Equal(t, cost(t, 8)+cost(t, 2), state(t, l).Spent)
	assert.Len(t, client.Requests(), 2)
}

func TestEmbedderCountsWhatIsSent(t *testing.T) {
	// langchaingo's EmbedderImpl replaces newlines by spaces (by default),
	// which changes the count: the Embedder counts the text as sent, and
	// leaves the caller's slice alone (EmbedderImpl rewrites it in place).
	ctx := context.Background()
	text := "line one\n\n\nline two\nline three"
	for _, strip := range []bool{true, false} {
		client := &fakeClient{}
		l := ledger(t, 1)
		e := newEmbedder(t, langchaingoEmbedder(t, client, embeddings.WithStripNewLines(strip)), "text-embedding-3-small", baar.WithLedger(l))
		texts := []string{text}
		_, err := e.EmbedDocuments(ctx, texts)
		require.NoError(t, err)
		assert.Equal(t, text, texts[0], "the caller's slice is unchanged")
		sent := client.Requests()[0][0]
		assert.Equal(t, strip, !strings.Contains(sent, "\n"))
		assert.Equal(t, cost(t, countCL100k(t, sent)), state(t, l).Spent, "strip=%v", strip)
	}
	require.NotEqual(t, countCL100k(t, text), countCL100k(t, strings.ReplaceAll(text, "\n", " ")), "the test needs texts that count differently")
}

func TestEmbedderOtherModelsSettleAtTheReservation(t *testing.T) {
	ctx := context.Background()
	l := ledger(t, 1)
	rep, got := reports()
	e := newEmbedder(t, langchaingoEmbedder(t, &fakeClient{}), "mistral-embed", baar.WithLedger(l), baar.WithReportFunc(rep))
	_, err := e.EmbedDocuments(ctx, []string{"some text", "more text"})
	require.NoError(t, err)
	a := got()[0].Attempts[0]
	assert.Equal(t, baar.UsageFromReservation, a.UsageSource)
	assert.Equal(t, int64(18+18/4+2), a.InputTokensEstimate, "bytes, 25% more and one per text")
	p, _ := budget.Lookup("mistral-embed")
	want, err := p.EstimateCost(a.InputTokensEstimate, 0)
	require.NoError(t, err)
	assert.Equal(t, want, state(t, l).Spent, "billed the reservation, never $0")
	assert.Positive(t, want)
}

// usageEmbedder reports usage: the input tokens it is told to.
type usageEmbedder struct {
	*embeddings.EmbedderImpl
	tokens int64
	calls  atomic.Int64
}

func (u *usageEmbedder) EmbedDocumentsWithUsage(ctx context.Context, texts []string) ([][]float32, int64, error) {
	u.calls.Add(1)
	v, err := u.EmbedDocuments(ctx, texts)
	return v, u.tokens, err
}

func (u *usageEmbedder) EmbedQueryWithUsage(ctx context.Context, text string) ([]float32, int64, error) {
	u.calls.Add(1)
	v, err := u.EmbedQuery(ctx, text)
	return v, u.tokens, err
}

func TestEmbedderSettlesAtReportedUsage(t *testing.T) {
	ctx := context.Background()
	texts := []string{"tiktoken is great!", "hello world"} // 8 tokens, 29 bytes
	for _, tc := range []struct {
		name     string
		model    string
		reported int64
		source   baar.UsageSource
		tokens   int64
	}{
		{"reported", "text-embedding-3-small", 9, baar.UsageFromProvider, 9},
		{"reported, other model", "mistral-embed", 9, baar.UsageFromProvider, 9},
		{"implausible: the count", "text-embedding-3-small", 0, baar.UsageFromCount, 8},
		{"negative: the count", "text-embedding-3-small", -5, baar.UsageFromCount, 8},
		{"implausible, other model: the reservation", "mistral-embed", 0, baar.UsageFromReservation, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ue := &usageEmbedder{EmbedderImpl: langchaingoEmbedder(t, &fakeClient{}), tokens: tc.reported}
			l := ledger(t, 1)
			rep, got := reports()
			e := newEmbedder(t, ue, tc.model, baar.WithLedger(l), baar.WithReportFunc(rep))
			_, err := e.EmbedDocuments(ctx, texts)
			require.NoError(t, err)
			_, err = e.EmbedQuery(ctx, "hello world")
			require.NoError(t, err)
			assert.Equal(t, int64(2), ue.calls.Load(), "the usage methods are called")
			a := got()[0].Attempts[0]
			assert.Equal(t, tc.source, a.UsageSource)
			if tc.source == baar.UsageFromReservation {
				assert.Contains(t, a.UsageProblem, "input tokens reported for 29 bytes")
				return
			}
			assert.Equal(t, tc.tokens, a.Usage.InputTokens)
			p, _ := budget.Lookup(tc.model)
			want, err := p.Cost(budget.Usage{InputTokens: tc.tokens})
			require.NoError(t, err)
			assert.InDelta(t, want.USD(), a.Cost, 1e-15)
		})
	}
}

func TestEmbedderRefusesUnaffordableCalls(t *testing.T) {
	ctx := context.Background()
	client := &fakeClient{}
	l := ledger(t, 0.000001) // 1,000 nano-dollars: 50 tokens of text-embedding-3-small
	rep, got := reports()
	e := newEmbedder(t, langchaingoEmbedder(t, client), "text-embedding-3-small", baar.WithLedger(l), baar.WithReportFunc(rep))

	_, err := e.EmbedDocuments(ctx, []string{strings.Repeat("lorem ipsum dolor sit amet ", 100)})
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.True(t, llms.IsQuotaExceededError(err))
	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "text-embedding-3-small", be.Model)
	assert.InDelta(t, 0.000001, be.Limit, 1e-15)
	assert.Positive(t, be.Requested)
	assert.Empty(t, client.Requests(), "no provider request")
	assert.Equal(t, budget.State{Limit: budget.MicroDollar}, state(t, l))
	r := got()
	require.Len(t, r, 1)
	assert.Equal(t, baar.DecisionRejected, r[0].Decision)
	assert.Empty(t, r[0].Attempts)

	// The byte bound does not fit, the exact count does: counted, and
	// reserved at the count. 60 bytes, 12 tokens.
	text := "word word word word word word word word word word word word"
	require.Equal(t, int64(12), countCL100k(t, text))
	l2 := ledger(t, 0.0000005) // 500 nano-dollars: 25 tokens
	e2 := newEmbedder(t, langchaingoEmbedder(t, client), "text-embedding-3-small", baar.WithLedger(l2))
	_, err = e2.EmbedQuery(ctx, text)
	require.NoError(t, err)
	assert.Equal(t, cost(t, 12), state(t, l2).Spent)
}

func TestEmbedderRefusesHugeInputFast(t *testing.T) {
	client := &fakeClient{}
	e := newEmbedder(t, langchaingoEmbedder(t, client), "text-embedding-3-small", baar.WithBudget(0.01))
	huge := strings.Repeat("the quick brown fox jumps over the lazy dog ", 64<<20/44) // 64 MiB: 30 s to tokenize
	start := time.Now()
	_, err := e.EmbedDocuments(context.Background(), []string{huge, huge})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.Less(t, elapsed, 2*time.Second, "refused by its byte bound, not tokenized")
	t.Logf("128 MiB refused in %v", elapsed)
	assert.Empty(t, client.Requests())
}

func TestEmbedderInvalidInput(t *testing.T) {
	ctx := context.Background()
	client := &fakeClient{}
	l := ledger(t, 1)
	rep, got := reports()
	e := newEmbedder(t, langchaingoEmbedder(t, client), "text-embedding-3-small", baar.WithLedger(l), baar.WithReportFunc(rep))

	vecs, err := e.EmbedDocuments(ctx, nil)
	require.NoError(t, err)
	assert.NotNil(t, vecs)
	assert.Empty(t, vecs)
	assert.Empty(t, got(), "an empty list is no call")

	_, err = e.EmbedDocuments(ctx, []string{"fine", "bad \xff byte"})
	require.ErrorIs(t, err, baar.ErrInvalidRequest)
	assert.Contains(t, err.Error(), "text 2 of 2 is not valid UTF-8")
	_, err = e.EmbedQuery(ctx, "\xc3(")
	require.ErrorIs(t, err, baar.ErrInvalidRequest)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.EmbedQuery(cctx, "hello")
	require.ErrorIs(t, err, context.Canceled)

	assert.Empty(t, client.Requests(), "no provider request")
	assert.Equal(t, budget.State{Limit: budget.Dollar}, state(t, l), "nothing charged")
	for _, r := range got() {
		assert.Equal(t, baar.DecisionRejected, r.Decision)
	}
}

func TestEmbedderProviderErrors(t *testing.T) {
	ctx := context.Background()
	texts := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	auth := errors.New("API returned unexpected status code: 401: invalid key")
	server := errors.New("API returned unexpected status code: 500: oops")
	for _, tc := range []struct {
		name   string
		batch  int
		failAt int // request that fails
		err    error
		single bool // EmbedQuery
		source baar.UsageSource
	}{
		{"unbilled, one request", 512, 1, auth, false, baar.UsageNone},
		{"unbilled, query", 512, 1, auth, true, baar.UsageNone},
		{"unbilled, first of three batches", 2, 1, auth, false, baar.UsageFromReservation},
		{"unbilled, after a billed batch", 2, 2, auth, false, baar.UsageFromReservation},
		{"billed, one request", 512, 1, server, false, baar.UsageFromReservation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &fakeClient{err: func(n int) error {
				if n == tc.failAt {
					return tc.err
				}
				return nil
			}}
			l := ledger(t, 1)
			rep, got := reports()
			e := newEmbedder(t, langchaingoEmbedder(t, client, embeddings.WithBatchSize(tc.batch)), "text-embedding-3-small",
				baar.WithLedger(l), baar.WithReportFunc(rep))
			var err error
			if tc.single {
				_, err = e.EmbedQuery(ctx, texts[0])
			} else {
				_, err = e.EmbedDocuments(ctx, texts)
			}
			require.ErrorIs(t, err, tc.err, "the provider's error, unwrapped")
			assertFailureSettled(t, l, got()[0].Attempts[0], tc.source)
		})
	}
}

// assertFailureSettled checks that a failed call settled as source says:
// nothing, or its reservation.
func assertFailureSettled(t *testing.T, l budget.Ledger, a baar.Attempt, source baar.UsageSource) {
	t.Helper()
	assert.Equal(t, source, a.UsageSource)
	st := state(t, l)
	assert.Zero(t, st.Reserved)
	if source == baar.UsageNone {
		assert.Zero(t, st.Spent)
		return
	}
	assert.Equal(t, cost(t, a.InputTokensEstimate), st.Spent)
	assert.Positive(t, st.Spent)
}

func TestEmbedderPanicSettlesTheReservation(t *testing.T) {
	l := ledger(t, 1)
	rep, got := reports()
	e := newEmbedder(t, langchaingoEmbedder(t, &fakeClient{panics: true}), "text-embedding-3-small", baar.WithLedger(l), baar.WithReportFunc(rep))
	assert.PanicsWithValue(t, "embedder bug", func() { _, _ = e.EmbedQuery(context.Background(), "hello world") })
	st := state(t, l)
	assert.Equal(t, cost(t, 11), st.Spent, "the reservation: 11 bytes")
	assert.Zero(t, st.Reserved)
	r := got()
	require.Len(t, r, 1)
	assert.Equal(t, baar.UsageFromReservation, r[0].Attempts[0].UsageSource)
	assert.Error(t, r[0].Err)
}

// shortEmbedder returns one vector fewer than asked.
type shortEmbedder struct{ embeddings.Embedder }

func (s shortEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	v, err := s.Embedder.EmbedDocuments(ctx, texts)
	return v[:len(v)-1], err
}

func TestEmbedderWrongVectorCount(t *testing.T) {
	l := ledger(t, 1)
	e := newEmbedder(t, shortEmbedder{langchaingoEmbedder(t, &fakeClient{})}, "text-embedding-3-small", baar.WithLedger(l))
	_, err := e.EmbedDocuments(context.Background(), []string{"tiktoken is great!", "hello world"})
	require.EqualError(t, err, "baar: text-embedding-3-small returned 1 vectors for 2 texts")
	assert.Equal(t, cost(t, 8), state(t, l).Spent, "answered, so billed")
}

func TestEmbedderBudgetKey(t *testing.T) {
	ctx := context.Background()
	l, err := budget.NewScoped(budget.Dollar, budget.Limits{KeyLimits: map[string]budget.Amount{"tenant-a": 100 * budget.NanoDollar}})
	require.NoError(t, err)
	client := &fakeClient{}
	rep, got := reports()
	e := newEmbedder(t, langchaingoEmbedder(t, client), "text-embedding-3-small", baar.WithLedger(l), baar.WithReportFunc(rep))
	// 11 bytes × 20 nano-dollars: 220 > tenant-a's 100; the exact count
	// (2 tokens, 40) fits.
	_, err = e.EmbedQuery(baar.ContextWithBudgetKey(ctx, "tenant-a"), "hello world")
	require.NoError(t, err)
	// 60 tokens (1,200) do not fit its remaining 60 nano-dollars.
	_, err = e.EmbedQuery(baar.ContextWithBudgetKey(ctx, "tenant-a"), strings.Repeat("word ", 60))
	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "tenant-a", be.Key)
	// Other keys and no key use the global budget.
	_, err = e.EmbedQuery(ctx, strings.Repeat("word ", 60))
	require.NoError(t, err)
	assert.Len(t, client.Requests(), 2)
	r := got()
	assert.Equal(t, "tenant-a", r[0].BudgetKey)
	assert.Equal(t, "tenant-a", r[1].BudgetKey)
	assert.Empty(t, r[2].BudgetKey)
}

// TestEmbedderStorm runs embeddings and chat calls on one budget from many
// goroutines until it is spent: after every call the ledger holds at most
// its limit, and at the end the spend is exactly what the calls reported.
func TestEmbedderStorm(t *testing.T) {
	ctx := context.Background()
	limit := 5000 * budget.MicroDollar
	l, err := budget.NewMemory(limit)
	require.NoError(t, err)
	var mu sync.Mutex
	var reported float64
	var embedCalls, chatCalls, refusals int
	rep := func(_ context.Context, r *baar.CallReport) {
		mu.Lock()
		defer mu.Unlock()
		reported += r.Cost
		switch {
		case errors.Is(r.Err, baar.ErrBudgetExceeded):
			refusals++
		case len(r.Attempts) > 0 && r.Decision == baar.DecisionEmbedded:
			embedCalls++
		case len(r.Attempts) > 0:
			chatCalls++
		}
	}
	client := &fakeClient{}
	e := newEmbedder(t, langchaingoEmbedder(t, client, embeddings.WithBatchSize(3)), "text-embedding-3-small",
		baar.WithLedger(l), baar.WithReportFunc(rep))
	model := &telModel{reply: func(int64, llms.CallOptions) (*llms.ContentResponse, error) { return openAIUsage(200, 50), nil }}
	r, err := baar.New(baar.Tier{Model: model, Name: "cheap"}, baar.Tier{Model: model, Name: "capable"},
		baar.WithPrice("cheap", cheapPrice), baar.WithPrice("capable", capablePrice), baar.WithLedger(l),
		baar.WithMaxOutputTokens(100), baar.WithReportFunc(rep))
	require.NoError(t, err)

	var wg sync.WaitGroup
	var over atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				doc := strings.Repeat(fmt.Sprintf("document %d of worker %d. ", i, g), 1+i%40)
				switch i % 3 {
				case 0:
					_, _ = e.EmbedDocuments(ctx, []string{doc, doc + " again", "short", doc})
				case 1:
					_, _ = e.EmbedQuery(ctx, doc)
				default:
					_, _ = r.Call(ctx, doc)
				}
				st, err := l.State(ctx)
				if err != nil || st.Spent+st.Reserved > st.Limit {
					over.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, over.Load(), "spent + reserved ≤ limit after every call")
	st := state(t, l)
	assert.Zero(t, st.Reserved)
	assert.LessOrEqual(t, st.Spent, limit)
	assert.InDelta(t, st.Spent.USD(), reported, 1e-12, "the ledger holds what the calls reported")
	assert.Positive(t, embedCalls)
	assert.Positive(t, chatCalls)
	assert.Positive(t, refusals, "the storm outlived the budget")
	t.Logf("%d embedding calls, %d chat calls, %d refusals, spent %s of %s", embedCalls, chatCalls, refusals, st.Spent, limit)
}

func TestEmbedderTelemetryLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.jsonl")
	e := newEmbedder(t, langchaingoEmbedder(t, &fakeClient{}), "text-embedding-3-small", baar.WithTelemetryLogFile(path))
	_, err := e.EmbedQuery(context.Background(), "hello world")
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"operation":"embeddings"`)
	assert.NotContains(t, string(b), "hello")
}

func TestEmbedderDefaultBudget(t *testing.T) {
	e := newEmbedder(t, langchaingoEmbedder(t, &fakeClient{}), "text-embedding-3-small")
	st, err := e.State(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, baar.DefaultBudget, st.Limit.USD(), 0)
	assert.Equal(t, "text-embedding-3-small", e.Model())
	assert.False(t, math.IsNaN(st.Limit.USD()))
}

// BenchmarkEmbedder measures what the Embedder adds to a call: the bound,
// the reservation, the exact count (cached after the first call for a
// repeated query; uncached for new documents) and the settlement.
func BenchmarkEmbedder(b *testing.B) {
	ctx := context.Background()
	inner := langchaingoEmbedder(b, embeddings.EmbedderClientFunc(func(_ context.Context, texts []string) ([][]float32, error) {
		return make([][]float32, len(texts)), nil
	}))
	b.Run("bare query", func(b *testing.B) {
		for b.Loop() {
			_, _ = inner.EmbedQuery(ctx, "What is the boiling point of water at altitude?")
		}
	})
	e := newEmbedder(b, inner, "text-embedding-3-small", baar.WithBudget(1000))
	b.Run("query", func(b *testing.B) {
		for b.Loop() {
			_, _ = e.EmbedQuery(ctx, "What is the boiling point of water at altitude?")
		}
	})
	doc := strings.Repeat("Retrieval-augmented generation embeds documents into vectors. ", 16) // 1 KB
	b.Run("new 1KB documents x16", func(b *testing.B) {
		b.SetBytes(16 * int64(len(doc)))
		i := 0
		for b.Loop() {
			docs := make([]string, 16)
			for j := range docs {
				i++
				docs[j] = fmt.Sprintf("%d %s", i, doc)
			}
			_, _ = e.EmbedDocuments(ctx, docs)
		}
	})
}
