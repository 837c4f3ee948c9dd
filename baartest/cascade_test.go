package baartest_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
	"github.com/tmc/langchaingo/tools"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/scoring"
)

// These tests run baar's cascade through langchaingo's real openai client
// against the simulator, whose cheap model makes checkable mistakes.

const (
	cheapModel   = "gpt-4o-mini"
	capableModel = "gpt-4o"
)

// cascadeRouter returns a cascade Router over two openai clients of srv and
// the reports of its calls.
func cascadeRouter(t *testing.T, srv *baartest.Server, v scoring.Verifier) (*baar.Router, func() []baar.CallReport) {
	t.Helper()
	client := func(model string) llms.Model {
		llm, err := openai.New(openai.WithBaseURL(srv.URL()), openai.WithToken("x"), openai.WithModel(model))
		require.NoError(t, err)
		return llm
	}
	var (
		mu      sync.Mutex
		reports []baar.CallReport
	)
	r, err := baar.New(
		baar.Tier{Model: client(cheapModel), Name: cheapModel, Provider: "openai"},
		baar.Tier{Model: client(capableModel), Name: capableModel, Provider: "openai"},
		baar.WithBudget(1), baar.WithMaxOutputTokens(300), baar.WithCascade(v),
		baar.WithReportFunc(func(_ context.Context, r *baar.CallReport) {
			mu.Lock()
			reports = append(reports, *r)
			mu.Unlock()
		}))
	require.NoError(t, err)
	return r, func() []baar.CallReport {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reports)
	}
}

func wrongCheap(kinds ...baartest.Mistake) baartest.Option {
	return baartest.WithMistakes(baartest.Mistakes{Rate: 1, Seed: 1, Kinds: kinds}, cheapModel)
}

func finalOf(t *testing.T, text string) string {
	t.Helper()
	fa, ok := scoring.FinalAnswer(text)
	require.True(t, ok, text)
	return fa
}

func TestCascadeEscalatesAWrongCheapAnswer(t *testing.T) {
	srv := baartest.NewServer(wrongCheap(baartest.MistakeArithmetic))
	defer srv.Close()
	r, reports := cascadeRouter(t, srv, scoring.DefaultVerifier())

	out, err := llms.GenerateFromSinglePrompt(context.Background(), r, "What is 17 * 24?")
	require.NoError(t, err)
	assert.Equal(t, "408", finalOf(t, out))
	assert.Contains(t, out, "Simulated answer from "+capableModel)
	rep := reports()[0]
	assert.Equal(t, baar.DecisionEscalated, rep.Decision)
	assert.True(t, rep.Escalated)
	assert.GreaterOrEqual(t, rep.Doubt, baar.DefaultEscalationThreshold, "a false equation")
	require.Len(t, rep.Attempts, 2)
	assert.Equal(t, baar.StepAnswer, rep.Attempts[0].Step)
	assert.Equal(t, cheapModel, rep.Attempts[0].Model)
	assert.Equal(t, baar.StepEscalation, rep.Attempts[1].Step)
	assert.Equal(t, int64(1), srv.RequestsFor(cheapModel))
	assert.Equal(t, int64(1), srv.RequestsFor(capableModel))
}

func TestCascadeAcceptsARightCheapAnswer(t *testing.T) {
	srv := baartest.NewServer() // the cheap model makes no mistake
	defer srv.Close()
	r, reports := cascadeRouter(t, srv, scoring.DefaultVerifier())
	out, err := llms.GenerateFromSinglePrompt(context.Background(), r, "What is 17 * 24?")
	require.NoError(t, err)
	assert.Equal(t, "408", finalOf(t, out))
	assert.Contains(t, out, "Simulated answer from "+cheapModel)
	rep := reports()[0]
	assert.Equal(t, baar.DecisionCheap, rep.Decision)
	assert.False(t, rep.Escalated)
	assert.Less(t, rep.Doubt, baar.DefaultEscalationThreshold)
	assert.Zero(t, srv.RequestsFor(capableModel))
}

func TestCascadeAgreementSamplesInOneRequest(t *testing.T) {
	t.Run("agree", func(t *testing.T) {
		srv := baartest.NewServer()
		defer srv.Close()
		r, reports := cascadeRouter(t, srv, scoring.Agreement(3))
		out, err := llms.GenerateFromSinglePrompt(context.Background(), r, "What is 17 * 24?")
		require.NoError(t, err)
		assert.Equal(t, "408", finalOf(t, out))
		assert.Equal(t, int64(1), srv.Requests(), "three samples, one request (n=3)")
		rep := reports()[0]
		assert.Equal(t, baar.DecisionCheap, rep.Decision)
		assert.Zero(t, rep.Doubt)
		require.Len(t, rep.Attempts, 1)
		assert.Equal(t, baar.StepSample, rep.Attempts[0].Step)
		// The prompt is billed once: the same input tokens as one answer's.
		one := baartest.NewServer()
		defer one.Close()
		llm, err := openai.New(openai.WithBaseURL(one.URL()), openai.WithToken("x"), openai.WithModel(cheapModel))
		require.NoError(t, err)
		_, err = llm.GenerateContent(context.Background(), human("What is 17 * 24?"), llms.WithMaxTokens(300))
		require.NoError(t, err)
		assert.Equal(t, one.Tokens().Prompt, srv.Tokens().Prompt)
		assert.Equal(t, 3*one.Tokens().Completion, srv.Tokens().Completion)
	})
	t.Run("disagree", func(t *testing.T) {
		// Every sample wrong: false results that differ, answers cut off.
		srv := baartest.NewServer(wrongCheap(baartest.MistakeArithmetic, baartest.MistakeTruncated))
		defer srv.Close()
		r, reports := cascadeRouter(t, srv, scoring.Agreement(3))
		out, err := llms.GenerateFromSinglePrompt(context.Background(), r, "What is 17 * 24?")
		require.NoError(t, err)
		assert.Equal(t, "408", finalOf(t, out))
		rep := reports()[0]
		assert.Equal(t, baar.DecisionEscalated, rep.Decision)
		assert.GreaterOrEqual(t, rep.Doubt, 0.5)
		assert.Equal(t, int64(1), srv.RequestsFor(cheapModel))
		assert.Equal(t, int64(1), srv.RequestsFor(capableModel))
	})
}

func TestCascadeStreamShowsOnlyTheReturnedAnswer(t *testing.T) {
	srv := baartest.NewServer(wrongCheap(baartest.MistakeArithmetic), baartest.WithStreamChunks(4, 0))
	defer srv.Close()
	r, reports := cascadeRouter(t, srv, scoring.DefaultVerifier())
	var streamed strings.Builder
	resp, err := r.GenerateContent(context.Background(), human("What is 17 * 24?"),
		llms.WithStreamingFunc(func(_ context.Context, b []byte) error { streamed.Write(b); return nil }))
	require.NoError(t, err)
	assert.Equal(t, baar.DecisionEscalated, reports()[0].Decision)
	assert.Equal(t, resp.Choices[0].Content, streamed.String(), "the caller saw the capable answer alone")
	assert.Equal(t, "408", finalOf(t, streamed.String()))
	assert.NotContains(t, streamed.String(), cheapModel)
}

// calculator computes "a op b" for the agents.
type calculator struct{}

func (calculator) Name() string { return "calculator" }
func (calculator) Description() string {
	return "Computes 'a op b' for integers a, b and op one of + - * /."
}
func (calculator) Call(_ context.Context, input string) (string, error) {
	m := regexp.MustCompile(`(\d+)\s*([-+*/])\s*(\d+)`).FindStringSubmatch(input)
	if m == nil {
		return "no arithmetic found", nil
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[3])
	v := map[string]int{"+": a + b, "-": a - b, "*": a * b}[m[2]]
	if m[2] == "/" && b != 0 {
		v = a / b
	}
	return m[1] + " " + m[2] + " " + m[3] + " = " + strconv.Itoa(v), nil
}

func TestCascadeReActAgent(t *testing.T) {
	srv := baartest.NewServer(baartest.WithMistakes(baartest.Mistakes{Rate: 0.3, Seed: 1}, cheapModel))
	defer srv.Close()
	r, reports := cascadeRouter(t, srv, scoring.Agreement(3))
	exec := agents.NewExecutor(agents.NewOneShotAgent(r, []tools.Tool{calculator{}}), agents.WithMaxIterations(5),
		agents.WithParserErrorHandler(agents.NewParserErrorHandler(nil)))
	for _, c := range []struct{ q, want string }{
		{"What is 12 + 30? Use the calculator.", "42"},
		{"What is 7 * 8? Use the calculator.", "56"},
		{"How many bottles are in 17 crates of 24? Compute 17 * 24 with the calculator.", "408"},
		{"Compute 96 / 3 with the calculator.", "32"},
	} {
		out, err := chains.Run(context.Background(), exec, c.q)
		require.NoError(t, err, c.q)
		assert.Equal(t, c.want, finalOf(t, out), c.q)
	}
	doubted := 0
	for _, rep := range reports() {
		assert.Equal(t, "agreement-3", rep.Verifier)
		if rep.Doubt > 0 {
			doubted++
		}
	}
	assert.Positive(t, doubted, "the cheap samples disagreed at some step")
}

func TestCascadeOpenAIFunctionsAgentEscalatesAnUnknownTool(t *testing.T) {
	srv := baartest.NewServer(wrongCheap(baartest.MistakeUnknownTool))
	defer srv.Close()
	var (
		mu      sync.Mutex
		offered [][]string
	)
	// The default verifier doubts a call of a tool that was not offered;
	// record what the Router tells it was offered.
	toolCheck := scoring.VerifierFunc(func(ctx context.Context, req scoring.Request, answers []scoring.Answer) (float64, error) {
		mu.Lock()
		offered = append(offered, req.Tools)
		mu.Unlock()
		return scoring.DefaultVerifier().Verify(ctx, req, answers)
	})
	r, reports := cascadeRouter(t, srv, toolCheck)
	exec := agents.NewExecutor(agents.NewOpenAIFunctionsAgent(r, []tools.Tool{calculator{}}), agents.WithMaxIterations(4))
	out, err := chains.Run(context.Background(), exec, "What is 17 * 24?")
	require.NoError(t, err)
	assert.Equal(t, "408", finalOf(t, out))

	reps := reports()
	require.Len(t, reps, 2, "a tool call, then the answer")
	assert.Equal(t, baar.DecisionEscalated, reps[0].Decision, "the cheap call of an unknown tool escalated")
	assert.Equal(t, baar.DecisionCheap, reps[1].Decision, "the cheap final answer (no tool to get wrong) accepted")
	assert.Equal(t, [][]string{{"calculator"}, {"calculator"}}, offered, "the Router passes the offered tools to the verifier")
}
