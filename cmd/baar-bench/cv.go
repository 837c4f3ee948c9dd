package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/scoring"
)

// cvResult is the K-fold cross-validated quality of the training pipeline
// (scoring.Train with cmd/baar-train's defaults) on one dataset's train
// split: per fold, and the mean and sample standard deviation over folds.
type cvResult struct {
	Dataset string `json:"dataset"`
	// Strategy is "route" (scoring.Train) or "cascade, default"
	// (scoring.TrainVerifier).
	Strategy  string     `json:"strategy"`
	Folds     int        `json:"folds"`
	N         int        `json:"n"`
	APGR      []jsonRate `json:"apgr"` // per fold
	CPT50     []jsonRate `json:"cpt50"`
	MeanAPGR  jsonRate   `json:"mean_apgr"`
	SDAPGR    jsonRate   `json:"sd_apgr"`
	MeanCPT50 jsonRate   `json:"mean_cpt50"`
	SDCPT50   jsonRate   `json:"sd_cpt50"`
	// Cost50 is the cost at CPT(50%) against always-capable, per fold (the
	// cascade only).
	Cost50     []jsonRate `json:"cost50,omitempty"`
	MeanCost50 jsonRate   `json:"mean_cost50,omitempty"`
	SDCost50   jsonRate   `json:"sd_cost50,omitempty"`
}

// cvFold is the fold of a train prompt: CRC-32 (IEEE) of its UTF-8 text mod
// k, a hash unrelated to the FNV-1a of the fixed test split, so that every
// fold is a spread of the train split.
func cvFold(prompt string, k int) int {
	return int(crc32.ChecksumIEEE([]byte(prompt)) % uint32(k))
}

// crossValidate trains the default pipeline k times on the train split of
// all sets minus one fold, and evaluates each model on the held-out fold of
// each dataset. It never reads the test split: this is how a change to the
// scorer can be judged, with its spread, before looking at test figures.
func crossValidate(ctx context.Context, sets []bench.Dataset, k int, prog *progress) ([]cvResult, error) {
	if k < 2 {
		return nil, fmt.Errorf("--cv %d: at least 2 folds", k)
	}
	train := make([]bench.Dataset, len(sets))
	for i, d := range sets {
		train[i] = d.Select(bench.SplitTrain)
	}
	out := make([]cvResult, len(sets))
	for i, d := range train {
		out[i] = cvResult{Dataset: d.Name, Strategy: strategyRoute, Folds: k, N: len(d.Items)}
	}
	for f := range k {
		prog.set(fmt.Sprintf("cv: fold %d/%d", f+1, k), f, k)
		in, held := make([]bench.Dataset, len(train)), make([]bench.Dataset, len(train))
		for i, d := range train {
			in[i], held[i] = splitFold(d, f, k)
		}
		ex, err := bench.TrainExamples(in, "", false, true)
		if err != nil {
			return nil, err
		}
		m, err := scoring.Train(ctx, ex, scoring.TrainOptions{})
		if err != nil {
			return nil, fmt.Errorf("cv: fold %d: %w", f+1, err)
		}
		for i, h := range held {
			if len(h.Items) == 0 {
				continue
			}
			c, err := curveOf(ctx, m, h, prog, fmt.Sprintf("cv: fold %d/%d, %s", f+1, k, h.Name))
			if err != nil {
				return nil, err
			}
			out[i].APGR = append(out[i].APGR, jsonRate(c.APGR()))
			out[i].CPT50 = append(out[i].CPT50, jsonRate(c.CPT(0.5)))
		}
	}
	for i := range out {
		out[i].MeanAPGR, out[i].SDAPGR = meanSD(out[i].APGR)
		out[i].MeanCPT50, out[i].SDCPT50 = meanSD(out[i].CPT50)
	}
	return out, nil
}

// splitFold splits d into the prompts outside fold f of k and those in it.
func splitFold(d bench.Dataset, f, k int) (in, held bench.Dataset) {
	in = bench.Dataset{Name: d.Name, OutputTokensKnown: d.OutputTokensKnown}
	held = in
	for _, it := range d.Items {
		if cvFold(it.Prompt, k) == f {
			held.Items = append(held.Items, it)
		} else {
			in.Items = append(in.Items, it)
		}
	}
	return in, held
}

// crossValidateVerifier cross-validates the cascade's trained verifier: for
// each dataset whose train split carries every prompt's cheap answer, it
// fits scoring.TrainVerifier (the defaults of baar-train --verifier-out) k
// times on the train split minus one fold, and measures the cascade of each
// fit on the held-out fold, priced as the benchmark prices it. The test split
// is never read. The other verifiers (agreement) are not trained: they have
// nothing to cross-validate.
func crossValidateVerifier(ctx context.Context, c *config, sets []bench.Dataset, prices bench.Prices, count bench.TokenCounter, prog *progress) ([]cvResult, error) {
	if !slices.ContainsFunc(c.casc.verifiers, func(v bench.VerifierSpec) bool { return v.Name == "default" }) {
		return nil, nil
	}
	spec := bench.VerifierSpec{Name: "default"}
	var out []cvResult
	for _, d := range sets {
		train := d.Select(bench.SplitTrain)
		if _, err := spec.Measurable(train); err != nil {
			continue // printed as not measurable with the dataset's table
		}
		r := cvResult{Dataset: d.Name, Strategy: "cascade, default", Folds: c.cv, N: len(train.Items)}
		for f := range c.cv {
			prog.set(fmt.Sprintf("cv: %s verifier fold %d/%d", d.Name, f+1, c.cv), f, c.cv)
			in, held := splitFold(train, f, c.cv)
			if len(held.Items) == 0 {
				continue
			}
			m, err := scoring.TrainVerifier(ctx, bench.VerifierExamples(in), scoring.VerifierTrainOptions{})
			if err != nil {
				return nil, fmt.Errorf("cv: %s: fold %d: %w", d.Name, f+1, err)
			}
			texts := make([]string, len(held.Items))
			for i, it := range held.Items {
				texts[i] = it.Prompt
			}
			tokens := bench.CountAll(texts, count, 1)
			plain, err := bench.Outcomes(held, tokens, prices, c.assumeOut)
			if err != nil {
				return nil, err
			}
			casc, err := bench.RunCascade(ctx, spec, m, held, plain, tokens, prices, count)
			if err != nil {
				return nil, err
			}
			curve, err := bench.NewCurve(casc.Outcomes, casc.Doubts)
			if err != nil {
				return nil, err
			}
			var capable float64
			for _, o := range plain {
				capable += o.CapableCost
			}
			cpt := curve.CPT(0.5)
			r.APGR = append(r.APGR, jsonRate(curve.APGR()))
			r.CPT50 = append(r.CPT50, jsonRate(cpt))
			r.Cost50 = append(r.Cost50, jsonRate(bench.CostAt(curve, cpt)/capable))
		}
		r.MeanAPGR, r.SDAPGR = meanSD(r.APGR)
		r.MeanCPT50, r.SDCPT50 = meanSD(r.CPT50)
		r.MeanCost50, r.SDCost50 = meanSD(r.Cost50)
		out = append(out, r)
	}
	return out, nil
}

// meanSD is the mean and the sample standard deviation of xs, skipping NaN
// (a fold with no quality gap has no APGR).
func meanSD(xs []jsonRate) (mean, sd jsonRate) {
	var sum float64
	n := 0
	for _, x := range xs {
		if !math.IsNaN(float64(x)) {
			sum += float64(x)
			n++
		}
	}
	if n == 0 {
		return jsonRate(math.NaN()), jsonRate(math.NaN())
	}
	m := sum / float64(n)
	if n < 2 {
		return jsonRate(m), jsonRate(math.NaN())
	}
	var ss float64
	for _, x := range xs {
		if !math.IsNaN(float64(x)) {
			ss += (float64(x) - m) * (float64(x) - m)
		}
	}
	return jsonRate(m), jsonRate(math.Sqrt(ss / float64(n-1)))
}

func printCV(w io.Writer, cv []cvResult) {
	if len(cv) == 0 {
		return
	}
	fmt.Fprintf(w, "\nCross-validation of the training pipelines (%d folds of the train split; route: scoring.Train, cascade: scoring.TrainVerifier, with baar-train's defaults; the test split is not read):\n", cv[0].Folds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dataset\tstrategy\tn\tAPGR mean ± sd\tCPT(50%) mean ± sd\tcost@CPT50 mean ± sd\t")
	for _, r := range cv {
		cost := ""
		if len(r.Cost50) > 0 {
			cost = pct(float64(r.MeanCost50)) + " ± " + pct(float64(r.SDCost50))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s ± %s\t%s ± %s\t%s\t\n", r.Dataset, r.Strategy, r.N,
			num(float64(r.MeanAPGR)), num(float64(r.SDAPGR)), pct(float64(r.MeanCPT50)), pct(float64(r.SDCPT50)), cost)
	}
	tw.Flush()
}
