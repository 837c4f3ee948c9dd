package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/scoring"
)

func TestGateFlags(t *testing.T) {
	base := []string{"--dataset", "jsonl:x"}
	c, err := parse(base, io.Discard)
	require.NoError(t, err)
	assert.Nil(t, c.gate, "no value flag: no gate")

	c, err = parse(append(base, "--value-policy", "flat:0.001"), io.Discard)
	require.NoError(t, err)
	require.NotNil(t, c.gate)
	assert.Equal(t, bench.ValuePolicy{Kind: "flat", USD: 0.001}, c.gate.policy)
	assert.Equal(t, 0.3, c.gate.alpha)
	assert.False(t, c.gate.autoCalibrate)
	assert.Equal(t, 0.5, c.gate.maxReject)
	assert.Equal(t, 20, c.gate.minGated)

	c, err = parse(append(base, "--value-policy", "per-token:0.02", "--auto-calibrate-alpha", "--target-reject-rate", "0.2",
		"--alpha-source", "median", "--max-reject-rate", "0.3", "--min-gated", "5"), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, bench.ValuePolicy{Kind: "per-token", USD: 0.02}, c.gate.policy)
	assert.True(t, c.gate.autoCalibrate)
	assert.Equal(t, 0.2, c.gate.targetReject)
	assert.Equal(t, "median", c.gate.alphaSource)
	assert.Equal(t, 0.3, c.gate.maxReject)
	assert.Equal(t, 5, c.gate.minGated)

	c, err = parse(append(base, "--value-policy", "capable-gap:1", "--alpha", "0.7"), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 0.7, c.gate.alpha)

	for _, bad := range [][]string{
		{"--alpha", "0.5"}, // gate flags need --value-policy
		{"--auto-calibrate-alpha"},
		{"--min-gated", "3"},
		{"--value-policy", "flat"},
		{"--value-policy", "flat:-1"},
		{"--value-policy", "gold:1"},
		{"--value-policy", "flat:1", "--alpha", "0"},
		{"--value-policy", "flat:1", "--alpha", "-1"},
		{"--value-policy", "flat:1", "--alpha", "NaN"},
		{"--value-policy", "flat:1", "--alpha", "0.5", "--auto-calibrate-alpha"},
		{"--value-policy", "flat:1", "--target-reject-rate", "0.2"}, // needs --auto-calibrate-alpha
		{"--value-policy", "flat:1", "--alpha-source", "median"},
		{"--value-policy", "flat:1", "--auto-calibrate-alpha", "--target-reject-rate", "1.5"},
		{"--value-policy", "flat:1", "--auto-calibrate-alpha", "--target-reject-rate", "-0.1"},
		{"--value-policy", "flat:1", "--auto-calibrate-alpha", "--alpha-source", "mean"},
		{"--value-policy", "flat:1", "--max-reject-rate", "0"},
		{"--value-policy", "flat:1", "--max-reject-rate", "1.1"},
		{"--value-policy", "flat:1", "--min-gated", "0"},
		{"--value-policy", "flat:1", "--min-gated", "x"},
	} {
		_, err := parse(append(append([]string{}, base...), bad...), io.Discard)
		assert.Error(t, err, "%v", bad)
	}
}

// gateSet writes a jsonl dataset: nTrain train-split and nTest test-split
// items; test prompts are padded with pad copies of a sentence.
func gateSet(t *testing.T, path string, nTrain, nTest, pad int) []bench.Item {
	var items []bench.Item
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	train, test := 0, 0
	for i := 0; train < nTrain || test < nTest; i++ {
		p := fmt.Sprintf("question %d: what is %d times %d?", i, i%17, i%11)
		if bench.IsTest(p) {
			if test >= nTest {
				continue
			}
			p += strings.Repeat(" Please explain every step of the derivation in detail.", pad)
			if !bench.IsTest(p) {
				continue // keep the test item in the test split
			}
			test++
		} else {
			if train >= nTrain {
				continue
			}
			p += strings.Repeat(" Explain the steps.", i%7*5)
			if bench.IsTest(p) {
				continue
			}
			train++
		}
		it := bench.Item{Prompt: p, CheapCorrect: i%3 != 0, CapableCorrect: i%5 != 0, CheapOutputTokens: 20 + i%9, CapableOutputTokens: 30 + i%4}
		items = append(items, it)
		require.NoError(t, enc.Encode(map[string]any{"prompt": it.Prompt, "cheap_correct": it.CheapCorrect, "capable_correct": it.CapableCorrect,
			"cheap_output_tokens": it.CheapOutputTokens, "capable_output_tokens": it.CapableOutputTokens}))
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return items
}

func runJSON(t *testing.T, args ...string) results {
	t.Helper()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), append(args, "--json", "--quiet", "--approx-tokens"), &stdout, &stderr), stderr.String())
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	return res
}

// TestGateCalibratesOnTrainOnly: two datasets with the same train split and
// very different test splits get the same calibrated alphas, equal to
// baar.CalibrateAlpha over the train split's ratios.
func TestGateCalibratesOnTrainOnly(t *testing.T) {
	dir := t.TempDir()
	short, long := filepath.Join(dir, "short.jsonl"), filepath.Join(dir, "long.jsonl")
	items := gateSet(t, short, 300, 60, 0)
	gateSet(t, long, 300, 60, 40)
	args := []string{"--value-policy", "flat:0.001", "--auto-calibrate-alpha", "--target-reject-rate", "0.15"}
	a := runJSON(t, append([]string{"--dataset", "jsonl:" + short}, args...)...)
	b := runJSON(t, append([]string{"--dataset", "jsonl:" + long}, args...)...)
	ga, gb := a.Tables[0].ValueGate, b.Tables[0].ValueGate
	require.NotNil(t, ga)
	require.NotNil(t, gb)
	require.Len(t, ga.Rows, 5)
	assert.NotEqual(t, a.Tables[0].CapableCost, b.Tables[0].CapableCost, "the test splits differ")
	for i := range ga.Rows {
		assert.Equal(t, ga.Rows[i].Alpha, gb.Rows[i].Alpha, ga.Rows[i].Strategy)
	}

	// The scoring.Default() row's alpha, recomputed from the train split.
	train := bench.Dataset{OutputTokensKnown: true}
	for _, it := range items {
		if !bench.IsTest(it.Prompt) {
			train.Items = append(train.Items, it)
		}
	}
	require.Len(t, train.Items, 300)
	outCheap, outCapable := bench.OutputAssumption(train, 5)
	p := bench.RouteLLMPrices
	var trainRatios, testRatios []float64
	for _, it := range items {
		n := float64(bench.ApproxTokens(it.Prompt))
		score, err := scoring.Default().Score(context.Background(), request(it.Prompt))
		require.NoError(t, err)
		cost := (n*p.CheapIn + outCheap*p.CheapOut) / 1e6
		if score >= scoring.DefaultThreshold {
			cost = (n*p.CapableIn + outCapable*p.CapableOut) / 1e6
		}
		if bench.IsTest(it.Prompt) {
			testRatios = append(testRatios, 0.001/cost)
		} else {
			trainRatios = append(trainRatios, 0.001/cost)
		}
	}
	want, err := baar.CalibrateAlpha(trainRatios, 0.15, "percentile")
	require.NoError(t, err)
	require.Equal(t, "scoring.Default() (0.80)", ga.Rows[0].Strategy)
	assert.InDelta(t, want, ga.Rows[0].Alpha, want*1e-12)
	onTest, err := baar.CalibrateAlpha(testRatios, 0.15, "percentile")
	require.NoError(t, err)
	assert.NotEqual(t, onTest, ga.Rows[0].Alpha, "calibrating on the test split would give another alpha")
	assert.True(t, ga.Calibrated)
	assert.Equal(t, "percentile", ga.AlphaSource)
	assert.InDelta(t, outCheap, ga.CheapOutputTokens, 1e-12)
}

func TestGateEndToEnd(t *testing.T) {
	dir := t.TempDir()
	path := writeSet(t, dir, "alpha", 0)
	ds := []string{"--dataset", "jsonl:" + path}

	// No value flag: no gate section, in JSON or text.
	plain := runJSON(t, ds...)
	assert.Nil(t, plain.Tables[0].ValueGate)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), append(ds, "--approx-tokens", "--quiet"), &stdout, &stderr))
	assert.NotContains(t, stdout.String(), "Value gate")
	var raw bytes.Buffer
	require.NoError(t, run(context.Background(), append(ds, "--approx-tokens", "--quiet", "--json"), &raw, &stderr))
	assert.NotContains(t, raw.String(), "value_gate")

	// A gate that passes everything reproduces the ungated router rows.
	res := runJSON(t, append(ds, "--value-policy", "flat:1000", "--alpha", "1e-9")...)
	tb := res.Tables[0]
	require.NotNil(t, tb.ValueGate)
	rows := map[string]bench.Row{}
	for _, r := range tb.Rows {
		rows[r.Strategy] = r
	}
	require.Len(t, tb.ValueGate.Rows, 5)
	for _, g := range tb.ValueGate.Rows {
		r, ok := rows[g.Strategy]
		require.True(t, ok, g.Strategy)
		assert.Zero(t, g.Rejected+g.Clamped+g.Downshifted, g.Strategy)
		assert.InDelta(t, r.Accuracy, g.Accuracy, 1e-12, g.Strategy)
		assert.InDelta(t, r.Accuracy, g.UngatedAccuracy, 1e-12, g.Strategy)
		assert.InDelta(t, r.Cost, g.Cost, 1e-12, g.Strategy)
		assert.InDelta(t, r.Share, g.Share, 1e-12, g.Strategy)
		assert.InDelta(t, r.CostVsCapable, g.CostVsCapable, 1e-12, g.Strategy)
	}

	// A calibrated gate on per-token values: some rejections, within the
	// clamp; rejected tasks cost nothing and count as wrong. (The target
	// is not met closely here: the prompts have only five token counts,
	// so the ratios are heavily tied.)
	res = runJSON(t, append(ds, "--value-policy", "per-token:0.0001", "--auto-calibrate-alpha", "--target-reject-rate", "0.2",
		"--min-gated", "10", "--max-reject-rate", "0.3")...)
	tb = res.Tables[0]
	g := tb.ValueGate
	require.NotNil(t, g)
	assert.Equal(t, 10, g.MinGated)
	assert.Equal(t, 0.3, g.MaxRejectRate)
	for _, r := range g.Rows {
		assert.Equal(t, tb.N, r.N)
		assert.Greater(t, r.Alpha, 0.0)
		assert.LessOrEqual(t, r.RejectRate, 0.3+1.0/float64(r.N), r.Strategy)
		assert.Positive(t, r.Rejected, r.Strategy)
		answered := float64(r.N - r.Rejected)
		assert.InDelta(t, r.Accuracy*float64(r.N), r.AnsweredAccuracy*answered, 1e-9, r.Strategy)
		assert.LessOrEqual(t, r.Cost, r.UngatedCost+1e-12, r.Strategy)
		assert.InDelta(t, r.Cost/tb.CapableCost, r.CostVsCapable, 1e-12)
	}

	// capable-gap and the median source, in text.
	stdout.Reset()
	require.NoError(t, run(context.Background(), append(ds, "--approx-tokens", "--quiet", "--value-policy", "capable-gap:0.01",
		"--auto-calibrate-alpha", "--alpha-source", "median"), &stdout, &stderr))
	out := stdout.String()
	assert.Contains(t, out, "Value gate on alpha (capable-gap:0.01; alpha calibrated per row on the TRAIN split for a 10.0% reject rate (median)")
	assert.Regexp(t, `router @ 20% \(train-calibrated\)\s+\S+\s+\d+\.\d%\s+\d+\s+\d+`, out)
	assert.Contains(t, out, "answered acc.")
}
