package baar_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
)

// A stream that outgrows the output the Router reserved (here, one that never
// ends) is cut: the call returns a *BudgetError with StreamCut set, and the
// text received so far is not lost.
func ExampleBudgetError_streamCut() {
	srv := baartest.NewServer(baartest.WithEndlessStream())
	defer srv.Close()
	llm, err := openai.New(openai.WithToken("offline"), openai.WithBaseURL(srv.URL()), openai.WithModel("gpt-4o-mini"))
	if err != nil {
		fmt.Println(err)
		return
	}
	tier := baar.Tier{Model: llm, Name: "gpt-4o-mini", Provider: "openai"}
	router, err := baar.New(tier, tier, baar.WithMaxOutputTokens(100))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Count forever.")}
	var streamed strings.Builder
	show := func(_ context.Context, chunk []byte) error {
		streamed.Write(chunk)
		return nil
	}

	_, err = router.GenerateContent(ctx, msgs, llms.WithStreamingFunc(show))
	var be *baar.BudgetError
	if errors.As(err, &be) && be.StreamCut {
		fmt.Println("cut; the partial answer is kept:", be.Partial == streamed.String())
	}
	fmt.Println(errors.Is(err, baar.ErrBudgetExceeded))
	// Output:
	// cut; the partial answer is kept: true
	// true
}
