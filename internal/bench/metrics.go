package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Outcome is what one labelled prompt contributes to the metrics: whether each
// model answered it correctly and what each model costs on it (USD).
type Outcome struct {
	CheapCorrect   bool
	CapableCorrect bool
	CheapCost      float64
	CapableCost    float64
}

// Curve is the quality–cost curve of a scorer: sending the k highest-scored
// prompts to the capable model, for k = 0..n. Prompts with equal scores form
// a tie group inside which the curve is the expectation of random
// tie-breaking, i.e. linear; so the curve is piecewise linear with vertices
// at the tie-group boundaries. X is the share of capable calls (k/n), Acc the
// accuracy and Cost the total cost in USD at each vertex.
type Curve struct {
	X    []float64
	Acc  []float64
	Cost []float64
}

// ErrNoData is returned for an empty sample.
var ErrNoData = errors.New("no data")

// NewCurve builds the curve of scores (higher = capable first) over outcomes.
func NewCurve(outcomes []Outcome, scores []float64) (*Curve, error) {
	n := len(outcomes)
	if n == 0 {
		return nil, ErrNoData
	}
	if len(scores) != n {
		return nil, fmt.Errorf("%d scores for %d outcomes", len(scores), n)
	}
	idx := make([]int, n)
	for i, s := range scores {
		if math.IsNaN(s) {
			return nil, fmt.Errorf("score %d is NaN", i)
		}
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var correct, cost float64
	for _, o := range outcomes {
		if o.CheapCorrect {
			correct++
		}
		cost += o.CheapCost
	}
	fn := float64(n)
	c := &Curve{X: []float64{0}, Acc: []float64{correct / fn}, Cost: []float64{cost}}
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			o := outcomes[idx[j]]
			correct += b2f(o.CapableCorrect) - b2f(o.CheapCorrect)
			cost += o.CapableCost - o.CheapCost
			j++
		}
		c.X = append(c.X, float64(j)/fn)
		c.Acc = append(c.Acc, correct/fn)
		c.Cost = append(c.Cost, cost)
		i = j
	}
	return c, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Weak is the accuracy with every prompt on the cheap model.
func (c *Curve) Weak() float64 { return c.Acc[0] }

// Strong is the accuracy with every prompt on the capable model.
func (c *Curve) Strong() float64 { return c.Acc[len(c.Acc)-1] }

// APGR is the average performance gap recovered: the area under the
// accuracy curve over x in [0,1], minus the weak accuracy, divided by the
// gap between strong and weak accuracy. Random scores give 0.5. It is NaN
// when the two models are equally accurate.
func (c *Curve) APGR() float64 {
	gap := c.Strong() - c.Weak()
	if gap == 0 {
		return math.NaN()
	}
	var area float64
	for i := 1; i < len(c.X); i++ {
		area += (c.X[i] - c.X[i-1]) * (c.Acc[i] + c.Acc[i-1]) / 2
	}
	return (area - c.Weak()) / gap
}

// CPT is the call-performance threshold: the smallest share of capable calls
// at which the accuracy reaches Weak + q·(Strong − Weak), interpolating
// linearly along the curve. It is NaN when the accuracy never reaches it.
func (c *Curve) CPT(q float64) float64 {
	return c.ShareForAccuracy(c.Weak() + q*(c.Strong()-c.Weak()))
}

// ShareForAccuracy is the smallest share of capable calls at which the
// accuracy reaches target, interpolating linearly; NaN if never reached.
func (c *Curve) ShareForAccuracy(target float64) float64 {
	const eps = 1e-12
	if c.Acc[0] >= target-eps {
		return 0
	}
	for i := 1; i < len(c.X); i++ {
		if c.Acc[i] >= target-eps {
			a0, a1 := c.Acc[i-1], c.Acc[i]
			if a1 == a0 {
				return c.X[i]
			}
			f := (target - a0) / (a1 - a0)
			f = math.Min(1, math.Max(0, f))
			return c.X[i-1] + f*(c.X[i]-c.X[i-1])
		}
	}
	return math.NaN()
}

// At interpolates the accuracy and the cost at share x of capable calls.
func (c *Curve) At(x float64) (acc, cost float64) {
	if x <= 0 {
		return c.Acc[0], c.Cost[0]
	}
	for i := 1; i < len(c.X); i++ {
		if x <= c.X[i] {
			f := (x - c.X[i-1]) / (c.X[i] - c.X[i-1])
			return c.Acc[i-1] + f*(c.Acc[i]-c.Acc[i-1]), c.Cost[i-1] + f*(c.Cost[i]-c.Cost[i-1])
		}
	}
	return c.Strong(), c.Cost[len(c.Cost)-1]
}

// Oracle returns the scores of the oracle: 1 where only the capable model is
// right, 0 elsewhere, so it sends exactly the prompts the capable model fixes.
func Oracle(outcomes []Outcome) []float64 {
	s := make([]float64, len(outcomes))
	for i, o := range outcomes {
		if o.CapableCorrect && !o.CheapCorrect {
			s[i] = 1
		}
	}
	return s
}

// Point is one operating point of a router: the accuracy, total cost (USD)
// and share of capable calls it reaches on a sample.
type Point struct {
	Share    float64
	Accuracy float64
	Cost     float64
}

// OperatingPoint routes each prompt whose score is ≥ threshold to the capable
// model and reports the result.
func OperatingPoint(outcomes []Outcome, scores []float64, threshold float64) (Point, error) {
	if len(outcomes) == 0 {
		return Point{}, ErrNoData
	}
	if len(scores) != len(outcomes) {
		return Point{}, fmt.Errorf("%d scores for %d outcomes", len(scores), len(outcomes))
	}
	var p Point
	for i, o := range outcomes {
		if scores[i] >= threshold {
			p.Share++
			p.Accuracy += b2f(o.CapableCorrect)
			p.Cost += o.CapableCost
		} else {
			p.Accuracy += b2f(o.CheapCorrect)
			p.Cost += o.CheapCost
		}
	}
	n := float64(len(outcomes))
	p.Share /= n
	p.Accuracy /= n
	return p, nil
}
