package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/scoring"
)

// pricePair prices the two models: RouteLLM's pair by default, else from
// the embedded price table (budget.Lookup).
func pricePair(cheap, capable string) (bench.Prices, error) {
	p := bench.RouteLLMPrices
	if cheap != "" {
		pr, ok := budget.Lookup(cheap)
		if !ok {
			return p, fmt.Errorf("--cheap-model %q: no price in the embedded table", cheap)
		}
		p.CheapModel, p.CheapIn, p.CheapOut = cheap, pr.Input, pr.Output
	}
	if capable != "" {
		pr, ok := budget.Lookup(capable)
		if !ok {
			return p, fmt.Errorf("--capable-model %q: no price in the embedded table", capable)
		}
		p.CapableModel, p.CapableIn, p.CapableOut = capable, pr.Input, pr.Output
	}
	return p, nil
}

// crossResult is a model trained on one dataset's train split, evaluated on
// another dataset's test split.
type crossResult struct {
	Train string  `json:"train"`
	Test  string  `json:"test"`
	N     int     `json:"n"`
	APGR  float64 `json:"apgr"`
	CPT50 float64 `json:"cpt50"`
	CPT80 float64 `json:"cpt80"`
}

func crossEval(ctx context.Context, sets []bench.Dataset, prog *progress) ([]crossResult, error) {
	var out []crossResult
	for _, tr := range sets {
		prog.set("cross: training on "+tr.Name, 0, 1)
		ex, err := bench.TrainExamples([]bench.Dataset{tr}, "", true, true)
		if err != nil {
			return nil, err
		}
		m, err := scoring.Train(ctx, ex, scoring.TrainOptions{})
		if err != nil {
			return nil, fmt.Errorf("cross: train on %s: %w", tr.Name, err)
		}
		for _, te := range sets {
			if te.Name == tr.Name {
				continue
			}
			test := te.Select(bench.SplitTest)
			c, err := curveOf(ctx, m, test, prog, "cross: "+tr.Name+" → "+te.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, crossResult{Train: tr.Name, Test: te.Name, N: len(test.Items),
				APGR: c.APGR(), CPT50: c.CPT(0.5), CPT80: c.CPT(0.8)})
		}
	}
	return out, nil
}

// curveOf is the cost–quality curve of scorer s on d (costs do not matter
// to APGR and CPT: RouteLLM's prices, no output tokens).
func curveOf(ctx context.Context, s scoring.Scorer, d bench.Dataset, prog *progress, label string) (*bench.Curve, error) {
	outcomes, err := bench.Outcomes(d, make([]int, len(d.Items)), bench.RouteLLMPrices, 0)
	if err != nil {
		return nil, err
	}
	scores, err := scoreAll(ctx, s, d.Items, prog, label)
	if err != nil {
		return nil, err
	}
	return bench.NewCurve(outcomes, scores)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func printResults(w io.Writer, res *results) {
	p := res.Prices
	fmt.Fprintf(w, "Prices (USD per 1M tokens, input/output): cheap %s %.4g/%.4g, capable %s %.4g/%.4g. Input tokens: %s of the prompt.\n",
		p.CheapModel, p.CheapIn, p.CheapOut, p.CapableModel, p.CapableIn, p.CapableOut, res.Tokenizer)
	fmt.Fprintln(w, "Thresholds of the length and router rows are calibrated on each dataset's TRAIN split; figures are on the split shown.")
	fmt.Fprintln(w, "APGR, CPT: RouteLLM's metrics (ties in expectation). cost@CPT50: cost vs always-capable at CPT(50%). Saving@95%: cost saving vs always-capable at the cheapest point reaching 95% of capable accuracy.")
	fmt.Fprintln(w, "A cascade's cost counts every cheap call (answer tokens counted from its text) plus every escalation; its capable share is the share escalated.")
	for _, t := range res.Tables {
		fmt.Fprintf(w, "\n%s, %s split (n=%d): cheap accuracy %.2f%%, capable %.2f%%; output tokens %s\n",
			t.Dataset, t.Split, t.N, 100*t.Weak, 100*t.Strong, t.OutputTokens)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "strategy\tcapable\taccuracy\tcost $\tvs capable\tAPGR\tCPT(50%)\tcost@CPT50\tCPT(80%)\tsaving@95%\t")
		for _, r := range t.Rows {
			apgr, c50, k50, c80, s95 := "", "", "", "", ""
			if r.HasCurve {
				apgr, c50, k50, c80, s95 = num(r.APGR), pct(r.CPT50), pct(r.Cost50), pct(r.CPT80), pct(r.Saving95)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.4f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Strategy, pct(r.Share), 100*r.Accuracy,
				r.Cost, pct(r.CostVsCapable), apgr, c50, k50, c80, s95)
		}
		tw.Flush()
		printCascadeNotes(w, t)
		if t.ValueGate != nil {
			printGate(w, t)
		}
	}
	if len(res.Cross) > 0 {
		fmt.Fprintln(w, "\nCross-dataset (scoring.Train on one dataset's train split, evaluated on the other's test split):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "trained on\ttested on\tn\tAPGR\tCPT(50%)\tCPT(80%)\t")
		for _, x := range res.Cross {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t\n", x.Train, x.Test, x.N, num(x.APGR), pct(x.CPT50), pct(x.CPT80))
		}
		tw.Flush()
	}
	printCV(w, res.CV)
	fmt.Fprintf(w, "\n%.1fs\n", res.Seconds)
}

// progress draws a progress bar on stderr.
type progress struct {
	w     io.Writer
	quiet bool
	last  string
	at    time.Time
	drawn bool
}

func newProgress(w io.Writer, quiet bool) *progress { return &progress{w: w, quiet: quiet} }

func (p *progress) set(label string, done, total int) {
	if p.quiet || total <= 0 {
		return
	}
	const width = 30
	filled := done * width / total
	line := fmt.Sprintf("\r%-40.40s [%s%s] %3d%%", label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done*100/total)
	if line == p.last || done < total && time.Since(p.at) < 100*time.Millisecond {
		return
	}
	p.at = time.Now()
	p.last = line
	p.drawn = true
	fmt.Fprint(p.w, line)
}

// done clears the bar, so that what follows (results, an error) starts on a
// clean line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 80)+"\r")
		p.drawn, p.last = false, ""
	}
}
