package bench

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/routellm"
)

func oc(cheap, capable bool) Outcome {
	return Outcome{CheapCorrect: cheap, CapableCorrect: capable, CheapCost: 1, CapableCost: 10}
}

// Four prompts: W = 2/4, S = 3/4 (prompt 0: only capable right; prompt 1:
// only cheap right; 2: both; 3: neither).
var four = []Outcome{oc(false, true), oc(true, false), oc(true, true), oc(false, false)}

func TestCurveHandComputed(t *testing.T) {
	// Scores order: 0, 2, 3, 1 → acc(k): 0.5, 0.75, 0.75, 0.75, 0.5.
	c, err := NewCurve(four, []float64{4, 1, 3, 2})
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5, 0.75, 0.75, 0.75, 0.5}, c.Acc)
	assert.Equal(t, 0.5, c.Weak())
	assert.Equal(t, 0.5, c.Strong())
	assert.True(t, math.IsNaN(c.APGR()), "no gap")

	o := []Outcome{oc(false, true), oc(true, true), oc(false, false), oc(false, true)}
	// W = 1/4, S = 3/4. Order by score: 3, 0, 1, 2 → acc: .25 .5 .75 .75 .75
	c, err = NewCurve(o, []float64{3, 2, 1, 4})
	require.NoError(t, err)
	assert.Equal(t, []float64{0.25, 0.5, 0.75, 0.75, 0.75}, c.Acc)
	// Area (trapezoids, width .25): (.375 + .625 + .75 + .75) * .25 = .625.
	assert.InDelta(t, (0.625-0.25)/0.5, c.APGR(), 1e-12)
	// 50% of the gap: acc .5 at x = .25. 80%: acc .65 between .25 and .5.
	assert.InDelta(t, 0.25, c.CPT(0.5), 1e-12)
	assert.InDelta(t, 0.25+0.25*(0.15/0.25), c.CPT(0.8), 1e-12)
	acc, cost := c.At(0.5)
	assert.InDelta(t, 0.75, acc, 1e-12)
	assert.InDelta(t, 2*10+2*1, cost, 1e-12)
}

func TestCurveTiesAreExpectation(t *testing.T) {
	o := []Outcome{oc(false, true), oc(true, true), oc(false, false), oc(false, true)}
	// A constant scorer is exactly random: APGR 0.5, CPT(q) = q.
	c, err := NewCurve(o, []float64{7, 7, 7, 7})
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 1}, c.X)
	assert.InDelta(t, 0.5, c.APGR(), 1e-12)
	assert.InDelta(t, 0.5, c.CPT(0.5), 1e-12)
	assert.InDelta(t, 0.8, c.CPT(0.8), 1e-12)
	// A partial tie: prompt 3 first, then {0,1,2} tied.
	c, err = NewCurve(o, []float64{1, 1, 1, 2})
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 0.25, 1}, c.X)
	assert.Equal(t, []float64{0.25, 0.5, 0.75}, c.Acc)
	// Area: .25*(.25+.5)/2 + .75*(.5+.75)/2 = .09375 + .46875 = .5625.
	assert.InDelta(t, (0.5625-0.25)/0.5, c.APGR(), 1e-12)
}

func TestOracleAndOperatingPoint(t *testing.T) {
	o := []Outcome{oc(false, true), oc(true, true), oc(false, false), oc(false, true)}
	o2 := []Outcome{oc(false, true), oc(true, false), oc(false, true), oc(true, true)}
	c, err := NewCurve(o2, Oracle(o2))
	require.NoError(t, err)
	// acc: .5 → .75 → 1 over the two gap prompts, then the tie {1,3}
	// falls linearly to .75; area .8125.
	assert.InDelta(t, 1.25, c.APGR(), 1e-12)
	assert.InDelta(t, 0.125, c.CPT(0.5), 1e-12) // the two gap prompts tie: linear to 1.0 at x = .5
	p, err := OperatingPoint(o, []float64{0.9, 0.1, 0.5, 0.8}, 0.8)
	require.NoError(t, err)
	assert.Equal(t, Point{Share: 0.5, Accuracy: 0.75, Cost: 22}, p)
	_, err = OperatingPoint(o, []float64{1}, 0.5)
	assert.Error(t, err)
	_, err = NewCurve(o, []float64{1, 2, math.NaN(), 3})
	assert.Error(t, err)
	_, err = NewCurve(nil, nil)
	assert.ErrorIs(t, err, ErrNoData)
}

func TestEvaluateTable(t *testing.T) {
	o := []Outcome{oc(false, true), oc(true, true), oc(false, false), oc(false, true)}
	tb, err := Evaluate("x", SplitTest, o, []Strategy{
		{Name: "cheap", Share: 0}, {Name: "capable", Share: 1}, {Name: "random", Share: 0.5},
		{Name: "s", Scores: []float64{3, 2, 1, 4}, Threshold: 2.5},
	})
	require.NoError(t, err)
	assert.Equal(t, 4.0, tb.CheapCost)
	assert.Equal(t, 40.0, tb.CapableCost)
	assert.InDelta(t, 0.1, tb.Rows[0].CostVsCapable, 1e-12)
	assert.InDelta(t, 0.5, tb.Rows[2].Accuracy, 1e-12)
	assert.InDelta(t, 0.5, tb.Rows[2].APGR, 1e-12)
	r := tb.Rows[3]
	assert.Equal(t, 0.5, r.Share)
	assert.Equal(t, 0.75, r.Accuracy)
	assert.InDelta(t, 0.75, r.APGR, 1e-12)
	// 95% of S = .7125 reached at x = .25 + .25*(.2125/.25) = .4625.
	assert.InDelta(t, 1-(4+0.4625*4*9)/40, r.Saving95, 1e-9)
	_, err = Evaluate("x", SplitTest, o, []Strategy{{Name: "bad", Share: 2}})
	assert.Error(t, err)
}

func TestReadJSONL(t *testing.T) {
	d, err := ReadJSONL(strings.NewReader(`{"prompt":"a","cheap_correct":true,"capable_correct":false,"cheap_output_tokens":3,"capable_output_tokens":4}

{"prompt":"b","cheap_correct":false,"capable_correct":true,"cheap_output_tokens":1,"capable_output_tokens":2}`))
	require.NoError(t, err)
	require.Len(t, d.Items, 2)
	assert.True(t, d.OutputTokensKnown)
	assert.Equal(t, Item{Prompt: "a", CheapCorrect: true, CheapOutputTokens: 3, CapableOutputTokens: 4}, d.Items[0])
	d, err = ReadJSONL(strings.NewReader(`{"prompt":"a","cheap_correct":true,"capable_correct":false}`))
	require.NoError(t, err)
	assert.False(t, d.OutputTokensKnown)
	for _, bad := range []string{"", "{", `{"prompt":"a"}`, `{"prompt":"a","cheap_correct":true,"capable_correct":false,"cheap_output_tokens":3}`,
		`{"prompt":"a","cheap_correct":true,"capable_correct":false,"cheap_output_tokens":-3,"capable_output_tokens":1}`} {
		_, err := ReadJSONL(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
	_, err = LoadJSONL(filepath.Join(t.TempDir(), "missing.jsonl"))
	assert.Error(t, err)
}

func TestSplit(t *testing.T) {
	n := 0
	d := Dataset{}
	for i := 0; i < 1000; i++ {
		p := strings.Repeat("q", i)
		d.Items = append(d.Items, Item{Prompt: p})
		if IsTest(p) {
			n++
		}
	}
	assert.InDelta(t, 200, n, 40)
	assert.Len(t, d.Select(SplitTest).Items, n)
	assert.Len(t, d.Select(SplitTrain).Items, 1000-n)
	assert.Len(t, d.Select(SplitAll).Items, 1000)
	_, err := ParseSplit("dev")
	assert.Error(t, err)
	// FNV-1a 32 of "" is 2166136261 = 1 mod 5; of "a" 0xe40c292c = 3826002220 = 0 mod 5.
	assert.False(t, IsTest(""))
	assert.True(t, IsTest("a"))
}

func TestKeywordScore(t *testing.T) {
	assert.Equal(t, 0.1, KeywordScore("Please analyze the capital of France in a complex way"))
	assert.Greater(t, KeywordScore("Explain and analyze this algorithm step by step"), KeywordScore("hello"))
	assert.LessOrEqual(t, KeywordScore(strings.Repeat("analyze explain algorithm complex why compare ", 100)), 1.0)
}

// TestRouteLLMBaselines loads the real data and reproduces the measured
// baselines of the shared notes (quality.md) for prompt length.
func TestRouteLLMBaselines(t *testing.T) {
	dir, err := routellm.Dir()
	require.NoError(t, err)
	sets, err := LoadRouteLLM(dir, nil)
	require.NoError(t, err)
	require.Len(t, sets, 2)
	want := map[string]struct {
		n, testN           int
		apgr, cpt50, cpt80 float64
	}{
		"gsm8k": {1307, 241, 0.551, 0.419, 0.768},
		"mmlu":  {14037, 2783, 0.606, 0.345, 0.600},
	}
	for _, d := range sets {
		w := want[d.Name]
		assert.Len(t, d.Items, w.n, d.Name)
		te := d.Select(SplitTest)
		require.Len(t, te.Items, w.testN, d.Name)
		o, err := Outcomes(te, make([]int, len(te.Items)), RouteLLMPrices, 0)
		require.NoError(t, err)
		scores := make([]float64, len(te.Items))
		for i, it := range te.Items {
			scores[i] = LengthScore(it.Prompt)
		}
		c, err := NewCurve(o, scores)
		require.NoError(t, err)
		assert.InDelta(t, w.apgr, c.APGR(), 0.0005, d.Name)
		assert.InDelta(t, w.cpt50, c.CPT(0.5), 0.0005, d.Name)
		assert.InDelta(t, w.cpt80, c.CPT(0.8), 0.0005, d.Name)
	}
	assert.Greater(t, sets[0].Items[0].CapableOutputTokens, 0, "GSM8K output tokens come from the responses")
	assert.NotEmpty(t, sets[1].Items[0].Group)
}
