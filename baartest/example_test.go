package baartest_test

import (
	"context"
	"fmt"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar/baartest"
)

// The simulator answers langchaingo's real openai client, offline.
func Example() {
	srv := baartest.NewServer()
	defer srv.Close()

	llm, err := openai.New(
		openai.WithToken("t"),
		openai.WithBaseURL(srv.URL()),
		openai.WithModel("gpt-4o-mini"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := llm.GenerateContent(context.Background(),
		[]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "What is the capital of France?")},
		llms.WithMaxTokens(100))
	if err != nil {
		fmt.Println(err)
		return
	}
	c := resp.Choices[0]
	fmt.Println(c.Content)
	fmt.Println(c.StopReason, c.GenerationInfo["PromptTokens"], c.GenerationInfo["CompletionTokens"])
	fmt.Println(srv.Requests(), srv.Tokens().Total())
	// Output:
	// Simulated answer from gpt-4o-mini: Historical records agree on the main facts, although the dates vary slightly.
	// stop 15 28
	// 1 43
}

// A server that fails the first call with a rate limit, then recovers.
func ExampleWithFailures() {
	srv := baartest.NewServer(baartest.WithFailures(baartest.Script(baartest.FailRateLimit)))
	defer srv.Close()
	llm, _ := openai.New(openai.WithToken("t"), openai.WithBaseURL(srv.URL()), openai.WithModel("gpt-4o-mini"))
	for i := 0; i < 2; i++ {
		_, err := llm.Call(context.Background(), "hi")
		fmt.Println(llms.IsRateLimitError(openai.MapError(err)), err == nil)
	}
	// Output:
	// true false
	// false true
}

// The fake model reports the worst case a budget must reserve.
func ExampleModel() {
	m := &baartest.Model{Name: "gpt-4o-mini", FullOutput: true}
	resp, _ := m.GenerateContent(context.Background(),
		[]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "hello")},
		llms.WithMaxTokens(500))
	info := resp.Choices[0].GenerationInfo
	fmt.Println(info["PromptTokens"], info["CompletionTokens"], m.Calls(), m.LastMaxTokens())
	// Output:
	// 9 500 1 500
}

// A client that never connects makes no network call at all.
func ExampleNetCounter() {
	var nc baartest.NetCounter
	_, _ = openai.New(openai.WithToken("t"), openai.WithHTTPClient(nc.HTTPClient()))
	fmt.Println(nc.Dials(), nc.Lookups())
	// Output:
	// 0 0
}
