package scoring

import (
	"context"
	"errors"
	"fmt"
)

// VerifierExample is one labelled answer for TrainVerifier: the request,
// the cheap model's answer to it, and whether that answer was correct.
type VerifierExample struct {
	Request Request
	Answer  Answer
	Correct bool
	// Weight scales the example in the fit; 0 means 1.
	Weight float64
}

// VerifierTrainOptions tunes TrainVerifier. Zero fields take the defaults.
type VerifierTrainOptions struct {
	// L2 is the ridge penalty on the standardized weights (default 10).
	L2 float64
	// Trees is the number of boosted regression trees fitted on top of the
	// logistic regression (default none: on RouteLLM's GSM8K answers they
	// added nothing in cross-validation, and without them the doubt is
	// monotone in each feature).
	Trees int
	// TreeDepth is the depth of each tree (default 2).
	TreeDepth int
	// TreeRate is the boosting shrinkage (default 0.1).
	TreeRate float64
	// HardFloor is the doubt floor of the hard checks the data cannot
	// measure: cut-off answers, refusals, JSON that does not parse, bad
	// tool calls (default 0.9).
	HardFloor float64
	// FloorPrior is the pseudo-count pulling the false-equation floor (the
	// rate of wrong answers among the training answers with a false
	// equation) toward the overall rate of wrong answers (default 10).
	FloorPrior float64
}

func (o *VerifierTrainOptions) defaults() error {
	setDefault(&o.L2, 10)
	setDefault(&o.TreeDepth, 2)
	setDefault(&o.TreeRate, 0.1)
	setDefault(&o.HardFloor, 0.9)
	setDefault(&o.FloorPrior, 10)
	switch {
	case o.L2 < 0 || !finite(o.L2):
		return errors.New("scoring: L2 must be ≥ 0")
	case o.TreeDepth < 1 || o.TreeDepth > 8:
		return errors.New("scoring: TreeDepth must be in 1..8")
	case !(o.TreeRate > 0) || o.TreeRate > 1:
		return errors.New("scoring: TreeRate must be in (0,1]")
	case !(o.HardFloor >= 0) || o.HardFloor > 1:
		return errors.New("scoring: HardFloor must be in [0,1]")
	case o.FloorPrior < 0 || !finite(o.FloorPrior):
		return errors.New("scoring: FloorPrior must be ≥ 0")
	}
	return nil
}

// TrainVerifier fits a VerifierModel on labelled answers: the doubt is
// fitted to "the answer is wrong". It is deterministic: the same examples
// in the same order with the same options give the same model (and the same
// MarshalJSON bytes). ctx is checked between stages.
func TrainVerifier(ctx context.Context, examples []VerifierExample, opts VerifierTrainOptions) (*VerifierModel, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	n := len(examples)
	if n < 10 {
		return nil, fmt.Errorf("scoring: %d examples, need at least 10", n)
	}
	rows, wrong, weight, err := verifierRows(examples)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bias, w, err := fitLogistic(rows, wrong, weight, opts.L2)
	if err != nil {
		return nil, err
	}
	m := &VerifierModel{bias: round6(bias), info: verifierInfo{
		Examples: n, L2: opts.L2, Trees: max(opts.Trees, 0), TreeDepth: opts.TreeDepth, TreeRate: opts.TreeRate,
	}}
	for j := range w {
		m.w[j] = round6(w[j])
		if w[j] == 0 { // constant in the data: the prior applies
			m.w[j] = verifierPriors[j]
		}
	}
	if opts.Trees > 0 {
		base := make([]float64, n)
		for i, r := range rows {
			base[i] = m.raw(r)
		}
		m.trees = fitTrees(rows, wrong, weight, base, opts.boosting())
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	m.floors = falseEquationFloor(rows, wrong, weight, opts)
	for _, y := range wrong {
		m.info.Wrong += int(y)
	}
	return m, nil
}

// verifierPriors are the weights (logit per feature unit) of the features
// that training data may not exercise, used when a feature is constant in
// it: stated assumptions, not fitted values. An answer with no final answer
// at all, or one that repeats its lines (degenerate generation), is taken
// to be about as doubtful as one that stops mid-sentence.
var verifierPriors = [numVerifyFeatures]float64{
	vNoFinal: 2,
	vRepeat:  4, // a share: half the lines repeated weighs 2
}

// verifierRows extracts the features of each example and its label (1: the
// answer is wrong) and weight.
func verifierRows(examples []VerifierExample) (rows [][]float64, wrong, weight []float64, err error) {
	n := len(examples)
	rows = make([][]float64, n)
	wrong = make([]float64, n)
	weight = make([]float64, n)
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	for i := range examples {
		ex := &examples[i]
		if ex.Weight < 0 || !finite(ex.Weight) {
			return nil, nil, nil, fmt.Errorf("scoring: example %d: bad weight %v", i, ex.Weight)
		}
		weight[i] = ex.Weight
		if weight[i] == 0 {
			weight[i] = 1
		}
		af := judgedFacts(&ex.Request, &ex.Answer, sc)
		rows[i] = append([]float64(nil), af.f[:]...)
		wrong[i] = b2f(!ex.Correct)
	}
	return rows, wrong, weight, nil
}

// falseEquationFloor is the weighted rate of wrong answers among those with
// a false equation, smoothed toward the overall rate.
func falseEquationFloor(rows [][]float64, wrong, weight []float64, opts VerifierTrainOptions) verifierFloors {
	var sw, sy, fw, fy float64
	for i, r := range rows {
		sw += weight[i]
		sy += weight[i] * wrong[i]
		if r[vLogFalse] > 0 {
			fw += weight[i]
			fy += weight[i] * wrong[i]
		}
	}
	prior := sy / sw
	return verifierFloors{
		Hard:          opts.HardFloor,
		FalseEquation: round6((fy + opts.FloorPrior*prior) / (fw + opts.FloorPrior)),
	}
}
