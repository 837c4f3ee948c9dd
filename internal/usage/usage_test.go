package usage

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/baarcore/baar/budget"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
)

// The maps below are built exactly as langchaingo v0.1.14 builds them: same
// keys, same Go types (int for openai, anthropic, ollama, bedrock; int32 for
// googleai and vertex; a struct under "usage" for mistral).

func openaiInfo(prompt, completion, total, reasoning, cached int) map[string]any {
	// openai/openaillm.go:341-355
	return map[string]any{
		"CompletionTokens":                   completion,
		"PromptTokens":                       prompt,
		"TotalTokens":                        total,
		"ReasoningTokens":                    reasoning,
		"PromptAudioTokens":                  0,
		"ThinkingContent":                    "",
		"ThinkingTokens":                     reasoning,
		"PromptCachedTokens":                 cached,
		"CompletionAudioTokens":              0,
		"CompletionReasoningTokens":          reasoning,
		"CompletionAcceptedPredictionTokens": 0,
		"CompletionRejectedPredictionTokens": 0,
	}
}

func anthropicInfo(in, out, write, read int) map[string]any {
	// anthropic/anthropicllm.go:188-196
	return map[string]any{
		"InputTokens":              in,
		"OutputTokens":             out,
		"CacheCreationInputTokens": write,
		"CacheReadInputTokens":     read,
		"ThinkingContent":          "",
		"OutputContent":            "hi",
	}
}

// googleInfo mirrors googleai/googleai.go:169-194 (genai.UsageMetadata
// counts are int32; ThinkingTokens is an untyped constant 0, an int).
func googleInfo(prompt, candidates, total, cached int32) map[string]any {
	m := map[string]any{
		"citations":        (*struct{})(nil),
		"safety":           []*struct{}(nil),
		"input_tokens":     prompt,
		"output_tokens":    candidates,
		"total_tokens":     total,
		"PromptTokens":     prompt,
		"CompletionTokens": candidates,
		"TotalTokens":      total,
		"ThinkingContent":  "",
		"ThinkingTokens":   0,
	}
	if cached > 0 {
		m["CachedTokens"] = cached
		m["CacheReadInputTokens"] = cached
		m["NonCachedInputTokens"] = prompt - cached
	}
	return m
}

// mistralUsageInfo has the shape of github.com/gage-technologies/mistral-go
// UsageInfo.
type mistralUsageInfo struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type namedCount int

func ptr[T any](v T) *T { return &v }

func TestNormalizeProviders(t *testing.T) {
	tests := []struct {
		name       string
		info       map[string]any
		want       budget.Usage
		convention string
		model      string
	}{
		{
			name:       "openai with cache and reasoning",
			info:       openaiInfo(1200, 300, 1500, 100, 1000),
			want:       budget.Usage{InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 1000, ReasoningTokens: 100},
			convention: ConventionOpenAI,
		},
		{
			name:       "openai plain",
			info:       openaiInfo(10, 5, 15, 0, 0),
			want:       budget.Usage{InputTokens: 10, OutputTokens: 5},
			convention: ConventionOpenAI,
		},
		{
			name: "openai-compatible gateway whose completion omits reasoning",
			info: func() map[string]any {
				m := openaiInfo(100, 50, 250, 100, 0)
				return m
			}(),
			want:       budget.Usage{InputTokens: 100, OutputTokens: 150, ReasoningTokens: 100},
			convention: ConventionOpenAI,
		},
		{
			name:       "anthropic adds cache reads and writes to input",
			info:       anthropicInfo(50, 200, 1000, 3000),
			want:       budget.Usage{InputTokens: 4050, OutputTokens: 200, CacheReadTokens: 3000, CacheWriteTokens: 1000},
			convention: ConventionAnthropic,
		},
		{
			name: "anthropic tool_use block",
			// anthropicllm.go:218-223: no ThinkingContent/OutputContent keys.
			info: map[string]any{
				"InputTokens": 7, "OutputTokens": 9, "CacheCreationInputTokens": 0, "CacheReadInputTokens": 0,
			},
			want:       budget.Usage{InputTokens: 7, OutputTokens: 9},
			convention: ConventionAnthropic,
		},
		{
			name:       "googleai with cache and thoughts",
			info:       googleInfo(1000, 200, 1500, 600),
			want:       budget.Usage{InputTokens: 1000, OutputTokens: 500, CacheReadTokens: 600, ReasoningTokens: 300},
			convention: ConventionGoogle,
		},
		{
			name:       "googleai without cache",
			info:       googleInfo(40, 10, 50, 0),
			want:       budget.Usage{InputTokens: 40, OutputTokens: 10},
			convention: ConventionGoogle,
		},
		{
			name: "vertex",
			// googleai/vertex/vertex.go:162-166
			info: map[string]any{
				"citations": (*struct{})(nil), "safety": []*struct{}(nil),
				"input_tokens": int32(30), "output_tokens": int32(20), "total_tokens": int32(70),
			},
			want:       budget.Usage{InputTokens: 30, OutputTokens: 40},
			convention: ConventionVertex,
		},
		{
			name: "ollama",
			// ollama/ollamallm.go:208-216
			info: map[string]any{
				"CompletionTokens": 12, "PromptTokens": 34, "TotalTokens": 46,
				"ThinkingContent": "", "ThinkingTokens": 0,
			},
			want:       budget.Usage{InputTokens: 34, OutputTokens: 12},
			convention: ConventionOllama,
		},
		{
			name: "ollama with context cache hit",
			// ollama/ollamallm.go:219-228: CachedTokens is langchaingo's own cache.
			info: map[string]any{
				"CompletionTokens": 12, "PromptTokens": 5, "TotalTokens": 17,
				"ThinkingContent": "", "ThinkingTokens": 0, "CachedTokens": 400, "CacheHit": true,
			},
			want:       budget.Usage{InputTokens: 5, OutputTokens: 12},
			convention: ConventionOllama,
		},
		{
			name: "maritaca",
			// maritaca/maritacallm.go:191-195
			info:       map[string]any{"CompletionTokens": 3, "PromptTokens": 4, "TotalTokens": 7},
			want:       budget.Usage{InputTokens: 4, OutputTokens: 3},
			convention: ConventionOpenAI,
		},
		{
			name: "mistral struct",
			// mistral/mistralmodel.go:166-170
			info: map[string]any{
				"created": 1700000000, "model": "mistral-small-latest",
				"usage": mistralUsageInfo{PromptTokens: 21, CompletionTokens: 8, TotalTokens: 29},
			},
			want:       budget.Usage{InputTokens: 21, OutputTokens: 8},
			convention: ConventionMistral,
			model:      "mistral-small-latest",
		},
		{
			name: "mistral struct pointer",
			info: map[string]any{
				"model": "m", "usage": &mistralUsageInfo{PromptTokens: 2, CompletionTokens: 1, TotalTokens: 3},
			},
			want:       budget.Usage{InputTokens: 2, OutputTokens: 1},
			convention: ConventionMistral,
			model:      "m",
		},
		{
			name: "usage as a decoded JSON map",
			info: map[string]any{
				"usage": map[string]any{"prompt_tokens": json.Number("11"), "completion_tokens": float64(4), "total_tokens": 15.0},
			},
			want:       budget.Usage{InputTokens: 11, OutputTokens: 4},
			convention: ConventionMistral,
		},
		{
			name: "usage struct with json tags only",
			info: map[string]any{
				"usage": struct {
					In  int64 `json:"prompt_tokens"`
					Out int64 `json:"completion_tokens"`
				}{In: 6, Out: 2},
			},
			want:       budget.Usage{InputTokens: 6, OutputTokens: 2},
			convention: ConventionMistral,
		},
		{
			name: "bedrock anthropic",
			// bedrock/internal/bedrockclient/provider_anthropic.go:226-229
			info:       map[string]any{"input_tokens": 100, "output_tokens": 20},
			want:       budget.Usage{InputTokens: 100, OutputTokens: 20},
			convention: ConventionBedrock,
		},
		{
			name: "bedrock ai21",
			// provider_ai21.go:126-130
			info:       map[string]any{"id": "x", "input_tokens": 9, "output_tokens": 3},
			want:       budget.Usage{InputTokens: 9, OutputTokens: 3},
			convention: ConventionBedrock,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, r := Normalize(tt.info)
			require.False(t, r.Invalid, "problem: %s", r.Problem)
			assert.True(t, r.Found)
			assert.Equal(t, tt.convention, r.Convention)
			assert.Equal(t, tt.want, u)
			assert.Equal(t, tt.model, r.ResponseModel)
			assert.Empty(t, r.Problem)
			assert.Equal(t, -1, r.Choice)
		})
	}
}

func TestNormalizeValueTypes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int64
	}{
		{"int", 42, 42},
		{"int8", int8(42), 42},
		{"int16", int16(42), 42},
		{"int32", int32(42), 42},
		{"int64", int64(42), 42},
		{"uint", uint(42), 42},
		{"uint8", uint8(42), 42},
		{"uint16", uint16(42), 42},
		{"uint32", uint32(42), 42},
		{"uint64", uint64(42), 42},
		{"uintptr", uintptr(42), 42},
		{"float32", float32(42), 42},
		{"float64", float64(42), 42},
		{"json.Number", json.Number("42"), 42},
		{"json.Number float", json.Number("4.2e1"), 42},
		{"string", " 42 ", 42},
		{"pointer", ptr(42), 42},
		{"named", namedCount(42), 42},
		{"pointer to named", ptr(namedCount(42)), 42},
		{"max", MaxTokens, MaxTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, r := Normalize(map[string]any{"input_tokens": tt.v, "output_tokens": 1})
			require.False(t, r.Invalid, "problem: %s", r.Problem)
			assert.True(t, r.Found)
			assert.Equal(t, tt.want, u.InputTokens)
			assert.Equal(t, int64(1), u.OutputTokens)
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	tests := []struct {
		name    string
		info    map[string]any
		problem string
	}{
		{"negative", map[string]any{"input_tokens": -1, "output_tokens": 1}, "input_tokens: negative value"},
		{"negative float", map[string]any{"input_tokens": -1.0, "output_tokens": 1}, "input_tokens: negative value"},
		{"non-integral", map[string]any{"input_tokens": 1.5, "output_tokens": 1}, "input_tokens: non-integral value"},
		{"NaN", map[string]any{"input_tokens": math.NaN(), "output_tokens": 1}, "input_tokens: not a number"},
		{"Inf", map[string]any{"input_tokens": math.Inf(1), "output_tokens": 1}, "input_tokens: not a number"},
		{"absurd", map[string]any{"input_tokens": 2_000_000_000, "output_tokens": 1}, "input_tokens: value above MaxTokens"},
		{"absurd uint", map[string]any{"input_tokens": uint64(math.MaxUint64), "output_tokens": 1}, "input_tokens: value above MaxTokens"},
		{"absurd json.Number", map[string]any{"input_tokens": json.Number("1e300"), "output_tokens": 1}, "input_tokens: value above MaxTokens"},
		{"json.Number fraction", map[string]any{"input_tokens": json.Number("1.5"), "output_tokens": 1}, "input_tokens: non-integral value"},
		{"string", map[string]any{"input_tokens": "many", "output_tokens": 1}, "input_tokens: not a number"},
		{"bool", map[string]any{"input_tokens": true, "output_tokens": 1}, "input_tokens: not a number"},
		{"slice", map[string]any{"input_tokens": []int{1}, "output_tokens": 1}, "input_tokens: not a number"},
		{"missing output", map[string]any{"input_tokens": 10}, "missing output token count"},
		{"missing input", map[string]any{"output_tokens": 10}, "missing input token count"},
		{"zero input", map[string]any{"input_tokens": 0, "output_tokens": 10}, "zero input tokens with non-zero output"},
		{"openai cached above input", openaiInfo(10, 5, 15, 0, 11), "PromptCachedTokens exceeds PromptTokens"},
		{"openai reasoning above output", openaiInfo(10, 5, 15, 6, 0), "ReasoningTokens exceeds CompletionTokens"},
		{"openai reasoning keys disagree", func() map[string]any {
			m := openaiInfo(10, 5, 15, 2, 0)
			m["ThinkingTokens"] = 3
			return m
		}(), "ReasoningTokens and ThinkingTokens disagree"},
		{"google cached above prompt", googleInfo(10, 5, 15, 11), "CachedTokens exceeds PromptTokens"},
		{"google key styles disagree", func() map[string]any {
			m := googleInfo(10, 5, 15, 0)
			m["input_tokens"] = int32(11)
			return m
		}(), "PromptTokens and input_tokens disagree"},
		{"anthropic negative cache read", anthropicInfo(10, 5, 0, -3), "CacheReadInputTokens: negative value"},
		{"usage of unsupported type", map[string]any{"usage": "lots"}, "usage: unsupported type string"},
		{"usage map with bad keys", map[string]any{"usage": map[int]int{1: 2}}, "usage: map without string keys"},
		{"usage with duplicate keys", map[string]any{"usage": map[string]any{"prompt_tokens": 1, "PromptTokens": 1, "completion_tokens": 1}}, "usage: duplicate PromptTokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, r := Normalize(tt.info)
			assert.True(t, r.Found)
			assert.True(t, r.Invalid)
			assert.Equal(t, tt.problem, r.Problem)
			assert.Equal(t, budget.Usage{}, u, "an invalid report carries no usage")
		})
	}
}

func TestNormalizeNotFound(t *testing.T) {
	tests := []struct {
		name       string
		info       map[string]any
		convention string
		problem    string
	}{
		{"nil", nil, "", "no usage reported"},
		{"empty", map[string]any{}, "", "no usage reported"},
		{"cohere", map[string]any{"generation_id": "g", "index": 0}, "", "no usage reported"},
		{"nil values", map[string]any{"PromptTokens": nil, "CompletionTokens": nil}, "", "no usage reported"},
		{"nil pointers", map[string]any{"input_tokens": (*int)(nil), "output_tokens": (*int)(nil)}, ConventionBedrock, "usage keys without counts"},
		{"mistral stream without usage", map[string]any{"created": 1, "model": "m", "usage": mistralUsageInfo{}}, ConventionMistral, "usage reported as all zero"},
		{"usage struct without counts", map[string]any{"usage": struct{ X int }{1}}, ConventionMistral, "usage keys without counts"},
		{"mistral nil usage pointer", map[string]any{"usage": (*mistralUsageInfo)(nil)}, ConventionMistral, "usage is nil"},
		{"openai all zero", openaiInfo(0, 0, 0, 0, 0), ConventionOpenAI, "usage reported as all zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, r := Normalize(tt.info)
			assert.Equal(t, budget.Usage{}, u)
			assert.False(t, r.Found)
			assert.Equal(t, tt.convention, r.Convention)
			if tt.problem != "" {
				assert.Equal(t, tt.problem, r.Problem)
			}
		})
	}
	// Nil pointers are absent values, hence both counts are missing.
	_, r := Normalize(map[string]any{"input_tokens": (*int)(nil), "output_tokens": 3})
	assert.True(t, r.Invalid)
	assert.Equal(t, "missing input token count", r.Problem)
}

func TestFromResponseMultiChoice(t *testing.T) {
	t.Run("anthropic one choice per content block", func(t *testing.T) {
		info := func() map[string]any { return anthropicInfo(100, 50, 0, 20) }
		resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{
			{StopReason: "tool_use", GenerationInfo: info()}, // thinking
			{StopReason: "tool_use", GenerationInfo: info()}, // text
			{StopReason: "tool_use", GenerationInfo: info()}, // tool_use
		}}
		u, r := FromResponse(resp)
		require.True(t, r.Found)
		assert.False(t, r.Invalid)
		assert.Equal(t, budget.Usage{InputTokens: 120, OutputTokens: 50, CacheReadTokens: 20}, u, "never summed across choices")
		assert.Equal(t, 0, r.Choice)
		assert.Equal(t, []string{"tool_use"}, r.FinishReasons)
	})
	t.Run("openai N=3", func(t *testing.T) {
		resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{
			{StopReason: "stop", GenerationInfo: openaiInfo(10, 30, 40, 0, 0)},
			{StopReason: "length", GenerationInfo: openaiInfo(10, 30, 40, 0, 0)},
			{StopReason: "stop", GenerationInfo: openaiInfo(10, 30, 40, 0, 0)},
		}}
		u, r := FromResponse(resp)
		require.True(t, r.Found)
		assert.Equal(t, budget.Usage{InputTokens: 10, OutputTokens: 30}, u)
		assert.Equal(t, []string{"stop", "length"}, r.FinishReasons)
	})
	t.Run("first choice with usage wins", func(t *testing.T) {
		resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{
			nil,
			{StopReason: "a"},
			{GenerationInfo: map[string]any{"ThinkingContent": ""}},
			{StopReason: "b", GenerationInfo: map[string]any{"input_tokens": 5, "output_tokens": 6}},
			{StopReason: "c", GenerationInfo: map[string]any{"input_tokens": 50, "output_tokens": 60}},
		}}
		u, r := FromResponse(resp)
		require.True(t, r.Found)
		assert.Equal(t, 3, r.Choice)
		assert.Equal(t, budget.Usage{InputTokens: 5, OutputTokens: 6}, u)
		assert.Equal(t, []string{"a", "b", "c"}, r.FinishReasons)
	})
	t.Run("invalid first usage is not replaced by a later one", func(t *testing.T) {
		resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{
			{GenerationInfo: map[string]any{"input_tokens": -5, "output_tokens": 6}},
			{GenerationInfo: map[string]any{"input_tokens": 5, "output_tokens": 6}},
		}}
		u, r := FromResponse(resp)
		assert.True(t, r.Invalid)
		assert.Equal(t, 0, r.Choice)
		assert.Equal(t, budget.Usage{}, u)
	})
	t.Run("mistral model", func(t *testing.T) {
		resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{{
			StopReason:     "stop",
			GenerationInfo: map[string]any{"created": 1, "model": "mistral-large-2411", "usage": mistralUsageInfo{3, 4, 7}},
		}}}
		u, r := FromResponse(resp)
		require.True(t, r.Found)
		assert.Equal(t, "mistral-large-2411", r.ResponseModel)
		assert.Equal(t, budget.Usage{InputTokens: 3, OutputTokens: 4}, u)
	})
	t.Run("no usage", func(t *testing.T) {
		for _, resp := range []*llms.ContentResponse{nil, {}, {Choices: []*llms.ContentChoice{{Content: "x", StopReason: "COMPLETE"}}}} {
			u, r := FromResponse(resp)
			assert.False(t, r.Found)
			assert.False(t, r.Invalid)
			assert.Equal(t, -1, r.Choice)
			assert.NotEmpty(t, r.Problem)
			assert.Equal(t, budget.Usage{}, u)
		}
	})
}

var sinkUsage budget.Usage

func BenchmarkFromResponse(b *testing.B) {
	resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{{
		Content:        "Hello!",
		StopReason:     "stop",
		GenerationInfo: openaiInfo(1200, 300, 1500, 100, 1000),
	}}}
	b.ReportAllocs()
	for b.Loop() {
		u, r := FromResponse(resp)
		if !r.Found {
			b.Fatal(r.Problem)
		}
		sinkUsage = u
	}
}
