package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"text/tabwriter"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/internal/bench"
)

// gateFlags are the value gate's flags (the Python Baar-Core's).
type gateFlags struct {
	spec          string
	policy        bench.ValuePolicy
	alpha         float64
	autoCalibrate bool
	targetReject  float64
	alphaSource   string
	maxReject     float64
	minGated      int
}

func (g *gateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.spec, "value-policy", "", "value each task and gate the router rows like baar.WithValueGate: flat:USD, per-token:USD (per 1K prompt tokens) or capable-gap:USD")
	fs.Float64Var(&g.alpha, "alpha", baar.DefaultValueAlpha, "value gate: reject a task worth less than its estimated cost × alpha")
	fs.BoolVar(&g.autoCalibrate, "auto-calibrate-alpha", false, "value gate: calibrate alpha (baar.CalibrateAlpha) on the TRAIN split for --target-reject-rate")
	fs.Float64Var(&g.targetReject, "target-reject-rate", 0.1, "value gate: the share of train tasks --auto-calibrate-alpha aims to reject")
	fs.StringVar(&g.alphaSource, "alpha-source", "percentile", "value gate: how --auto-calibrate-alpha calibrates: percentile or median")
	fs.Float64Var(&g.maxReject, "max-reject-rate", baar.DefaultMaxRejectRate, "value gate: the reject-rate clamp's maximum, in (0, 1]")
	fs.IntVar(&g.minGated, "min-gated", baar.DefaultMinGatedCalls, "value gate: gated calls before the reject-rate clamp applies (≥ 1)")
}

// validate checks the gate flags after parsing; set lists the flags given.
func (g *gateFlags) validate(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if g.spec == "" {
		for _, name := range []string{"alpha", "auto-calibrate-alpha", "target-reject-rate", "alpha-source", "max-reject-rate", "min-gated"} {
			if set[name] {
				return fmt.Errorf("--%s needs --value-policy", name)
			}
		}
		return nil
	}
	var err error
	if g.policy, err = bench.ParseValuePolicy(g.spec); err != nil {
		return fmt.Errorf("--value-policy: %w", err)
	}
	if g.autoCalibrate {
		if set["alpha"] {
			return errors.New("give --alpha or --auto-calibrate-alpha, not both")
		}
		if math.IsNaN(g.targetReject) || g.targetReject < 0 || g.targetReject > 1 {
			return fmt.Errorf("--target-reject-rate %v: want a number in [0, 1]", g.targetReject)
		}
		if g.alphaSource != "percentile" && g.alphaSource != "median" {
			return fmt.Errorf("--alpha-source %q: want percentile or median", g.alphaSource)
		}
	} else {
		for _, name := range []string{"target-reject-rate", "alpha-source"} {
			if set[name] {
				return fmt.Errorf("--%s needs --auto-calibrate-alpha", name)
			}
		}
		if math.IsNaN(g.alpha) || math.IsInf(g.alpha, 0) || g.alpha <= 0 {
			return fmt.Errorf("--alpha %v: want a finite number > 0 (baar.ValueGate reads 0 as the default 0.3)", g.alpha)
		}
	}
	if math.IsNaN(g.maxReject) || g.maxReject <= 0 || g.maxReject > 1 {
		return fmt.Errorf("--max-reject-rate %v: want a number in (0, 1] (baar.ValueGate reads 0 as the default 0.5)", g.maxReject)
	}
	if g.minGated < 1 {
		return fmt.Errorf("--min-gated %d: want ≥ 1 (baar.ValueGate reads 0 as the default 20)", g.minGated)
	}
	return nil
}

// gatedStrategy is a router row the gate applies to.
type gatedStrategy struct {
	name      string
	threshold float64
}

// gateData is one dataset as the gate needs it: the train split (values,
// scores, and so calibration) and the evaluated split.
type gateData struct {
	train       bench.Dataset
	trainScores []float64
	eval        bench.Dataset
	evalTokens  []int
	evalScores  []float64
	outcomes    []bench.Outcome
}

// report gates each strategy on the evaluated split. Values, output-token
// assumptions and (with --auto-calibrate-alpha) alpha come from the train
// split only.
func (g *gateFlags) report(d gateData, strategies []gatedStrategy, prices bench.Prices, count bench.TokenCounter, assumeOut int) (*bench.GateReport, error) {
	outCheap, outCapable := bench.OutputAssumption(d.train, assumeOut)
	evalValues, err := g.policy.Values(d.eval, d.evalTokens, d.train)
	if err != nil {
		return nil, err
	}
	evalCheap, evalCapable := bench.Estimates(d.evalTokens, prices, outCheap, outCapable)
	evalTasks := bench.GateTasks{Values: evalValues, CheapEst: evalCheap, CapableEst: evalCapable}
	var trainTasks bench.GateTasks
	if g.autoCalibrate {
		texts := make([]string, len(d.train.Items))
		for i, it := range d.train.Items {
			texts[i] = it.Prompt
		}
		trainTokens := bench.CountAll(texts, count, runtime.GOMAXPROCS(0))
		trainValues, err := g.policy.Values(d.train, trainTokens, d.train)
		if err != nil {
			return nil, err
		}
		trainCheap, trainCapable := bench.Estimates(trainTokens, prices, outCheap, outCapable)
		trainTasks = bench.GateTasks{Values: trainValues, CheapEst: trainCheap, CapableEst: trainCapable}
	}
	rep := &bench.GateReport{Policy: g.policy, Calibrated: g.autoCalibrate, MinGated: g.minGated, MaxRejectRate: g.maxReject,
		CheapOutputTokens: outCheap, CapableOutputTokens: outCapable}
	if g.autoCalibrate {
		rep.TargetRejectRate, rep.AlphaSource = g.targetReject, g.alphaSource
	}
	for _, s := range strategies {
		alpha := g.alpha
		if g.autoCalibrate {
			ratios, err := trainTasks.Ratios(bench.Routes(d.trainScores, s.threshold))
			if err != nil {
				return nil, err
			}
			if alpha, err = baar.CalibrateAlpha(ratios, g.targetReject, baar.AlphaSource(g.alphaSource)); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			if !(alpha > 0) || math.IsInf(alpha, 0) {
				return nil, fmt.Errorf("%s: calibrated alpha %v is not a usable alpha (baar.ValueGate needs one > 0)", s.name, alpha)
			}
		}
		cfg := bench.GateConfig{Alpha: alpha, MinGated: g.minGated, MaxRejectRate: g.maxReject}
		row, err := bench.SimulateGate(s.name, cfg, d.outcomes, bench.Routes(d.evalScores, s.threshold), evalTasks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

func printGate(w io.Writer, t *bench.Table) {
	g := t.ValueGate
	alpha := "alpha as given"
	if g.Calibrated {
		alpha = fmt.Sprintf("alpha calibrated per row on the TRAIN split for a %s reject rate (%s)", pct(g.TargetRejectRate), g.AlphaSource)
	}
	fmt.Fprintf(w, "\nValue gate on %s (%s; %s; clamp after %d gated calls at %s; estimates assume %.0f/%.0f output tokens cheap/capable):\n",
		t.Dataset, g.Policy, alpha, g.MinGated, pct(g.MaxRejectRate), g.CheapOutputTokens, g.CapableOutputTokens)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\talpha\trejected\tclamped\tdownshifted\tcapable\taccuracy\tΔ accuracy\tanswered acc.\tcost $\tvs capable\tΔ cost\t")
	for _, r := range g.Rows {
		answered := "–"
		if r.Rejected < r.N {
			answered = fmt.Sprintf("%.2f%%", 100*r.AnsweredAccuracy)
		}
		dcost := math.NaN()
		if r.UngatedCost > 0 {
			dcost = r.Cost/r.UngatedCost - 1
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%s\t%d\t%d\t%s\t%.2f%%\t%+.2fpp\t%s\t%.4f\t%s\t%s\t\n", r.Strategy, r.Alpha, pct(r.RejectRate),
			r.Clamped, r.Downshifted, pct(r.Share), 100*r.Accuracy, 100*(r.Accuracy-r.UngatedAccuracy), answered,
			r.Cost, pct(r.CostVsCapable), signedPct(dcost))
	}
	tw.Flush()
}

func signedPct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}
