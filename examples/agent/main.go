// Command agent runs a langchaingo ReAct agent through a baar Router on a
// small budget, prints each model call's route, cost and remaining budget, and
// ends with the kill-switch refusing a call.
//
// Offline by default: langchaingo's real openai client talks to baar's
// in-process OpenAI-compatible simulator (package baartest). With
// OPENAI_API_KEY set it uses the real API (and OPENAI_BASE_URL if set):
//
//	go run ./examples/agent
//	OPENAI_API_KEY=sk-... go run ./examples/agent -cheap gpt-4o-mini -capable gpt-4o -budget 0.01
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/tools"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/internal/demo"
	"github.com/baarcore/baar/internal/otelsetup"
	"github.com/baarcore/baar/scoring"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

func run() error {
	cheapName := flag.String("cheap", demo.Env("BAAR_CHEAP_MODEL", "gpt-4o-mini"), "cheap model (env BAAR_CHEAP_MODEL)")
	capableName := flag.String("capable", demo.Env("BAAR_CAPABLE_MODEL", "gpt-4o"), "capable model (env BAAR_CAPABLE_MODEL)")
	budgetUSD := flag.Float64("budget", 0.01, "hard budget in USD")
	maxOut := flag.Int("max-output", 300, "output-token cap per call")
	maxCalls := flag.Int("max-calls", 500, "stop the runaway loop after this many calls even if the budget lasts")
	flag.Parse()

	ctx := context.Background()
	// OTLP export of the Router's spans and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set.
	shutdown, err := otelsetup.Start(ctx, "baar-example-agent")
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "agent: telemetry export:", err)
		}
	}()
	models, err := demo.NewModels(*cheapName, *capableName)
	if err != nil {
		return err
	}
	defer models.Close()
	cheap, capable := models.Cheap, models.Capable

	tasks := []string{
		"What is 12 + 30? Use the calculator.",
		"What is 7 * 6? Use the calculator.",
		"A train leaves at 3pm at 80 km/h, a second one at 4pm at 120 km/h on the same track. Derive step by step when the second catches up, then check the arithmetic with the calculator.",
		"A tank is filled by pipe A in 6 hours and by pipe B in 9 hours, while pipe C empties it in 12 hours. With all three open from empty, after how many hours is the tank full? Show the equation, then verify 36 / 7 with the calculator.",
	}
	tierNames := []baar.Tier{
		{Model: cheap, Name: *cheapName, Provider: "openai"},
		{Model: capable, Name: *capableName, Provider: "openai"},
	}

	// Calibrate on this agent's own traffic, for free: a probe Router with a
	// $0 budget refuses every call locally (no provider request) but reports
	// each first step's complexity score. Half of these tasks may go to the
	// capable model.
	var scores []float64
	probe, err := baar.New(tierNames[0], tierNames[1], baar.WithBudget(0),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) { scores = append(scores, r.Score) }))
	if err != nil {
		return err
	}
	for _, task := range tasks {
		if _, err := chains.Run(ctx, agents.NewExecutor(agents.NewOneShotAgent(probe, []tools.Tool{calculator{}})), task); !errors.Is(err, baar.ErrBudgetExceeded) {
			return fmt.Errorf("probe: %v", err)
		}
	}
	threshold, err := scoring.ThresholdForShare(scores, 0.5)
	if err != nil {
		return err
	}

	calls := 0
	router, err := baar.New(tierNames[0], tierNames[1],
		baar.WithBudget(*budgetUSD),
		baar.WithMaxOutputTokens(*maxOut),
		baar.WithComplexityThreshold(threshold),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			calls++
			printReport(calls, r)
		}),
	)
	if err != nil {
		return err
	}
	fmt.Printf("budget $%.4f, cheap %s, capable %s, threshold %.2f (calibrated on these tasks' first steps for a 50%% capable share)\n\n",
		router.Budget(), *cheapName, *capableName, router.Threshold())

	agent := agents.NewOneShotAgent(router, []tools.Tool{calculator{}})
	exec := agents.NewExecutor(agent, agents.WithMaxIterations(4))
	for _, task := range tasks {
		fmt.Printf("task: %s\n", task)
		out, err := chains.Run(ctx, exec, task)
		if err != nil {
			return fmt.Errorf("task %q: %w", task, err)
		}
		fmt.Printf("answer: %s\n\n", clip(out, 120))
	}

	// A runaway loop: keep the agent busy until the budget stops it.
	fmt.Println("runaway loop: the agent keeps working until the kill-switch stops it")
	for i := 0; calls < *maxCalls; i++ {
		_, err := chains.Run(ctx, exec, fmt.Sprintf("Compute %d * %d with the calculator, then explain the result.", i+7, i+13))
		var be *baar.BudgetError
		if errors.As(err, &be) {
			fmt.Printf("\nkill-switch: %v\n", err)
			fmt.Printf("refused locally: no provider request was made; spent $%.6f of $%.4f (%.1f%%)\n",
				router.Spent(), router.Budget(), 100*router.Spent()/router.Budget())
			return nil
		}
		if err != nil {
			return err
		}
	}
	fmt.Printf("stopped after %d calls with $%.6f left\n", calls, router.Remaining())
	return nil
}

func printReport(n int, r *baar.CallReport) {
	if r.Decision == baar.DecisionRejected {
		fmt.Printf("#%-3d %-10s %-12s score %.2f  refused            remaining $%.6f\n", n, r.Decision, "-", r.Score, r.Remaining)
		return
	}
	var in, out int64
	for _, a := range r.Attempts {
		in += a.Usage.InputTokens
		out += a.Usage.OutputTokens
	}
	fmt.Printf("#%-3d %-10s %-12s score %.2f  %5d in %4d out  cost $%.6f  remaining $%.6f\n",
		n, r.Decision, r.Model, r.Score, in, out, r.Cost, r.Remaining)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// calculator evaluates the first "a + b", "a - b", "a * b" or "a / b" in its input.
type calculator struct{}

var arithmetic = regexp.MustCompile(`(-?\d+)\s*([-+*x×/])\s*(-?\d+)`)

func (calculator) Name() string { return "calculator" }
func (calculator) Description() string {
	return "Evaluates one addition, subtraction, multiplication or division of two integers, e.g. 12 + 30 or 36 / 7."
}

func (calculator) Call(_ context.Context, input string) (string, error) {
	m := arithmetic.FindStringSubmatch(input)
	if m == nil {
		return "no arithmetic found: write it as 'a + b', 'a - b', 'a * b' or 'a / b'", nil
	}
	x, err1 := strconv.Atoi(m[1])
	y, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil {
		return "the numbers are too large", nil
	}
	switch m[2] {
	case "+":
		return m[1] + " + " + m[3] + " = " + strconv.Itoa(x+y), nil
	case "-":
		return m[1] + " - " + m[3] + " = " + strconv.Itoa(x-y), nil
	case "/":
		if y == 0 {
			return "division by zero", nil
		}
		return m[1] + " / " + m[3] + " = " + strconv.FormatFloat(float64(x)/float64(y), 'g', 6, 64), nil
	default:
		return m[1] + " * " + m[3] + " = " + strconv.Itoa(x*y), nil
	}
}
