package bench

import (
	"context"
	"fmt"

	"github.com/baarcore/baar/scoring"
)

// CascadeCurve is the quality–cost curve of a cascade: every prompt first
// goes to the cheap model, and the prompts whose answers have the highest
// doubt are escalated to the capable model, whose answer replaces the cheap
// one. Accuracy is as for a router with the doubts as scores (the same APGR
// and CPT), but the cost counts every cheap call plus every escalation.
func CascadeCurve(outcomes []Outcome, doubts []float64) (*Curve, error) {
	return NewCurve(CascadeOutcomes(outcomes), doubts)
}

// CascadeOutcomes returns outcomes priced as a cascade: sending a prompt to
// the capable model costs the cheap call already made plus the capable one.
func CascadeOutcomes(outcomes []Outcome) []Outcome {
	c := make([]Outcome, len(outcomes))
	for i, o := range outcomes {
		c[i] = o
		c[i].CapableCost = o.CheapCost + o.CapableCost
	}
	return c
}

// VerifierExamples turns the items of d that carry the cheap model's answer
// into labelled answers for scoring.TrainVerifier, in order; items without
// an answer are left out.
func VerifierExamples(d Dataset) []scoring.VerifierExample {
	var ex []scoring.VerifierExample
	for _, it := range d.Items {
		if it.CheapAnswer == "" {
			continue
		}
		ex = append(ex, scoring.VerifierExample{
			Request: scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: it.Prompt}}},
			Answer:  scoring.Answer{Text: it.CheapAnswer},
			Correct: it.CheapCorrect,
		})
	}
	return ex
}

// Doubts rates the cheap answer of each item of d with v.
func Doubts(ctx context.Context, v scoring.Verifier, d Dataset) ([]float64, error) {
	out := make([]float64, len(d.Items))
	for i, it := range d.Items {
		req := scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: it.Prompt}}}
		x, err := v.Verify(ctx, req, []scoring.Answer{{Text: it.CheapAnswer}})
		if err != nil {
			return nil, fmt.Errorf("bench: item %d: %w", i, err)
		}
		out[i] = x
	}
	return out, nil
}
