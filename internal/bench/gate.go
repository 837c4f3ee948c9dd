package bench

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value policies: how ParseValuePolicy's specs value a benchmark task.
const (
	// ValueFlat: every task is worth USD.
	ValueFlat = "flat"
	// ValuePerToken: a task is worth USD per 1,000 input (prompt) tokens.
	ValuePerToken = "per-token"
	// ValueCapableGap: a task is worth USD × the share of the train split's
	// tasks of its group (the MMLU subject, else the dataset) that the
	// cheap model got wrong and the capable model right.
	ValueCapableGap = "capable-gap"
)

// ValuePolicy values each benchmark task in USD, standing in for the value
// function (baar.WithValueFunc) of an application.
type ValuePolicy struct {
	Kind string  `json:"kind"`
	USD  float64 `json:"usd"`
}

// String returns the spec, KIND:USD.
func (p ValuePolicy) String() string {
	return p.Kind + ":" + strconv.FormatFloat(p.USD, 'g', -1, 64)
}

// ParseValuePolicy parses a value-policy spec: flat:USD, per-token:USD or
// capable-gap:USD, with USD a finite amount > 0.
func ParseValuePolicy(spec string) (ValuePolicy, error) {
	kind, amount, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok {
		return ValuePolicy{}, fmt.Errorf("value policy %q: want KIND:USD (flat:USD, per-token:USD or capable-gap:USD)", spec)
	}
	switch kind {
	case ValueFlat, ValuePerToken, ValueCapableGap:
	default:
		return ValuePolicy{}, fmt.Errorf("value policy %q: unknown kind %q (flat, per-token or capable-gap)", spec, kind)
	}
	usd, err := strconv.ParseFloat(strings.TrimSpace(amount), 64)
	if err != nil || math.IsNaN(usd) || math.IsInf(usd, 0) || usd <= 0 {
		return ValuePolicy{}, fmt.Errorf("value policy %q: the amount must be a finite number of USD > 0", spec)
	}
	return ValuePolicy{Kind: kind, USD: usd}, nil
}

// Values returns the value in USD of each item of tasks, whose input tokens
// are inTokens. capable-gap reads the labels of train (the train split of
// the same dataset) only, never those of tasks: a task that is itself in
// train is valued without the train items of the same prompt
// (leave-one-out), so no task's own labels enter its value.
func (p ValuePolicy) Values(tasks Dataset, inTokens []int, train Dataset) ([]float64, error) {
	if len(inTokens) != len(tasks.Items) {
		return nil, fmt.Errorf("%d token counts for %d items", len(inTokens), len(tasks.Items))
	}
	out := make([]float64, len(tasks.Items))
	switch p.Kind {
	case ValueFlat:
		for i := range out {
			out[i] = p.USD
		}
	case ValuePerToken:
		for i, n := range inTokens {
			out[i] = p.USD * float64(n) / 1000
		}
	case ValueCapableGap:
		type count struct{ n, gap float64 }
		add := func(c *count, it Item, sign float64) {
			c.n += sign
			c.gap += sign * b2f(!it.CheapCorrect && it.CapableCorrect)
		}
		all := count{}
		groups := map[string]*count{}
		prompts := map[string]*count{} // key: group + "\x00" + prompt
		for _, it := range train.Items {
			g := group(train.Name, it, true)
			if groups[g] == nil {
				groups[g] = &count{}
			}
			k := g + "\x00" + it.Prompt
			if prompts[k] == nil {
				prompts[k] = &count{}
			}
			add(&all, it, 1)
			add(groups[g], it, 1)
			add(prompts[k], it, 1)
		}
		for i, it := range tasks.Items {
			g := group(tasks.Name, it, true)
			gc, dc := count{}, all
			if c := groups[g]; c != nil {
				gc = *c
			}
			if same := prompts[g+"\x00"+it.Prompt]; same != nil {
				gc.n, gc.gap = gc.n-same.n, gc.gap-same.gap
				dc.n, dc.gap = dc.n-same.n, dc.gap-same.gap
			}
			switch {
			case gc.n > 0:
				out[i] = p.USD * gc.gap / gc.n
			case dc.n > 0:
				out[i] = p.USD * dc.gap / dc.n
			}
		}
	default:
		return nil, fmt.Errorf("unknown value policy %q", p.Kind)
	}
	return out, nil
}

// OutputAssumption is the number of output tokens assumed, before a call, for
// each model: the mean of the counted output tokens of train when it has
// them (the train split: no test labels), else assumeOut.
func OutputAssumption(train Dataset, assumeOut int) (cheap, capable float64) {
	if !train.OutputTokensKnown || len(train.Items) == 0 {
		return float64(assumeOut), float64(assumeOut)
	}
	for _, it := range train.Items {
		cheap += float64(it.CheapOutputTokens)
		capable += float64(it.CapableOutputTokens)
	}
	n := float64(len(train.Items))
	return cheap / n, capable / n
}

// Estimates are a task's estimated costs in USD before the call: input
// tokens × input price + assumed output tokens × output price.
func Estimates(inTokens []int, p Prices, outCheap, outCapable float64) (cheap, capable []float64) {
	cheap, capable = make([]float64, len(inTokens)), make([]float64, len(inTokens))
	for i, n := range inTokens {
		in := float64(n)
		cheap[i] = (in*p.CheapIn + outCheap*p.CheapOut) / 1e6
		capable[i] = (in*p.CapableIn + outCapable*p.CapableOut) / 1e6
	}
	return cheap, capable
}

// GateConfig is the value gate's configuration, as baar.ValueGate, but
// without defaults: every field is used as given.
type GateConfig struct {
	Alpha         float64 `json:"alpha"`
	MinGated      int     `json:"min_gated"`
	MaxRejectRate float64 `json:"max_reject_rate"`
}

// GateDecision is the value gate's decision on one call.
type GateDecision int

// Gate decisions.
const (
	// GateCheap: the call stays on the cheap model it was routed to.
	GateCheap GateDecision = iota
	// GateCapable: the call stays on the capable model.
	GateCapable
	// GateRejected: the call is refused (baar.ErrTaskRejected).
	GateRejected
	// GateClamped: the call would be rejected, but the reject-rate clamp
	// sends it to the cheap model.
	GateClamped
	// GateDownshifted: routed to the capable model, worth less than its
	// cost there: sent to the cheap model.
	GateDownshifted
)

// String names d.
func (d GateDecision) String() string {
	switch d {
	case GateCheap:
		return "cheap"
	case GateCapable:
		return "capable"
	case GateRejected:
		return "rejected"
	case GateClamped:
		return "clamped"
	case GateDownshifted:
		return "downshifted"
	}
	return fmt.Sprintf("GateDecision(%d)", int(d))
}

// Gate replays baar's value gate (baar.WithValueGate) on a sequence of
// calls, in call order: its counters are those of one Router. It is not
// safe for concurrent use.
type Gate struct {
	cfg             GateConfig
	gated, rejected int
}

// NewGate returns a Gate with cfg: alpha finite and > 0, MinGated ≥ 1 and
// MaxRejectRate in (0, 1] (baar.ValueGate reads 0 as "the default").
func NewGate(cfg GateConfig) (*Gate, error) {
	if math.IsNaN(cfg.Alpha) || math.IsInf(cfg.Alpha, 0) || cfg.Alpha <= 0 {
		return nil, fmt.Errorf("gate alpha %v: want a finite number > 0", cfg.Alpha)
	}
	if cfg.MinGated < 1 {
		return nil, fmt.Errorf("gate MinGated %d: want ≥ 1", cfg.MinGated)
	}
	if math.IsNaN(cfg.MaxRejectRate) || cfg.MaxRejectRate <= 0 || cfg.MaxRejectRate > 1 {
		return nil, fmt.Errorf("gate MaxRejectRate %v: want a number in (0, 1]", cfg.MaxRejectRate)
	}
	return &Gate{cfg: cfg}, nil
}

// Decide gates one call routed to the capable model (capable) or the cheap
// one, worth value, whose estimated cost on that tier is cost, by baar's
// rule: value < cost × alpha → rejected, unless more than MinGated calls
// have been gated and the rejection would push rejected/gated above
// MaxRejectRate (then the cheap model); else, on the capable tier, value <
// cost → the cheap model.
func (g *Gate) Decide(capable bool, value, cost float64) GateDecision {
	g.gated++
	if value < cost*g.cfg.Alpha {
		if g.gated > g.cfg.MinGated && float64(g.rejected+1)/float64(g.gated) > g.cfg.MaxRejectRate {
			return GateClamped
		}
		g.rejected++
		return GateRejected
	}
	if capable {
		if value < cost {
			return GateDownshifted
		}
		return GateCapable
	}
	return GateCheap
}

// Counts returns the calls gated and rejected so far.
func (g *Gate) Counts() (gated, rejected int) { return g.gated, g.rejected }

// GateTasks are what the gate sees of each task: its value and its
// estimated cost on each tier (USD).
type GateTasks struct {
	Values     []float64
	CheapEst   []float64
	CapableEst []float64
}

func (t GateTasks) check(n int) error {
	if len(t.Values) != n || len(t.CheapEst) != n || len(t.CapableEst) != n {
		return fmt.Errorf("gate: %d values, %d and %d estimates for %d tasks", len(t.Values), len(t.CheapEst), len(t.CapableEst), n)
	}
	for i, v := range t.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("gate: value %d is %v", i, v)
		}
	}
	return nil
}

// Ratios returns value / estimated cost on the routed tier of each task
// (routes[i]: capable), the ratios baar.CalibrateAlpha calibrates alpha
// from. A task of cost 0 gives +Inf, which calibration ignores.
func (t GateTasks) Ratios(routes []bool) ([]float64, error) {
	if err := t.check(len(routes)); err != nil {
		return nil, err
	}
	out := make([]float64, len(routes))
	for i, capable := range routes {
		cost := t.CheapEst[i]
		if capable {
			cost = t.CapableEst[i]
		}
		out[i] = t.Values[i] / cost
		if cost == 0 {
			out[i] = math.Inf(1)
		}
	}
	return out, nil
}

// Routes returns the tiers of a threshold router: scores[i] ≥ threshold →
// capable, as OperatingPoint and baar's threshold policy route.
func Routes(scores []float64, threshold float64) []bool {
	out := make([]bool, len(scores))
	for i, s := range scores {
		out[i] = s >= threshold
	}
	return out
}

// GateRow is one gated strategy on one dataset. A rejected task counts as
// not answered (incorrect) and costs nothing.
type GateRow struct {
	Strategy string  `json:"strategy"`
	Alpha    float64 `json:"alpha"`
	N        int     `json:"n"`
	// Rejected, Clamped and Downshifted count the gate's decisions;
	// RejectRate is Rejected / N (every task is gated).
	Rejected    int     `json:"rejected"`
	Clamped     int     `json:"clamped"`
	Downshifted int     `json:"downshifted"`
	RejectRate  float64 `json:"reject_rate"`
	// Share is the share of all tasks answered by the capable model.
	Share float64 `json:"capable_share"`
	// Accuracy is over all tasks; AnsweredAccuracy over the answered ones
	// (0 when none was).
	Accuracy         float64 `json:"accuracy"`
	AnsweredAccuracy float64 `json:"answered_accuracy"`
	Cost             float64 `json:"cost_usd"`
	CostVsCapable    float64 `json:"cost_vs_capable"`
	// UngatedAccuracy and UngatedCost are the same routes without the gate.
	UngatedAccuracy float64 `json:"ungated_accuracy"`
	UngatedCost     float64 `json:"ungated_cost_usd"`
}

// SimulateGate replays a Gate with cfg over the tasks in order: routes[i] is
// the strategy's tier for task i (true: capable); tasks give the gate's
// values and estimates; outcomes the correctness and the cost charged.
func SimulateGate(name string, cfg GateConfig, outcomes []Outcome, routes []bool, tasks GateTasks) (GateRow, error) {
	n := len(outcomes)
	if n == 0 {
		return GateRow{}, ErrNoData
	}
	if len(routes) != n {
		return GateRow{}, fmt.Errorf("gate: %d routes for %d tasks", len(routes), n)
	}
	if err := tasks.check(n); err != nil {
		return GateRow{}, err
	}
	g, err := NewGate(cfg)
	if err != nil {
		return GateRow{}, err
	}
	r := GateRow{Strategy: name, Alpha: cfg.Alpha, N: n}
	var correct, capableCost float64
	answered := 0
	for i, o := range outcomes {
		capableCost += o.CapableCost
		cost := tasks.CheapEst[i]
		if routes[i] {
			cost = tasks.CapableEst[i]
			r.UngatedAccuracy += b2f(o.CapableCorrect)
			r.UngatedCost += o.CapableCost
		} else {
			r.UngatedAccuracy += b2f(o.CheapCorrect)
			r.UngatedCost += o.CheapCost
		}
		onCapable := false
		switch d := g.Decide(routes[i], tasks.Values[i], cost); d {
		case GateRejected:
			r.Rejected++
			continue
		case GateCapable:
			onCapable = true
		case GateClamped:
			r.Clamped++
		case GateDownshifted:
			r.Downshifted++
		case GateCheap:
		default:
			return GateRow{}, errors.New("gate: unknown decision " + d.String())
		}
		answered++
		if onCapable {
			r.Share++
			correct += b2f(o.CapableCorrect)
			r.Cost += o.CapableCost
		} else {
			correct += b2f(o.CheapCorrect)
			r.Cost += o.CheapCost
		}
	}
	fn := float64(n)
	r.RejectRate = float64(r.Rejected) / fn
	r.Share /= fn
	r.Accuracy = correct / fn
	if answered > 0 {
		r.AnsweredAccuracy = correct / float64(answered)
	}
	r.UngatedAccuracy /= fn
	if capableCost > 0 {
		r.CostVsCapable = r.Cost / capableCost
	}
	return r, nil
}

// GateReport is the value gate's section of a Table.
type GateReport struct {
	Policy ValuePolicy `json:"policy"`
	// Calibrated: each row's alpha was calibrated (baar.CalibrateAlpha) on
	// the train split's ratios for TargetRejectRate with AlphaSource; else
	// every row uses the given alpha.
	Calibrated       bool    `json:"calibrated"`
	TargetRejectRate float64 `json:"target_reject_rate,omitempty"`
	AlphaSource      string  `json:"alpha_source,omitempty"`
	MinGated         int     `json:"min_gated"`
	MaxRejectRate    float64 `json:"max_reject_rate"`
	// CheapOutputTokens and CapableOutputTokens are the output tokens the
	// estimates assume.
	CheapOutputTokens   float64   `json:"cheap_output_tokens_assumed"`
	CapableOutputTokens float64   `json:"capable_output_tokens_assumed"`
	Rows                []GateRow `json:"rows"`
}
