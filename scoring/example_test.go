package scoring_test

import (
	"context"
	"fmt"

	"github.com/baarcore/baar/scoring"
)

func ExampleThresholdForShare() {
	scores := []float64{0.05, 0.2, 0.9, 0.4, 0.7, 0.1, 0.3, 0.6, 0.8, 0.5}
	t, _ := scoring.ThresholdForShare(scores, 0.20)
	fmt.Println(t) // the 2 highest of 10 scores are ≥ t
	// Output: 0.8
}

func ExampleDefault() {
	s := scoring.Default()
	v, _ := s.Score(context.Background(), scoring.Request{Messages: []scoring.Message{
		{Role: scoring.RoleHuman, Text: "What is the capital of France?"},
	}})
	fmt.Println(v >= 0 && v <= 1, v >= scoring.DefaultThreshold)
	// Output: true false
}

func ExampleNewSemantic() {
	ctx := context.Background()
	s, _ := scoring.NewSemantic(ctx, scoring.HashEmbedder{}, []scoring.Exemplar{
		{Text: "What is the capital of Spain?", Score: 0},
		{Text: "Prove that the square root of two is irrational", Score: 1},
	}, scoring.WithNeighbors(1))
	v, _ := s.Score(ctx, scoring.Request{Messages: []scoring.Message{
		{Role: scoring.RoleHuman, Text: "Prove that the square root of three is irrational"},
	}})
	fmt.Println(v)
	// Output: 1
}
