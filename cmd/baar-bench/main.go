package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/internal/routellm"
	"github.com/baarcore/baar/scoring"
)

func main() {
	cli.Main("baar-bench", run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	data         string
	datasets     bench.DatasetFlags
	split        bench.Split
	cross        bool
	cv           int
	cheapModel   string
	capableModel string
	assumeOut    int
	approx       bool
	jsonOut      bool
	plot         string
	scoresOut    string
	quiet        bool
	casc         cascadeFlags
	gate         *gateFlags // nil without --value-policy
	live         *liveFlags // nil without --live

	prices bench.Prices // of --cheap-model and --capable-model (offline)
}

// Shares at which the router row is calibrated.
var routerShares = []float64{0.10, 0.20, 0.30, 0.50}

// parse parses and validates the command line: every error it returns is
// flag.ErrHelp or a *cli.UsageError.
func parse(args []string, stderr io.Writer) (*config, error) {
	fs := cli.NewFlagSet("baar-bench", "[--data DIR | --dataset jsonl:PATH ...] [flags]", stderr)
	c := &config{}
	var split string
	fs.StringVar(&c.data, "data", "", "RouteLLM evaluation data directory (gsm8k_responses.csv, mmlu/; files may be gzip-compressed) (default: $"+routellm.EnvDir+", else the module's "+routellm.ShippedDir+" when no --dataset is given)")
	fs.Var(&c.datasets, "dataset", "generic labelled data, jsonl:PATH (repeatable)")
	fs.StringVar(&split, "split", "test", "split to evaluate: test, train or all")
	fs.BoolVar(&c.cross, "cross", false, "also train on each dataset's train split and evaluate on the others' test split")
	fs.IntVar(&c.cv, "cv", 0, "also cross-validate the training pipeline with this many folds of the train split (0: off)")
	fs.StringVar(&c.cheapModel, "cheap-model", "", "price the cheap model from the embedded price table (default: RouteLLM's Mixtral-8x7B at $0.24/M); with --live, the cheap model to call (default gpt-4o-mini)")
	fs.StringVar(&c.capableModel, "capable-model", "", "price the capable model from the embedded price table (default: RouteLLM's GPT-4 at $24.7/M); with --live, the capable model to call (default gpt-4o)")
	fs.IntVar(&c.assumeOut, "assume-output-tokens", 5, "output tokens assumed per answer when the data has no response texts (MMLU: a letter and a few tokens)")
	fs.BoolVar(&c.approx, "approx-tokens", false, "count tokens as bytes/4 instead of with cl100k_base")
	fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of tables")
	fs.StringVar(&c.plot, "plot", "", "write the cost–quality curves to this SVG file")
	fs.StringVar(&c.scoresOut, "scores-out", "", `write {"dataset","prompt","score"} JSON lines to this file: scoring.Default()'s scores (route, hybrid) and each cascade's doubts (cascade, hybrid; with "strategy": "cascade/VERIFIER"); higher = capable first`)
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
	c.casc.register(fs)
	g := &gateFlags{}
	g.register(fs)
	l := &liveFlags{}
	l.register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if err := cli.First(
		c.parseSplit(split),
		c.defaultData(),
		cli.AtLeast("assume-output-tokens", c.assumeOut, 0),
		c.validateCV(),
		c.casc.validate(),
		cli.OutputFile("plot", c.plot),
		cli.OutputFile("scores-out", c.scoresOut),
		g.validate(fs),
		l.validate(fs),
	); err != nil {
		return nil, err
	}
	if g.spec != "" {
		if !c.casc.routes() {
			return nil, cli.Usagef("--value-policy gates the router's rows: it needs --strategy route or all")
		}
		c.gate = g
	}
	if l.enabled {
		c.live = l
		if err := cli.First(l.validateOnly(c.data, c.datasets)); err != nil {
			return nil, err
		}
		return c, nil
	}
	// The offline benchmark's checks.
	if err := cli.First(c.validateCross(), c.priceModels()); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *config) parseSplit(s string) (err error) {
	c.split, err = bench.ParseSplit(s)
	return err
}

// defaultData reads the RouteLLM data (routellm.Dir) when no data is given.
func (c *config) defaultData() (err error) {
	if c.data == "" && len(c.datasets) == 0 {
		c.data, err = routellm.Dir()
	}
	return err
}

func (c *config) validateCV() error {
	if c.cv == 1 || c.cv < 0 {
		return cli.Usagef("--cv %d: want 0 (off) or ≥ 2 folds", c.cv)
	}
	return nil
}

// validateCross checks that --cross has two datasets to cross.
func (c *config) validateCross() error {
	if n := len(bench.DatasetNames(c.data, c.datasets)); c.cross && n < 2 {
		return cli.Usagef("--cross needs at least two datasets (have %d)", n)
	}
	return nil
}

func (c *config) priceModels() (err error) {
	c.prices, err = pricePair(c.cheapModel, c.capableModel)
	return err
}

// checkSplits checks, before any work, that each set has prompts in the
// split evaluated and in the train split that calibrates the thresholds;
// name and size read a set's name and the size of its split s.
func checkSplits[T any](split bench.Split, sets []T, name func(T) string, size func(T, bench.Split) int) error {
	for _, set := range sets {
		name := name(set)
		if size(set, split) == 0 {
			if split == bench.SplitTest {
				return cli.Usagef("%s: no prompt falls in the test split (the prompts whose FNV-1a hash is 0 mod 5, about one in five): too few prompts; use --split all", name)
			}
			return cli.Usagef("%s: no prompt in the %s split", name, split)
		}
		if size(set, bench.SplitTrain) == 0 {
			return cli.Usagef("%s: no prompt in the train split to calibrate the thresholds on: too few prompts", name)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if c.live != nil {
		return runLive(ctx, c, stdout, stderr)
	}
	start := time.Now()
	prices := c.prices
	sets, err := loadData(c)
	if err != nil {
		return err
	}
	if err := checkSplits(c.split, sets, func(d bench.Dataset) string { return d.Name },
		func(d bench.Dataset, s bench.Split) int { return len(d.Select(s).Items) }); err != nil {
		return err
	}
	count := bench.TokenCounter(bench.ApproxTokens)
	tokenizer := "≈ bytes/4"
	if !c.approx {
		if count, err = bench.CL100K(); err != nil {
			return err
		}
		tokenizer = "cl100k_base"
	}
	prog := newProgress(stderr, c.quiet)
	defer prog.done()
	res := &results{Prices: prices, Tokenizer: tokenizer}
	var scoreLines []scoreLine
	for _, d := range sets {
		t, lines, err := evaluate(ctx, c, d, prices, count, prog)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Name, err)
		}
		res.Tables = append(res.Tables, t)
		scoreLines = append(scoreLines, lines...)
	}
	if c.cross {
		if res.Cross, err = crossEval(ctx, sets, prog); err != nil {
			return err
		}
	}
	if c.cv != 0 && c.casc.routes() {
		if res.CV, err = crossValidate(ctx, sets, c.cv, prog); err != nil {
			return err
		}
	}
	if c.cv != 0 && (c.casc.cascades() || c.casc.hybrids()) {
		cv, err := crossValidateVerifier(ctx, c, sets, prices, count, prog)
		if err != nil {
			return err
		}
		res.CV = append(res.CV, cv...)
	}
	prog.done()
	res.Seconds = time.Since(start).Seconds()
	if c.scoresOut != "" {
		if err := writeScores(c.scoresOut, scoreLines); err != nil {
			return err
		}
	}
	if c.plot != "" {
		if err := writePlot(c.plot, res.Tables); err != nil {
			return err
		}
	}
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printResults(stdout, res)
	return nil
}

// results is everything baar-bench reports (the --json document).
type results struct {
	Prices    bench.Prices   `json:"prices"`
	Tokenizer string         `json:"tokenizer"`
	Tables    []*bench.Table `json:"tables"`
	Cross     []crossResult  `json:"cross,omitempty"`
	CV        []cvResult     `json:"cv,omitempty"`
	Seconds   float64        `json:"seconds"`
}

func loadData(c *config) ([]bench.Dataset, error) {
	var sets []bench.Dataset
	if c.data != "" {
		var count bench.TokenCounter
		if !c.approx {
			var err error
			if count, err = bench.CL100K(); err != nil {
				return nil, err
			}
		}
		s, err := bench.LoadRouteLLM(c.data, count)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s...)
	}
	return appendJSONL(sets, c.datasets, bench.LoadJSONL)
}

// scoreLine is one line of --scores-out. Strategy is empty for the
// router's scores (scoring.Default()), "cascade/VERIFIER" for a cascade's
// doubts.
type scoreLine struct {
	Dataset  string  `json:"dataset"`
	Strategy string  `json:"strategy,omitempty"`
	Prompt   string  `json:"prompt"`
	Score    float64 `json:"score"`
}

// scoreAll scores prompts with s.
func scoreAll(ctx context.Context, s scoring.Scorer, items []bench.Item, prog *progress, label string) ([]float64, error) {
	out := make([]float64, len(items))
	for i, it := range items {
		v, err := s.Score(ctx, request(it.Prompt))
		if err != nil {
			return nil, err
		}
		out[i] = v
		prog.set(label, i+1, len(items))
	}
	return out, nil
}

func request(prompt string) scoring.Request {
	return scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: prompt}}}
}

func mapScores(items []bench.Item, f func(string) float64) []float64 {
	out := make([]float64, len(items))
	for i, it := range items {
		out[i] = f(it.Prompt)
	}
	return out
}

// evaluate builds the table of one dataset: thresholds are calibrated on
// its train split, figures computed on c.split.
func evaluate(ctx context.Context, c *config, d bench.Dataset, prices bench.Prices, count bench.TokenCounter, prog *progress) (*bench.Table, []scoreLine, error) {
	train := d.Select(bench.SplitTrain)
	eval := d.Select(c.split)
	if len(eval.Items) == 0 {
		return nil, nil, fmt.Errorf("no items in the %s split", c.split)
	}
	texts := make([]string, len(eval.Items))
	for i, it := range eval.Items {
		texts[i] = it.Prompt
	}
	prog.set(d.Name+": tokens", 0, 1)
	tokens := bench.CountAll(texts, count, runtime.GOMAXPROCS(0))
	outcomes, err := bench.Outcomes(eval, tokens, prices, c.assumeOut)
	if err != nil {
		return nil, nil, err
	}
	def := scoring.Default()
	evalScores, err := scoreAll(ctx, def, eval.Items, prog, d.Name+": scoring")
	if err != nil {
		return nil, nil, err
	}
	strategies := []bench.Strategy{
		{Name: "always-cheap", Share: 0},
		{Name: "always-capable", Share: 1},
		{Name: "random (expected, 20%)", Share: 0.2},
	}
	if len(train.Items) == 0 {
		return nil, nil, errors.New("no train split to calibrate on")
	}
	var trainScores []float64
	if c.casc.routes() {
		var route []bench.Strategy
		if route, trainScores, err = routeStrategies(ctx, def, train, eval, evalScores, prog, d.Name); err != nil {
			return nil, nil, err
		}
		strategies = append(strategies, route...)
	}
	var casc *cascadeSection
	if c.casc.cascades() || c.casc.hybrids() {
		prog.set(d.Name+": cascade", 0, 1)
		e := evalData{set: eval, outcomes: outcomes, tokens: tokens, promptDflt: evalScores}
		if casc, err = cascadeStrategies(ctx, &c.casc, e, prices, count, c.scoresOut != ""); err != nil {
			return nil, nil, err
		}
		strategies = append(strategies, casc.strategies...)
	}
	strategies = append(strategies, bench.Strategy{Name: "oracle", Scores: bench.Oracle(outcomes), Threshold: 1})
	gated := gatedStrategies(strategies)
	t, err := bench.Evaluate(d.Name, c.split, outcomes, strategies)
	if err != nil {
		return nil, nil, err
	}
	if c.gate != nil {
		prog.set(d.Name+": value gate", 0, 1)
		g := gateData{train: train, trainScores: trainScores, eval: eval, evalTokens: tokens, evalScores: evalScores, outcomes: outcomes}
		if t.ValueGate, err = c.gate.report(g, gated, prices, count, c.assumeOut); err != nil {
			return nil, nil, fmt.Errorf("value gate: %w", err)
		}
	}
	if d.OutputTokensKnown {
		t.OutputTokens = "counted from the response texts"
	} else {
		t.OutputTokens = fmt.Sprintf("assumed %d per answer", c.assumeOut)
	}
	if casc != nil {
		t.NotMeasurable, t.Notes, t.HybridBars = casc.notMeasurable, casc.notes, casc.bars
	}
	return t, scoreLines(c, d.Name, eval, evalScores, casc), nil
}

// gatedStrategies are the routing strategies the value gate is applied to.
func gatedStrategies(strategies []bench.Strategy) []gatedStrategy {
	var gated []gatedStrategy
	for _, s := range strategies {
		if s.Name == "scoring.Default() (0.80)" || strings.HasPrefix(s.Name, "router @") {
			gated = append(gated, gatedStrategy{name: s.Name, threshold: s.Threshold})
		}
	}
	return gated
}

// scoreLines are the dataset's --scores-out lines: the routing scores of the
// evaluated prompts, then the cascade's doubts.
func scoreLines(c *config, dataset string, eval bench.Dataset, evalScores []float64, casc *cascadeSection) []scoreLine {
	var lines []scoreLine
	if c.scoresOut != "" && (c.casc.routes() || c.casc.hybrids()) {
		for i, it := range eval.Items {
			lines = append(lines, scoreLine{Dataset: dataset, Prompt: it.Prompt, Score: evalScores[i]})
		}
	}
	if casc != nil {
		lines = append(lines, casc.lines...)
	}
	return lines
}

// routeStrategies are the prompt-only rows: prompt length and the keyword
// baseline, scoring.Default() at its threshold and the router at the
// train-calibrated shares. It returns them and Default's scores of the
// train split.
func routeStrategies(ctx context.Context, def scoring.Scorer, train, eval bench.Dataset, evalScores []float64, prog *progress, name string) ([]bench.Strategy, []float64, error) {
	lengthTrain := mapScores(train.Items, bench.LengthScore)
	lt, err := scoring.ThresholdForShare(lengthTrain, 0.2)
	if err != nil {
		return nil, nil, err
	}
	strategies := []bench.Strategy{
		{Name: "prompt length (20% on train)", Scores: mapScores(eval.Items, bench.LengthScore), Threshold: lt},
		{Name: "Baar-Core 0.2.5 keywords (0.80)", Scores: mapScores(eval.Items, bench.KeywordScore), Threshold: bench.KeywordThreshold},
		{Name: "scoring.Default() (0.80)", Scores: evalScores, Threshold: scoring.DefaultThreshold},
	}
	trainScores, err := scoreAll(ctx, def, train.Items, prog, name+": calibrating")
	if err != nil {
		return nil, nil, err
	}
	for _, share := range routerShares {
		t, err := scoring.ThresholdForShare(trainScores, share)
		if err != nil {
			return nil, nil, err
		}
		strategies = append(strategies, bench.Strategy{
			Name: fmt.Sprintf("router @ %d%% (train-calibrated)", int(share*100+0.5)), Scores: evalScores, Threshold: t, NoCurve: true,
		})
	}
	return strategies, trainScores, nil
}

func writeScores(path string, lines []scoreLine) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// appendJSONL appends to sets the set each --dataset jsonl:PATH flag names,
// read with load.
func appendJSONL[T any](sets []T, datasets bench.DatasetFlags, load func(path string) (T, error)) ([]T, error) {
	for _, path := range datasets.Paths() {
		s, err := load(path)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	return sets, nil
}
