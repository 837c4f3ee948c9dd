// Command agent runs a langchaingo ReAct agent with a calculator through a
// baar Router: first routed by the prompt's complexity score with the
// default settings, then through a cascade (the cheap model answers, a
// verifier judges, the capable model answers only when the verifier doubts),
// compared with always asking the capable model; it ends with the
// kill-switch refusing a call once the budget is spent.
//
// Offline by default: langchaingo's real openai client talks to baar's
// in-process OpenAI-compatible simulator (package baartest), whose cheap
// model answers wrongly a seeded 30% of the time. With OPENAI_API_KEY set
// it uses the real API (and OPENAI_BASE_URL if set):
//
//	go run ./examples/agent
//	OPENAI_API_KEY=sk-... go run ./examples/agent -cheap gpt-4o-mini -capable gpt-4o -budget 0.02
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/demo"
	"github.com/baarcore/baar/scoring"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// task is a question and its right final answer.
type task struct{ question, want string }

var tasks = []task{
	{"What is 12 + 30? Use the calculator.", "42"},
	{"What is 7 * 8? Use the calculator.", "56"},
	{"A crate holds 24 bottles. How many bottles are in 17 crates? Compute 17 * 24 with the calculator.", "408"},
	{"Three friends split a bill of 96 dollars equally. What does each pay? Compute 96 / 3 with the calculator.", "32"},
	{"How many minutes are in 7 days? Compute 7 * 1440 with the calculator.", "10080"},
}

// cheapMistakes are the simulated cheap model's: 30% of its answers
// are wrong (a false result, no answer, cut off, an unknown tool).
var cheapMistakes = baartest.Mistakes{Rate: 0.3, Seed: 1}

// verifier judges the cheap model's answers in the cascade: the default
// verifier, offline, microseconds. It checks a ReAct action step's tool
// against the tools the prompt offers, and a final answer's arithmetic.
func verifier() scoring.Verifier { return scoring.DefaultVerifier() }

func run(ctx context.Context, w io.Writer, args []string) error {
	f, err := parseFlags(w, args)
	if err != nil {
		return err
	}

	// OTLP export of the Router's spans and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set.
	stop, err := demo.Telemetry(ctx, "agent")
	if err != nil {
		return err
	}
	defer stop()
	models, err := demo.NewModels(w, f.cheap, f.capable, cheapMistakes)
	if err != nil {
		return err
	}
	defer models.Close()
	cheapLog := &sampleLog{Model: models.Cheap}
	cheap := baar.Tier{Model: cheapLog, Name: f.cheap, Provider: "openai"}
	capable := baar.Tier{Model: models.Capable, Name: f.capable, Provider: "openai"}

	fmt.Fprintf(w, `legend: one line per model call: #, route (escalated: the verifier doubted the cheap answer and
  %s answered), model, complexity score or verifier's doubt, tokens in/out, cost, [the cheap samples
  judged: an action's input or =final answer, ✗ wrong]; per task, the agent's final answer, ✓ when right
`, f.capable)

	// 1. Routing by the prompt's complexity score, default settings.
	p := &printer{w: w, log: cheapLog}
	common := []baar.Option{baar.WithBudget(f.budget), baar.WithMaxOutputTokens(f.maxOut)}
	routed, err := baar.New(cheap, capable, append(common, baar.WithReportFunc(p.report))...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n1) routing by prompt score, default threshold %.2f (rising with spend); budget $%.4f per router;\n", routed.Threshold(), routed.Budget())
	fmt.Fprintf(w, "   output cap %d tokens (WithMaxOutputTokens; the default is %d): every call of the runaway loop below costs less\n", f.maxOut, baar.DefaultMaxOutputTokens)
	if err := runTasks(ctx, w, routed, p); err != nil {
		return err
	}
	fmt.Fprintf(w, "   %d/%d right: these short tasks score below the threshold, and nothing checks the cheap answers\n", p.right, len(tasks))

	// 2. The same tasks through a cascade.
	c := &printer{w: w, log: cheapLog, cascade: true, refusals: &demo.Refusals{Models: models}}
	cascade, err := baar.New(cheap, capable, append(common, baar.WithCascade(verifier()), baar.WithReportFunc(c.report))...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n2) cascade: %s answers first, verifier %s, escalate at doubt >= %.2f (the default)\n",
		f.cheap, demo.VerifierName(verifier()), baar.DefaultEscalationThreshold)
	if err := runTasks(ctx, w, cascade, c); err != nil {
		return err
	}

	// 3. The baseline: every call to the capable model.
	b, err := alwaysCapable(ctx, cheap, capable, 100*f.budget, f.maxOut)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\ncascade: $%.6f in %d calls (%d escalated), %d/%d right; always %s: $%.6f in %d calls, %d/%d right\n",
		c.cost, c.calls, c.escalated, c.right, len(tasks), f.capable, b.cost, b.calls, b.right, len(tasks))
	if b.cost > 0 {
		fmt.Fprintf(w, "the cascade cost %.0f%% less than always-capable\n", 100*(1-c.cost/b.cost))
	}

	// 4. A runaway loop on the cascade's budget: the kill-switch stops it.
	return runaway(ctx, w, cascade, c, f.maxCalls)
}

// flags are the command line's settings.
type flags struct {
	cheap, capable   string
	budget           float64
	maxOut, maxCalls int
}

func parseFlags(w io.Writer, args []string) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&f.cheap, "cheap", demo.Env("BAAR_CHEAP_MODEL", "gpt-4o-mini"), "cheap model (env BAAR_CHEAP_MODEL)")
	fs.StringVar(&f.capable, "capable", demo.Env("BAAR_CAPABLE_MODEL", "gpt-4o"), "capable model (env BAAR_CAPABLE_MODEL)")
	fs.Float64Var(&f.budget, "budget", 0.01, "hard budget in USD, per router")
	fs.IntVar(&f.maxOut, "max-output", 300, "output-token cap per call")
	fs.IntVar(&f.maxCalls, "max-calls", 500, "stop the runaway loop after this many calls even if the budget lasts")
	return f, fs.Parse(args)
}

// alwaysCapable runs the tasks with every call on the capable model, on a
// budget large enough that none is downgraded: the baseline a cascade is
// compared with.
func alwaysCapable(ctx context.Context, cheap, capable baar.Tier, budgetUSD float64, maxOut int) (*printer, error) {
	b := &printer{w: io.Discard}
	always, err := baar.New(cheap, capable, baar.WithBudget(budgetUSD), baar.WithMaxOutputTokens(maxOut), baar.WithReportFunc(b.report),
		baar.WithPolicy("always-capable", baar.PolicyFunc(func(context.Context, *baar.RouteInput, baar.Route) (baar.Route, error) {
			return baar.Route{Tier: baar.TierCapable, Policy: "always-capable", Reason: "baseline"}, nil
		})))
	if err != nil {
		return nil, err
	}
	return b, runTasks(ctx, io.Discard, always, b)
}

// runaway runs agents on the cascade's budget until it refuses a call
// locally, or maxCalls model calls were made.
func runaway(ctx context.Context, w io.Writer, cascade *baar.Router, c *printer, maxCalls int) error {
	c.w = io.Discard
	exec := executor(cascade)
	for i := 0; c.calls < maxCalls; i++ {
		_, err := chains.Run(ctx, exec, fmt.Sprintf("Compute %d * %d with the calculator.", i+7, i+13))
		if errors.Is(err, baar.ErrBudgetExceeded) {
			fmt.Fprintf(w, "runaway loop: %d agent runs until the budget ran out\nkill-switch: %v\n", i+1, err)
			c.refusals.Print(w, cascade)
			return nil
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "stopped after %d calls with $%.6f left\n", c.calls, cascade.Remaining())
	return nil
}

// executor is the ReAct agent with the calculator. A malformed step (a
// cut-off answer) is shown to the model as an observation, not an error.
func executor(llm llms.Model) *agents.Executor {
	return agents.NewExecutor(agents.NewOneShotAgent(llm, []tools.Tool{calculator{}}),
		agents.WithMaxIterations(5),
		agents.WithParserErrorHandler(agents.NewParserErrorHandler(func(string) string {
			return "invalid format: answer with an Action and an Action Input, or a Final Answer"
		})))
}

// runTasks runs the tasks through llm and prints each final answer.
func runTasks(ctx context.Context, w io.Writer, llm llms.Model, p *printer) error {
	exec := executor(llm)
	for i, t := range tasks {
		fmt.Fprintf(w, "task %d: %s\n", i+1, t.question)
		p.want = t.want
		out, err := chains.Run(ctx, exec, t.question)
		if err != nil {
			return fmt.Errorf("task %q: %w", t.question, err)
		}
		got, ok := scoring.FinalAnswer(out)
		mark := "✗"
		if ok && got == scoring.NormalizeAnswer(t.want) {
			mark = "✓"
			p.right++
		}
		if !ok || !strings.ContainsAny(got, "0123456789") {
			got = "(no final answer)"
		}
		fmt.Fprintf(w, "  answer %s %s\n", got, mark)
	}
	return nil
}

// printer prints the calls of one router and sums them up.
type printer struct {
	refusals *demo.Refusals // the cascade's, else nil
	w        io.Writer
	log      *sampleLog
	cascade  bool
	want     string // the current task's answer

	calls, escalated, right int
	cost                    float64
}

func (p *printer) report(_ context.Context, r *baar.CallReport) {
	p.calls++
	p.cost += r.Cost
	if p.refusals != nil {
		p.refusals.Observe(r)
	}
	if r.Escalated {
		p.escalated++
	}
	if r.Decision == baar.DecisionRejected {
		return // the kill-switch: printed by the loop
	}
	var in, out int64
	for _, a := range r.Attempts {
		in += a.Usage.InputTokens
		out += a.Usage.OutputTokens
	}
	judge := fmt.Sprintf("score %.2f", r.Score)
	samples := ""
	if p.cascade {
		judge = fmt.Sprintf("doubt %.2f", r.Doubt)
		samples = " [" + p.log.summary(p.want) + "]"
	}
	fmt.Fprintf(p.w, "  #%-2d %-9s %-11s %s %5d in %4d out  $%.6f%s\n",
		p.calls, r.Decision, r.Model, judge, in, out, r.Cost, samples)
}

// sampleLog records the answers of the cheap model's last response, to
// show what the verifier judged.
type sampleLog struct {
	llms.Model
	mu   sync.Mutex
	last []*llms.ContentChoice
}

func (l *sampleLog) GenerateContent(ctx context.Context, msgs []llms.MessageContent, opts ...llms.CallOption) (*llms.ContentResponse, error) {
	resp, err := l.Model.GenerateContent(ctx, msgs, opts...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = nil
	if err == nil {
		l.last = resp.Choices
	}
	return resp, err
}

func (l *sampleLog) Call(ctx context.Context, prompt string, opts ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, l, prompt, opts...)
}

var reactAction = regexp.MustCompile(`Action:\s*(\S+)\s*Action Input:\s*(.*)`)

// summary describes the last cheap answers: an action's input ("7 * 8"),
// or the tool it names when that is not the calculator, "=56" for a final
// answer, ✗ marking the wrong ones.
func (l *sampleLog) summary(want string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	parts := make([]string, 0, len(l.last))
	for _, c := range l.last {
		var s string
		wrong := false
		switch {
		case c.StopReason == "length":
			s, wrong = "cut off", true
		case strings.Contains(c.Content, "Final Answer:"):
			_, after, _ := strings.Cut(c.Content, "Final Answer:")
			fa, ok := scoring.FinalAnswer(after)
			s, wrong = "="+fa, !ok || fa != scoring.NormalizeAnswer(want)
			if !strings.Contains(after, "answer is") {
				s, wrong = "no answer", true
			}
		default:
			m := reactAction.FindStringSubmatch(c.Content)
			if m == nil {
				s, wrong = "unparsable", true
				break
			}
			s, wrong = strings.TrimSpace(m[2]), m[1] != (calculator{}).Name()
			if wrong {
				s = m[1]
			}
		}
		if wrong {
			s += " ✗"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " | ")
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
