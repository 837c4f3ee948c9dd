package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/cli/clitest"
)

// arith is the synthetic cascade dataset the module ships.
func arith(t *testing.T) string {
	t.Helper()
	p := filepath.Join("..", "..", bench.ArithPath)
	_, err := os.Stat(p)
	require.NoError(t, err)
	return "jsonl:" + p
}

func TestCascadeUsageErrorsBeforeWork(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--strategy", "both"}, `--strategy "both": want route, cascade, hybrid, all`},
		{[]string{"--strategy", "cascade", "--verifier", "judge"}, `--verifier judge: unknown verifier "judge" (want default, agreement or agreement-K)`},
		{[]string{"--verifier", "agreement-1"}, "want agreement-K with K ≥ 2"},
		{[]string{"--verifier", "default,default"}, "given twice"},
		{[]string{"--hybrid-bar", "0"}, "--hybrid-bar 0: want a number in (0, 1]"},
		{[]string{"--hybrid-bar", "1.5"}, "--hybrid-bar 1.5: want a number in (0, 1]"},
		{[]string{"--hybrid-bar", "NaN"}, "--hybrid-bar NaN: want a number in (0, 1]"},
		{[]string{"--escalation-threshold", "2"}, "--escalation-threshold 2: want a number in [0, 1]"},
		{[]string{"--strategy", "cascade", "--value-policy", "flat:1"}, "--value-policy gates the router's rows: it needs --strategy route or all"},
		{[]string{"--live", "--simulate", "--strategy", "cascade"}, "--strategy is not available with --live"},
	} {
		clitest.UsageError(t, name, runner, c.want, c.args...)
	}
}

// TestCascadeNotMeasurable: data without answer texts prints the cascade as
// not measurable, never a figure; so does agreement on one answer a prompt.
func TestCascadeNotMeasurable(t *testing.T) {
	set := writeSet(t, t.TempDir(), "plain", 0)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + set, "--approx-tokens", "--quiet",
		"--strategy", "all", "--verifier", "default,agreement"}, &stdout, &stderr), stderr.String())
	out := stdout.String()
	assert.Contains(t, out, "cascade, default: not measurable on plain: the data has no cheap answer text (cheap_answer)")
	assert.Contains(t, out, "hybrid, agreement: not measurable on plain: the data has no sampled cheap answers")
	assert.NotContains(t, out, "cascade, default (")
	assert.Contains(t, out, "scoring.Default() (0.80)", "the routing rows still stand")

	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + set, "--approx-tokens", "--quiet", "--json",
		"--strategy", "cascade"}, &stdout, &stderr))
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	require.Len(t, res.Tables, 1)
	assert.Equal(t, []bench.NotMeasurable{{Strategy: "cascade, default", Reason: "the data has no cheap answer text (cheap_answer)"}}, res.Tables[0].NotMeasurable)
	for _, r := range res.Tables[0].Rows {
		assert.NotContains(t, r.Strategy, "cascade")
		assert.NotContains(t, r.Strategy, "scoring.Default()", "--strategy cascade shows no routing row")
	}
}

// TestCascadeJSONLWithAnswers measures both verifiers, the hybrid and its
// sweep on the synthetic dataset.
func TestCascadeJSONLWithAnswers(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", arith(t), "--approx-tokens", "--quiet", "--json",
		"--strategy", "all", "--verifier", "default,agreement", "--split", "all"}, &stdout, &stderr), stderr.String())
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	require.Len(t, res.Tables, 1)
	tb := res.Tables[0]
	assert.Empty(t, tb.NotMeasurable)
	assert.Empty(t, tb.Notes, "the samples are labelled")
	rows := map[string]bench.Row{}
	for _, r := range tb.Rows {
		rows[r.Strategy] = r
	}
	for _, n := range []string{"scoring.Default() (0.80)", "cascade, default (0.50)", "cascade, agreement-3 (0.50)",
		"hybrid, default, bar 0.95 (0.50)", "hybrid, agreement-3, bar 0.95 (0.50)"} {
		require.Contains(t, rows, n)
		assert.True(t, rows[n].HasCurve, n)
	}
	casc := rows["cascade, default (0.50)"]
	assert.Greater(t, casc.APGR, rows["scoring.Default() (0.80)"].APGR, "the answer tells more than the prompt")
	assert.Greater(t, casc.Cost, rows["always-cheap"].Cost, "every cheap call is paid, and the escalations")
	// The sweep has the plain cascade (bar 0) equal to the cascade row.
	require.NotEmpty(t, tb.HybridBars)
	assert.Equal(t, 0.0, tb.HybridBars[0].Bar)
	assert.InDelta(t, casc.APGR, tb.HybridBars[0].APGR, 1e-12)
	assert.InDelta(t, casc.Accuracy, tb.HybridBars[0].Accuracy, 1e-12)
	assert.InDelta(t, casc.Accuracy, tb.HybridBars[0].CascadeAccuracy, 1e-9)
}

// TestCascadeScoresOut: one {"dataset","strategy","prompt","score"} line per
// prompt and verifier, the score the doubt (higher = escalate first).
func TestCascadeScoresOut(t *testing.T) {
	scores := filepath.Join(t.TempDir(), "s.jsonl")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", arith(t), "--approx-tokens", "--quiet", "--json",
		"--strategy", "cascade", "--verifier", "default,agreement", "--scores-out", scores}, &stdout, &stderr), stderr.String())
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	f, err := os.Open(scores)
	require.NoError(t, err)
	defer f.Close()
	per := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		assert.Len(t, m, 4, sc.Text())
		assert.Equal(t, "arith", m["dataset"])
		assert.NotEmpty(t, m["prompt"])
		s := m["score"].(float64)
		assert.True(t, s >= 0 && s <= 1, s)
		per[m["strategy"].(string)]++
	}
	require.NoError(t, sc.Err())
	n := res.Tables[0].N
	assert.Equal(t, map[string]int{"cascade/default": n, "cascade/agreement-3": n}, per, "no routing score with --strategy cascade")
}

func TestCascadePlotHasBothCurves(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "c.svg")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", arith(t), "--approx-tokens", "--quiet",
		"--strategy", "all", "--plot", plot}, &stdout, &stderr), stderr.String())
	b, err := os.ReadFile(plot)
	require.NoError(t, err)
	svg := string(b)
	assert.Contains(t, svg, ">scoring.Default() (0.80)</text>", "the routing curve's legend")
	assert.Contains(t, svg, ">cascade, default (0.50)</text>", "the cascade curve's legend")
	assert.Contains(t, svg, ">hybrid, default, bar 0.95 (0.50)</text>")
	assert.Contains(t, svg, `stroke-dasharray="5,2" points=`, "cascade curves are dashed")
	assert.Contains(t, svg, "<title>cascade, default (0.50)</title>", "the cascade's operating point")
	assert.Equal(t, strings.Count(svg, "<polyline"), 6, "length, keywords, Default, cascade, hybrid, oracle")
}

// TestCascadeCrossValidation trains the verifier on folds of the synthetic
// set's train split.
func TestCascadeCrossValidation(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", arith(t), "--approx-tokens", "--quiet", "--json",
		"--strategy", "cascade", "--cv", "3"}, &stdout, &stderr), stderr.String())
	var res results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	require.Len(t, res.CV, 1, "no routing CV with --strategy cascade")
	r := res.CV[0]
	assert.Equal(t, "cascade, default", r.Strategy)
	assert.Equal(t, 3, r.Folds)
	require.Len(t, r.APGR, 3)
	require.Len(t, r.Cost50, 3)
	lo, hi := float64(r.APGR[0]), float64(r.APGR[0])
	for _, x := range r.APGR {
		lo, hi = min(lo, float64(x)), max(hi, float64(x))
	}
	assert.True(t, float64(r.MeanAPGR) >= lo && float64(r.MeanAPGR) <= hi)
	assert.Positive(t, float64(r.SDAPGR))
	assert.Greater(t, float64(r.MeanAPGR), 0.6, "a verifier trained on these answers reads their mistakes")

	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"--dataset", arith(t), "--approx-tokens", "--quiet",
		"--strategy", "all", "--cv", "3"}, &stdout, &stderr))
	assert.Regexp(t, `arith\s+route\s+\d+`, stdout.String())
	assert.Regexp(t, `arith\s+cascade, default\s+\d+\s+0\.\d+ ± 0\.\d+`, stdout.String())
}

// TestCascadeDefaultData: --strategy cascade alone runs on the data the
// module ships, with GSM8K's figures and MMLU not measurable.
func TestCascadeDefaultData(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--quiet", "--strategy", "cascade"}, &stdout, &stderr), stderr.String())
	out := stdout.String()
	assert.Regexp(t, `cascade, default \(0\.50\)\s+27\.0%\s+77\.18%.*0\.754\s+16\.2%\s+19\.8%`, out, "docs/cascade.md's figures")
	assert.Contains(t, out, "cascade, default: not measurable on mmlu: the data has no cheap answer text")
}
