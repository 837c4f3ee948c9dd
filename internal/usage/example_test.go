package usage_test

import (
	"fmt"

	"github.com/baarcore/baar/internal/usage"
	"github.com/tmc/langchaingo/llms"
)

func ExampleFromResponse() {
	// An Anthropic response: one choice per content block, each carrying the
	// usage of the whole response; InputTokens excludes the cache.
	info := map[string]any{"InputTokens": 50, "OutputTokens": 200, "CacheReadInputTokens": 3000, "CacheCreationInputTokens": 0}
	resp := &llms.ContentResponse{Choices: []*llms.ContentChoice{
		{StopReason: "tool_use", GenerationInfo: info},
		{StopReason: "tool_use", GenerationInfo: info},
	}}
	u, r := usage.FromResponse(resp)
	fmt.Println(r.Found, r.Convention, r.FinishReasons)
	fmt.Printf("%+v\n", u)
	// Output:
	// true anthropic [tool_use]
	// {InputTokens:3050 OutputTokens:200 CacheReadTokens:3000 CacheWriteTokens:0 ReasoningTokens:0}
}
