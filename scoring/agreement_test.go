package scoring_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/scoring"
)

func texts(ts ...string) []scoring.Answer {
	a := make([]scoring.Answer, len(ts))
	for i, t := range ts {
		a[i] = scoring.Answer{Text: t, FinishReason: "stop"}
	}
	return a
}

func TestAgreementDoubt(t *testing.T) {
	ctx := context.Background()
	v := scoring.Agreement(3)
	req := human("Janet has 16 eggs and eats 3. How many are left?")
	for _, tc := range []struct {
		answers []scoring.Answer
		want    float64
	}{
		{texts("16 - 3 = 13\n#### 13", "She has 13 eggs left.\nThe answer is 13.", "Answer: 13 eggs"), 0},
		{texts("#### 13", "The answer is 13", "The answer is 19"), 1.0 / 3},
		{texts("#### 13", "#### 12", "#### 19"), 2.0 / 3},
		{texts("#### 13", "#### 13"), 1.0 / 3}, // a missing third sample disagrees
		{[]scoring.Answer{{Text: "#### 13"}, {Text: "#### 13", FinishReason: "length"}, {Text: ""}}, 2.0 / 3},
	} {
		d, err := v.Verify(ctx, req, tc.answers)
		require.NoError(t, err)
		assert.InDelta(t, tc.want, d, 1e-12, "%v", tc.answers)
	}
	_, err := v.Verify(ctx, req, texts("#### 13"))
	var ce *scoring.AnswerCountError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, scoring.AnswerCountError{Want: 3, Got: 1}, *ce)
	_, err = v.Verify(ctx, req, nil)
	assert.ErrorIs(t, err, scoring.ErrNoAnswer)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = v.Verify(cancelled, req, texts("a", "a", "a"))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestAgreementSamplesAndName(t *testing.T) {
	for _, tc := range []struct {
		k, want int
		name    string
	}{{3, 3, "agreement-3"}, {5, 5, "agreement-5"}, {1, 2, "agreement-2"}, {-4, 2, "agreement-2"}} {
		v := scoring.Agreement(tc.k)
		s, ok := v.(scoring.Sampler)
		require.True(t, ok)
		assert.Equal(t, tc.want, s.Samples())
		n, ok := v.(scoring.Named)
		require.True(t, ok)
		assert.Equal(t, tc.name, n.Name())
	}
}

func TestMajority(t *testing.T) {
	req := human("q")
	i, share := scoring.Majority(req, texts("#### 12", "The answer is 13", "A: 13.0", "#### 12", "#### 13"))
	assert.Equal(t, 1, i, "the first answer of the largest group")
	assert.InDelta(t, 0.6, share, 1e-12)

	i, share = scoring.Majority(req, texts("#### 12", "#### 13"))
	assert.Equal(t, 0, i, "a tie keeps the earliest group")
	assert.InDelta(t, 0.5, share, 1e-12)

	i, share = scoring.Majority(req, []scoring.Answer{{Text: ""}, {Text: "x", FinishReason: "max_tokens"}})
	assert.Equal(t, 0, i)
	assert.Equal(t, 0.0, share, "no answer votes")

	i, share = scoring.Majority(req, nil)
	assert.Equal(t, 0, i)
	assert.Equal(t, 0.0, share)
}

func TestMajorityToolCalls(t *testing.T) {
	req := human("weather in Paris?")
	call := func(name, args string) scoring.Answer {
		return scoring.Answer{ToolCalls: []scoring.ToolCall{{Name: name, Arguments: args}}, FinishReason: "tool_calls"}
	}
	answers := []scoring.Answer{
		call("get_weather", `{"unit":"C","city":"Paris"}`),
		call("get_weather", `{ "city": "Paris", "unit": "C" }`),
		call("get_weather", `{"city":"Lyon","unit":"C"}`),
	}
	i, share := scoring.Majority(req, answers)
	assert.Equal(t, 0, i)
	assert.InDelta(t, 2.0/3, share, 1e-12, "arguments compare as parsed JSON")
}

func TestMajorityLongAnswers(t *testing.T) {
	req := human("write add")
	a := "```go\nfunc add(a, b int) int {\n\treturn a + b\n}\n```"
	b := "func add(a, b int) int { return a + b }"
	c := "Here is a Python version:\ndef mul(x, y):\n    return x * y"
	i, share := scoring.Majority(req, texts(c, a, b))
	assert.Equal(t, 1, i)
	assert.InDelta(t, 2.0/3, share, 1e-12)
}
