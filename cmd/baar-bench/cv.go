package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"text/tabwriter"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/scoring"
)

// cvResult is the K-fold cross-validated quality of the training pipeline
// (scoring.Train with cmd/baar-train's defaults) on one dataset's train
// split: per fold, and the mean and sample standard deviation over folds.
type cvResult struct {
	Dataset   string     `json:"dataset"`
	Folds     int        `json:"folds"`
	N         int        `json:"n"`
	APGR      []jsonRate `json:"apgr"` // per fold
	CPT50     []jsonRate `json:"cpt50"`
	MeanAPGR  jsonRate   `json:"mean_apgr"`
	SDAPGR    jsonRate   `json:"sd_apgr"`
	MeanCPT50 jsonRate   `json:"mean_cpt50"`
	SDCPT50   jsonRate   `json:"sd_cpt50"`
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
		out[i] = cvResult{Dataset: d.Name, Folds: k, N: len(d.Items)}
	}
	for f := range k {
		prog.set(fmt.Sprintf("cv: fold %d/%d", f+1, k), f, k)
		in, held := make([]bench.Dataset, len(train)), make([]bench.Dataset, len(train))
		for i, d := range train {
			in[i] = bench.Dataset{Name: d.Name, OutputTokensKnown: d.OutputTokensKnown}
			held[i] = in[i]
			for _, it := range d.Items {
				if cvFold(it.Prompt, k) == f {
					held[i].Items = append(held[i].Items, it)
				} else {
					in[i].Items = append(in[i].Items, it)
				}
			}
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
	fmt.Fprintf(w, "\nCross-validation of the training pipeline (%d folds of the train split, scoring.Train with baar-train's defaults; the test split is not read):\n", cv[0].Folds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dataset\tn\tAPGR mean ± sd\tCPT(50%) mean ± sd\t")
	for _, r := range cv {
		fmt.Fprintf(tw, "%s\t%d\t%s ± %s\t%s ± %s\t\n", r.Dataset, r.N,
			num(float64(r.MeanAPGR)), num(float64(r.SDAPGR)), pct(float64(r.MeanCPT50)), pct(float64(r.SDCPT50)))
	}
	tw.Flush()
}
