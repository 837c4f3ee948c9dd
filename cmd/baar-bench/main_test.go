package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.Error(t, run(ctx, nil, &sink, &sink))
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

func TestBenchRouteLLM(t *testing.T) {
	dir := os.Getenv("BAAR_ROUTELLM_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "routellm")
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("BAAR_REQUIRE_DATA") == "1" {
			t.Fatalf("RouteLLM data not found at %s and BAAR_REQUIRE_DATA=1 (CI must run this test)", dir)
		}
		t.Skipf("RouteLLM data not found at %s: set BAAR_ROUTELLM_DATA to run this test", dir)
	}
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--data", dir, "--quiet"}, &stdout, &stderr))
	out := stdout.String()
	assert.Contains(t, out, "gsm8k, test split (n=241)")
	assert.Contains(t, out, "mmlu, test split (n=2783)")
	assert.Regexp(t, `prompt length \(20% on train\).*0\.551\s+41\.9%\s+76\.8%`, out)
}
