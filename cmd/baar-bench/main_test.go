package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/routellm"
)

func writeSet(t *testing.T, dir, name string, seed int) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := 0; i < 400; i++ {
		nums := (i + seed) % 5
		p := fmt.Sprintf("%s item %d asks about topic %d", name, i, i%9)
		for k := 0; k < nums; k++ {
			p += fmt.Sprintf(" %d", (i*7+k)%53)
		}
		hard := nums >= 3 && i%3 != 0
		require.NoError(t, enc.Encode(map[string]any{"prompt": p, "cheap_correct": !hard, "capable_correct": i%8 != 0,
			"cheap_output_tokens": 10 + i%5, "capable_output_tokens": 12}))
	}
	path := filepath.Join(dir, name+".jsonl")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

func TestBenchJSONLOutputs(t *testing.T) {
	dir := t.TempDir()
	a, b := writeSet(t, dir, "alpha", 0), writeSet(t, dir, "beta", 2)
	plot, scores := filepath.Join(dir, "p.svg"), filepath.Join(dir, "s.jsonl")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--dataset", "jsonl:" + a, "--dataset", "jsonl:" + b, "--cross",
		"--approx-tokens", "--json", "--plot", plot, "--scores-out", scores}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	require.Len(t, res.Tables, 2)
	assert.Len(t, res.Cross, 2)
	for _, tb := range res.Tables {
		assert.Equal(t, "test", tb.Split)
		names := []string{}
		for _, r := range tb.Rows {
			names = append(names, r.Strategy)
		}
		assert.Contains(t, names, "always-cheap")
		assert.Contains(t, names, "scoring.Default() (0.80)")
		assert.Contains(t, names, "router @ 20% (train-calibrated)")
		assert.InDelta(t, 1.0, tb.Rows[1].CostVsCapable, 1e-12, "always-capable")
		assert.Equal(t, "counted from the response texts", tb.OutputTokens)
	}
	svg, err := os.ReadFile(plot)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(svg), "<svg"))
	assert.Contains(t, string(svg), "always-capable")
	lines, err := os.ReadFile(scores)
	require.NoError(t, err)
	assert.Equal(t, res.Tables[0].N+res.Tables[1].N, strings.Count(string(lines), "\n"))

	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + a, "--approx-tokens", "--quiet", "--split", "all"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "APGR")
	assert.Contains(t, stdout.String(), "alpha, all split (n=400)")
}

func TestBenchErrors(t *testing.T) {
	ctx := context.Background()
	var sink bytes.Buffer
	t.Setenv(routellm.EnvDir, t.TempDir()) // no RouteLLM files there
	assert.ErrorContains(t, run(ctx, []string{"--quiet"}, &sink, &sink), routellm.GSM8KContaminated)
	assert.Error(t, run(ctx, []string{"--dataset", "jsonl:x", "--split", "dev"}, &sink, &sink))
	assert.Error(t, run(ctx, []string{"--dataset", "jsonl:" + writeSet(t, t.TempDir(), "a", 0), "--cheap-model", "no-such-model"}, &sink, &sink))
	assert.Error(t, run(ctx, []string{"--dataset", "jsonl:" + writeSet(t, t.TempDir(), "a", 0), "--cross", "--approx-tokens"}, &sink, &sink), "cross needs two datasets")
}

func TestPricePair(t *testing.T) {
	p, err := pricePair("", "")
	require.NoError(t, err)
	assert.Equal(t, 24.7, p.CapableIn)
	p, err = pricePair("gpt-4o-mini", "gpt-4o")
	require.NoError(t, err)
	assert.Equal(t, 0.15, p.CheapIn)
	assert.Equal(t, 10.0, p.CapableOut)
}

// TestBenchRouteLLM runs on the RouteLLM data by default (the module's copy,
// see routellm.Dir) and reproduces the README's figures.
func TestBenchRouteLLM(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--quiet", "--cv", "5"}, &stdout, &stderr))
	out := stdout.String()
	assert.Contains(t, out, "gsm8k, test split (n=241)")
	assert.Contains(t, out, "mmlu, test split (n=2783)")
	assert.Regexp(t, `prompt length \(20% on train\).*0\.551\s+41\.9%\s+53\.1%\s+76\.8%`, out)
	// The cross-validated figures the README quotes.
	assert.Regexp(t, `gsm8k\s+route\s+1066\s+0\.533 ± 0\.066\s+46\.4% ± 8\.5%`, out)
	assert.Regexp(t, `mmlu\s+route\s+11254\s+0\.654 ± 0\.016\s+26\.8% ± 1\.7%`, out)
}

func TestBenchCrossValidation(t *testing.T) {
	dir := t.TempDir()
	a, b := writeSet(t, dir, "alpha", 0), writeSet(t, dir, "beta", 2)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + a, "--dataset", "jsonl:" + b,
		"--approx-tokens", "--quiet", "--json", "--cv", "4"}, &stdout, &stderr), stderr.String())
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	require.Len(t, res.CV, 2)
	for _, r := range res.CV {
		assert.Equal(t, 4, r.Folds)
		require.Len(t, r.APGR, 4, "one figure per fold")
		sum, n := 0.0, 0
		for i, x := range r.APGR {
			assert.False(t, math.IsNaN(float64(x)), "fold %d", i)
			sum += float64(x)
			n++
		}
		assert.InDelta(t, sum/float64(n), float64(r.MeanAPGR), 1e-12)
		assert.Greater(t, float64(r.MeanAPGR), 0.5, "the synthetic sets are learnable: numbers make prompts hard")
		assert.Positive(t, float64(r.SDAPGR))
	}
	// Folds are even spreads of the prompts, independent of the test split's
	// hash (each fold holds test-split prompts in about the same share).
	sizes, tests := make([]int, 4), make([]int, 4)
	for i := range 4000 {
		p := fmt.Sprintf("alpha item %d asks about topic %d", i, i%9)
		f := cvFold(p, 4)
		sizes[f]++
		if bench.IsTest(p) {
			tests[f]++
		}
	}
	for f := range 4 {
		assert.InDelta(t, 1000, sizes[f], 100, "fold %d", f)
		assert.InDelta(t, 0.2, float64(tests[f])/float64(sizes[f]), 0.04, "fold %d", f)
	}

	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + a, "--approx-tokens", "--quiet", "--cv", "3"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "Cross-validation of the training pipelines (3 folds")
	assert.Error(t, run(context.Background(), []string{"--dataset", "jsonl:" + a, "--approx-tokens", "--cv", "1"}, &stdout, &stderr))
}

func TestMeanSD(t *testing.T) {
	m, sd := meanSD([]jsonRate{1, 2, 3, jsonRate(math.NaN())})
	assert.Equal(t, 2.0, float64(m))
	assert.Equal(t, 1.0, float64(sd))
	m, sd = meanSD([]jsonRate{jsonRate(math.NaN())})
	assert.True(t, math.IsNaN(float64(m)) && math.IsNaN(float64(sd)))
	b, err := json.Marshal(cvResult{MeanAPGR: m})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"mean_apgr":null`)
}
