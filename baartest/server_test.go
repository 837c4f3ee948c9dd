package baartest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar/baartest"
)

func newClient(t testing.TB, srv *baartest.Server, opts ...openai.Option) *openai.LLM {
	t.Helper()
	base := []openai.Option{openai.WithToken("t"), openai.WithBaseURL(srv.URL()), openai.WithModel("gpt-4o-mini")}
	llm, err := openai.New(append(base, opts...)...)
	require.NoError(t, err)
	return llm
}

func human(text string) []llms.MessageContent {
	return []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, text)}
}

// info returns an int from the first choice's GenerationInfo.
func info(t testing.TB, resp *llms.ContentResponse, key string) int {
	t.Helper()
	require.NotEmpty(t, resp.Choices)
	v, ok := resp.Choices[0].GenerationInfo[key]
	require.True(t, ok, "GenerationInfo has no %q", key)
	n, ok := v.(int)
	require.True(t, ok, "GenerationInfo[%q] is %T", key, v)
	return n
}

// promptTokens is the documented count for one user message sent as a string.
func promptTokens(text string) int { return 3 + 4 + baartest.ApproxTokens(text) }

func TestServerPlainCall(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()

	const q = "What is the capital of France?"
	resp, err := llm.GenerateContent(ctx, human(q), llms.WithMaxTokens(200))
	require.NoError(t, err)
	c := resp.Choices[0]
	assert.True(t, strings.HasPrefix(c.Content, "Simulated answer from gpt-4o-mini: "), c.Content)
	assert.Equal(t, "stop", c.StopReason)
	assert.Equal(t, promptTokens(q), info(t, resp, "PromptTokens"))
	assert.Equal(t, baartest.ApproxTokens(c.Content), info(t, resp, "CompletionTokens"))
	assert.Equal(t, info(t, resp, "PromptTokens")+info(t, resp, "CompletionTokens"), info(t, resp, "TotalTokens"))
	assert.Zero(t, info(t, resp, "PromptCachedTokens"))
	assert.Zero(t, info(t, resp, "ReasoningTokens"))

	// Deterministic: the same request gets the same answer; another does not.
	again, err := llm.GenerateContent(ctx, human(q), llms.WithMaxTokens(200))
	require.NoError(t, err)
	assert.Equal(t, c.Content, again.Choices[0].Content)
	other, err := llm.GenerateContent(ctx, human("What is the capital of Italy?"), llms.WithMaxTokens(200))
	require.NoError(t, err)
	assert.NotEqual(t, c.Content, other.Choices[0].Content)

	// The per-call model wins and is echoed in the answer.
	gpt4o, err := llm.GenerateContent(ctx, human(q), llms.WithModel("gpt-4o"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(gpt4o.Choices[0].Content, "Simulated answer from gpt-4o: "))

	// Call goes through GenerateFromSinglePrompt.
	text, err := llm.Call(ctx, q, llms.WithMaxTokens(200))
	require.NoError(t, err)
	assert.Equal(t, c.Content, text)

	assert.EqualValues(t, 5, srv.Requests())
	assert.EqualValues(t, 4, srv.RequestsFor("gpt-4o-mini"))
	assert.EqualValues(t, 1, srv.RequestsFor("gpt-4o"))
	assert.Zero(t, srv.RequestsFor("gpt-5"))
	tok := srv.Tokens()
	assert.Positive(t, tok.Prompt)
	assert.Positive(t, tok.Completion)
	assert.Equal(t, tok.Prompt+tok.Completion, tok.Total())
	assert.Zero(t, srv.Active())
}

func TestServerAnswerLengthAndCap(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()

	simple, err := llm.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	hard := "Explain step by step why the algorithm is correct, prove its complexity, and compare it with a design that uses dynamic programming. " +
		strings.Repeat("Consider also the memory layout and the cache behaviour of each variant. ", 10)
	complex, err := llm.GenerateContent(ctx, human(hard))
	require.NoError(t, err)
	assert.Greater(t, info(t, complex, "CompletionTokens"), 4*info(t, simple, "CompletionTokens"),
		"a complex prompt gets a longer answer")
	assert.LessOrEqual(t, info(t, complex, "CompletionTokens"), 600)

	for _, limit := range []int{1, 3, 10, 57} {
		resp, err := llm.GenerateContent(ctx, human(hard), llms.WithMaxTokens(limit))
		require.NoError(t, err)
		assert.Equal(t, limit, info(t, resp, "CompletionTokens"), "cut exactly at the cap")
		assert.Equal(t, "length", resp.Choices[0].StopReason)
		assert.True(t, strings.HasPrefix(complex.Choices[0].Content, resp.Choices[0].Content), "a capped answer is a prefix")
	}
	// The legacy max_tokens field is honoured too.
	resp, err := llm.GenerateContent(ctx, human(hard), llms.WithMaxTokens(5), openai.WithLegacyMaxTokensField())
	require.NoError(t, err)
	assert.Equal(t, 5, info(t, resp, "CompletionTokens"))
}

func TestServerMaxOutput(t *testing.T) {
	srv := baartest.NewServer(baartest.WithMaxOutput())
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()
	for _, limit := range []int{1, 2, 7, 100, 1000} {
		resp, err := llm.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(limit))
		require.NoError(t, err)
		assert.Equal(t, limit, info(t, resp, "CompletionTokens"))
		assert.Equal(t, limit, baartest.ApproxTokens(resp.Choices[0].Content))
		assert.Equal(t, "length", resp.Choices[0].StopReason)
	}
	// Streaming reports the same.
	var got strings.Builder
	resp, err := llm.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(300),
		llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error { got.Write(chunk); return nil }))
	require.NoError(t, err)
	assert.Equal(t, 300, info(t, resp, "CompletionTokens"))
	assert.Equal(t, resp.Choices[0].Content, got.String())
	// Without a cap the answer keeps its natural length.
	resp, err = llm.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	assert.Equal(t, "stop", resp.Choices[0].StopReason)
	assert.Less(t, info(t, resp, "CompletionTokens"), 100)
}

func TestServerStopWords(t *testing.T) {
	srv := baartest.NewServer(baartest.WithResponder(func(*baartest.ChatRequest) baartest.Reply {
		return baartest.Reply{Content: "one two\nObservation: three"}
	}))
	defer srv.Close()
	llm := newClient(t, srv)
	resp, err := llm.GenerateContent(context.Background(), human("x"), llms.WithStopWords([]string{"two", "\nObservation:"}))
	require.NoError(t, err)
	assert.Equal(t, "one ", resp.Choices[0].Content)
	assert.Equal(t, "stop", resp.Choices[0].StopReason)
	assert.Equal(t, 1, info(t, resp, "CompletionTokens"))
}

func TestServerStreaming(t *testing.T) {
	srv := baartest.NewServer(baartest.WithStreamChunks(8, 2*time.Millisecond))
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()
	const q = "Explain why the sky is blue."

	plain, err := llm.GenerateContent(ctx, human(q), llms.WithMaxTokens(100))
	require.NoError(t, err)

	var chunks []string
	start := time.Now()
	resp, err := llm.GenerateContent(ctx, human(q), llms.WithMaxTokens(100),
		llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			if len(chunk) > 0 {
				chunks = append(chunks, string(chunk))
			}
			return nil
		}))
	require.NoError(t, err)
	elapsed := time.Since(start)

	content := resp.Choices[0].Content
	assert.Equal(t, plain.Choices[0].Content, content, "streaming does not change the answer")
	assert.Equal(t, content, strings.Join(chunks, ""))
	require.Greater(t, len(chunks), 3)
	for _, c := range chunks {
		assert.LessOrEqual(t, len(c), 8)
	}
	// One delay before each chunk: role, content chunks, finish, usage.
	assert.GreaterOrEqual(t, elapsed, time.Duration(len(chunks)+3)*2*time.Millisecond)
	assert.Equal(t, "stop", resp.Choices[0].StopReason)
	// The usage chunk (include_usage) reached GenerationInfo.
	for _, k := range []string{"PromptTokens", "CompletionTokens", "TotalTokens"} {
		assert.Equal(t, info(t, plain, k), info(t, resp, k), k)
	}
	assert.Positive(t, info(t, resp, "CompletionTokens"))
}

func TestServerStreamingFuncErrorStops(t *testing.T) {
	srv := baartest.NewServer(baartest.WithStreamChunks(4, 0))
	defer srv.Close()
	llm := newClient(t, srv)
	stop := errors.New("enough")
	n := 0
	_, err := llm.GenerateContent(context.Background(), human("Tell me a long story step by step."),
		llms.WithStreamingFunc(func(context.Context, []byte) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		}))
	require.Error(t, err)
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 3, n)
	assert.Eventually(t, func() bool { return srv.Active() == 0 }, 2*time.Second, 5*time.Millisecond)
}

var weatherTool = llms.Tool{
	Type: "function",
	Function: &llms.FunctionDefinition{
		Name:        "get_weather",
		Description: "Get the weather forecast for a location.",
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"location": map[string]any{"type": "string"},
				"days":     map[string]any{"type": "integer"},
				"unit":     map[string]any{"type": "string", "enum": []string{"c", "f"}},
			},
			"required": []string{"location", "days"},
		},
	},
}

func TestServerToolCalls(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()
	const q = "What's the weather in Paris?"
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are a weather bot."),
		llms.TextParts(llms.ChatMessageTypeHuman, q),
	}

	for _, stream := range []bool{false, true} {
		opts := []llms.CallOption{llms.WithTools([]llms.Tool{weatherTool})}
		if stream {
			opts = append(opts, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
		}
		resp, err := llm.GenerateContent(ctx, msgs, opts...)
		require.NoError(t, err)
		c := resp.Choices[0]
		require.Len(t, c.ToolCalls, 1, "stream=%v", stream)
		tc := c.ToolCalls[0]
		assert.Equal(t, "get_weather", tc.FunctionCall.Name)
		assert.Equal(t, "function", tc.Type)
		assert.True(t, strings.HasPrefix(tc.ID, "call_"))
		var args map[string]any
		require.NoError(t, json.Unmarshal([]byte(tc.FunctionCall.Arguments), &args), tc.FunctionCall.Arguments)
		assert.Equal(t, map[string]any{"location": q, "days": float64(1)}, args)
		assert.Equal(t, "tool_calls", c.StopReason)
		assert.Equal(t, baartest.ApproxTokens("get_weather")+baartest.ApproxTokens(tc.FunctionCall.Arguments), info(t, resp, "CompletionTokens"))
		assert.Greater(t, info(t, resp, "PromptTokens"), promptTokens(q)+5, "the tool schema costs input tokens")

		// After the tool result the model answers in text, quoting it.
		follow := append(append([]llms.MessageContent(nil), msgs...),
			llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{tc}},
			llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
				llms.ToolCallResponse{ToolCallID: tc.ID, Name: "get_weather", Content: "Sunny, 24 C"},
			}})
		final, err := llm.GenerateContent(ctx, follow, opts...)
		require.NoError(t, err)
		assert.Empty(t, final.Choices[0].ToolCalls)
		assert.Contains(t, final.Choices[0].Content, `"Sunny, 24 C"`)
		assert.Equal(t, "stop", final.Choices[0].StopReason)
	}

	// tool_choice "none" answers in text; a forced tool is always called.
	resp, err := llm.GenerateContent(ctx, msgs, llms.WithTools([]llms.Tool{weatherTool}), llms.WithToolChoice("none"))
	require.NoError(t, err)
	assert.Empty(t, resp.Choices[0].ToolCalls)
	other := llms.Tool{Type: "function", Function: &llms.FunctionDefinition{Name: "search", Description: "Search the web."}}
	resp, err = llm.GenerateContent(ctx, msgs, llms.WithTools([]llms.Tool{weatherTool, other}),
		llms.WithToolChoice(llms.ToolChoice{Type: "function", Function: &llms.FunctionReference{Name: "search"}}))
	require.NoError(t, err)
	require.Len(t, resp.Choices[0].ToolCalls, 1)
	assert.Equal(t, "search", resp.Choices[0].ToolCalls[0].FunctionCall.Name)
	assert.JSONEq(t, `{"__arg1": "What's the weather in Paris?"}`, resp.Choices[0].ToolCalls[0].FunctionCall.Arguments)
}

// postJSON sends a raw request to the server.
func postJSON(t *testing.T, url string, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestServerLegacyFunctions(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	// langchaingo's client sends functions as tools, so talk to the server
	// directly, as an older OpenAI client would.
	status, out := postJSON(t, srv.URL()+"/chat/completions", `{
		"model": "gpt-3.5-turbo",
		"messages": [{"role": "user", "content": "2+2?"}],
		"functions": [{"name": "calculator", "parameters": {"type": "object", "properties": {"__arg1": {"type": "string"}}, "required": ["__arg1"]}}]
	}`)
	require.Equal(t, 200, status)
	choice := out["choices"].([]any)[0].(map[string]any)
	assert.Equal(t, "function_call", choice["finish_reason"])
	fc := choice["message"].(map[string]any)["function_call"].(map[string]any)
	assert.Equal(t, "calculator", fc["name"])
	assert.JSONEq(t, `{"__arg1":"2+2"}`, fc["arguments"].(string), "the arithmetic, not the question")

	// After a function result: text.
	status, out = postJSON(t, srv.URL()+"/chat/completions", `{
		"model": "gpt-3.5-turbo",
		"messages": [{"role": "user", "content": "2+2?"},
			{"role": "assistant", "content": null, "function_call": {"name": "calculator", "arguments": "{\"__arg1\":\"2+2\"}"}},
			{"role": "function", "name": "calculator", "content": "4"}],
		"functions": [{"name": "calculator"}]
	}`)
	require.Equal(t, 200, status)
	choice = out["choices"].([]any)[0].(map[string]any)
	assert.Equal(t, "stop", choice["finish_reason"])
	assert.Contains(t, choice["message"].(map[string]any)["content"], `"4"`)
}

func TestServerBadRequests(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	url := srv.URL() + "/chat/completions"
	for _, tc := range []struct{ name, body, param string }{
		{"not json", `{`, ""},
		{"no model", `{"messages":[{"role":"user","content":"x"}]}`, "model"},
		{"no messages", `{"model":"m","messages":[]}`, "messages"},
		{"bad role", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{"zero max", `{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}`, "max_completion_tokens"},
		{"bad stop", `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":5}`, "stop"},
		{"bad content", `{"model":"m","messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{"tool without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id"},
		{"bad tool choice", `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}`, "tool_choice"},
	} {
		status, out := postJSON(t, url, tc.body)
		assert.Equal(t, 400, status, tc.name)
		e := out["error"].(map[string]any)
		assert.Equal(t, "invalid_request_error", e["type"], tc.name)
		assert.NotEmpty(t, e["message"], tc.name)
		if tc.param != "" {
			assert.Equal(t, tc.param, e["param"], tc.name)
		}
	}
	assert.EqualValues(t, 9, srv.Requests())
	assert.EqualValues(t, 7, srv.RequestsFor("m"))
	assert.EqualValues(t, 2, srv.RequestsFor(""))

	status, _ := postJSON(t, srv.URL()+"/embeddings", `{}`)
	assert.Equal(t, 404, status)
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)
	assert.EqualValues(t, 9, srv.Requests(), "other paths and methods are not chat requests")

	// Multi-part content and n > 1.
	status, out := postJSON(t, url, `{"model":"m","n":2,"messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}`)
	require.Equal(t, 200, status)
	assert.Len(t, out["choices"], 2)
	u := out["usage"].(map[string]any)
	assert.EqualValues(t, 3+4+1+85, u["prompt_tokens"])
}

func TestServerNoLeakOfPromptInErrors(t *testing.T) {
	// Errors never echo the request's text.
	srv := baartest.NewServer(baartest.WithFailures(baartest.Always(baartest.FailBadRequest)))
	defer srv.Close()
	llm := newClient(t, srv)
	_, err := llm.GenerateContent(context.Background(), human("my secret is hunter2"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestServerConcurrent(t *testing.T) {
	srv := baartest.NewServer(baartest.WithCachedFraction(0.5))
	defer srv.Close()
	// 1,000 concurrent callers share one client. Its transport opens at most
	// 250 connections: bursts of 1,000 loopback dials make some sandboxes drop
	// SYNs and retransmit for seconds. TestHandlerConcurrent runs 1,000
	// handlers at once.
	llm := newClient(t, srv, openai.WithHTTPClient(&http.Client{Transport: &http.Transport{MaxConnsPerHost: 250, MaxIdleConnsPerHost: 250}}))
	const n = 1000
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		prompt, complete int64
		errs             []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			model := "gpt-4o-mini"
			if i%4 == 0 {
				model = "gpt-4o"
			}
			resp, err := llm.GenerateContent(context.Background(), human(strings.Repeat("question ", i%50+1)),
				llms.WithModel(model), llms.WithMaxTokens(64))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			prompt += int64(resp.Choices[0].GenerationInfo["PromptTokens"].(int))
			complete += int64(resp.Choices[0].GenerationInfo["CompletionTokens"].(int))
		}()
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	assert.EqualValues(t, n, srv.Requests())
	assert.EqualValues(t, n/4, srv.RequestsFor("gpt-4o"))
	assert.EqualValues(t, n-n/4, srv.RequestsFor("gpt-4o-mini"))
	tok := srv.Tokens()
	assert.Equal(t, prompt, tok.Prompt)
	assert.Equal(t, complete, tok.Completion)
	assert.Positive(t, tok.Cached)
	assert.LessOrEqual(t, tok.Cached, tok.Prompt/2)
	assert.Zero(t, srv.Active())
}

func TestServerAPIKey(t *testing.T) {
	srv := baartest.NewServer(baartest.WithAPIKey("sk-right"))
	defer srv.Close()
	_, err := newClient(t, srv, openai.WithToken("sk-wrong")).Call(context.Background(), "hi")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	assert.True(t, llms.IsAuthenticationError(openai.MapError(err)))
	assert.NotContains(t, err.Error(), "sk-wrong", "the key is not echoed")
	_, err = newClient(t, srv, openai.WithToken("sk-right")).Call(context.Background(), "hi")
	assert.NoError(t, err)
}

func TestHandlerMountedElsewhere(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/openai/", http.StripPrefix("/openai", srv.Handler()))
	req := httptest.NewRequest(http.MethodPost, "/openai/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), "Simulated answer from m: ")
	assert.EqualValues(t, 1, srv.Requests())
}

func TestHandlerConcurrent(t *testing.T) {
	// A barrier in the responder: it only opens once all n requests are being
	// handled at the same time.
	const n = 1000
	var arrived atomic.Int64
	all := make(chan struct{})
	srv := baartest.NewServer(baartest.WithResponder(func(req *baartest.ChatRequest) baartest.Reply {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(20 * time.Second):
		}
		return baartest.DefaultResponder(req)
	}))
	defer srv.Close()
	h := srv.Handler()
	var wg sync.WaitGroup
	codes := make([]int, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"model":"m%d","messages":[{"role":"user","content":"q%d"}],"max_tokens":8}`, i%3, i)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
			codes[i] = rec.Code
		}()
	}
	wg.Wait()
	assert.Less(t, time.Since(start), 20*time.Second, "all %d handlers ran at once", n)
	for i, c := range codes {
		require.Equal(t, 200, c, "request %d", i)
	}
	assert.EqualValues(t, n, srv.Requests())
	assert.EqualValues(t, 334, srv.RequestsFor("m0"))
	assert.EqualValues(t, 333, srv.RequestsFor("m1"))
	assert.EqualValues(t, 333, srv.RequestsFor("m2"))
	assert.Zero(t, srv.Active())
}

func TestServerOptionsClampBadValues(t *testing.T) {
	srv := baartest.NewServer(nil, baartest.WithResponder(nil), baartest.WithCachedFraction(2),
		baartest.WithStreamChunks(0, -time.Second), baartest.WithLatency(-time.Second),
		baartest.WithFailures(nil, baartest.ForModel("x", nil)), baartest.WithReasoningRatio(-1))
	defer srv.Close()
	resp := call(t, newClient(t, srv), "hello", true, llms.WithModel("o3"))
	assert.Equal(t, info(t, resp, "PromptTokens"), info(t, resp, "PromptCachedTokens"), "fraction clamped to 1")
	assert.Zero(t, info(t, resp, "ReasoningTokens"), "negative ratio means 0")
	assert.True(t, strings.HasPrefix(resp.Choices[0].Content, "Simulated answer from o3: "))

	nan := baartest.NewServer(baartest.WithCachedFraction(math.NaN()))
	defer nan.Close()
	assert.Zero(t, info(t, call(t, newClient(t, nan), "hello", false), "PromptCachedTokens"))
}
