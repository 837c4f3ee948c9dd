package baar_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/prompts"
	"github.com/tmc/langchaingo/testing/llmtest"
	"github.com/tmc/langchaingo/tools"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// openAIRouter builds a Router over langchaingo's real openai client pointed
// at baseURL (gpt-4o-mini cheap, gpt-4o capable).
func openAIRouter(t *testing.T, baseURL string, hc *http.Client, opts ...baar.Option) *baar.Router {
	t.Helper()
	mk := func(model string) llms.Model {
		o := []openai.Option{openai.WithToken("test-key"), openai.WithBaseURL(baseURL), openai.WithModel(model)}
		if hc != nil {
			o = append(o, openai.WithHTTPClient(hc))
		}
		m, err := openai.New(o...)
		require.NoError(t, err)
		return m
	}
	r, err := baar.New(
		baar.Tier{Model: mk("gpt-4o-mini"), Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: mk("gpt-4o"), Name: "gpt-4o", Provider: "openai"},
		opts...)
	require.NoError(t, err)
	return r
}

// TestKillSwitchMakesNoNetworkCall: with the real openai client, a refused
// call makes no dial and no DNS look-up.
func TestKillSwitchMakesNoNetworkCall(t *testing.T) {
	ctx := context.Background()

	t.Run("budget $0", func(t *testing.T) {
		var nc baartest.NetCounter
		r := openAIRouter(t, "http://kill-switch.baar.invalid/v1", nc.HTTPClient(), baar.WithBudget(0))
		_, err := r.Call(ctx, "What is the capital of France?")
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		assert.True(t, llms.IsQuotaExceededError(err))
		assert.Zero(t, nc.Dials(), "dials")
		assert.Zero(t, nc.Lookups(), "DNS look-ups")
		assert.Zero(t, nc.DNSDials(), "DNS server connections")
	})

	t.Run("budget exhausted", func(t *testing.T) {
		ledger, err := budget.NewMemory(budget.Cent)
		require.NoError(t, err)
		res, err := ledger.Reserve(ctx, budget.Cent)
		require.NoError(t, err)
		require.NoError(t, ledger.Commit(ctx, res, budget.Cent))
		var nc baartest.NetCounter
		r := openAIRouter(t, "http://kill-switch.baar.invalid/v1", nc.HTTPClient(), baar.WithLedger(ledger))
		for i := 0; i < 10; i++ {
			_, err = r.Call(ctx, "Prove that there are infinitely many primes, step by step.")
			require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		}
		assert.Zero(t, nc.Total(), "no dial, no look-up")
	})

	t.Run("the counter counts (control)", func(t *testing.T) {
		srv := baartest.NewServer()
		defer srv.Close()
		var nc baartest.NetCounter
		url := strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)
		r := openAIRouter(t, url, nc.HTTPClient(), baar.WithBudget(1), baar.WithMaxOutputTokens(100))
		_, err := r.Call(ctx, "What is the capital of France?")
		require.NoError(t, err)
		assert.Positive(t, nc.Dials())
		assert.Positive(t, nc.Lookups())

		// Now exhaust the budget through real calls, then count nothing more.
		r2 := openAIRouter(t, url, nc.HTTPClient(), baar.WithBudget(0.0005), baar.WithMaxOutputTokens(100))
		var refused error
		for i := 0; i < 1000 && refused == nil; i++ {
			_, refused = r2.Call(ctx, "What is the capital of France?")
		}
		require.ErrorIs(t, refused, baar.ErrBudgetExceeded)
		before, reqs := nc.Total(), srv.Requests()
		_, err = r2.Call(ctx, "What is the capital of France?")
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		assert.Equal(t, before, nc.Total())
		assert.Equal(t, reqs, srv.Requests())
		assert.LessOrEqual(t, r2.Spent(), 0.0005)
	})
}

// TestRealOpenAIClientUsage: the usage the simulator reports through the real
// openai client (cached tokens included) is what the budget records.
func TestRealOpenAIClientUsage(t *testing.T) {
	srv := baartest.NewServer(baartest.WithCachedFraction(0.5))
	defer srv.Close()
	r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200))
	var last baar.CallReport
	r2 := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200),
		baar.WithReportFunc(func(_ context.Context, rep *baar.CallReport) { last = *rep }))
	_ = r
	_, err := r2.Call(context.Background(), "What is the capital of France? Answer in one word.")
	require.NoError(t, err)
	tok := srv.Tokens()
	require.Positive(t, tok.Prompt)
	require.Positive(t, tok.Cached)
	price, ok := budget.Lookup(last.Model)
	require.True(t, ok)
	want, err := price.Cost(budget.Usage{InputTokens: tok.Prompt, OutputTokens: tok.Completion, CacheReadTokens: tok.Cached, ReasoningTokens: tok.Reasoning})
	require.NoError(t, err)
	assert.Equal(t, want.USD(), r2.Spent())
	require.Len(t, last.Attempts, 1)
	assert.Equal(t, baar.UsageFromProvider, last.Attempts[0].UsageSource)
	assert.Equal(t, tok.Prompt, last.Attempts[0].Usage.InputTokens)
	assert.Equal(t, 200, last.Attempts[0].MaxTokens)
}

// anthropicServer speaks the Messages API: one text block, usage with cache
// reads and writes reported apart from input_tokens, as Anthropic does.
func anthropicServer(t *testing.T, requests *atomic.Int64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if !strings.HasSuffix(r.URL.Path, "/messages") {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Model     string `json:"model"`
			MaxTokens int    `json:"max_tokens"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out := min(req.MaxTokens, 40)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","model":%q,
			"content":[{"type":"text","text":"Paris."}],"stop_reason":"end_turn",
			"usage":{"input_tokens":120,"output_tokens":%d,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}}`,
			req.Model, out)
	}))
}

func TestRealAnthropicClientUsage(t *testing.T) {
	var requests atomic.Int64
	srv := anthropicServer(t, &requests)
	defer srv.Close()
	mk := func(model string) llms.Model {
		m, err := anthropic.New(anthropic.WithToken("test-key"), anthropic.WithBaseURL(srv.URL+"/v1"), anthropic.WithModel(model))
		require.NoError(t, err)
		return m
	}
	var last baar.CallReport
	r, err := baar.New(
		baar.Tier{Model: mk("claude-haiku-4-5-20251001"), Name: "claude-haiku-4-5-20251001", Provider: "anthropic"},
		baar.Tier{Model: mk("claude-sonnet-4-5-20250929"), Name: "claude-sonnet-4-5-20250929", Provider: "anthropic"},
		baar.WithBudget(1), baar.WithMaxOutputTokens(300),
		baar.WithReportFunc(func(_ context.Context, rep *baar.CallReport) { last = *rep }))
	require.NoError(t, err)
	out, err := r.Call(context.Background(), "What is the capital of France?")
	require.NoError(t, err)
	assert.Equal(t, "Paris.", out)
	require.Len(t, last.Attempts, 1)
	a := last.Attempts[0]
	assert.Equal(t, baar.UsageFromProvider, a.UsageSource)
	// Normalized: input includes cache reads and writes.
	assert.Equal(t, budget.Usage{InputTokens: 1320, OutputTokens: 40, CacheReadTokens: 1000, CacheWriteTokens: 200}, a.Usage)
	price, ok := budget.Lookup(a.Model)
	require.True(t, ok)
	want, err := price.Cost(a.Usage)
	require.NoError(t, err)
	assert.Equal(t, want.USD(), r.Spent())
	// By hand for haiku 4.5: 120×$1 + 1000×$0.10 + 200×$1.25 + 40×$5 per 1M.
	if a.Model == "claude-haiku-4-5-20251001" {
		assert.InDelta(t, (120*1.0+1000*0.10+200*1.25+40*5.0)/1e6, r.Spent(), 1e-12)
	}
}

type calculator struct{ calls atomic.Int64 }

func (c *calculator) Name() string        { return "calculator" }
func (c *calculator) Description() string { return "Evaluates arithmetic such as 2+2." }
func (c *calculator) Call(context.Context, string) (string, error) {
	c.calls.Add(1)
	return "4", nil
}

var _ tools.Tool = (*calculator)(nil)

func TestLangchaingoChainsAndAgents(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	ctx := context.Background()

	t.Run("LLMChain", func(t *testing.T) {
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(100))
		chain := chains.NewLLMChain(r, prompts.NewPromptTemplate("Translate to French: {{.text}}", []string{"text"}))
		out, err := chains.Run(ctx, chain, "good morning")
		require.NoError(t, err)
		assert.NotEmpty(t, out)
		assert.Positive(t, r.Spent())
	})

	t.Run("Apply concurrent", func(t *testing.T) {
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(100))
		chain := chains.NewLLMChain(r, prompts.NewPromptTemplate("Answer: {{.q}}", []string{"q"}))
		inputs := make([]map[string]any, 40)
		for i := range inputs {
			inputs[i] = map[string]any{"q": fmt.Sprintf("question %d: what is %d+%d?", i, i, i)}
		}
		outs, err := chains.Apply(ctx, chain, inputs, 8)
		require.NoError(t, err)
		assert.Len(t, outs, 40)
	})

	t.Run("budget error through chains.Run and chains.Call", func(t *testing.T) {
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(0))
		chain := chains.NewLLMChain(r, prompts.NewPromptTemplate("Q: {{.q}}", []string{"q"}))
		_, err := chains.Run(ctx, chain, "hello")
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		assert.True(t, llms.IsQuotaExceededError(err))
		_, err = chains.Call(ctx, chain, map[string]any{"q": "hello"})
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		var be *baar.BudgetError
		assert.ErrorAs(t, err, &be)
	})

	t.Run("OneShot agent with a tool", func(t *testing.T) {
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200))
		calc := &calculator{}
		agent := agents.NewOneShotAgent(r, []tools.Tool{calc})
		exec := agents.NewExecutor(agent, agents.WithMaxIterations(5))
		out, err := chains.Run(ctx, exec, "What is 2+2? Use the calculator.")
		require.NoError(t, err)
		assert.NotEmpty(t, out)
		assert.Positive(t, calc.calls.Load(), "the agent used its tool")
		assert.Positive(t, r.Spent())
	})

	t.Run("OpenAI functions agent", func(t *testing.T) {
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(1), baar.WithMaxOutputTokens(200))
		calc := &calculator{}
		agent := agents.NewOpenAIFunctionsAgent(r, []tools.Tool{calc})
		exec := agents.NewExecutor(agent, agents.WithMaxIterations(5))
		out, err := chains.Run(ctx, exec, "What is 2+2? Use the calculator.")
		require.NoError(t, err)
		assert.NotEmpty(t, out)
		assert.Positive(t, calc.calls.Load(), "the agent called its function")
	})

	t.Run("agent executor propagates the budget error", func(t *testing.T) {
		r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(0.0003), baar.WithMaxOutputTokens(200))
		calc := &calculator{}
		exec := agents.NewExecutor(agents.NewOneShotAgent(r, []tools.Tool{calc}), agents.WithMaxIterations(1000))
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = chains.Call(ctx, exec, map[string]any{"input": "What is 2+2? Use the calculator."})
		}
		require.ErrorIs(t, err, baar.ErrBudgetExceeded)
		assert.True(t, llms.IsQuotaExceededError(err))
		assert.LessOrEqual(t, r.Spent(), 0.0003)
	})
}

func TestLLMTestConformance(t *testing.T) {
	srv := baartest.NewServer()
	t.Cleanup(srv.Close)
	r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(5), baar.WithMaxOutputTokens(256))
	llmtest.TestLLM(t, r)
}

// TestConcurrentRealClient: many goroutines through the real client and the
// simulator, on a tight budget.
func TestConcurrentRealClient(t *testing.T) {
	srv := baartest.NewServer(baartest.WithMaxOutput())
	defer srv.Close()
	r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(0.002), baar.WithMaxOutputTokens(64))
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Call(context.Background(), "Explain, step by step, why the sky is blue.")
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, baar.ErrBudgetExceeded):
				refused.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, r.Spent(), 0.002)
	assert.Equal(t, ok.Load(), srv.Requests())
	assert.Positive(t, refused.Load())
}

// TestRunawayAgentStopsAtTheCap: an agent whose model never gives a final
// answer, under an executor allowed 100,000 iterations, is stopped by the
// budget inside ONE chains.Call; the budget error propagates and spend ≤ cap.
func TestRunawayAgentStopsAtTheCap(t *testing.T) {
	srv := baartest.NewServer(baartest.WithResponder(func(*baartest.ChatRequest) baartest.Reply {
		return baartest.Reply{Content: "Thought: I must check again.\nAction: calculator\nAction Input: 2+2"}
	}))
	defer srv.Close()
	const capUSD = 0.003
	r := openAIRouter(t, srv.URL(), nil, baar.WithBudget(capUSD), baar.WithMaxOutputTokens(100))
	calc := &calculator{}
	exec := agents.NewExecutor(agents.NewOneShotAgent(r, []tools.Tool{calc}), agents.WithMaxIterations(100_000))
	start := time.Now()
	_, err := chains.Call(context.Background(), exec, map[string]any{"input": "What is 2+2?"})
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	assert.True(t, llms.IsQuotaExceededError(err))
	assert.LessOrEqual(t, r.Spent(), capUSD)
	assert.Greater(t, calc.calls.Load(), int64(3), "the agent did loop")
	assert.Equal(t, calc.calls.Load(), srv.Requests(), "one model call per tool call; the refusal made none")
	assert.Less(t, time.Since(start), 30*time.Second)
}
