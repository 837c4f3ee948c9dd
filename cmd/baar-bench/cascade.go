package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/cli"
)

// The --strategy values.
const (
	strategyRoute   = "route"
	strategyCascade = "cascade"
	strategyHybrid  = "hybrid"
	strategyAll     = "all"
)

// hybridBars are the bypass bars every hybrid sweep measures, besides
// --hybrid-bar; 0 is the plain cascade.
var hybridBars = []float64{0, 0.80, 0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.98}

// cascadeFlags are the flags of the cascade and the hybrid.
type cascadeFlags struct {
	strategy  string
	verifier  string
	verifiers []bench.VerifierSpec
	bar       float64 // --hybrid-bar
	threshold float64 // --escalation-threshold
}

func (f *cascadeFlags) register(fs interface {
	StringVar(*string, string, string, string)
	Float64Var(*float64, string, float64, string)
}) {
	fs.StringVar(&f.strategy, "strategy", strategyRoute, "route (prompt-only routing), cascade (the cheap model answers, the verifier's doubt escalates), hybrid (prompts scoring ≥ --hybrid-bar go straight to the capable model, the rest cascade) or all")
	fs.StringVar(&f.verifier, "verifier", "default", "the cascade's verifiers, comma-separated: default (scoring.DefaultVerifier), agreement (scoring.Agreement over the data's cheap_answers), agreement-K")
	fs.Float64Var(&f.bar, "hybrid-bar", 0.95, "the hybrid's bypass bar: a prompt whose scoring.Default() score is ≥ it skips the cheap answer, in (0, 1]")
	fs.Float64Var(&f.threshold, "escalation-threshold", baar.DefaultEscalationThreshold, "the doubt at or above which the cascade's and the hybrid's operating point escalates, in [0, 1]")
}

func (f *cascadeFlags) validate() error {
	if err := cli.OneOf("strategy", f.strategy, strategyRoute, strategyCascade, strategyHybrid, strategyAll); err != nil {
		return err
	}
	var err error
	if f.verifiers, err = bench.ParseVerifiers(f.verifier); err != nil {
		return cli.Usagef("--verifier %s: %w", f.verifier, err)
	}
	if !(f.bar > 0 && f.bar <= 1) {
		return cli.Usagef("--hybrid-bar %v: want a number in (0, 1]", f.bar)
	}
	return cli.Between("escalation-threshold", f.threshold, 0, 1)
}

// routes, cascades and hybrids report which strategies the run measures.
func (f *cascadeFlags) routes() bool { return f.strategy == strategyRoute || f.strategy == strategyAll }
func (f *cascadeFlags) cascades() bool {
	return f.strategy == strategyCascade || f.strategy == strategyAll
}
func (f *cascadeFlags) hybrids() bool {
	return f.strategy == strategyHybrid || f.strategy == strategyAll
}

// cascadeSection is what the cascade and the hybrid add to a dataset's
// table.
type cascadeSection struct {
	strategies    []bench.Strategy
	notMeasurable []bench.NotMeasurable
	notes         []string
	bars          []bench.HybridBar
	lines         []scoreLine
}

// evalData is a dataset's evaluated split with what the strategies share.
type evalData struct {
	set        bench.Dataset // the evaluated split
	outcomes   []bench.Outcome
	tokens     []int     // input tokens of each prompt
	promptDflt []float64 // scoring.Default()'s scores
}

// cascadeStrategies measures the cascade and the hybrid of each verifier on
// e: the rows of the table, the datasets' verdicts of not measurable, and
// the hybrid's sweep of bars.
func cascadeStrategies(ctx context.Context, f *cascadeFlags, e evalData, prices bench.Prices, count bench.TokenCounter, withLines bool) (*cascadeSection, error) {
	s := &cascadeSection{}
	bars := hybridBars
	if !slices.Contains(bars, f.bar) {
		bars = append(slices.Clone(bars), f.bar)
		slices.Sort(bars)
	}
	for _, spec := range f.verifiers {
		c, err := bench.RunCascade(ctx, spec, nil, e.set, e.outcomes, e.tokens, prices, count)
		var nm *bench.NotMeasurableError
		if errors.As(err, &nm) {
			if f.cascades() {
				s.notMeasurable = append(s.notMeasurable, bench.NotMeasurable{Strategy: "cascade, " + spec.String(), Reason: nm.Reason})
			}
			if f.hybrids() {
				s.notMeasurable = append(s.notMeasurable, bench.NotMeasurable{Strategy: "hybrid, " + spec.String(), Reason: nm.Reason})
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Note != "" {
			s.notes = append(s.notes, c.Note)
		}
		if f.cascades() {
			s.strategies = append(s.strategies, bench.Strategy{
				Name:   fmt.Sprintf("cascade, %s (%.2f)", c.Verifier, f.threshold),
				Scores: c.Doubts, Threshold: f.threshold, Outcomes: c.Outcomes,
			})
		}
		if withLines {
			for i, it := range e.set.Items {
				s.lines = append(s.lines, scoreLine{Dataset: e.set.Name, Strategy: "cascade/" + c.Verifier, Prompt: it.Prompt, Score: c.Doubts[i]})
			}
		}
		if !f.hybrids() {
			continue
		}
		scores, outcomes, err := bench.Hybrid(e.outcomes, c, e.promptDflt, f.bar)
		if err != nil {
			return nil, err
		}
		s.strategies = append(s.strategies, bench.Strategy{
			Name:   fmt.Sprintf("hybrid, %s, bar %.2f (%.2f)", c.Verifier, f.bar, f.threshold),
			Scores: scores, Threshold: f.threshold, Outcomes: outcomes,
		})
		sweep, err := bench.HybridSweep(e.outcomes, c, e.promptDflt, bars, f.threshold)
		if err != nil {
			return nil, err
		}
		s.bars = append(s.bars, sweep...)
	}
	return s, nil
}

// printCascadeNotes prints what a table could not measure, what its rows
// assume, and the hybrid's sweep.
func printCascadeNotes(w io.Writer, t *bench.Table) {
	for _, m := range t.NotMeasurable {
		fmt.Fprintf(w, "%s: not measurable on %s: %s\n", m.Strategy, t.Dataset, m.Reason)
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(t.HybridBars) == 0 {
		return
	}
	fmt.Fprintf(w, "Hybrid bypass bars (scoring.Default() ≥ bar goes straight to the capable model; bar – is the plain cascade; operating point at escalation threshold %.2f):\n", t.HybridBars[0].Threshold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "verifier\tbar\tbypassed\tAPGR\tCPT(50%)\tcost@CPT50\tcapable\ttwo calls\taccuracy\tvs capable\tcascade at that cost\t")
	for _, b := range t.HybridBars {
		bar := "–"
		if b.Bar > 0 {
			bar = fmt.Sprintf("%.2f", b.Bar)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f%%\t%s\t%.2f%%\t\n", b.Verifier, bar, pct(b.Bypassed), num(b.APGR), pct(b.CPT50),
			pct(b.Cost50), pct(b.Share), pct(b.Sequential), 100*b.Accuracy, pct(b.CostVsCapable), 100*b.CascadeAccuracy)
	}
	tw.Flush()
}
