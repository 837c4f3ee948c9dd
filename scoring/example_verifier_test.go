package scoring_test

import (
	"context"
	"fmt"

	"github.com/baarcore/baar/scoring"
)

func ExampleDefaultVerifier() {
	ctx := context.Background()
	req := scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman,
		Text: "A pen costs $3 and a notebook costs $5. How much do 2 pens and 1 notebook cost?"}}}
	v := scoring.DefaultVerifier()
	for _, a := range []scoring.Answer{
		{Text: "2 pens cost 2 * 3 = $6.\nWith the notebook: 6 + 5 = $11.\nThe answer is 11.", FinishReason: "stop"},
		{Text: "2 pens cost 2 * 3 = $6.\nWith the notebook: 6 + 5 = $12.\nThe answer is 12.", FinishReason: "stop"},
		{Text: "2 pens cost 2 * 3 = $6.\nWith the notebook: 6 +", FinishReason: "length"},
	} {
		doubt, err := v.Verify(ctx, req, []scoring.Answer{a})
		if err != nil {
			panic(err)
		}
		fmt.Println(doubt >= 0.5)
	}
	// Output:
	// false
	// true
	// true
}

func ExampleAgreement() {
	ctx := context.Background()
	req := scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: "What is 17 * 3?"}}}
	v := scoring.Agreement(3)
	k := v.(scoring.Sampler).Samples() // the router samples k answers
	answers := []scoring.Answer{{Text: "17 * 3 = 51\n#### 51"}, {Text: "The answer is 51."}, {Text: "A: 41"}}[:k]
	doubt, err := v.Verify(ctx, req, answers)
	if err != nil {
		panic(err)
	}
	i, share := scoring.Majority(req, answers)
	fmt.Printf("doubt %.2f, return answer %d (%.0f%% agree)\n", doubt, i, 100*share)
	// Output:
	// doubt 0.33, return answer 0 (67% agree)
}
