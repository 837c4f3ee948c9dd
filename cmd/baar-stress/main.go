package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/scoring"
)

// name prefixes what the command prints on stderr.
const name = "baar-stress"

// main exits 0 when every check passed, 1 when one failed (or the run
// broke), 2 on a usage error.
func main() {
	cli.Main(name, run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// errFailed is returned when at least one check failed (exit status 1).
var errFailed = errors.New("some checks failed")

// Defaults of the command line.
const (
	defaultCheap       = "gpt-4o-mini"
	defaultCapable     = "gpt-4o"
	defaultMaxOutput   = 256
	defaultGoroutines  = 10_000
	defaultCheckLimit  = 30 * time.Second
	defaultQuick       = 5 * time.Second
	defaultStallWait   = 50 * time.Millisecond
	minStormGoroutines = 10
)

// config is the parsed command line, plus hooks for tests.
type config struct {
	budgetUSD    float64
	cheapModel   string
	capableModel string
	cheapPrice   *budget.Price // nil: the embedded table
	capablePrice *budget.Price
	maxOutput    int
	seed         uint64
	only         *regexp.Regexp
	jsonOut      bool
	goroutines   int
	checkLimit   time.Duration
	quick        time.Duration // how fast a bomb must end, a stream be cut, a storm call return

	// Test hooks: a ledger wrapper (to plant a lying ledger) and a scorer
	// replacing scoring.Default() (to force the complexity games to fail).
	wrapLedger func(budget.Ledger) budget.Ledger
	scorer     scoring.Scorer

	progress io.Writer // a line per check as it runs; nil: none
}

// parse parses and validates the command line: every error it returns is
// flag.ErrHelp or a *cli.UsageError.
func parse(args []string, stderr io.Writer) (*config, error) {
	fs := cli.NewFlagSet(name, "[flags]", stderr)
	c := &config{}
	var cheapPrice, capablePrice, only string
	fs.Float64Var(&c.budgetUSD, "budget", baar.DefaultBudget, "hard cap in USD each check runs under (storms use at most the worst case of a quarter of their calls, to stay tight)")
	fs.StringVar(&c.cheapModel, "cheap-model", defaultCheap, "the cheap tier's model name")
	fs.StringVar(&c.capableModel, "capable-model", defaultCapable, "the capable tier's model name")
	fs.StringVar(&cheapPrice, "cheap-price", "", `the cheap model's price "IN,OUT" in USD per 1M tokens (default: the embedded table)`)
	fs.StringVar(&capablePrice, "capable-price", "", `the capable model's price "IN,OUT" in USD per 1M tokens (default: the embedded table)`)
	fs.IntVar(&c.maxOutput, "max-output", defaultMaxOutput, "output cap per call (baar.WithMaxOutputTokens)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the random failures")
	fs.StringVar(&only, "only", "", "run only the checks whose name matches this regular expression")
	fs.BoolVar(&c.jsonOut, "json", false, "print the results as one JSON object")
	fs.IntVar(&c.goroutines, "goroutines", defaultGoroutines, "goroutines per concurrency storm")
	fs.DurationVar(&c.checkLimit, "check-timeout", defaultCheckLimit, "time after which a check that has not returned is a FAIL")
	fs.DurationVar(&c.quick, "quick", defaultQuick, "how fast a token bomb must end, an endless stream be cut, and a storm call return (beyond its own timeout)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if err := c.validate(cheapPrice, capablePrice, only); err != nil {
		return nil, cli.AsUsage(err)
	}
	return c, nil
}

// validate checks the flag values of c and sets the prices and the --only
// expression they give.
func (c *config) validate(cheapPrice, capablePrice, only string) error {
	if math.IsNaN(c.budgetUSD) || math.IsInf(c.budgetUSD, 0) || c.budgetUSD < 0 {
		return fmt.Errorf("--budget %v: must be a finite amount ≥ 0", c.budgetUSD)
	}
	if c.budgetUSD == 0 {
		return errors.New("--budget 0: every check would be refused; the $0 budget is checked on its own (price/zero-budget)")
	}
	if strings.TrimSpace(c.cheapModel) == "" || strings.TrimSpace(c.capableModel) == "" {
		return errors.New("--cheap-model and --capable-model must not be empty")
	}
	var err error
	if c.cheapPrice, err = parsePrice("--cheap-price", cheapPrice); err != nil {
		return err
	}
	if c.capablePrice, err = parsePrice("--capable-price", capablePrice); err != nil {
		return err
	}
	if c.maxOutput <= 0 {
		return fmt.Errorf("--max-output %d: must be > 0", c.maxOutput)
	}
	if c.goroutines < minStormGoroutines {
		return fmt.Errorf("--goroutines %d: must be ≥ %d", c.goroutines, minStormGoroutines)
	}
	if c.quick <= 0 {
		return fmt.Errorf("--quick %v: must be > 0", c.quick)
	}
	if c.checkLimit <= 0 {
		return fmt.Errorf("--check-timeout %v: must be > 0", c.checkLimit)
	}
	if only != "" {
		if c.only, err = regexp.Compile(only); err != nil {
			return fmt.Errorf("--only: %w", err)
		}
		if len(c.checks()) == 0 {
			return fmt.Errorf("--only %q matches no check", only)
		}
	}
	return nil
}

// checks returns the checks of the suite that --only selects, in order.
func (c *config) checks() []check {
	var checks []check
	for _, ch := range suite() {
		if c.only == nil || c.only.MatchString(ch.name) {
			checks = append(checks, ch)
		}
	}
	return checks
}

// parsePrice parses "IN,OUT" (USD per 1M tokens).
func parsePrice(flagName, s string) (*budget.Price, error) {
	if s == "" {
		return nil, nil
	}
	in, out, ok := strings.Cut(s, ",")
	if !ok {
		return nil, fmt.Errorf("%s %q: want IN,OUT (USD per 1M input and output tokens)", flagName, s)
	}
	p := &budget.Price{Source: flagName}
	var err error
	if p.Input, err = strconv.ParseFloat(strings.TrimSpace(in), 64); err != nil {
		return nil, fmt.Errorf("%s %q: input price: %w", flagName, s, err)
	}
	if p.Output, err = strconv.ParseFloat(strings.TrimSpace(out), 64); err != nil {
		return nil, fmt.Errorf("%s %q: output price: %w", flagName, s, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s %q: %w", flagName, s, err)
	}
	return p, nil
}

// report is the outcome of a run, as printed with --json.
type report struct {
	Config struct {
		BudgetUSD    float64 `json:"budget_usd"`
		CheapModel   string  `json:"cheap_model"`
		CapableModel string  `json:"capable_model"`
		MaxOutput    int     `json:"max_output"`
		Seed         uint64  `json:"seed"`
		Goroutines   int     `json:"goroutines"`
		Threshold    float64 `json:"threshold"`
	} `json:"config"`
	Checks      []result `json:"checks"`
	Passed      int      `json:"passed"`
	Failed      int      `json:"failed"`
	WallSeconds float64  `json:"wall_seconds"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	c.progress = stderr
	return runConfig(ctx, c, stdout)
}

// runConfig runs the suite under c and prints the results to stdout. It
// returns errFailed when a check failed.
func runConfig(ctx context.Context, c *config, stdout io.Writer) error {
	start := time.Now()
	e, err := newEnv(ctx, c)
	if err != nil {
		return cli.AsUsage(err)
	}
	var rep report
	rep.Config.BudgetUSD, rep.Config.CheapModel, rep.Config.CapableModel = c.budgetUSD, c.cheapModel, c.capableModel
	rep.Config.MaxOutput, rep.Config.Seed, rep.Config.Goroutines, rep.Config.Threshold = c.maxOutput, c.seed, c.goroutines, e.threshold
	checks := c.checks()
	for i, ch := range checks {
		ch.tried = strings.NewReplacer("{n}", strconv.Itoa(c.goroutines), "{h}", strconv.Itoa(min(c.goroutines, httpStormMax))).Replace(ch.tried)
		if c.progress != nil {
			fmt.Fprintf(c.progress, "%s: [%d/%d] %s … ", name, i+1, len(checks), ch.name)
		}
		r := e.runCheck(ctx, ch)
		if c.progress != nil {
			fmt.Fprintf(c.progress, "%s (%v)\n", r.Result, r.duration().Round(time.Millisecond))
		}
		rep.Checks = append(rep.Checks, r)
		if r.Result == pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	rep.WallSeconds = time.Since(start).Seconds()
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(&rep); err != nil {
			return err
		}
	} else if err := printTable(stdout, &rep); err != nil {
		return err
	}
	if rep.Failed > 0 {
		return errFailed
	}
	return nil
}

func printTable(w io.Writer, rep *report) error {
	fmt.Fprintf(w, "baar-stress: cheap %s, capable %s, budget $%g, max output %d tokens, seed %d, %d goroutines per storm, threshold %.3f (20%% capable share)\n\n",
		rep.Config.CheapModel, rep.Config.CapableModel, rep.Config.BudgetUSD, rep.Config.MaxOutput, rep.Config.Seed, rep.Config.Goroutines, rep.Config.Threshold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTRIED\tRESULT\tSPENT / CAP\tTIME\tDETAIL")
	for _, r := range rep.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Check, r.Tried, r.Result, r.spendCell(), r.duration().Round(time.Millisecond), r.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed in %.1fs\n", rep.Passed, rep.Failed, rep.WallSeconds)
	return err
}
