package tokens_test

import (
	"fmt"

	"github.com/baarcore/baar/internal/tokens"
	"github.com/tmc/langchaingo/llms"
)

func ExampleCounter() {
	c := tokens.NewCounter()
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "Be brief."),
		llms.TextParts(llms.ChatMessageTypeHuman, "What is the capital of France?"),
	}
	// 16 per request + 2 × (8 per message + 1 per part) + 39 bytes of text.
	fmt.Println(c.Bound("gpt-4o", msgs, nil))
	// Exact o200k counts (3 + 7 tokens) + the same overheads.
	fmt.Println(c.Count("gpt-4o", msgs, nil))
	// Output:
	// 73
	// 44
}
