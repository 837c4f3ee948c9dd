package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/scoring"
)

func TestReadJSONLCheapAnswers(t *testing.T) {
	in := `{"prompt":"p1","cheap_correct":true,"capable_correct":true,"cheap_answer":"A: 3","cheap_answers":["A: 3","A: 4"],"cheap_answers_correct":[true,false]}
{"prompt":"p2","cheap_correct":false,"capable_correct":true,"cheap_answers":["A: 5","A: 6","A: 5"]}
{"prompt":"p3","cheap_correct":false,"capable_correct":false}
`
	d, err := ReadJSONL(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, d.Items, 3)
	assert.Equal(t, "A: 3", d.Items[0].CheapAnswer)
	assert.Equal(t, []string{"A: 3", "A: 4"}, d.Items[0].CheapAnswers)
	assert.Equal(t, []bool{true, false}, d.Items[0].CheapAnswersCorrect)
	assert.Equal(t, "A: 5", d.Items[1].CheapAnswer, "without cheap_answer the first sample is the labelled answer")
	assert.Nil(t, d.Items[1].CheapAnswersCorrect)
	assert.Empty(t, d.Items[2].CheapAnswer)
	assert.Nil(t, d.Items[2].CheapAnswers)

	for _, bad := range []struct{ line, want string }{
		{`{"prompt":"p","cheap_correct":true,"capable_correct":true,"cheap_answers":["a","b"],"cheap_answers_correct":[true]}`, "1 cheap_answers_correct for 2 cheap_answers"},
		{`{"prompt":"p","cheap_correct":true,"capable_correct":true,"cheap_answers":["a","b"],"cheap_answers_correct":[false,true]}`, "cheap_answers_correct[0] differs"},
		{`{"prompt":"p","cheap_correct":true,"capable_correct":true,"cheap_answers":"a"}`, "cheap_answers"},
	} {
		_, err := ReadJSONL(strings.NewReader(bad.line + "\n"))
		require.Error(t, err, bad.line)
		assert.Contains(t, err.Error(), bad.want)
		assert.Contains(t, err.Error(), "line 1")
	}
}

func TestParseVerifiers(t *testing.T) {
	v, err := ParseVerifiers("default, agreement,agreement-5")
	require.NoError(t, err)
	assert.Equal(t, []VerifierSpec{{Name: "default"}, {Name: "agreement"}, {Name: "agreement", Samples: 5}}, v)
	assert.Equal(t, "agreement-5", v[2].String())
	for in, want := range map[string]string{
		"":                        `unknown verifier ""`,
		"judge":                   `unknown verifier "judge"`,
		"agreement-1":             "K ≥ 2",
		"agreement-x":             "K ≥ 2",
		"default,default":         "given twice",
		"agreement-3,agreement-3": "given twice",
	} {
		_, err := ParseVerifiers(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func answered(samples ...[]string) Dataset {
	d := Dataset{Name: "s", OutputTokensKnown: false}
	for i, s := range samples {
		it := Item{Prompt: "What is 2 + " + string(rune('0'+i)) + "?", CheapAnswers: s}
		if len(s) > 0 {
			it.CheapAnswer = s[0]
		}
		d.Items = append(d.Items, it)
	}
	return d
}

func TestMeasurable(t *testing.T) {
	def, agr, agr3 := VerifierSpec{Name: "default"}, VerifierSpec{Name: "agreement"}, VerifierSpec{Name: "agreement", Samples: 3}
	none := Dataset{Name: "mmlu", Items: []Item{{Prompt: "a"}, {Prompt: "b"}}}
	for _, c := range []struct {
		spec VerifierSpec
		d    Dataset
		k    int
		want string // "" when measurable
	}{
		{def, none, 0, "the data has no cheap answer text"},
		{agr, none, 0, "the data has no sampled cheap answers (cheap_answers); agreement needs at least 2"},
		{def, answered([]string{"A: 4"}, nil), 0, "1 of 2 prompts have no cheap answer text"},
		{def, answered([]string{"A: 4"}, []string{"A: 5"}), 1, ""},
		{agr, answered([]string{"A: 4"}, []string{"A: 5", "A: 5"}), 0, "1 of 2 prompts have fewer than 2 cheap_answers"},
		{agr, answered([]string{"A: 4", "A: 4", "A: 4"}, []string{"A: 5", "A: 5"}), 2, ""},
		{agr3, answered([]string{"A: 4", "A: 4", "A: 4"}, []string{"A: 5", "A: 5"}), 0, "1 of 2 prompts have fewer than 3"},
	} {
		k, err := c.spec.Measurable(c.d)
		if c.want == "" {
			require.NoError(t, err)
			assert.Equal(t, c.k, k)
			continue
		}
		var nm *NotMeasurableError
		require.True(t, errors.As(err, &nm), "%v: %v", c.spec, err)
		assert.Contains(t, nm.Reason, c.want)
		assert.Equal(t, c.spec.String(), nm.Verifier)
	}
}

// TestRunCascadePricesEveryCheapCall: the cheap side pays each judged
// answer (the prompt once per sample, the answer's counted tokens), the
// capable side adds the escalation; agreement grades the majority's pick.
func TestRunCascadePricesEveryCheapCall(t *testing.T) {
	d := answered([]string{"x = 1\nA: 4", "A: 5", "A: 5"}, []string{"A: 7", "A: 7", "A: 7"})
	d.Items[0].CheapCorrect, d.Items[0].CheapAnswersCorrect = false, []bool{false, true, true}
	d.Items[1].CheapCorrect, d.Items[1].CapableCorrect = true, true
	p := Prices{CheapIn: 1e6, CheapOut: 2e6, CapableIn: 10e6, CapableOut: 10e6} // $ per token: 1, 2, 10, 10
	in := []int{10, 20}
	plain, err := Outcomes(d, in, p, 3)
	require.NoError(t, err)
	count := func(s string) int { return len(s) }
	c, err := RunCascade(context.Background(), VerifierSpec{Name: "agreement"}, nil, d, plain, in, p, count)
	require.NoError(t, err)
	assert.Equal(t, "agreement-3", c.Verifier)
	assert.InDelta(t, 1.0/3, c.Doubts[0], 1e-12, "two of three agree")
	assert.Equal(t, 0.0, c.Doubts[1])
	assert.True(t, c.Outcomes[0].CheapCorrect, "the majority's pick is labelled right")
	wantCheap := float64(3*10) + 2*float64(len("x = 1\nA: 4")+2*len("A: 5"))
	assert.InDelta(t, wantCheap, c.Outcomes[0].CheapCost, 1e-9)
	assert.InDelta(t, wantCheap+plain[0].CapableCost, c.Outcomes[0].CapableCost, 1e-9)
	assert.Empty(t, c.Note)

	c, err = RunCascade(context.Background(), VerifierSpec{Name: "default"}, nil, d, plain, in, p, count)
	require.NoError(t, err)
	assert.InDelta(t, float64(10)+2*float64(len("x = 1\nA: 4")), c.Outcomes[0].CheapCost, 1e-9, "one answer, counted from its text")
	assert.False(t, c.Outcomes[0].CheapCorrect)

	// Without per-sample labels the note says what the figure assumes.
	d.Items[0].CheapAnswersCorrect = nil
	c, err = RunCascade(context.Background(), VerifierSpec{Name: "agreement"}, nil, d, plain, in, p, count)
	require.NoError(t, err)
	assert.Contains(t, c.Note, "1 of 2 prompts the majority answer is not the labelled cheap_answer")

	_, err = RunCascade(context.Background(), VerifierSpec{Name: "agreement", Samples: 4}, nil, d, plain, in, p, count)
	var nm *NotMeasurableError
	assert.True(t, errors.As(err, &nm))
}

func TestHybridBypassesHighScores(t *testing.T) {
	plain := []Outcome{
		{CheapCorrect: false, CapableCorrect: true, CheapCost: 1, CapableCost: 10},
		{CheapCorrect: true, CapableCorrect: true, CheapCost: 1, CapableCost: 10},
		{CheapCorrect: false, CapableCorrect: true, CheapCost: 1, CapableCost: 10},
	}
	c := &Cascade{Verifier: "default", Doubts: []float64{0.9, 0.1, 0.2}, Outcomes: CascadeOutcomes(plain)}
	prompt := []float64{0.5, 0.5, 0.97}
	scores, o, err := Hybrid(plain, c, prompt, 0.95)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.9, 0.1, 1.97}, scores)
	assert.Equal(t, 10.0, o[2].CapableCost, "a bypassed prompt pays the capable call only")
	assert.Equal(t, 11.0, o[0].CapableCost, "an escalated one pays both")
	pt, err := OperatingPoint(o, scores, 0.5)
	require.NoError(t, err)
	assert.InDelta(t, 2.0/3, pt.Share, 1e-12)
	assert.Equal(t, 1.0, pt.Accuracy)
	assert.Equal(t, 11.0+1+10, pt.Cost)

	sweep, err := HybridSweep(plain, c, prompt, []float64{0, 0.95}, 0.5)
	require.NoError(t, err)
	require.Len(t, sweep, 2)
	assert.Equal(t, 0.0, sweep[0].Bypassed)
	assert.InDelta(t, 1.0/3, sweep[0].Share, 1e-12)
	assert.InDelta(t, 1.0/3, sweep[1].Bypassed, 1e-12)
	assert.InDelta(t, 1.0/3, sweep[1].Sequential, 1e-12, "the bypassed prompt takes one call")
	assert.InDelta(t, 22.0/30, sweep[1].CostVsCapable, 1e-12)
	// The cascade needs 23 to escalate prompts 0 and 2 (doubts 0.9, 0.2):
	// at 22 it is 9/10 of the way there, the hybrid's saved cheap call ahead.
	assert.InDelta(t, 2.0/3+0.9/3, sweep[1].CascadeAccuracy, 1e-12)
	_, _, err = Hybrid(plain[:2], c, prompt, 0.95)
	assert.Error(t, err)
}

func TestAccuracyAtCost(t *testing.T) {
	c := &Curve{X: []float64{0, 0.5, 1}, Acc: []float64{0.5, 0.9, 0.8}, Cost: []float64{2, 12, 22}}
	assert.Equal(t, 0.5, AccuracyAtCost(c, 1))
	assert.InDelta(t, 0.7, AccuracyAtCost(c, 7), 1e-12)
	assert.InDelta(t, 0.9, AccuracyAtCost(c, 20), 1e-12, "the best point within the cost")
}

// TestArithDatasetReproducible regenerates testdata/cascade/arith.jsonl (go
// run ./internal/bench/gen) and compares the bytes.
func TestArithDatasetReproducible(t *testing.T) {
	count, err := CL100K()
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteArith(&b, ArithSeed, ArithN, count))
	want, err := os.ReadFile(filepath.Join("..", "..", ArithPath))
	require.NoError(t, err)
	assert.Equal(t, string(want), b.String(), "go run ./internal/bench/gen")
}

// TestArithDataset checks what the simulation promises: both answer
// styles, each kind of mistake, labels read from the answers, and a
// verifier that reads the answers does better than chance.
func TestArithDataset(t *testing.T) {
	d, err := LoadJSONL(filepath.Join("..", "..", ArithPath))
	require.NoError(t, err)
	require.Len(t, d.Items, ArithN)
	var styleA, styleIs, unfinished, wrong, n int
	for _, it := range d.Items {
		require.Len(t, it.CheapAnswers, ArithSamples)
		for j, a := range it.CheapAnswers {
			n++
			switch {
			case strings.Contains(a, "\nA: "):
				styleA++
			case strings.Contains(a, "The answer is "):
				styleIs++
			default:
				unfinished++
				assert.True(t, strings.HasSuffix(a, "Then she") || strings.HasSuffix(a, "Then he"), a)
			}
			if !it.CheapAnswersCorrect[j] {
				wrong++
			}
		}
	}
	t.Logf("%d answers: %d \"A: N\", %d \"The answer is N.\", %d unfinished, %d wrong", n, styleA, styleIs, unfinished, wrong)
	assert.Greater(t, styleA, n/3)
	assert.Greater(t, styleIs, n/3)
	assert.Positive(t, unfinished)
	assert.InDelta(t, 0.3, float64(wrong)/float64(n), 0.1)

	f := measureCascade(t, scoring.DefaultVerifier(), d)
	t.Logf("arith, all n=%d: default verifier APGR %.3f, CPT(50%%) %.1f%%", len(d.Items), f.apgr, 100*f.cpt50)
	assert.Greater(t, f.apgr, 0.65, "false arithmetic and unused numbers are visible in the text")
}
