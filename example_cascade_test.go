package baar_test

import (
	"context"
	"fmt"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/scoring"
)

// A cascade: the cheap model answers first, the default verifier checks the
// answer (here, its arithmetic), and only an answer it doubts goes to the
// capable model.
func ExampleWithCascade() {
	// A cheap model that gets one sum wrong.
	answers := map[string]string{
		"What do 3 pens at $4 each cost?": "3 * 4 = 12\nThe answer is 12.",
		"What do 7 pens at $6 each cost?": "7 * 6 = 48\nThe answer is 48.",
	}
	cheapModel := &baartest.Model{Name: "gpt-4o-mini", Responder: func(req *baartest.ChatRequest) baartest.Reply {
		return baartest.Reply{Content: answers[req.Messages[len(req.Messages)-1].Content]}
	}}
	cheap := baar.Tier{Model: cheapModel, Name: "gpt-4o-mini", Provider: "openai"}
	capable := baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o", Provider: "openai"}

	router, err := baar.New(cheap, capable,
		baar.WithCascade(scoring.DefaultVerifier()), // the cheap model answers first
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			fmt.Printf("%s, answered by %s\n", r.Decision, r.Model)
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range []string{"What do 3 pens at $4 each cost?", "What do 7 pens at $6 each cost?"} {
		if _, err := router.Call(context.Background(), q); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// cheap, answered by gpt-4o-mini
	// escalated, answered by gpt-4o
}
