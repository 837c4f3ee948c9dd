package baar_test

import (
	"context"
	"fmt"
	"strings"

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
	capableModel := &baartest.Model{Name: "gpt-4o"}
	cheap := baar.Tier{Model: cheapModel, Name: "gpt-4o-mini", Provider: "openai"}
	capable := baar.Tier{Model: capableModel, Name: "gpt-4o", Provider: "openai"}

	router, err := baar.New(cheap, capable,
		baar.WithCascade(scoring.DefaultVerifier()), // or scoring.Agreement(3), baar.JudgeVerifier(…)
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range []string{"What do 3 pens at $4 each cost?", "What do 7 pens at $6 each cost?"} {
		answer, err := router.Call(context.Background(), q)
		if err != nil {
			fmt.Println(err)
			return
		}
		first, _, _ := strings.Cut(answer, "\n")
		fmt.Printf("%s -> %.28s (capable calls: %d)\n", q, first, capableModel.Calls())
	}
	// Output:
	// What do 3 pens at $4 each cost? -> 3 * 4 = 12 (capable calls: 0)
	// What do 7 pens at $6 each cost? -> Simulated answer from gpt-4o (capable calls: 1)
}
