package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"

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

// VerifierSpec names a verifier a benchmark can measure: "default"
// (scoring.DefaultVerifier, one answer a prompt), "agreement"
// (scoring.Agreement over every sample the data has for each prompt, at least
// two, k being the fewest any prompt has) or "agreement-K" (the first K
// samples, K ≥ 2).
type VerifierSpec struct {
	// Name is "default" or "agreement".
	Name string
	// Samples is K of "agreement-K"; 0 for "default" and for "agreement",
	// which takes what the data has.
	Samples int
}

// String returns the spec as ParseVerifiers reads it.
func (v VerifierSpec) String() string {
	if v.Name == "agreement" && v.Samples > 0 {
		return fmt.Sprintf("agreement-%d", v.Samples)
	}
	return v.Name
}

// ParseVerifiers parses a comma-separated list of verifier specs (see
// VerifierSpec); duplicates are an error.
func ParseVerifiers(s string) ([]VerifierSpec, error) {
	var out []VerifierSpec
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var v VerifierSpec
		switch {
		case f == "default", f == "agreement":
			v.Name = f
		case strings.HasPrefix(f, "agreement-"):
			k, err := strconv.Atoi(strings.TrimPrefix(f, "agreement-"))
			if err != nil || k < 2 {
				return nil, fmt.Errorf("verifier %q: want agreement-K with K ≥ 2", f)
			}
			v = VerifierSpec{Name: "agreement", Samples: k}
		default:
			return nil, fmt.Errorf("unknown verifier %q (want default, agreement or agreement-K)", f)
		}
		if seen[v.String()] {
			return nil, fmt.Errorf("verifier %q given twice", f)
		}
		seen[v.String()] = true
		out = append(out, v)
	}
	return out, nil
}

// NotMeasurableError says why a dataset cannot measure a cascade with a
// verifier: the data lacks what the verifier reads. A benchmark prints it in
// place of figures.
type NotMeasurableError struct {
	Dataset  string
	Verifier string
	Reason   string
}

func (e *NotMeasurableError) Error() string {
	return fmt.Sprintf("%s: the cascade with the %s verifier is not measurable: %s", e.Dataset, e.Verifier, e.Reason)
}

// Measurable reports how many answers a prompt of d gives v (1 for the
// default verifier), or a *NotMeasurableError when some prompt of d lacks
// them: the default verifier needs every prompt's cheap answer text,
// agreement at least two samples a prompt (K for agreement-K).
func (v VerifierSpec) Measurable(d Dataset) (int, error) {
	fail := func(format string, a ...any) (int, error) {
		return 0, &NotMeasurableError{Dataset: d.Name, Verifier: v.String(), Reason: fmt.Sprintf(format, a...)}
	}
	if len(d.Items) == 0 {
		return fail("no prompt")
	}
	if v.Name == "default" {
		missing := 0
		for _, it := range d.Items {
			if it.CheapAnswer == "" {
				missing++
			}
		}
		switch {
		case missing == len(d.Items):
			return fail("the data has no cheap answer text (cheap_answer)")
		case missing > 0:
			return fail("%d of %d prompts have no cheap answer text (cheap_answer)", missing, len(d.Items))
		}
		return 1, nil
	}
	fewest := len(d.Items[0].CheapAnswers)
	short := 0
	need := max(v.Samples, 2)
	for _, it := range d.Items {
		fewest = min(fewest, len(it.CheapAnswers))
		if len(it.CheapAnswers) < need {
			short++
		}
	}
	switch {
	case fewest == 0 && short == len(d.Items):
		return fail("the data has no sampled cheap answers (cheap_answers); agreement needs at least %d a prompt", need)
	case short > 0:
		return fail("%d of %d prompts have fewer than %d cheap_answers", short, len(d.Items), need)
	}
	if v.Samples > 0 {
		return v.Samples, nil
	}
	return fewest, nil
}

// Verifier returns the verifier of the spec judging k answers a prompt (k
// from Measurable).
func (v VerifierSpec) Verifier(k int) scoring.Verifier {
	if v.Name == "default" {
		return scoring.DefaultVerifier()
	}
	return scoring.Agreement(k)
}

// Cascade is a cascade measured on a dataset: each prompt's doubt, and its
// outcome priced and labelled as the cascade runs it.
type Cascade struct {
	// Verifier is the verifier's spec with its sample count ("default",
	// "agreement-3").
	Verifier string
	// Doubts are the verifier's doubts, one a prompt: higher escalates first.
	Doubts []float64
	// Outcomes: CheapCorrect labels the answer the cascade returns when it
	// accepts (for agreement, the answer scoring.Majority keeps), CheapCost
	// is every cheap call, CapableCost the cheap calls plus the escalation.
	Outcomes []Outcome
	// Note, when not empty, says what the figures assume.
	Note string
}

// RunCascade measures the cascade of spec on d (with v in place of the
// spec's verifier when v is not nil: a retrained one), whose routing outcomes
// (Outcomes: the prompt's input tokens, the capable answer's output tokens)
// are plain. Each cheap answer judged is a call paid at the cheap model's list
// prices: the prompt's input tokens, and the answer's output tokens as d
// records them for the labelled answer, else counted from the answer's text
// with count. k samples pay the prompt k times (k requests; a provider that
// returns several choices for one request bills it once: an upper bound).
func RunCascade(ctx context.Context, spec VerifierSpec, v scoring.Verifier, d Dataset, plain []Outcome, inTokens []int, p Prices, count TokenCounter) (*Cascade, error) {
	if len(plain) != len(d.Items) || len(inTokens) != len(d.Items) {
		return nil, fmt.Errorf("bench: %d outcomes and %d token counts for %d items", len(plain), len(inTokens), len(d.Items))
	}
	k, err := spec.Measurable(d)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = spec.Verifier(k)
	}
	c := &Cascade{Verifier: spec.String(), Doubts: make([]float64, len(d.Items)), Outcomes: make([]Outcome, len(d.Items))}
	if spec.Name == "agreement" {
		c.Verifier = fmt.Sprintf("agreement-%d", k)
	}
	unlabelled := 0
	for i, it := range d.Items {
		req := scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: it.Prompt}}}
		o := plain[i]
		var answers []scoring.Answer
		var out int
		if k == 1 && spec.Name == "default" {
			answers = []scoring.Answer{{Text: it.CheapAnswer}}
			out = it.CheapOutputTokens
			if !d.OutputTokensKnown {
				out = count(it.CheapAnswer)
			}
		} else {
			answers = make([]scoring.Answer, k)
			for j, a := range it.CheapAnswers[:k] {
				answers[j] = scoring.Answer{Text: a}
				out += count(a)
			}
			pick, _ := scoring.Majority(req, answers)
			switch {
			case it.CheapAnswersCorrect != nil:
				o.CheapCorrect = it.CheapAnswersCorrect[pick]
			case it.CheapAnswers[pick] != it.CheapAnswer:
				unlabelled++
			}
		}
		x, err := v.Verify(ctx, req, answers)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: item %d: %w", c.Verifier, i, err)
		}
		c.Doubts[i] = x
		capable := o.CapableCost
		o.CheapCost = (float64(len(answers)*inTokens[i])*p.CheapIn + float64(out)*p.CheapOut) / 1e6
		o.CapableCost = o.CheapCost + capable
		c.Outcomes[i] = o
	}
	if unlabelled > 0 {
		c.Note = fmt.Sprintf("%s: on %d of %d prompts the majority answer is not the labelled cheap_answer and has no label (cheap_answers_correct); it is counted as cheap_correct says", c.Verifier, unlabelled, len(d.Items))
	}
	return c, nil
}

// Hybrid turns a cascade into a hybrid: the prompts whose prompt-only score
// is at or above bar go straight to the capable model (no cheap call), the
// rest cascade. It returns the hybrid's scores and outcomes for NewCurve,
// Evaluate or OperatingPoint: a bypassed prompt scores 1 + its prompt score,
// above every doubt, so the curve first bypasses prompts by descending score
// (a hybrid with a falling bar and no escalation: its cheap side is the
// cascade accepting, its capable side the capable call alone), then escalates
// the rest by descending doubt; and the operating point at an escalation
// threshold t ≤ 1 bypasses exactly the prompts scoring ≥ bar and escalates
// the others whose doubt is ≥ t. plain are the routing outcomes, c the
// cascade's.
func Hybrid(plain []Outcome, c *Cascade, promptScores []float64, bar float64) (scores []float64, outcomes []Outcome, err error) {
	n := len(plain)
	if len(c.Outcomes) != n || len(c.Doubts) != n || len(promptScores) != n {
		return nil, nil, fmt.Errorf("bench: hybrid of %d outcomes, %d cascade outcomes, %d doubts, %d scores", n, len(c.Outcomes), len(c.Doubts), len(promptScores))
	}
	scores, outcomes = make([]float64, n), make([]Outcome, n)
	for i := range plain {
		if promptScores[i] >= bar {
			scores[i] = 1 + promptScores[i]
			outcomes[i] = c.Outcomes[i]
			outcomes[i].CapableCost = plain[i].CapableCost
			continue
		}
		scores[i], outcomes[i] = c.Doubts[i], c.Outcomes[i]
	}
	return scores, outcomes, nil
}

// HybridBar is a hybrid at one bypass bar: its curve's metrics, and its
// operating point at an escalation threshold.
type HybridBar struct {
	Verifier string `json:"verifier"`
	// Bar is the bypass bar; 0 means no bypass (the plain cascade).
	Bar float64 `json:"bar"`
	// Bypassed is the share of prompts sent straight to the capable model.
	Bypassed float64 `json:"bypassed"`
	APGR     float64 `json:"apgr"`
	CPT50    float64 `json:"cpt50"`
	// Cost50 is the cost at CPT(50%) against always-capable.
	Cost50 float64 `json:"cost_at_cpt50_vs_capable"`
	// Threshold is the escalation threshold of the operating point.
	Threshold float64 `json:"threshold"`
	// Share, Accuracy and CostVsCapable are the operating point's share of
	// prompts answered by the capable model, accuracy, and cost against
	// always-capable.
	Share         float64 `json:"capable_share"`
	Accuracy      float64 `json:"accuracy"`
	CostVsCapable float64 `json:"cost_vs_capable"`
	// Sequential is the operating point's share of prompts answered by two
	// model calls in sequence (a cheap answer, then the escalation).
	Sequential float64 `json:"sequential"`
	// CascadeAccuracy is the plain cascade's accuracy at the operating
	// point's cost (escalating by doubt alone): the hybrid helps where its
	// Accuracy is above it.
	CascadeAccuracy float64 `json:"cascade_accuracy_at_cost"`
}

// AccuracyAtCost is the highest accuracy curve c reaches at a total cost of
// at most cost, interpolating linearly along it (its costs rise along it);
// below the cheapest point, the accuracy at share 0.
func AccuracyAtCost(c *Curve, cost float64) float64 {
	best := c.Acc[0]
	for i := 1; i < len(c.X); i++ {
		switch {
		case c.Cost[i] <= cost:
			best = max(best, c.Acc[i])
		case c.Cost[i-1] < cost:
			f := (cost - c.Cost[i-1]) / (c.Cost[i] - c.Cost[i-1])
			best = max(best, c.Acc[i-1]+f*(c.Acc[i]-c.Acc[i-1]))
		}
	}
	return best
}

// HybridSweep measures the hybrid of cascade c at each bar of bars (0: no
// bypass), with its operating point at escalation threshold t.
func HybridSweep(plain []Outcome, c *Cascade, promptScores []float64, bars []float64, t float64) ([]HybridBar, error) {
	var capable float64
	for _, o := range plain {
		capable += o.CapableCost
	}
	plainCurve, err := NewCurve(c.Outcomes, c.Doubts)
	if err != nil {
		return nil, err
	}
	out := make([]HybridBar, 0, len(bars))
	for _, bar := range bars {
		scores, outcomes := c.Doubts, c.Outcomes
		bypassed := 0
		if bar > 0 {
			var err error
			if scores, outcomes, err = Hybrid(plain, c, promptScores, bar); err != nil {
				return nil, err
			}
			for _, s := range promptScores {
				if s >= bar {
					bypassed++
				}
			}
		}
		curve, err := NewCurve(outcomes, scores)
		if err != nil {
			return nil, err
		}
		p, err := OperatingPoint(outcomes, scores, t)
		if err != nil {
			return nil, err
		}
		cpt := curve.CPT(0.5)
		bp := float64(bypassed) / float64(len(plain))
		out = append(out, HybridBar{
			Verifier: c.Verifier, Bar: bar, Bypassed: bp,
			APGR: curve.APGR(), CPT50: cpt, Cost50: CostAt(curve, cpt) / capable,
			Threshold: t, Share: p.Share, Accuracy: p.Accuracy, CostVsCapable: p.Cost / capable,
			Sequential: p.Share - bp, CascadeAccuracy: AccuracyAtCost(plainCurve, p.Cost),
		})
	}
	return out, nil
}
