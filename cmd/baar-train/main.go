package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/scoring"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "baar-train:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("baar-train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		data     = fs.String("data", "", "RouteLLM evaluation data directory (gsm8k_responses.csv, mmlu/)")
		datasets bench.DatasetFlags
		only     = fs.String("only", "", "train on this dataset only")
		out      = fs.String("out", "scoring/weights.json", `weights file to write ("-" for stdout)`)
		opts     scoring.TrainOptions
		balance  = fs.Bool("balance", false, "weight each dataset equally (default: every prompt weighs the same)")
		groups   = fs.Bool("groups", true, "train the domain classifier on the groups (MMLU subjects; the dataset name for items without one)")
		verOut   = fs.String("verifier-out", "", `also train the answer verifier on the train split's cheap answers and write its weights here ("-" for stdout)`)
	)
	fs.Var(&datasets, "dataset", "generic labelled data, jsonl:PATH (repeatable)")
	fs.StringVar(&opts.Label, "label", scoring.LabelGap, "label to fit: gap or cheap-wrong")
	fs.Float64Var(&opts.L2, "l2", 0, "ridge penalty (0: default)")
	fs.Float64Var(&opts.Smoothing, "smoothing", 0, "vocabulary smoothing pseudo-count (0: default)")
	fs.IntVar(&opts.MinCount, "min-count", 0, "minimum prompts per vocabulary word (0: default)")
	fs.IntVar(&opts.Folds, "folds", 0, "out-of-fold folds (0: default)")
	fs.Float64Var(&opts.DomainSmoothing, "domain-smoothing", 0, "naive Bayes pseudo-count of the domain classifier (0: default)")
	fs.IntVar(&opts.Trees, "trees", 0, "boosted trees on top of the regression (0: default, negative: none)")
	fs.IntVar(&opts.TreeDepth, "tree-depth", 0, "depth of each tree (0: default)")
	fs.Float64Var(&opts.TreeRate, "tree-rate", 0, "boosting shrinkage (0: default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sets, err := load(*data, datasets)
	if err != nil {
		return err
	}
	if *verOut != "" {
		if err := trainVerifier(ctx, sets, *verOut, stdout, stderr); err != nil {
			return err
		}
	}
	examples, err := bench.TrainExamples(sets, *only, *balance, *groups)
	if err != nil {
		return err
	}
	m, err := scoring.Train(ctx, examples, opts)
	if err != nil {
		return err
	}
	return write(m, len(examples), *out, stdout, stderr)
}

// trainVerifier trains scoring's verifier on the cheap answers of the train
// split of every dataset that has them.
func trainVerifier(ctx context.Context, sets []bench.Dataset, out string, stdout, stderr io.Writer) error {
	var examples []scoring.VerifierExample
	for _, d := range sets {
		examples = append(examples, bench.VerifierExamples(d.Select(bench.SplitTrain))...)
	}
	if len(examples) == 0 {
		return errors.New("--verifier-out: no dataset has the cheap model's answers (RouteLLM's GSM8K file has)")
	}
	m, err := scoring.TrainVerifier(ctx, examples, scoring.VerifierTrainOptions{})
	if err != nil {
		return err
	}
	return write(m, len(examples), out, stdout, stderr)
}

// write writes a model's weights file to path ("-": stdout).
func write(m json.Marshaler, examples int, path string, stdout, stderr io.Writer) error {
	b, err := m.MarshalJSON()
	if err != nil {
		return err
	}
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "baar-train: %d training examples, wrote %s (%d bytes)\n", examples, path, len(b))
	return nil
}

func load(data string, datasets []string) ([]bench.Dataset, error) {
	var sets []bench.Dataset
	if data != "" {
		s, err := bench.LoadRouteLLM(data, nil)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s...)
	}
	for _, d := range datasets {
		path, ok := strings.CutPrefix(d, "jsonl:")
		if !ok {
			return nil, fmt.Errorf("--dataset %q: want jsonl:PATH", d)
		}
		s, err := bench.LoadJSONL(path)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	if len(sets) == 0 {
		return nil, errors.New("no data: give --data DIR and/or --dataset jsonl:PATH")
	}
	return sets, nil
}
