package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/ollama"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/scoring"
)

// Live-run defaults.
const (
	defaultLiveN         = 50
	defaultLiveBudget    = 1.0
	defaultLiveShare     = 0.2
	defaultLiveMaxOutput = 1024
	defaultOpenAICheap   = "gpt-4o-mini"
	defaultOpenAICapable = "gpt-4o"
	defaultOllamaHost    = "http://127.0.0.1:11434"
	// failFast is how many provider errors in a row, before any call has
	// succeeded, end a live run: the endpoint, key or model is wrong.
	failFast = 3
)

// simulatedBanner is printed on stderr and in the title of a --simulate run.
const simulatedBanner = "SIMULATED RESULTS: answers come from baar's offline simulator (baartest), not from real models; accuracy is meaningless, only the pipeline (routing, budget, spend, grading) is exercised"

// liveFlags are the flags of --live.
type liveFlags struct {
	enabled      bool
	simulate     bool
	n            int
	seed         uint64
	budget       float64
	provider     string
	cheapPrice   priceFlag
	capablePrice priceFlag
	share        float64
	maxOutput    int
	timeout      time.Duration
	only         string
}

func (l *liveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&l.enabled, "live", false, "run sampled prompts through real models behind the router (see --provider), with actual spend")
	fs.BoolVar(&l.simulate, "simulate", false, "live: use baar's offline simulator instead of a real endpoint (results are SIMULATED)")
	fs.IntVar(&l.n, "n", defaultLiveN, "live: prompts sampled per dataset")
	fs.Uint64Var(&l.seed, "seed", 1, "live: seed of the deterministic sample")
	fs.Float64Var(&l.budget, "budget", defaultLiveBudget, "live: USD budget of EACH strategy's router on each dataset")
	fs.StringVar(&l.provider, "provider", "openai", "live: openai (OPENAI_API_KEY, OPENAI_BASE_URL: any OpenAI-compatible endpoint) or ollama (OLLAMA_HOST)")
	fs.Var(&l.cheapPrice, "cheap-price", "live: price of --cheap-model, IN,OUT USD per 1M tokens (overrides the embedded table)")
	fs.Var(&l.capablePrice, "capable-price", "live: price of --capable-model, IN,OUT USD per 1M tokens (overrides the embedded table)")
	fs.Float64Var(&l.share, "share", defaultLiveShare, "live: the router's capable share, calibrated (baar.WithCapableShare) on the dataset's TRAIN split")
	fs.IntVar(&l.maxOutput, "max-output-tokens", defaultLiveMaxOutput, "live: output cap of every call (baar.WithMaxOutputTokens)")
	fs.DurationVar(&l.timeout, "timeout", 2*time.Minute, "live: timeout of each call")
	fs.StringVar(&l.only, "only", "", "live: comma-separated dataset names to run (default: all loaded)")
}

// liveOnly lists the flags that mean nothing without --live.
var liveOnly = []string{"simulate", "n", "seed", "budget", "provider", "cheap-price", "capable-price", "share", "max-output-tokens", "timeout", "only"}

// offlineOnly lists the flags of the offline benchmark that --live does not use.
var offlineOnly = []string{"cross", "plot", "scores-out", "value-policy", "assume-output-tokens", "approx-tokens",
	"strategy", "verifier", "hybrid-bar", "escalation-threshold"}

func (l *liveFlags) validate(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !l.enabled {
		for _, name := range liveOnly {
			if set[name] {
				return fmt.Errorf("--%s needs --live", name)
			}
		}
		return nil
	}
	for _, name := range offlineOnly {
		if set[name] {
			return fmt.Errorf("--%s is not available with --live", name)
		}
	}
	if l.n <= 0 {
		return fmt.Errorf("--n %d: want ≥ 1", l.n)
	}
	if math.IsNaN(l.budget) || math.IsInf(l.budget, 0) || l.budget < 0 {
		return fmt.Errorf("--budget %v: want a finite amount ≥ 0 USD", l.budget)
	}
	if math.IsNaN(l.share) || l.share < 0 || l.share > 1 {
		return fmt.Errorf("--share %v: want a number in [0, 1]", l.share)
	}
	if l.maxOutput <= 0 {
		return fmt.Errorf("--max-output-tokens %d: want ≥ 1", l.maxOutput)
	}
	if l.timeout <= 0 {
		return fmt.Errorf("--timeout %v: want > 0", l.timeout)
	}
	if l.provider != "openai" && l.provider != "ollama" {
		return fmt.Errorf("--provider %q: want openai or ollama", l.provider)
	}
	return nil
}

// priceFlag is a model price given as IN,OUT USD per 1M tokens.
type priceFlag struct {
	set   bool
	price budget.Price
}

// String implements flag.Value.
func (p *priceFlag) String() string {
	if p == nil || !p.set {
		return ""
	}
	return fmt.Sprintf("%g,%g", p.price.Input, p.price.Output)
}

// Set implements flag.Value.
func (p *priceFlag) Set(v string) error {
	in, out, ok := strings.Cut(v, ",")
	if !ok {
		return fmt.Errorf("want IN,OUT in USD per 1M tokens, e.g. 0.15,0.6")
	}
	var pr budget.Price
	var err error
	if pr.Input, err = strconv.ParseFloat(strings.TrimSpace(in), 64); err != nil {
		return fmt.Errorf("input price: %w", err)
	}
	if pr.Output, err = strconv.ParseFloat(strings.TrimSpace(out), 64); err != nil {
		return fmt.Errorf("output price: %w", err)
	}
	if err := pr.Validate(); err != nil {
		return err
	}
	p.set, p.price = true, pr
	return nil
}

// liveResults is the report of a live run (the --json document).
type liveResults struct {
	Simulated    bool         `json:"simulated"`
	Banner       string       `json:"banner,omitempty"`
	Provider     string       `json:"provider"`
	Endpoint     string       `json:"endpoint"`
	CheapModel   string       `json:"cheap_model"`
	CapableModel string       `json:"capable_model"`
	CheapPrice   [2]float64   `json:"cheap_price"`
	CapablePrice [2]float64   `json:"capable_price"`
	Budget       float64      `json:"budget_per_strategy"`
	MaxOutput    int          `json:"max_output_tokens"`
	N            int          `json:"n"`
	Seed         uint64       `json:"seed"`
	Split        bench.Split  `json:"split"`
	Share        float64      `json:"router_share"`
	Tables       []*liveTable `json:"tables"`
	TotalSpent   float64      `json:"total_spent"`
	Seconds      float64      `json:"seconds"`
}

// liveTable is one dataset's live results.
type liveTable struct {
	Dataset    string    `json:"dataset"`
	Available  int       `json:"available"` // items in the split
	N          int       `json:"n"`         // items sampled
	Graded     int       `json:"graded"`    // sampled items with a gold answer
	Gold       string    `json:"gold"`
	Dropped    int       `json:"dropped,omitempty"`
	DroppedWhy string    `json:"dropped_why,omitempty"`
	Rows       []liveRow `json:"rows"`
}

// liveRow is one strategy's outcome on a dataset.
type liveRow struct {
	Strategy  string  `json:"strategy"`
	Threshold float64 `json:"threshold"`
	// Calls answered by each tier (Downgraded ⊂ Cheap), refused by the budget
	// (no provider contacted), and failed with a provider error.
	Cheap      int `json:"cheap"`
	Capable    int `json:"capable"`
	Downgraded int `json:"downgraded"`
	Refused    int `json:"refused"`
	Errors     int `json:"errors"`
	// Correct counts the graded items answered correctly; Unparsed the
	// answers from which the expected number or letter could not be read
	// (ungraded items with a known format included: a format check). Accuracy is Correct over all graded items (refused and failed
	// calls count as wrong), AnsweredAccuracy over the graded items that got
	// an answer. NaN (null in JSON) when nothing is graded.
	Correct          int      `json:"correct"`
	Unparsed         int      `json:"unparsed"`
	Accuracy         jsonRate `json:"accuracy"`
	AnsweredAccuracy jsonRate `json:"answered_accuracy"`
	// Spent is the router's ledger (Router.Spent) at the end; CostVsCapable
	// Spent over always-capable's.
	Spent         float64  `json:"spent"`
	CostVsCapable jsonRate `json:"cost_vs_capable"`
	FirstError    string   `json:"first_error,omitempty"`
}

// jsonRate is a float that encodes NaN as null.
type jsonRate float64

// MarshalJSON implements json.Marshaler.
func (r jsonRate) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(r))
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *jsonRate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = jsonRate(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*r = jsonRate(f)
	return nil
}

// liveEnv holds the two models, how they are priced, and the run's
// failure streak.
type liveEnv struct {
	cheap, capable      baar.Tier
	prices              []baar.Option
	cheapP, capableP    budget.Price
	endpoint, provider  string
	close               func()
	simulated           bool
	consecutiveFailures int
	anySuccess          bool
}

// runLive is baar-bench --live.
func runLive(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	l := c.live
	start := time.Now()
	env, err := newLiveEnv(c, os.Getenv)
	if err != nil {
		return err
	}
	defer env.close()
	if env.simulated {
		fmt.Fprintln(stderr, "baar-bench: *** "+simulatedBanner+" ***")
	}
	sets, err := loadLiveData(c)
	if err != nil {
		return err
	}
	if err := checkSplits(c.split, sets, func(s bench.LiveSet) string { return s.Name },
		func(s bench.LiveSet, split bench.Split) int { return len(s.Select(split).Items) }); err != nil {
		return err
	}
	res := &liveResults{
		Simulated: env.simulated, Provider: env.provider, Endpoint: env.endpoint,
		CheapModel: env.cheap.Name, CapableModel: env.capable.Name,
		CheapPrice:   [2]float64{env.cheapP.Input, env.cheapP.Output},
		CapablePrice: [2]float64{env.capableP.Input, env.capableP.Output},
		Budget:       l.budget, MaxOutput: l.maxOutput, N: l.n, Seed: l.seed, Split: c.split, Share: l.share,
	}
	if env.simulated {
		res.Banner = simulatedBanner
	}
	prog := newProgress(stderr, c.quiet)
	for _, s := range sets {
		t, err := runLiveSet(ctx, c, env, s, prog)
		if err != nil {
			prog.done()
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		res.Tables = append(res.Tables, t)
		for _, r := range t.Rows {
			res.TotalSpent += r.Spent
		}
	}
	prog.done()
	res.Seconds = time.Since(start).Seconds()
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printLive(stdout, res)
	return nil
}

// newLiveEnv builds the two models: the simulator, an OpenAI-compatible
// endpoint or Ollama. It never contacts the network itself.
func newLiveEnv(c *config, getenv func(string) string) (*liveEnv, error) {
	l := c.live
	env := &liveEnv{provider: l.provider, simulated: l.simulate, close: func() {}}
	cheapName, capableName := c.cheapModel, c.capableModel
	if l.provider == "openai" {
		if cheapName == "" {
			cheapName = defaultOpenAICheap
		}
		if capableName == "" {
			capableName = defaultOpenAICapable
		}
	} else if cheapName == "" || capableName == "" {
		return nil, cli.Usagef("--provider ollama: name both models with --cheap-model and --capable-model (e.g. llama3.2:3b and llama3.1:70b)")
	}
	var err error
	if env.cheapP, err = livePrice("cheap", cheapName, l.cheapPrice, l.provider); err != nil {
		return nil, cli.AsUsage(err)
	}
	if env.capableP, err = livePrice("capable", capableName, l.capablePrice, l.provider); err != nil {
		return nil, cli.AsUsage(err)
	}
	env.prices = []baar.Option{baar.WithPrice(cheapName, env.cheapP), baar.WithPrice(capableName, env.capableP)}
	var newModel func(name string) (llms.Model, error)
	switch {
	case l.simulate:
		srv := baartest.NewServer()
		env.close = srv.Close
		env.provider = "simulated (" + l.provider + " models on the OpenAI-protocol simulator)"
		env.endpoint = srv.URL()
		newModel = func(name string) (llms.Model, error) {
			return openai.New(openai.WithToken("simulated"), openai.WithBaseURL(srv.URL()), openai.WithModel(name))
		}
	case l.provider == "openai":
		key := getenv("OPENAI_API_KEY")
		if strings.TrimSpace(key) == "" {
			return nil, cli.Usagef("--live --provider openai needs OPENAI_API_KEY (and OPENAI_BASE_URL for an endpoint other than api.openai.com); nothing was sent. Use --live --simulate to run offline")
		}
		env.endpoint = getenv("OPENAI_BASE_URL")
		if env.endpoint == "" {
			env.endpoint = "https://api.openai.com/v1"
		}
		newModel = func(name string) (llms.Model, error) {
			return openai.New(openai.WithToken(key), openai.WithBaseURL(env.endpoint), openai.WithModel(name))
		}
	default:
		env.endpoint = ollamaHost(getenv("OLLAMA_HOST"))
		newModel = func(name string) (llms.Model, error) {
			return ollama.New(ollama.WithServerURL(env.endpoint), ollama.WithModel(name))
		}
	}
	cheap, err := newModel(cheapName)
	if err != nil {
		env.close()
		return nil, fmt.Errorf("cheap model %s: %w", cheapName, err)
	}
	capable, err := newModel(capableName)
	if err != nil {
		env.close()
		return nil, fmt.Errorf("capable model %s: %w", capableName, err)
	}
	env.cheap = baar.Tier{Model: cheap, Name: cheapName}
	env.capable = baar.Tier{Model: capable, Name: capableName}
	return env, nil
}

// livePrice prices a live model: the flag, else the embedded table; Ollama
// models need the flag (a local model has no list price; 0,0 is allowed).
func livePrice(label, name string, f priceFlag, provider string) (budget.Price, error) {
	if f.set {
		return f.price, nil
	}
	if provider == "ollama" {
		return budget.Price{}, fmt.Errorf("--provider ollama: give --%s-price IN,OUT for %q (USD per 1M tokens; a local model has no list price, 0,0 is allowed)", label, name)
	}
	p, ok := budget.Lookup(name)
	if !ok {
		return budget.Price{}, fmt.Errorf("--%s-model %q has no price in the embedded table: give --%s-price IN,OUT (USD per 1M tokens)", label, name, label)
	}
	return p, nil
}

// ollamaHost turns OLLAMA_HOST ("host:port", "http://host:port" or empty)
// into a server URL.
func ollamaHost(h string) string {
	h = strings.TrimSpace(h)
	switch {
	case h == "":
		return defaultOllamaHost
	case strings.Contains(h, "://"):
		return h
	}
	return "http://" + h
}

// loadLiveData reads the live sets of --data and --dataset, keeping --only.
func loadLiveData(c *config) ([]bench.LiveSet, error) {
	var sets []bench.LiveSet
	if c.data != "" {
		s, err := bench.LoadRouteLLMLive(c.data)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s...)
	}
	sets, err := appendJSONL(sets, c.datasets, bench.LoadLiveJSONL)
	if err != nil {
		return nil, err
	}
	want := c.live.onlyNames()
	if len(want) == 0 {
		return sets, nil
	}
	var kept []bench.LiveSet
	for _, s := range sets {
		if slices.Contains(want, s.Name) {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

// onlyNames returns the dataset names of --only.
func (l *liveFlags) onlyNames() []string {
	var names []string
	for _, n := range strings.Split(l.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// validateOnly checks that every --only name is a dataset given (see
// bench.DatasetNames).
func (l *liveFlags) validateOnly(data string, datasets bench.DatasetFlags) error {
	names := bench.DatasetNames(data, datasets)
	for _, n := range l.onlyNames() {
		if !slices.Contains(names, n) {
			return cli.Usagef("--only %s: no dataset of that name (given: %s)", n, strings.Join(names, ", "))
		}
	}
	return nil
}

// instruct adds to a prompt the instruction that makes its answer
// parseable.
func instruct(it bench.LiveItem) string {
	switch it.Grade {
	case bench.GradeNumber:
		return it.Prompt + "\n\nSolve the problem step by step, then end your reply with a last line of the form: Answer: <number>"
	case bench.GradeLetter:
		return "Answer the following multiple-choice question with the letter of the correct choice (A, B, C or D) only.\n\n" + it.Prompt
	}
	return it.Prompt
}

// liveStrategy is one router configuration of a live run.
type liveStrategy struct {
	name string
	opts []baar.Option
}

func constScorer(v float64) scoring.Scorer {
	return scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return v, nil })
}

func fixedThreshold(t, _ float64) float64 { return t }

func liveStrategies(l *liveFlags, calibration []string) []liveStrategy {
	fixed := func(score float64) []baar.Option {
		return []baar.Option{baar.WithScorer(constScorer(score)), baar.WithComplexityThreshold(0.5), baar.WithThresholdSchedule(fixedThreshold)}
	}
	return []liveStrategy{
		{name: "always-cheap", opts: fixed(0)},
		{name: "always-capable", opts: fixed(1)},
		{name: fmt.Sprintf("router @ %g%% (train-calibrated)", 100*l.share), opts: []baar.Option{baar.WithCapableShare(l.share, calibration)}},
	}
}

// runLiveSet runs the sampled prompts of one dataset through each strategy.
func runLiveSet(ctx context.Context, c *config, env *liveEnv, s bench.LiveSet, prog *progress) (*liveTable, error) {
	l := c.live
	split := s.Select(c.split)
	sample := split.Sample(l.n, l.seed)
	t := &liveTable{Dataset: s.Name, Available: len(split.Items), N: len(sample.Items), Gold: s.Gold, Dropped: s.Dropped, DroppedWhy: s.DroppedWhy}
	if t.N == 0 {
		return nil, fmt.Errorf("no items in the %s split", c.split)
	}
	for _, it := range sample.Items {
		if it.Graded() {
			t.Graded++
		}
	}
	var calibration []string
	for _, it := range s.Select(bench.SplitTrain).Items {
		calibration = append(calibration, instruct(it))
	}
	if len(calibration) == 0 {
		return nil, errors.New("no train split to calibrate the router on")
	}
	for _, st := range liveStrategies(l, calibration) {
		row, err := runStrategy(ctx, c, env, st, sample.Items, prog, s.Name)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	capableSpent := t.Rows[1].Spent
	for i := range t.Rows {
		t.Rows[i].CostVsCapable = jsonRate(math.NaN())
		if capableSpent > 0 {
			t.Rows[i].CostVsCapable = jsonRate(t.Rows[i].Spent / capableSpent)
		}
	}
	return t, nil
}

func runStrategy(ctx context.Context, c *config, env *liveEnv, st liveStrategy, items []bench.LiveItem, prog *progress, set string) (liveRow, error) {
	l := c.live
	row := liveRow{Strategy: st.name}
	var rep baar.CallReport
	opts := append([]baar.Option{
		baar.WithBudget(l.budget),
		baar.WithMaxOutputTokens(l.maxOutput),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) { rep = *r; rep.Attempts = nil }),
	}, env.prices...)
	opts = append(opts, st.opts...)
	router, err := baar.New(env.cheap, env.capable, opts...)
	if err != nil {
		return row, fmt.Errorf("%s: %w", st.name, err)
	}
	row.Threshold = router.Threshold()
	graded, answeredGraded, answeredCorrect := 0, 0, 0
	for i, it := range items {
		prog.set(set+": "+st.name, i, len(items))
		rep = baar.CallReport{}
		cctx, cancel := context.WithTimeout(ctx, l.timeout)
		resp, err := router.GenerateContent(cctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, instruct(it))})
		cancel()
		if it.Graded() {
			graded++
		}
		if ctx.Err() != nil {
			return row, ctx.Err()
		}
		switch {
		case err != nil && errors.Is(err, baar.ErrBudgetExceeded) && rep.Decision == baar.DecisionRejected:
			row.Refused++
			continue
		case err != nil:
			row.Errors++
			if row.FirstError == "" {
				row.FirstError = err.Error()
			}
			env.consecutiveFailures++
			if !env.anySuccess && env.consecutiveFailures >= failFast {
				return row, fmt.Errorf("the endpoint %s failed %d calls in a row and never answered, giving up: %w", env.endpoint, env.consecutiveFailures, err)
			}
			continue
		}
		env.anySuccess, env.consecutiveFailures = true, 0
		switch rep.Tier {
		case baar.TierCapable:
			row.Capable++
		default:
			row.Cheap++
		}
		if rep.Decision == baar.DecisionDowngraded {
			row.Downgraded++
		}
		reply := ""
		if resp != nil && len(resp.Choices) > 0 {
			reply = resp.Choices[0].Content
		}
		_, ok, correct := bench.GradeReply(it, reply)
		if it.Grade != bench.GradeNone && !ok {
			row.Unparsed++
		}
		if it.Graded() {
			answeredGraded++
			if correct {
				answeredCorrect++
			}
		}
	}
	prog.set(set+": "+st.name, len(items), len(items))
	row.Correct = answeredCorrect
	row.Accuracy, row.AnsweredAccuracy = jsonRate(math.NaN()), jsonRate(math.NaN())
	if graded > 0 {
		row.Accuracy = jsonRate(float64(answeredCorrect) / float64(graded))
	}
	if answeredGraded > 0 {
		row.AnsweredAccuracy = jsonRate(float64(answeredCorrect) / float64(answeredGraded))
	}
	row.Spent = router.Spent()
	return row, nil
}

func printLive(w io.Writer, res *liveResults) {
	if res.Simulated {
		fmt.Fprintf(w, "*** %s ***\n", res.Banner)
		fmt.Fprintf(w, "SIMULATED live run: %s, endpoint %s\n", res.Provider, res.Endpoint)
	} else {
		fmt.Fprintf(w, "Live run: provider %s, endpoint %s\n", res.Provider, res.Endpoint)
	}
	fmt.Fprintf(w, "Models (USD per 1M tokens, input/output): cheap %s %.4g/%.4g, capable %s %.4g/%.4g; output cap %d tokens a call.\n",
		res.CheapModel, res.CheapPrice[0], res.CheapPrice[1], res.CapableModel, res.CapablePrice[0], res.CapablePrice[1], res.MaxOutput)
	fmt.Fprintf(w, "Each strategy has its own router and budget of $%.4g per dataset; spend is the router's ledger (actual, settled from the providers' usage).\n", res.Budget)
	fmt.Fprintln(w, "Accuracy counts refused and failed calls as wrong; 'answered' is over the graded calls that got an answer.")
	for _, t := range res.Tables {
		title := "LIVE"
		if res.Simulated {
			title = "SIMULATED (not real model answers)"
		}
		fmt.Fprintf(w, "\n%s — %s, %s split: %d prompts sampled (seed %d) of %d, %d graded\n", title, t.Dataset, res.Split, t.N, res.Seed, t.Available, t.Graded)
		fmt.Fprintf(w, "gold answers: %s\n", t.Gold)
		if t.Dropped > 0 {
			fmt.Fprintf(w, "left out of the whole dataset before the split and sampling: %d prompts (%s)\n", t.Dropped, t.DroppedWhy)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "strategy\tcapable\taccuracy\tanswered\tunparsed\tspend $\tvs capable\tcheap calls\tcapable calls\tdowngraded\trefused\terrors\t")
		for _, r := range t.Rows {
			answered := r.Cheap + r.Capable
			share := math.NaN()
			if answered > 0 {
				share = float64(r.Capable) / float64(answered)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.6f\t%s\t%d\t%d\t%d\t%d\t%d\t\n", r.Strategy, pct(share), pct(float64(r.Accuracy)),
				pct(float64(r.AnsweredAccuracy)), r.Unparsed, r.Spent, pct(float64(r.CostVsCapable)), r.Cheap, r.Capable, r.Downgraded, r.Refused, r.Errors)
		}
		tw.Flush()
		for _, r := range t.Rows {
			if r.FirstError != "" {
				fmt.Fprintf(w, "%s: first error: %s\n", r.Strategy, r.FirstError)
			}
			if r.Refused > 0 {
				fmt.Fprintf(w, "%s: budget exhausted, %d of %d calls refused (counted as unanswered)\n", r.Strategy, r.Refused, t.N)
			}
		}
	}
	if res.Simulated {
		fmt.Fprintf(w, "\n*** %s ***\n", res.Banner)
	}
	fmt.Fprintf(w, "\ntotal spent $%.6f in %.1fs\n", res.TotalSpent, res.Seconds)
}
