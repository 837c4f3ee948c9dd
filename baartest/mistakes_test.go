package baartest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/scoring"
)

func TestDefaultResponderComputesArithmetic(t *testing.T) {
	for _, c := range []struct{ prompt, equation, answer string }{
		{"What is 17 * 24?", "17 * 24 = 408", "408"},
		{"What is 12 + 30 * 2? Show your work.", "12 + 30 * 2 = 72", "72"},
		{"Compute 7×8.", "7×8 = 56", "56"},
		{"Verify 36 / 7 please", "36 / 7 = 5.14286", "5.14286"},
		{"How much is 100 - 58 - 2?", "100 - 58 - 2 = 40", "40"},
		{"What is 2.5 x 4?", "2.5 x 4 = 10", "10"},
	} {
		m := &baartest.Model{Responder: baartest.DefaultResponder}
		resp, err := m.GenerateContent(context.Background(), human(c.prompt))
		require.NoError(t, err)
		got := resp.Choices[0].Content
		assert.Contains(t, got, c.equation+". The answer is "+c.answer+".", c.prompt)
		fa, ok := scoring.FinalAnswer(got)
		assert.True(t, ok, got)
		assert.Equal(t, c.answer, fa, got)
	}
	// No arithmetic to compute: the filler answer.
	for _, prompt := range []string{"The train leaves at 3pm at 80 km/h.", "What is 5 / 0?", "Name 3 colours."} {
		resp, err := (&baartest.Model{Responder: baartest.DefaultResponder}).GenerateContent(context.Background(), human(prompt))
		require.NoError(t, err)
		assert.NotContains(t, resp.Choices[0].Content, "The answer is", prompt)
	}
}

// ask sends prompt to m and returns the first choice.
func ask(t *testing.T, m llms.Model, prompt string, opts ...llms.CallOption) *llms.ContentChoice {
	t.Helper()
	resp, err := m.GenerateContent(context.Background(), human(prompt), opts...)
	require.NoError(t, err)
	return resp.Choices[0]
}

// wrongArithmetic reports whether an answer to "What is a * b?" fails to
// give a*b as its final answer.
func wrongArithmetic(c *llms.ContentChoice, want string) bool {
	fa, ok := scoring.FinalAnswer(c.Content)
	return c.StopReason == "length" || !ok || fa != want
}

func TestMistakesRateAndDeterminism(t *testing.T) {
	const n = 2000
	run := func(seed uint64) (wrong int, answers []string) {
		m := &baartest.Model{Name: "cheap", Mistakes: baartest.Mistakes{Rate: 0.3, Seed: seed}}
		for i := range n {
			a, b := 3+i%97, 11+i/97
			c := ask(t, m, fmt.Sprintf("What is %d * %d?", a, b))
			if wrongArithmetic(c, fmt.Sprint(a*b)) {
				wrong++
			}
			answers = append(answers, c.StopReason+"|"+c.Content)
		}
		return wrong, answers
	}
	w1, a1 := run(1)
	w1again, a1again := run(1)
	w2, a2 := run(2)
	assert.Equal(t, a1, a1again, "same seed, same answers")
	assert.Equal(t, w1, w1again)
	assert.NotEqual(t, a1, a2, "another seed, other answers")
	// 4 standard deviations of a binomial(2000, 0.3) share: ±0.041.
	for _, w := range []int{w1, w2} {
		assert.InDelta(t, 0.3, float64(w)/n, 0.041, "share of wrong answers")
	}
}

func TestMistakesZeroRateChangesNothing(t *testing.T) {
	plain := &baartest.Model{Responder: baartest.DefaultResponder}
	zero := &baartest.Model{Responder: baartest.DefaultResponder, Mistakes: baartest.Mistakes{Seed: 7}}
	for range 3 {
		assert.Equal(t, ask(t, plain, "What is 6 * 7?").Content, ask(t, zero, "What is 6 * 7?").Content)
	}
}

func TestMistakeKinds(t *testing.T) {
	only := func(k baartest.Mistake) *baartest.Model {
		return &baartest.Model{Name: "cheap", Mistakes: baartest.Mistakes{Rate: 1, Seed: 3, Kinds: []baartest.Mistake{k}}}
	}
	t.Run("arithmetic", func(t *testing.T) {
		c := ask(t, only(baartest.MistakeArithmetic), "What is 7 * 8?")
		fa, ok := scoring.FinalAnswer(c.Content)
		require.True(t, ok, c.Content)
		assert.NotEqual(t, "56", fa)
		assert.Contains(t, c.Content, "7 * 8 = "+fa+". The answer is "+fa+".", "a false equation")
		assert.Equal(t, "stop", c.StopReason)
	})
	t.Run("no answer", func(t *testing.T) {
		c := ask(t, only(baartest.MistakeNoAnswer), "What is 7 * 8?")
		assert.NotContains(t, c.Content, "answer is")
		assert.False(t, strings.ContainsAny(strings.TrimPrefix(c.Content, "Simulated answer from cheap: "), "0123456789"), c.Content)
	})
	t.Run("truncated", func(t *testing.T) {
		m := only(baartest.MistakeTruncated)
		c := ask(t, m, "What is 7 * 8?", llms.WithMaxTokens(40))
		assert.Equal(t, "length", c.StopReason)
		assert.NotContains(t, c.Content, "answer is")
		assert.Equal(t, 40, c.GenerationInfo["CompletionTokens"], "rambles up to the cap")
		c = ask(t, m, "What is 7 * 8?")
		assert.Equal(t, "length", c.StopReason, "cut without a cap too")
		assert.NotContains(t, c.Content, "answer is")
	})
	t.Run("unknown tool", func(t *testing.T) {
		calc := llms.Tool{Type: "function", Function: &llms.FunctionDefinition{Name: "calculator", Parameters: map[string]any{
			"type": "object", "properties": map[string]any{"expression": map[string]any{"type": "string"}}, "required": []string{"expression"},
		}}}
		c := ask(t, only(baartest.MistakeUnknownTool), "What is 7 * 8?", llms.WithTools([]llms.Tool{calc}))
		require.Len(t, c.ToolCalls, 1)
		name := c.ToolCalls[0].FunctionCall.Name
		assert.True(t, strings.HasPrefix(name, "calculator") && name != "calculator", name)
		assert.JSONEq(t, `{"expression":"7 * 8"}`, c.ToolCalls[0].FunctionCall.Arguments)
	})
	t.Run("none applies", func(t *testing.T) {
		// A filler answer has no equation: it stays right.
		c := ask(t, only(baartest.MistakeArithmetic), "What is the capital of Japan?")
		assert.Equal(t, ask(t, &baartest.Model{Name: "cheap", Responder: baartest.DefaultResponder}, "What is the capital of Japan?").Content, c.Content)
	})
}

func TestMistakesRepeatedRequestsDisagree(t *testing.T) {
	m := &baartest.Model{Name: "cheap", Mistakes: baartest.Mistakes{Rate: 0.5, Seed: 1, Kinds: []baartest.Mistake{baartest.MistakeArithmetic}}}
	finals := map[string]int{}
	for range 20 {
		fa, _ := scoring.FinalAnswer(ask(t, m, "What is 17 * 24?").Content)
		finals[fa]++
	}
	assert.Greater(t, finals["408"], 0, "some samples are right")
	assert.Greater(t, len(finals), 2, "wrong samples disagree with the right ones and among themselves: %v", finals)
}

func TestServerChoicesAreSamples(t *testing.T) {
	srv := baartest.NewServer(baartest.WithMistakes(baartest.Mistakes{Rate: 0.5, Seed: 4, Kinds: []baartest.Mistake{baartest.MistakeArithmetic}}, "gpt-4o-mini"))
	defer srv.Close()
	llm := newClient(t, srv)
	const q = "What is 17 * 24?"
	one, err := llm.GenerateContent(context.Background(), human(q))
	require.NoError(t, err)
	prompt := srv.Tokens().Prompt

	resp, err := llm.GenerateContent(context.Background(), human(q), llms.WithN(6))
	require.NoError(t, err)
	require.Len(t, resp.Choices, 6, "N choices in one response")
	assert.Equal(t, int64(2), srv.Requests())
	finals := map[string]bool{}
	completion := 0
	for _, c := range resp.Choices {
		fa, _ := scoring.FinalAnswer(c.Content)
		finals[fa] = true
		completion += baartest.ApproxTokens(c.Content)
		assert.Equal(t, resp.Choices[0].GenerationInfo["PromptTokens"], c.GenerationInfo["PromptTokens"], "every choice carries the response's usage")
	}
	assert.Greater(t, len(finals), 1, "the choices disagree")
	assert.Equal(t, one.Choices[0].GenerationInfo["PromptTokens"], resp.Choices[0].GenerationInfo["PromptTokens"], "the prompt is billed once")
	assert.Equal(t, completion, resp.Choices[0].GenerationInfo["CompletionTokens"], "every choice's output is billed")
	assert.Equal(t, 2*prompt, srv.Tokens().Prompt)

	// Another model makes no mistake.
	other, err := llm.GenerateContent(context.Background(), human(q), llms.WithModel("gpt-4o"), llms.WithN(4))
	require.NoError(t, err)
	for _, c := range other.Choices {
		fa, _ := scoring.FinalAnswer(c.Content)
		assert.Equal(t, "408", fa)
	}
}

func TestServerStreamedChoicesAreSamples(t *testing.T) {
	srv := baartest.NewServer(baartest.WithMistakes(baartest.Mistakes{Rate: 1, Seed: 4, Kinds: []baartest.Mistake{baartest.MistakeTruncated}}))
	defer srv.Close()
	var streamed strings.Builder
	resp, err := newClient(t, srv).GenerateContent(context.Background(), human("What is 17 * 24?"), llms.WithMaxTokens(30),
		llms.WithStreamingFunc(func(_ context.Context, b []byte) error { streamed.Write(b); return nil }))
	require.NoError(t, err)
	assert.Equal(t, "length", resp.Choices[0].StopReason)
	assert.Equal(t, resp.Choices[0].Content, streamed.String())
	assert.Equal(t, 30, resp.Choices[0].GenerationInfo["CompletionTokens"])
}
