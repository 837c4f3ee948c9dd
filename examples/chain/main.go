// Command chain runs a langchaingo LLMChain over a batch of questions through
// a baar Router (concurrently, with chains.Apply), first routed by the
// prompt's complexity score, then through a cascade; it prints each call's
// route, cost and the spend so far, and ends with the kill-switch refusing a
// call.
//
// Offline by default (baar's OpenAI-compatible simulator behind langchaingo's
// real openai client, whose cheap model answers wrongly a seeded 30% of the
// time); with OPENAI_API_KEY set it uses the real API:
//
//	go run ./examples/chain
//	OPENAI_API_KEY=sk-... go run ./examples/chain -budget 0.01
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/prompts"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/demo"
	"github.com/baarcore/baar/scoring"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

// question is a question and, when it has one, its right final answer.
type question struct{ text, want string }

var questions = []question{
	{"What is the capital of Japan?", ""},
	{"Translate 'thank you' into Spanish.", ""},
	{"A shop sells pens at 1.20 dollars each. What do 30 pens cost? Compute 30 * 1.20.", "36"},
	{"How many hours are in a year of 365 days? Compute 365 * 24.", "8760"},
	{"Write a Go function that merges two sorted slices of ints in O(n+m) time and explain why it is correct.", ""},
	{"What is 1234 + 5678?", "6912"},
	{"A train covers 450 km in 5 hours. What is its average speed in km/h? Compute 450 / 5.", "90"},
	{"What day comes after Monday?", ""},
}

// cheapMistakes are the simulated cheap model's: 30% of its answers are
// wrong (a false result, no answer, cut off).
var cheapMistakes = baartest.Mistakes{Rate: 0.3, Seed: 1}

// verifier judges the cheap model's answers in the cascade: the built-in
// verifier, offline, one answer per call.
func verifier() scoring.Verifier { return scoring.DefaultVerifier() }

func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("chain", flag.ContinueOnError)
	fs.SetOutput(w)
	cheapName := fs.String("cheap", demo.Env("BAAR_CHEAP_MODEL", "gpt-4o-mini"), "cheap model (env BAAR_CHEAP_MODEL)")
	capableName := fs.String("capable", demo.Env("BAAR_CAPABLE_MODEL", "gpt-4o"), "capable model (env BAAR_CAPABLE_MODEL)")
	// A budget that holds the worst cases of four calls in flight, each
	// possibly escalated: with less, an escalation can be refused while
	// others are in flight, and the cheap answer stands.
	budgetUSD := fs.Float64("budget", 0.02, "hard budget in USD, per router")
	maxOut := fs.Int("max-output", 200, "output-token cap per call")
	if err := fs.Parse(args); err != nil {
		return err
	}

	// OTLP export of the Router's spans and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set.
	stop, err := demo.Telemetry(ctx, "chain")
	if err != nil {
		return err
	}
	defer stop()
	models, err := demo.NewModels(w, *cheapName, *capableName, cheapMistakes)
	if err != nil {
		return err
	}
	defer models.Close()
	cheap := baar.Tier{Model: models.Cheap, Name: *cheapName, Provider: "openai"}
	capable := baar.Tier{Model: models.Capable, Name: *capableName, Provider: "openai"}
	common := []baar.Option{baar.WithBudget(*budgetUSD), baar.WithMaxOutputTokens(*maxOut)}

	fmt.Fprintf(w, `legend: one line per call, in the order the calls finished (4 run at once): route, model,
  complexity score or the cascade verifier's doubt, cost, and spent: the total of the calls finished so
  far (a call in flight holds a reservation for its worst case; it is settled at its cost when it ends)
`)

	p := &printer{w: w}
	routed, err := baar.New(cheap, capable, append(common, baar.WithReportFunc(p.report))...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n1) routing by prompt score, default threshold %.2f; budget $%.4f per router; output cap %d tokens\n",
		routed.Threshold(), routed.Budget(), *maxOut)
	right, err := batch(ctx, routed)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "batch done: spent $%.6f (the router's ledger: $%.6f); %d/%d arithmetic answers right\n",
		p.spent, routed.Spent(), right, arithmetic())

	c := &printer{w: w, cascade: true, refusals: &demo.Refusals{Models: models}}
	cascade, err := baar.New(cheap, capable, append(common, baar.WithCascade(verifier()), baar.WithReportFunc(c.report))...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n2) cascade: %s answers, verifier %s, escalate at doubt >= %.2f (the default)\n",
		*cheapName, demo.VerifierName(verifier()), baar.DefaultEscalationThreshold)
	right, err = batch(ctx, cascade)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "batch done: spent $%.6f (the router's ledger: $%.6f), %d escalated; %d/%d arithmetic answers right\n",
		c.spent, cascade.Spent(), c.escalated, right, arithmetic())

	// Keep asking until the budget refuses: the kill-switch answers locally.
	c.w = io.Discard
	chain := newChain(cascade)
	for i := 0; i < 10_000; i++ {
		_, err := chains.Run(ctx, chain, questions[i%len(questions)].text)
		if errors.Is(err, baar.ErrBudgetExceeded) {
			fmt.Fprintf(w, "\nkill-switch after %d more calls: %v\n", i, err)
			c.refusals.Print(w, cascade)
			return nil
		}
		if err != nil {
			return err
		}
	}
	return errors.New("the budget was never exhausted")
}

func newChain(llm llms.Model) *chains.LLMChain {
	return chains.NewLLMChain(llm, prompts.NewPromptTemplate("Answer concisely.\nQuestion: {{.question}}", []string{"question"}))
}

// batch runs the questions through llm, four at a time, and returns how
// many of the answers that can be checked are right.
func batch(ctx context.Context, llm llms.Model) (int, error) {
	inputs := make([]map[string]any, len(questions))
	for i, q := range questions {
		inputs[i] = map[string]any{"question": q.text}
	}
	outs, err := chains.Apply(ctx, newChain(llm), inputs, 4)
	if err != nil {
		return 0, err
	}
	right := 0
	for i, q := range questions {
		text, _ := outs[i]["text"].(string)
		if fa, ok := scoring.FinalAnswer(text); q.want != "" && ok && fa == scoring.NormalizeAnswer(q.want) {
			right++
		}
	}
	return right, nil
}

// arithmetic is the number of questions with a checkable answer.
func arithmetic() int {
	n := 0
	for _, q := range questions {
		if q.want != "" {
			n++
		}
	}
	return n
}

// printer prints the calls of one router as they finish (chains.Apply runs
// them concurrently) with the running total of their costs.
type printer struct {
	refusals  *demo.Refusals // the cascade's, else nil
	mu        sync.Mutex
	w         io.Writer
	cascade   bool
	spent     float64
	escalated int
}

func (p *printer) report(_ context.Context, r *baar.CallReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spent += r.Cost
	if p.refusals != nil {
		p.refusals.Observe(r)
	}
	if r.Escalated {
		p.escalated++
	}
	if r.Decision == baar.DecisionRejected {
		fmt.Fprintf(p.w, "  %-10s refused: %v\n", r.Decision, r.Err)
		return
	}
	judge := fmt.Sprintf("score %.2f", r.Score)
	if p.cascade {
		judge = fmt.Sprintf("doubt %.2f", r.Doubt)
	}
	note := ""
	if r.Escalation != "" {
		note = fmt.Sprintf("  (escalation %s: the cheap answer stands)", r.Escalation)
	}
	fmt.Fprintf(p.w, "  %-10s %-11s %s  cost $%.6f  spent $%.6f%s\n", r.Decision, r.Model, judge, r.Cost, p.spent, note)
}
