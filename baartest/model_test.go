package baartest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/baartest"
)

func TestModelDefaults(t *testing.T) {
	m := &baartest.Model{}
	ctx := context.Background()
	const q = "What is the capital of France?"
	resp, err := m.GenerateContent(ctx, human(q))
	require.NoError(t, err)
	c := resp.Choices[0]
	assert.True(t, strings.HasPrefix(c.Content, "Simulated answer from fake-model: "), c.Content)
	assert.Equal(t, "stop", c.StopReason)
	assert.Equal(t, promptTokens(q), info(t, resp, "PromptTokens"), "same count as the server")
	assert.Equal(t, baartest.ApproxTokens(c.Content), info(t, resp, "CompletionTokens"))
	assert.Equal(t, info(t, resp, "PromptTokens")+info(t, resp, "CompletionTokens"), info(t, resp, "TotalTokens"))
	assert.Zero(t, info(t, resp, "PromptCachedTokens"))
	assert.Zero(t, info(t, resp, "ReasoningTokens"))

	text, err := m.Call(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, c.Content, text, "deterministic")
	assert.EqualValues(t, 2, m.Calls())
	assert.Zero(t, m.LastMaxTokens())

	// The call's model and max tokens.
	resp, err = m.GenerateContent(ctx, human(q), llms.WithModel("gpt-4o"), llms.WithMaxTokens(5))
	require.NoError(t, err)
	assert.Equal(t, "Simulated answer f", resp.Choices[0].Content[:18])
	assert.Equal(t, 5, info(t, resp, "CompletionTokens"))
	assert.Equal(t, "length", resp.Choices[0].StopReason)
	assert.Equal(t, 5, m.LastMaxTokens())

	named := &baartest.Model{Name: "cheap"}
	text, err = named.Call(ctx, q, llms.WithStopWords([]string{":"}))
	require.NoError(t, err)
	assert.Equal(t, "Simulated answer from cheap", text)
}

func TestModelFullOutputAndUsage(t *testing.T) {
	ctx := context.Background()
	full := &baartest.Model{FullOutput: true, ReasoningTokens: 10, CachedFraction: 0.5}
	resp, err := full.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(300))
	require.NoError(t, err)
	assert.Equal(t, 300, info(t, resp, "CompletionTokens"))
	assert.Equal(t, 10, info(t, resp, "ReasoningTokens"))
	assert.Equal(t, info(t, resp, "PromptTokens")/2, info(t, resp, "PromptCachedTokens"))
	resp, err = full.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	assert.Equal(t, 256, info(t, resp, "CompletionTokens"), "default when unset")
	full2 := &baartest.Model{FullOutput: true, DefaultMaxTokens: 1000}
	resp, err = full2.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	assert.Equal(t, 1000, info(t, resp, "CompletionTokens"))

	// Reasoning tokens stay within the cap.
	r := &baartest.Model{ReasoningTokens: 1000}
	resp, err = r.GenerateContent(ctx, human("hi"), llms.WithMaxTokens(50))
	require.NoError(t, err)
	assert.Equal(t, 50, info(t, resp, "CompletionTokens"))

	honest, err := (&baartest.Model{}).GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	p, c := info(t, honest, "PromptTokens"), info(t, honest, "CompletionTokens")
	for mode, want := range map[baartest.UsageMode][2]int{
		baartest.UsageInflated: {p * baartest.InflationFactor, c * baartest.InflationFactor},
		baartest.UsageNegative: {-p, -c},
		baartest.UsageAbsurd:   {baartest.AbsurdTokens, baartest.AbsurdTokens},
	} {
		resp, err := (&baartest.Model{UsageMode: mode}).GenerateContent(ctx, human("hi"))
		require.NoError(t, err)
		assert.Equal(t, want[0], info(t, resp, "PromptTokens"), mode.String())
		assert.Equal(t, want[1], info(t, resp, "CompletionTokens"), mode.String())
	}
	resp, err = (&baartest.Model{UsageMode: baartest.UsageMissing}).GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	assert.Nil(t, resp.Choices[0].GenerationInfo)
	assert.NotEmpty(t, resp.Choices[0].Content)
}

func TestModelErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	m := &baartest.Model{Err: boom}
	_, err := m.GenerateContent(ctx, human("x"), llms.WithMaxTokens(9))
	assert.ErrorIs(t, err, boom)
	assert.EqualValues(t, 1, m.Calls(), "failed calls count")
	assert.Equal(t, 9, m.LastMaxTokens())

	f := &baartest.Model{ErrFunc: func(n int64, o *llms.CallOptions) error {
		if n%2 == 0 || o.Model == "bad" {
			return boom
		}
		return nil
	}}
	_, err = f.GenerateContent(ctx, human("x"))
	assert.NoError(t, err)
	_, err = f.GenerateContent(ctx, human("x"))
	assert.ErrorIs(t, err, boom)
	_, err = f.GenerateContent(ctx, human("x"), llms.WithModel("bad"))
	assert.ErrorIs(t, err, boom)

	slow := &baartest.Model{Latency: 10 * time.Second}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = slow.GenerateContent(cctx, human("x"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	fast := &baartest.Model{Latency: 20 * time.Millisecond}
	start = time.Now()
	_, err = fast.GenerateContent(ctx, human("x"))
	assert.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
}

func TestModelStreaming(t *testing.T) {
	m := &baartest.Model{StreamChunkSize: 5}
	var chunks []string
	resp, err := m.GenerateContent(context.Background(), human("hello"), llms.WithStreamingFunc(func(_ context.Context, c []byte) error {
		chunks = append(chunks, string(c))
		return nil
	}))
	require.NoError(t, err)
	assert.Equal(t, resp.Choices[0].Content, strings.Join(chunks, ""))
	assert.Greater(t, len(chunks), 5)
	for _, c := range chunks {
		assert.LessOrEqual(t, len(c), 5)
	}

	stop := errors.New("stop")
	n := 0
	_, err = m.GenerateContent(context.Background(), human("hello"), llms.WithStreamingFunc(func(context.Context, []byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	}))
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 2, n, "the stream stopped at the error")
}

func TestModelToolsWithResponder(t *testing.T) {
	m := &baartest.Model{Name: "gpt-4o-mini", Responder: baartest.DefaultResponder}
	resp, err := m.GenerateContent(context.Background(), human("Weather in Rome?"), llms.WithTools([]llms.Tool{weatherTool}))
	require.NoError(t, err)
	c := resp.Choices[0]
	require.Len(t, c.ToolCalls, 1)
	assert.Equal(t, "get_weather", c.ToolCalls[0].FunctionCall.Name)
	assert.JSONEq(t, `{"location":"Weather in Rome?","days":1}`, c.ToolCalls[0].FunctionCall.Arguments)
	assert.Equal(t, c.ToolCalls[0].FunctionCall, c.FuncCall)
	assert.Equal(t, "tool_calls", c.StopReason)

	// Same usage as the server for the same call.
	srv := baartest.NewServer()
	defer srv.Close()
	viaHTTP, err := newClient(t, srv).GenerateContent(context.Background(), human("Weather in Rome?"), llms.WithTools([]llms.Tool{weatherTool}))
	require.NoError(t, err)
	assert.Equal(t, info(t, viaHTTP, "PromptTokens"), info(t, resp, "PromptTokens"))
	assert.Equal(t, info(t, viaHTTP, "CompletionTokens"), info(t, resp, "CompletionTokens"))
	assert.Equal(t, viaHTTP.Choices[0].ToolCalls[0].FunctionCall.Arguments, c.ToolCalls[0].FunctionCall.Arguments)

	_, err = m.GenerateContent(context.Background(), []llms.MessageContent{{Role: "robot"}})
	assert.Error(t, err, "unknown roles are rejected")
}

func TestModelConcurrent(t *testing.T) {
	m := &baartest.Model{FullOutput: true}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := m.GenerateContent(context.Background(), human("q"), llms.WithMaxTokens(i+1))
			if assert.NoError(t, err) {
				assert.Equal(t, i+1, resp.Choices[0].GenerationInfo["CompletionTokens"])
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 200, m.Calls())
	assert.Positive(t, m.LastMaxTokens())
}

func BenchmarkModelGenerateContent(b *testing.B) {
	m := &baartest.Model{FullOutput: true}
	ctx := context.Background()
	msgs := human("Explain step by step how a hard budget cap is enforced under concurrency.")
	opt := llms.WithMaxTokens(256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.GenerateContent(ctx, msgs, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServerGenerateContent(b *testing.B) {
	srv := baartest.NewServer()
	defer srv.Close()
	llm := newClient(b, srv)
	ctx := context.Background()
	msgs := human("Explain step by step how a hard budget cap is enforced under concurrency.")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := llm.GenerateContent(ctx, msgs, llms.WithMaxTokens(256)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestModelCountsLikeTheServer checks that Model reports the prompt tokens the
// server counts for the same call through langchaingo's openai client.
func TestModelCountsLikeTheServer(t *testing.T) {
	srv := baartest.NewServer(baartest.WithResponder(func(*baartest.ChatRequest) baartest.Reply {
		return baartest.Reply{Content: "ok"}
	}))
	defer srv.Close()
	llm := newClient(t, srv)
	search := llms.FunctionDefinition{Name: "search", Description: "Search the web.", Parameters: map[string]any{"type": "object"}}
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are terse."),
		{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{
			llms.TextPart("Describe this picture"), llms.TextPart("in one word."), llms.ImageURLPart("https://example.com/cat.png"),
		}},
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{ID: "call_1", Type: "function",
			FunctionCall: &llms.FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris","days":1}`}}}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "call_1", Name: "get_weather", Content: "Sunny"}}},
		{Role: llms.ChatMessageTypeFunction, Parts: []llms.ContentPart{llms.ToolCallResponse{Name: "search", Content: "Nothing found"}}},
		llms.TextParts(llms.ChatMessageTypeHuman, "Thanks!"),
	}
	opts := []llms.CallOption{llms.WithTools([]llms.Tool{weatherTool}), llms.WithFunctions([]llms.FunctionDefinition{search})}
	viaHTTP, err := llm.GenerateContent(context.Background(), msgs, opts...)
	require.NoError(t, err)
	for _, m := range []*baartest.Model{{Name: "gpt-4o-mini"}, {Name: "gpt-4o-mini", Responder: baartest.DefaultResponder}} {
		resp, err := m.GenerateContent(context.Background(), msgs, opts...)
		require.NoError(t, err)
		assert.Equal(t, info(t, viaHTTP, "PromptTokens"), info(t, resp, "PromptTokens"), "responder=%v", m.Responder != nil)
	}
}

func TestModelToolChoice(t *testing.T) {
	m := &baartest.Model{Responder: baartest.DefaultResponder}
	search := llms.Tool{Type: "function", Function: &llms.FunctionDefinition{Name: "search"}}
	tools := llms.WithTools([]llms.Tool{weatherTool, search})
	called := func(opts ...llms.CallOption) string {
		t.Helper()
		resp, err := m.GenerateContent(context.Background(), human("q"), append([]llms.CallOption{tools}, opts...)...)
		require.NoError(t, err)
		if len(resp.Choices[0].ToolCalls) == 0 {
			return ""
		}
		return resp.Choices[0].ToolCalls[0].FunctionCall.Name
	}
	assert.Equal(t, "get_weather", called())
	assert.Equal(t, "get_weather", called(llms.WithToolChoice("auto")))
	assert.Equal(t, "", called(llms.WithToolChoice("none")))
	assert.Equal(t, "", called(llms.WithFunctionCallBehavior(llms.FunctionCallBehaviorNone)))
	forced := llms.ToolChoice{Type: "function", Function: &llms.FunctionReference{Name: "search"}}
	assert.Equal(t, "search", called(llms.WithToolChoice(forced)))
	assert.Equal(t, "search", called(llms.WithToolChoice(&forced)))
	assert.Equal(t, "search", called(llms.WithToolChoice(map[string]any{"type": "function", "function": map[string]any{"name": "search"}})))
	_, err := m.GenerateContent(context.Background(), human("q"), tools, llms.WithToolChoice("sometimes"))
	assert.Error(t, err)
	_, err = m.GenerateContent(context.Background(), human("q"), llms.WithTools([]llms.Tool{{Type: "retrieval"}}))
	assert.Error(t, err)
}
