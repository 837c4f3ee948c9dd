package bench

import (
	"fmt"
	"math"
)

// Prices are the list prices of the two models, USD per 1M tokens.
type Prices struct {
	CheapModel   string  `json:"cheap_model"`
	CheapIn      float64 `json:"cheap_input"`
	CheapOut     float64 `json:"cheap_output"`
	CapableModel string  `json:"capable_model"`
	CapableIn    float64 `json:"capable_input"`
	CapableOut   float64 `json:"capable_output"`
}

// RouteLLMPrices is the pair RouteLLM priced its results with: Mixtral-8x7B
// at $0.24 and GPT-4 (gpt-4-1106-preview, blended) at $24.7 per 1M tokens,
// input and output alike.
var RouteLLMPrices = Prices{
	CheapModel: "mixtral-8x7b", CheapIn: 0.24, CheapOut: 0.24,
	CapableModel: "gpt-4-1106-preview", CapableIn: 24.7, CapableOut: 24.7,
}

// Outcomes prices each item of d: inTokens[i] input tokens, and the item's
// output tokens, or assumeOut output tokens for both models when d carries
// none.
func Outcomes(d Dataset, inTokens []int, p Prices, assumeOut int) ([]Outcome, error) {
	if len(inTokens) != len(d.Items) {
		return nil, fmt.Errorf("%d token counts for %d items", len(inTokens), len(d.Items))
	}
	out := make([]Outcome, len(d.Items))
	for i, it := range d.Items {
		co, so := it.CheapOutputTokens, it.CapableOutputTokens
		if !d.OutputTokensKnown {
			co, so = assumeOut, assumeOut
		}
		in := float64(inTokens[i])
		out[i] = Outcome{
			CheapCorrect:   it.CheapCorrect,
			CapableCorrect: it.CapableCorrect,
			CheapCost:      (in*p.CheapIn + float64(co)*p.CheapOut) / 1e6,
			CapableCost:    (in*p.CapableIn + float64(so)*p.CapableOut) / 1e6,
		}
	}
	return out, nil
}

// Strategy is one routing strategy to evaluate: its scores on the items
// (nil for a fixed operating point) and the threshold at which it routes.
type Strategy struct {
	Name string
	// Scores, when non-nil, give the strategy's curve metrics, and with
	// Threshold its operating point.
	Scores    []float64
	Threshold float64
	// Share, when Scores is nil, is the expected share of capable calls of
	// a random router (0 = always cheap, 1 = always capable).
	Share float64
	// NoCurve hides the curve metrics (rows that share another row's curve).
	NoCurve bool
	// Outcomes, when non-nil, price and label the strategy's prompts in
	// place of the table's (a cascade's: see CascadeOutcomes, RunCascade,
	// Hybrid); the table's always-capable cost stays the reference.
	Outcomes []Outcome
}

// Row is one line of a results table.
type Row struct {
	Strategy      string  `json:"strategy"`
	Share         float64 `json:"capable_share"`
	Accuracy      float64 `json:"accuracy"`
	Cost          float64 `json:"cost_usd"`
	CostVsCapable float64 `json:"cost_vs_capable"`
	HasCurve      bool    `json:"has_curve"`
	APGR          float64 `json:"apgr,omitempty"`
	CPT50         float64 `json:"cpt50,omitempty"`
	CPT80         float64 `json:"cpt80,omitempty"`
	Saving95      float64 `json:"saving_at_95pct_quality,omitempty"`
	// Cost50 is the cost at CPT(50%) against always-capable.
	Cost50 float64 `json:"cost_at_cpt50_vs_capable,omitempty"`
	curve  *Curve
}

// Curve returns the row's curve, or nil.
func (r Row) Curve() *Curve { return r.curve }

// Table is the results of all strategies on one dataset.
type Table struct {
	Dataset      string  `json:"dataset"`
	Split        string  `json:"split"`
	N            int     `json:"n"`
	Weak         float64 `json:"cheap_accuracy"`
	Strong       float64 `json:"capable_accuracy"`
	CheapCost    float64 `json:"always_cheap_cost_usd"`
	CapableCost  float64 `json:"always_capable_cost_usd"`
	OutputTokens string  `json:"output_tokens"`
	Rows         []Row   `json:"rows"`
	Oracle       *Curve  `json:"-"`
	// ValueGate is the value gate's section (nil unless a value policy was
	// given).
	ValueGate *GateReport `json:"value_gate,omitempty"`
	// NotMeasurable lists the strategies the data cannot measure, and why.
	NotMeasurable []NotMeasurable `json:"not_measurable,omitempty"`
	// Notes say what some rows' figures assume.
	Notes []string `json:"notes,omitempty"`
	// HybridBars is the hybrid's sweep over bypass bars (nil unless asked).
	HybridBars []HybridBar `json:"hybrid_bars,omitempty"`
}

// NotMeasurable is a strategy a dataset cannot measure.
type NotMeasurable struct {
	Strategy string `json:"strategy"`
	Reason   string `json:"reason"`
}

// Evaluate computes the table of strategies on outcomes.
func Evaluate(name string, split Split, outcomes []Outcome, strategies []Strategy) (*Table, error) {
	if len(outcomes) == 0 {
		return nil, ErrNoData
	}
	oracle, err := NewCurve(outcomes, Oracle(outcomes))
	if err != nil {
		return nil, err
	}
	t := &Table{Dataset: name, Split: string(split), N: len(outcomes), Weak: oracle.Weak(),
		Strong: oracle.Strong(), Oracle: oracle}
	for _, o := range outcomes {
		t.CheapCost += o.CheapCost
		t.CapableCost += o.CapableCost
	}
	for _, s := range strategies {
		r := Row{Strategy: s.Name}
		if s.Scores == nil {
			if s.Share < 0 || s.Share > 1 {
				return nil, fmt.Errorf("strategy %q: share %v outside [0,1]", s.Name, s.Share)
			}
			r.Share = s.Share
			r.Accuracy = t.Weak + s.Share*(t.Strong-t.Weak)
			r.Cost = t.CheapCost + s.Share*(t.CapableCost-t.CheapCost)
			if s.Share > 0 && s.Share < 1 {
				r.HasCurve = true
				r.APGR, r.CPT50, r.CPT80 = 0.5, 0.5, 0.8
				r.Saving95 = randomSaving95(t)
				r.Cost50 = (t.CheapCost + 0.5*(t.CapableCost-t.CheapCost)) / t.CapableCost
			}
		} else {
			o := outcomes
			if s.Outcomes != nil {
				if len(s.Outcomes) != len(outcomes) {
					return nil, fmt.Errorf("strategy %q: %d outcomes for %d prompts", s.Name, len(s.Outcomes), len(outcomes))
				}
				o = s.Outcomes
			}
			p, err := OperatingPoint(o, s.Scores, s.Threshold)
			if err != nil {
				return nil, fmt.Errorf("strategy %q: %w", s.Name, err)
			}
			r.Share, r.Accuracy, r.Cost = p.Share, p.Accuracy, p.Cost
			c, err := NewCurve(o, s.Scores)
			if err != nil {
				return nil, fmt.Errorf("strategy %q: %w", s.Name, err)
			}
			if !s.NoCurve {
				r.curve = c
				r.HasCurve = true
				r.APGR, r.CPT50, r.CPT80 = c.APGR(), c.CPT(0.5), c.CPT(0.8)
				r.Saving95 = Saving95(c, t.CapableCost)
				r.Cost50 = CostAt(c, r.CPT50) / t.CapableCost
			}
		}
		r.CostVsCapable = r.Cost / t.CapableCost
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// Saving95 is the cost saving against always-capable at the cheapest point
// of the curve whose accuracy reaches 95% of the capable model's accuracy
// (0.95 × Strong): 1 − cost there / always-capable cost. NaN if never
// reached.
func Saving95(c *Curve, capableCost float64) float64 {
	x := c.ShareForAccuracy(0.95 * c.Strong())
	if math.IsNaN(x) {
		return math.NaN()
	}
	_, cost := c.At(x)
	return 1 - cost/capableCost
}

// CostAt is the cost of curve c at share x of capable calls; NaN when x is
// NaN (a CPT never reached).
func CostAt(c *Curve, x float64) float64 {
	if math.IsNaN(x) {
		return math.NaN()
	}
	_, cost := c.At(x)
	return cost
}

func randomSaving95(t *Table) float64 {
	target := 0.95 * t.Strong
	if t.Strong == t.Weak {
		if t.Weak >= target {
			return 1 - t.CheapCost/t.CapableCost
		}
		return math.NaN()
	}
	x := math.Max(0, (target-t.Weak)/(t.Strong-t.Weak))
	return 1 - (t.CheapCost+x*(t.CapableCost-t.CheapCost))/t.CapableCost
}
