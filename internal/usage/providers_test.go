package usage_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/usage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
	"github.com/tmc/langchaingo/llms/ollama"
	"github.com/tmc/langchaingo/llms/openai"
)

// These tests run the real langchaingo providers against an httptest server
// that speaks their protocol, so the GenerationInfo maps are the ones the
// providers really build.

func serve(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var hello = []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "hello")}

func TestRealOpenAIProvider(t *testing.T) {
	srv := serve(t, `{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
		"choices": [
			{"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"},
			{"index": 1, "message": {"role": "assistant", "content": "b"}, "finish_reason": "length"}
		],
		"usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
			"prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
			"completion_tokens_details": {"reasoning_tokens": 64, "audio_tokens": 0}}
	}`)
	m, err := openai.New(openai.WithToken("t"), openai.WithBaseURL(srv.URL), openai.WithModel("gpt-4o"))
	require.NoError(t, err)
	resp, err := m.GenerateContent(context.Background(), hello, llms.WithN(2))
	require.NoError(t, err)
	require.Len(t, resp.Choices, 2)

	u, r := usage.FromResponse(resp)
	require.True(t, r.Found, r.Problem)
	require.False(t, r.Invalid, r.Problem)
	assert.Equal(t, usage.ConventionOpenAI, r.Convention)
	assert.Equal(t, budget.Usage{InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 1024, ReasoningTokens: 64}, u)
	assert.Equal(t, []string{"stop", "length"}, r.FinishReasons)
}

func TestRealAnthropicProvider(t *testing.T) {
	srv := serve(t, `{
		"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
		"content": [
			{"type": "thinking", "thinking": "hmm", "signature": "s"},
			{"type": "text", "text": "Let me look."},
			{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}
		],
		"stop_reason": "tool_use",
		"usage": {"input_tokens": 50, "output_tokens": 200, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 3000}
	}`)
	m, err := anthropic.New(anthropic.WithToken("t"), anthropic.WithBaseURL(srv.URL), anthropic.WithModel("claude-sonnet-4-5"))
	require.NoError(t, err)
	resp, err := m.GenerateContent(context.Background(), hello, llms.WithMaxTokens(100))
	require.NoError(t, err)
	require.Len(t, resp.Choices, 3, "one choice per content block")

	u, r := usage.FromResponse(resp)
	require.True(t, r.Found, r.Problem)
	require.False(t, r.Invalid, r.Problem)
	assert.Equal(t, usage.ConventionAnthropic, r.Convention)
	assert.Equal(t, budget.Usage{InputTokens: 4050, OutputTokens: 200, CacheReadTokens: 3000, CacheWriteTokens: 1000}, u)
	assert.Equal(t, []string{"tool_use"}, r.FinishReasons)
}

func TestRealOllamaProvider(t *testing.T) {
	// Ollama answers newline-delimited JSON: one object on one line.
	srv := serve(t, `{"model": "llama3", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": "hi"}, "done": true, "prompt_eval_count": 34, "eval_count": 12}`+"\n")
	m, err := ollama.New(ollama.WithServerURL(srv.URL), ollama.WithModel("llama3"))
	require.NoError(t, err)
	resp, err := m.GenerateContent(context.Background(), hello)
	require.NoError(t, err)

	u, r := usage.FromResponse(resp)
	require.True(t, r.Found, r.Problem)
	require.False(t, r.Invalid, r.Problem)
	assert.Equal(t, usage.ConventionOllama, r.Convention)
	assert.Equal(t, budget.Usage{InputTokens: 34, OutputTokens: 12}, u)
}
