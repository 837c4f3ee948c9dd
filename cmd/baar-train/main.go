package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/internal/routellm"
	"github.com/baarcore/baar/scoring"
)

func main() {
	cli.Main("baar-train", run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// weightsFile is the file scoring.Default() embeds, relative to the module
// root: the default --out.
const weightsFile = "scoring/weights.json"

// config is the parsed command line.
type config struct {
	data     string
	datasets bench.DatasetFlags
	only     string
	out      string
	opts     scoring.TrainOptions
	balance  bool
	groups   bool
	verOut   string
}

// parse parses and validates the command line: every error it returns is
// flag.ErrHelp or a *cli.UsageError.
func parse(args []string, stderr io.Writer) (*config, error) {
	fs := cli.NewFlagSet("baar-train", "[--data DIR | --dataset jsonl:PATH ...] [--out FILE] [flags]", stderr)
	c := &config{}
	fs.StringVar(&c.data, "data", "", "RouteLLM evaluation data directory (gsm8k_responses.csv, mmlu/; files may be gzip-compressed) (default: $"+routellm.EnvDir+", else the module's "+routellm.ShippedDir+" when no --dataset is given)")
	fs.Var(&c.datasets, "dataset", "generic labelled data, jsonl:PATH (repeatable)")
	fs.StringVar(&c.only, "only", "", "train on this dataset only")
	fs.StringVar(&c.out, "out", "", `weights file to write ("-" for stdout) (default: the module's `+weightsFile+`, found upward from the working directory)`)
	fs.BoolVar(&c.balance, "balance", false, "weight each dataset equally (default: every prompt weighs the same)")
	fs.StringVar(&c.verOut, "verifier-out", "", `also train the answer verifier on the train split's cheap answers and write its weights here ("-" for stdout)`)
	fs.BoolVar(&c.groups, "groups", true, "train the domain classifier on the groups (MMLU subjects; the dataset name for items without one)")
	o := &c.opts
	fs.StringVar(&o.Label, "label", scoring.LabelGap, "label to fit: gap or cheap-wrong")
	fs.Float64Var(&o.L2, "l2", 0, "ridge penalty (0: default)")
	fs.Float64Var(&o.Smoothing, "smoothing", 0, "vocabulary smoothing pseudo-count (0: default)")
	fs.IntVar(&o.MinCount, "min-count", 0, "minimum prompts per vocabulary word (0: default)")
	fs.IntVar(&o.Folds, "folds", 0, "out-of-fold folds (0: default)")
	fs.Float64Var(&o.DomainSmoothing, "domain-smoothing", 0, "naive Bayes pseudo-count of the domain classifier (0: default)")
	fs.IntVar(&o.Trees, "trees", 0, "boosted trees on top of the regression (0: default, negative: none)")
	fs.IntVar(&o.TreeDepth, "tree-depth", 0, "depth of each tree (0: default)")
	fs.Float64Var(&o.TreeRate, "tree-rate", 0, "boosting shrinkage (0: default)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	// Zero selects scoring.TrainOptions' default for every model option.
	if err := cli.First(
		c.defaultData(),
		c.validateOnly(),
		c.defaultOut(),
		cli.OutputFile("out", c.out),
		cli.OutputFile("verifier-out", c.verOut),
		cli.OneOf("label", o.Label, scoring.LabelGap, scoring.LabelCheapWrong),
		cli.AtLeast("l2", o.L2, 0), cli.Finite("l2", o.L2),
		cli.AtLeast("smoothing", o.Smoothing, 0), cli.Finite("smoothing", o.Smoothing),
		cli.AtLeast("min-count", o.MinCount, 0),
		validateFolds(o.Folds),
		cli.AtLeast("domain-smoothing", o.DomainSmoothing, 0), cli.Finite("domain-smoothing", o.DomainSmoothing),
		cli.Between("tree-depth", o.TreeDepth, 0, 8),
		cli.Between("tree-rate", o.TreeRate, 0, 1),
	); err != nil {
		return nil, err
	}
	return c, nil
}

// defaultData reads the RouteLLM data (routellm.Dir) when no data is given.
func (c *config) defaultData() (err error) {
	if c.data == "" && len(c.datasets) == 0 {
		c.data, err = routellm.Dir()
	}
	return err
}

// validateOnly checks that --only names a dataset given: RouteLLM's gsm8k
// and mmlu, or a --dataset file's base name without extension.
func (c *config) validateOnly() error {
	if c.only == "" {
		return nil
	}
	names := bench.DatasetNames(c.data, c.datasets)
	if !slices.Contains(names, c.only) {
		return cli.Usagef("--only %s: no dataset of that name (given: %s)", c.only, strings.Join(names, ", "))
	}
	return nil
}

// defaultOut writes the weights scoring.Default() embeds, in the module's
// tree, when --out is not given.
func (c *config) defaultOut() error {
	if c.out != "" {
		return nil
	}
	root, err := cli.ModuleRoot()
	if err != nil {
		return cli.Usagef("no --out given and no module tree to write %s into: %w", weightsFile, err)
	}
	c.out = filepath.Join(root, filepath.FromSlash(weightsFile))
	return nil
}

func validateFolds(folds int) error {
	if folds == 1 || folds < 0 {
		return cli.Usagef("--folds %d: want 0 (default) or ≥ 2", folds)
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	sets, err := load(c.data, c.datasets)
	if err != nil {
		return err
	}
	if c.verOut != "" {
		if err := trainVerifier(ctx, sets, c.verOut, stdout, stderr); err != nil {
			return err
		}
	}
	examples, err := bench.TrainExamples(sets, c.only, c.balance, c.groups)
	if err != nil {
		return err
	}
	m, err := scoring.Train(ctx, examples, c.opts)
	if err != nil {
		return err
	}
	return write(m, len(examples), c.out, stdout, stderr)
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

func load(data string, datasets bench.DatasetFlags) ([]bench.Dataset, error) {
	var sets []bench.Dataset
	if data != "" {
		s, err := bench.LoadRouteLLM(data, nil)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s...)
	}
	for _, path := range datasets.Paths() {
		s, err := bench.LoadJSONL(path)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	return sets, nil
}
