package baar_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

// says answers text with usage, in as many choices as the call asks for,
// streaming it in two chunks when the call streams.
func says(texts ...string) func(int, llms.CallOptions) (*llms.ContentResponse, error) {
	return func(call int, o llms.CallOptions) (*llms.ContentResponse, error) {
		n := max(1, o.N)
		resp := &llms.ContentResponse{}
		for i := range n {
			text := texts[(call-1+i)%len(texts)]
			if o.StreamingFunc != nil {
				half := len(text) / 2
				for _, c := range []string{text[:half], text[half:]} {
					if err := o.StreamingFunc(context.Background(), []byte(c)); err != nil {
						return nil, err
					}
				}
			}
			resp.Choices = append(resp.Choices, &llms.ContentChoice{Content: text, StopReason: "stop",
				GenerationInfo: map[string]any{"PromptTokens": 10, "CompletionTokens": 5 * n, "TotalTokens": 10 + 5*n}})
		}
		return resp, nil
	}
}

// doubtOf is a verifier that doubts answers containing "wrong".
var doubtOf = scoring.VerifierFunc(func(_ context.Context, _ scoring.Request, as []scoring.Answer) (float64, error) {
	if strings.Contains(as[0].Text, "wrong") {
		return 0.9, nil
	}
	return 0.1, nil
})

func cascadeRouter(t *testing.T, cheap, capable llms.Model, opts ...baar.Option) (*baar.Router, func() []baar.CallReport) {
	t.Helper()
	hook, got := reports()
	base := []baar.Option{baar.WithMaxOutputTokens(100), baar.WithReportFunc(hook)}
	return newRouter(t, cheap, capable, append(base, opts...)...), got
}

func TestCascadeAcceptsOrEscalates(t *testing.T) {
	for name, tc := range map[string]struct {
		cheapSays  string
		escalated  bool
		wantAnswer string
		decision   baar.Decision
	}{
		"accepted":  {"The answer is 42.", false, "The answer is 42.", baar.DecisionCheap},
		"escalated": {"a wrong answer", true, "capable answer", baar.DecisionEscalated},
	} {
		t.Run(name, func(t *testing.T) {
			cheap := &scripted{reply: says(tc.cheapSays)}
			capable := &scripted{reply: says("capable answer")}
			r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(doubtOf), baar.WithScorer(fixedScore(1)))
			resp, err := r.GenerateContent(context.Background(), human("What is 6 × 7?"))
			require.NoError(t, err)
			assert.Equal(t, tc.wantAnswer, resp.Choices[0].Content)
			assert.Equal(t, 1, cheap.Calls(), "the cheap model answers first, whatever the score")
			rep := got()[0]
			assert.Equal(t, tc.decision, rep.Decision)
			assert.Equal(t, tc.escalated, rep.Escalated)
			assert.Equal(t, "custom", rep.Verifier)
			assert.Equal(t, baar.DefaultEscalationThreshold, rep.EscalationThreshold)
			if tc.escalated {
				assert.Equal(t, 1, capable.Calls())
				assert.InDelta(t, 0.9, rep.Doubt, 1e-12)
				require.Len(t, rep.Attempts, 2)
				assert.Equal(t, baar.StepAnswer, rep.Attempts[0].Step)
				assert.Equal(t, baar.StepEscalation, rep.Attempts[1].Step)
				assert.Equal(t, baar.TierCapable, rep.Tier)
			} else {
				assert.Zero(t, capable.Calls())
				assert.InDelta(t, 0.1, rep.Doubt, 1e-12)
				assert.Equal(t, baar.TierCheap, rep.Tier)
			}
			assert.InDelta(t, r.Spent(), rep.Cost, 1e-12, "every step is billed")
		})
	}
}

func TestCascadeEscalationThatCannotHappenKeepsTheCheapAnswer(t *testing.T) {
	t.Run("unaffordable", func(t *testing.T) {
		cheap := &scripted{reply: says("a wrong answer")}
		capable := &scripted{reply: says("capable answer")}
		// $1/$2 vs $10/$20 per 1M; 100 output tokens: the capable worst case
		// (about $0.002) does not fit a budget of $0.0005.
		r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(doubtOf), baar.WithBudget(0.0005))
		resp, err := r.GenerateContent(context.Background(), human("q"))
		require.NoError(t, err)
		assert.Equal(t, "a wrong answer", resp.Choices[0].Content)
		rep := got()[0]
		assert.True(t, rep.Escalated)
		assert.Equal(t, baar.EscalationUnaffordable, rep.Escalation)
		assert.Equal(t, baar.DecisionCheap, rep.Decision)
		assert.Zero(t, capable.Calls())
		assert.LessOrEqual(t, r.Spent(), 0.0005)
	})
	t.Run("capable fails", func(t *testing.T) {
		cheap := &scripted{reply: says("a wrong answer")}
		capable := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
			return nil, &llms.Error{Code: llms.ErrCodeProviderUnavailable, Message: "overloaded"}
		}}
		r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(doubtOf))
		resp, err := r.GenerateContent(context.Background(), human("q"))
		require.NoError(t, err)
		assert.Equal(t, "a wrong answer", resp.Choices[0].Content)
		rep := got()[0]
		assert.Equal(t, baar.EscalationFailed, rep.Escalation)
		assert.Equal(t, baar.DecisionCheap, rep.Decision)
		assert.Equal(t, baar.TierCheap, rep.Tier)
	})
	t.Run("cheap fails: the capable model answers", func(t *testing.T) {
		cheap := &scripted{reply: func(int, llms.CallOptions) (*llms.ContentResponse, error) {
			return nil, &llms.Error{Code: llms.ErrCodeProviderUnavailable, Message: "overloaded"}
		}}
		capable := &scripted{reply: says("capable answer")}
		r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(doubtOf))
		resp, err := r.GenerateContent(context.Background(), human("q"))
		require.NoError(t, err)
		assert.Equal(t, "capable answer", resp.Choices[0].Content)
		assert.Equal(t, baar.DecisionEscalated, got()[0].Decision)
		assert.True(t, math.IsNaN(got()[0].Doubt), "no cheap answer was verified")
	})
}

func TestCascadeVerifierErrorEscalates(t *testing.T) {
	broken := scoring.VerifierFunc(func(context.Context, scoring.Request, []scoring.Answer) (float64, error) {
		return 0, errors.New("verifier down")
	})
	outOfRange := scoring.VerifierFunc(func(context.Context, scoring.Request, []scoring.Answer) (float64, error) {
		return math.NaN(), nil
	})
	for name, v := range map[string]scoring.Verifier{"error": broken, "NaN": outOfRange} {
		t.Run(name, func(t *testing.T) {
			cheap := &scripted{reply: says("The answer is 4.")}
			capable := &scripted{reply: says("capable answer")}
			r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(v))
			resp, err := r.GenerateContent(context.Background(), human("2+2?"))
			require.NoError(t, err, "a verifier error never fails the call")
			assert.Equal(t, "capable answer", resp.Choices[0].Content)
			rep := got()[0]
			assert.Error(t, rep.VerifyErr)
			assert.Equal(t, baar.DecisionEscalated, rep.Decision)
		})
	}
}

func TestCascadeThresholds(t *testing.T) {
	cheap := &scripted{reply: says("maybe")}
	capable := &scripted{reply: says("capable answer")}
	v := scoring.VerifierFunc(func(context.Context, scoring.Request, []scoring.Answer) (float64, error) { return 0.6, nil })
	r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(v), baar.WithEscalationThreshold(0.7))
	_, err := r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	assert.False(t, got()[0].Escalated, "0.6 < 0.7")
	_, err = r.GenerateContent(baar.ContextWithEscalationThreshold(context.Background(), 0.5), human("q"))
	require.NoError(t, err)
	assert.True(t, got()[1].Escalated, "the per-call threshold 0.5 applies")

	// The threshold rises as the budget is used up.
	l, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	res, err := l.Reserve(context.Background(), budget.Dollar/2)
	require.NoError(t, err)
	require.NoError(t, l.Commit(context.Background(), res, budget.Dollar/2))
	r2, got2 := cascadeRouter(t, cheap, capable, baar.WithCascade(v), baar.WithEscalationThreshold(0.55), baar.WithLedger(l))
	_, err = r2.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	assert.InDelta(t, 0.55+0.18*0.5, got2()[0].EscalationThreshold, 1e-9)
	assert.False(t, got2()[0].Escalated, "0.6 < the risen 0.64")

	_, err = baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: capable, Name: "gpt-4o"},
		baar.WithCascade(v), baar.WithEscalationThreshold(1.5))
	assert.ErrorContains(t, err, "WithEscalationThreshold(1.5)")
	_, err = baar.New(baar.Tier{Model: cheap, Name: "gpt-4o-mini"}, baar.Tier{Model: capable, Name: "gpt-4o"}, baar.WithCascade(nil))
	assert.ErrorContains(t, err, "WithCascade(nil)")
}

func TestEscalationShareCalibrates(t *testing.T) {
	cheap := &scripted{reply: says("x")}
	v := scoring.VerifierFunc(func(_ context.Context, req scoring.Request, _ []scoring.Answer) (float64, error) {
		var d float64
		_, err := fmt.Sscanf(req.Messages[0].Text, "%f", &d)
		return d, err
	})
	var samples []baar.EscalationSample
	for i := range 100 {
		samples = append(samples, baar.EscalationSample{Prompt: fmt.Sprint(float64(i) / 100), Answers: []string{"x"}})
	}
	r, got := cascadeRouter(t, cheap, cheap, baar.WithCascade(v), baar.WithEscalationShare(0.2, samples))
	_, err := r.GenerateContent(context.Background(), human("0.5"))
	require.NoError(t, err)
	assert.InDelta(t, 0.8, got()[0].EscalationThreshold, 0.011, "about 20% of the samples doubt at or above it")
}

// A streamed cascade shows the caller only the answer it returns.
func TestCascadeStreaming(t *testing.T) {
	for name, tc := range map[string]struct {
		cheapSays, want string
	}{
		"accepted: replayed": {"The answer is 42.", "The answer is 42."},
		"escalated: direct":  {"a wrong answer", "capable answer"},
	} {
		t.Run(name, func(t *testing.T) {
			cheap := &scripted{reply: says(tc.cheapSays)}
			capable := &scripted{reply: says("capable answer")}
			r, _ := cascadeRouter(t, cheap, capable, baar.WithCascade(doubtOf))
			var streamed strings.Builder
			var chunks int
			resp, err := r.GenerateContent(context.Background(), human("q"), llms.WithStreamingFunc(func(_ context.Context, b []byte) error {
				streamed.Write(b)
				chunks++
				return nil
			}))
			require.NoError(t, err)
			assert.Equal(t, tc.want, resp.Choices[0].Content)
			assert.Equal(t, tc.want, streamed.String(), "what was streamed is what was returned")
			assert.Equal(t, 2, chunks, "chunks replayed as they came")
		})
	}
}

// Agreement samples k cheap answers: one request with N=k for OpenAI, k
// requests for other providers; the majority answer is returned.
func TestCascadeAgreement(t *testing.T) {
	for _, provider := range []string{"openai", "anthropic"} {
		for name, tc := range map[string]struct {
			texts     []string
			escalated bool
			want      string
		}{
			"agree":    {[]string{"The answer is 7.", "so #### 7", "The answer is 7."}, false, "The answer is 7."},
			"disagree": {[]string{"The answer is 7.", "The answer is 8.", "The answer is 9."}, true, "capable answer"},
		} {
			t.Run(provider+"/"+name, func(t *testing.T) {
				cheap := &scripted{reply: says(tc.texts...)}
				capable := &scripted{reply: says("capable answer")}
				hook, got := reports()
				r, err := baar.New(baar.Tier{Model: cheap, Name: "cheap", Provider: provider}, baar.Tier{Model: capable, Name: "capable"},
					baar.WithPrice("cheap", cheapPrice), baar.WithPrice("capable", capablePrice), baar.WithMaxOutputTokens(100),
					baar.WithReportFunc(hook), baar.WithCascade(scoring.Agreement(3)))
				require.NoError(t, err)
				resp, err := r.GenerateContent(context.Background(), human("3 + 4?"))
				require.NoError(t, err)
				require.Len(t, resp.Choices, 1, "one answer returned")
				final, _ := scoring.FinalAnswer(resp.Choices[0].Content)
				want, _ := scoring.FinalAnswer(tc.want)
				assert.Equal(t, want, final, "the majority's answer (concurrent samples arrive in any order)")
				rep := got()[0]
				assert.Equal(t, tc.escalated, rep.Escalated)
				assert.Equal(t, "agreement-3", rep.Verifier)
				samples := 0
				for _, a := range rep.Attempts {
					if a.Step == baar.StepSample {
						samples++
					}
				}
				if provider == "openai" {
					assert.Equal(t, 1, cheap.Calls(), "one request for three choices")
					assert.Equal(t, 1, samples)
					assert.Equal(t, 3, cheap.opts[0].N)
				} else {
					assert.Equal(t, 3, cheap.Calls(), "three requests")
					assert.Equal(t, 3, samples)
				}
				assert.InDelta(t, r.Spent(), rep.Cost, 1e-12)
			})
		}
	}
}

// Sticky conversations stay on the capable model after an escalation.
func TestCascadeEscalationPinsTheConversation(t *testing.T) {
	cheap := &scripted{reply: says("a wrong answer", "fine")}
	capable := &scripted{reply: says("capable answer")}
	r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(doubtOf))
	ctx := baar.ContextWithConversation(context.Background(), "agent-run-1")
	_, err := r.GenerateContent(ctx, human("step 1"))
	require.NoError(t, err)
	_, err = r.GenerateContent(ctx, human("step 2"))
	require.NoError(t, err)
	reps := got()
	assert.Equal(t, baar.DecisionEscalated, reps[0].Decision)
	assert.Equal(t, baar.PolicySticky, reps[1].Policy)
	assert.Equal(t, baar.DecisionCapable, reps[1].Decision)
	assert.Equal(t, 1, cheap.Calls(), "step 2 went straight to the capable model")
}

// The cascade's spans: the route span carries the doubt, the threshold and
// the verdict; every attempt is its own span with its step.
func TestCascadeSpans(t *testing.T) {
	cheap := &scripted{reply: says("a wrong answer")}
	capable := &scripted{reply: says("capable answer")}
	o := newObserved(t, cheap, capable, baar.WithCascade(doubtOf))
	_, err := o.r.GenerateContent(context.Background(), human("q"))
	require.NoError(t, err)
	call, attempts := callSpans(t, o.spans)
	c := attrsOf(call)
	assert.Equal(t, "escalated", c["baar.decision"].AsString())
	assert.InDelta(t, 0.9, c["baar.cascade.doubt"].AsFloat64(), 1e-12)
	assert.Equal(t, 0.5, c["baar.cascade.threshold"].AsFloat64())
	assert.True(t, c["baar.cascade.escalated"].AsBool())
	require.Len(t, attempts, 2)
	assert.Equal(t, "escalation", attrsOf(attempts[1])["baar.attempt.step"].AsString())
	assert.NotContains(t, attrsOf(attempts[0]), "baar.attempt.step", "the answer is the default step")
}

// A storm of cascades — single answers, samples, escalations — never spends
// past the cap, and every attempt is settled.
func TestCascadeStorm(t *testing.T) {
	for _, v := range []scoring.Verifier{doubtOf, scoring.Agreement(3)} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			cheap := &scripted{reply: says("The answer is 1.", "a wrong answer", "The answer is 2.")}
			capable := &scripted{reply: says("capable answer")}
			l, err := budget.NewMemory(2 * budget.Cent)
			require.NoError(t, err)
			r, _ := cascadeRouter(t, cheap, capable, baar.WithCascade(v), baar.WithLedger(l))
			var wg sync.WaitGroup
			var refused, ok atomic.Int64
			for g := range 1000 {
				wg.Go(func() {
					_, err := r.GenerateContent(context.Background(), human(fmt.Sprint("question ", g)))
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, baar.ErrBudgetExceeded):
						refused.Add(1)
					default:
						t.Error(err)
					}
					st, err := l.State(context.Background())
					assert.NoError(t, err)
					assert.LessOrEqual(t, st.Spent+st.Reserved, st.Limit)
				})
			}
			wg.Wait()
			st, err := l.State(context.Background())
			require.NoError(t, err)
			assert.Zero(t, st.Reserved, "every attempt settled")
			assert.LessOrEqual(t, st.Spent, st.Limit)
			assert.Positive(t, ok.Load())
			assert.Positive(t, refused.Load(), "the budget ran out")
		})
	}
}

// A judge is one more model call, reserved and billed like any attempt.
func TestJudgeVerifier(t *testing.T) {
	for name, tc := range map[string]struct {
		verdict   string
		escalated bool
		verifyErr bool
	}{
		"right":        {"0.1", false, false},
		"wrong":        {"0.95", true, false},
		"with words":   {"Probability wrong: 0.8.", true, false},
		"nonsense":     {"banana", true, true},
		"out of range": {"7", true, true},
	} {
		t.Run(name, func(t *testing.T) {
			cheap := &scripted{reply: func(call int, o llms.CallOptions) (*llms.ContentResponse, error) {
				if o.MaxTokens == 16 { // the judge's call
					return says(tc.verdict)(call, o)
				}
				return says("The answer is 42.")(call, o)
			}}
			capable := &scripted{reply: says("capable answer")}
			r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(baar.JudgeVerifier(baar.Judge{})))
			_, err := r.GenerateContent(context.Background(), human("6 × 7?"))
			require.NoError(t, err)
			rep := got()[0]
			assert.Equal(t, "judge", rep.Verifier)
			assert.Equal(t, tc.escalated, rep.Escalated)
			assert.Equal(t, tc.verifyErr, rep.VerifyErr != nil)
			assert.Equal(t, 2, cheap.Calls(), "the answer and the judge")
			require.GreaterOrEqual(t, len(rep.Attempts), 2)
			assert.Equal(t, baar.StepJudge, rep.Attempts[1].Step)
			assert.Positive(t, rep.Attempts[1].Cost, "the judge is billed")
			assert.InDelta(t, r.Spent(), rep.Cost, 1e-12)
		})
	}
	_, err := baar.JudgeVerifier(baar.Judge{}).Verify(context.Background(), scoring.Request{}, []scoring.Answer{{Text: "x"}})
	assert.ErrorContains(t, err, "only inside a Router")
}

// The default verifier sees the tools offered, their schemas and JSON mode:
// an invalid tool call or non-JSON in JSON mode escalates.
func TestCascadeDefaultVerifierChecksToolsAndJSON(t *testing.T) {
	weather := llms.Tool{Type: "function", Function: &llms.FunctionDefinition{Name: "get_weather",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}}}
	call := func(name, args string) func(int, llms.CallOptions) (*llms.ContentResponse, error) {
		return func(int, llms.CallOptions) (*llms.ContentResponse, error) {
			return &llms.ContentResponse{Choices: []*llms.ContentChoice{{StopReason: "tool_calls",
				ToolCalls:      []llms.ToolCall{{ID: "1", Type: "function", FunctionCall: &llms.FunctionCall{Name: name, Arguments: args}}},
				GenerationInfo: map[string]any{"PromptTokens": 10, "CompletionTokens": 10, "TotalTokens": 20}}}}, nil
		}
	}
	for name, tc := range map[string]struct {
		reply     func(int, llms.CallOptions) (*llms.ContentResponse, error)
		opts      []llms.CallOption
		escalated bool
	}{
		"valid tool call":       {call("get_weather", `{"city":"Paris"}`), []llms.CallOption{llms.WithTools([]llms.Tool{weather})}, false},
		"unknown tool":          {call("get_wether", `{"city":"Paris"}`), []llms.CallOption{llms.WithTools([]llms.Tool{weather})}, true},
		"arguments not JSON":    {call("get_weather", `{city: Paris`), []llms.CallOption{llms.WithTools([]llms.Tool{weather})}, true},
		"schema broken":         {call("get_weather", `{"town":"Paris"}`), []llms.CallOption{llms.WithTools([]llms.Tool{weather})}, true},
		"JSON asked, not given": {says("Sure! Here it is: city=Paris"), []llms.CallOption{llms.WithJSONMode()}, true},
		"JSON asked, given":     {says(`{"city": "Paris"}`), []llms.CallOption{llms.WithJSONMode()}, false},
	} {
		t.Run(name, func(t *testing.T) {
			cheap := &scripted{reply: tc.reply}
			capable := &scripted{reply: says("capable answer")}
			r, got := cascadeRouter(t, cheap, capable, baar.WithCascade(scoring.DefaultVerifier()))
			_, err := r.GenerateContent(context.Background(), human("What's the weather in Paris?"), tc.opts...)
			require.NoError(t, err)
			rep := got()[0]
			assert.Equal(t, "default", rep.Verifier)
			assert.Equal(t, tc.escalated, rep.Escalated, "doubt %v", rep.Doubt)
		})
	}
}
