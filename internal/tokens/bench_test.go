package tokens

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
)

const paragraph = "The router reserves the worst-case cost of every call before it is made. " +
	"It scores the prompt, picks a model, and settles to the provider's reported usage afterwards: " +
	"`func f(x int) int { return x * 2 }` — 42 tokens, 3.5 µs, ¥1,200.\n"

// prompt returns about n bytes of mixed prose and code.
func prompt(n int) string {
	s := strings.Repeat(paragraph, n/len(paragraph)+1)
	return s[:n]
}

var sinkN int64

func promptMsgs(n int) []llms.MessageContent {
	return []llms.MessageContent{
		{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextPart("You are a helpful assistant.")}},
		human(llms.TextPart(prompt(n))),
	}
}

var sizes = []struct {
	name string
	n    int
}{{"200B", 200}, {"2KB", 2 << 10}, {"200KB", 200 << 10}}

func BenchmarkBound(b *testing.B) {
	c := NewCounter()
	for _, sz := range sizes {
		msgs := promptMsgs(sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			for b.Loop() {
				sinkN = c.Bound("gpt-4o", msgs, nil)
			}
		})
	}
}

func BenchmarkCount(b *testing.B) {
	require.NoError(b, Preload())
	for _, sz := range sizes {
		msgs := promptMsgs(sz.n)
		b.Run(sz.name+"/cached", func(b *testing.B) {
			c := NewCounter()
			c.Count("gpt-4o", msgs, nil)
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			for b.Loop() {
				sinkN = c.Count("gpt-4o", msgs, nil)
			}
		})
		b.Run(sz.name+"/uncached", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			for b.Loop() {
				sinkN = NewCounter().Count("gpt-4o", msgs, nil)
			}
		})
	}
}

// conversation30 is an agent's history after 30 turns: a system prompt,
// then a question (~300 B) and an answer (~600 B) per turn.
func conversation30() []llms.MessageContent {
	msgs := []llms.MessageContent{{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextPart(prompt(1000))}}}
	for i := range 30 {
		msgs = append(msgs,
			human(llms.TextPart(fmt.Sprintf("Turn %d: %s", i, prompt(300)))),
			llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.TextPart(fmt.Sprintf("Answer %d: %s", i, prompt(600)))}},
		)
	}
	return msgs
}

// BenchmarkConversation30 counts a growing 30-turn conversation before each
// turn, as a router does: cached (one Counter) against naive recounting
// (a fresh Counter, hence an empty cache, for every call).
func BenchmarkConversation30(b *testing.B) {
	require.NoError(b, Preload())
	msgs := conversation30()
	turns := func(c func() *Counter) int64 {
		var total int64
		for turn := 1; turn <= 30; turn++ {
			total += c().Count("gpt-4o", msgs[:2*turn], nil)
		}
		return total
	}
	shared := NewCounter()
	require.Equal(b, turns(NewCounter), turns(func() *Counter { return shared }))
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := NewCounter()
			sinkN = turns(func() *Counter { return c })
		}
	})
	b.Run("naive", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkN = turns(NewCounter)
		}
	})
}

func BenchmarkFamilyOf(b *testing.B) {
	for b.Loop() {
		sinkN = int64(FamilyOf("us.anthropic.claude-sonnet-4-5-20250929-v1:0"))
	}
}

// BenchmarkSchemaSize measures the walk that bounds a tool's parameters
// marshalled to JSON (jsonSize) on a schema of objects, arrays and strings.
func BenchmarkSchemaSize(b *testing.B) {
	prop := func(t string) map[string]any {
		return map[string]any{"type": t, "description": "the " + t + " to use", "enum": []any{"a", "b", 3.0}}
	}
	params := map[string]any{
		"type":     "object",
		"required": []string{"city", "units", "days"},
		"properties": map[string]any{
			"city":  prop("string"),
			"units": prop("string"),
			"days":  map[string]any{"type": "array", "items": []map[string]any{prop("integer"), prop("number")}},
			"tags":  map[string]string{"a": "b", "c": "d"},
		},
	}
	b.ReportAllocs()
	for b.Loop() {
		n, st := jsonSize(params, 0)
		if st != sizeOK {
			b.Fatal(st)
		}
		sinkN = n
	}
}
