package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/routellm"
)

// liveSet writes a generated live dataset: arithmetic questions with their
// answers, multiple-choice questions with their letters, and free prompts.
func liveSet(t *testing.T, dir string, n int) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := 0; i < n; i++ {
		var rec map[string]any
		switch i % 3 {
		case 0:
			a, c := i*7%97, i*13%89
			rec = map[string]any{"prompt": fmt.Sprintf("Item %d: a farmer has %d apples and buys %d more. How many apples does he have?", i, a, c), "answer": a + c}
		case 1:
			rec = map[string]any{"prompt": fmt.Sprintf("Item %d: which letter comes after %c?\nA. one\nB. two\nC. three\nD. four\nAnswer:", i, 'A'+rune(i%3)),
				"answer": string(rune('B' + i%3))}
		default:
			rec = map[string]any{"prompt": fmt.Sprintf("Item %d: write a short note about topic %d and explain the trade-offs step by step.", i, i%11)}
		}
		require.NoError(t, enc.Encode(rec))
	}
	path := filepath.Join(dir, "live.jsonl")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

func runLiveJSON(t *testing.T, args ...string) (liveResults, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append(args, "--json", "--quiet"), &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	var res liveResults
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	return res, stderr.String()
}

func TestLiveSimulateJSONL(t *testing.T) {
	path := liveSet(t, t.TempDir(), 300)
	res, stderr := runLiveJSON(t, "--live", "--simulate", "--dataset", "jsonl:"+path, "--n", "12", "--seed", "3")
	assert.Contains(t, stderr, "SIMULATED RESULTS")
	assert.True(t, res.Simulated)
	assert.Contains(t, res.Banner, "SIMULATED")
	assert.Equal(t, "gpt-4o-mini", res.CheapModel)
	assert.Equal(t, "gpt-4o", res.CapableModel)
	require.Len(t, res.Tables, 1)
	tb := res.Tables[0]
	assert.Equal(t, "live", tb.Dataset)
	assert.Equal(t, 12, tb.N)
	assert.Greater(t, tb.Graded, 0)
	assert.Less(t, tb.Graded, 12, "free prompts are not graded")
	require.Len(t, tb.Rows, 3)
	cheap, capable, router := tb.Rows[0], tb.Rows[1], tb.Rows[2]
	assert.Equal(t, "always-cheap", cheap.Strategy)
	assert.Equal(t, 12, cheap.Cheap)
	assert.Zero(t, cheap.Capable)
	assert.Equal(t, 12, capable.Capable)
	assert.Zero(t, capable.Cheap)
	assert.Equal(t, 12, router.Cheap+router.Capable)
	total := 0.0
	for _, r := range tb.Rows {
		assert.Zero(t, r.Refused+r.Errors, r.Strategy)
		assert.Greater(t, r.Spent, 0.0, r.Strategy)
		assert.LessOrEqual(t, r.Spent, 1.0, r.Strategy)
		total += r.Spent
	}
	assert.InDelta(t, total, res.TotalSpent, 1e-12)
	assert.Less(t, cheap.Spent, capable.Spent, "the cheap model is cheaper for the same prompts")
	assert.InDelta(t, 1.0, float64(capable.CostVsCapable), 1e-12)
	assert.InDelta(t, cheap.Spent/capable.Spent, float64(cheap.CostVsCapable), 1e-12)

	// Deterministic: the same seed gives the same run.
	again, _ := runLiveJSON(t, "--live", "--simulate", "--dataset", "jsonl:"+path, "--n", "12", "--seed", "3")
	for i := range tb.Rows {
		assert.Equal(t, tb.Rows[i].Spent, again.Tables[0].Rows[i].Spent)
		assert.Equal(t, tb.Rows[i].Capable, again.Tables[0].Rows[i].Capable)
	}
}

func TestLiveSimulateTable(t *testing.T) {
	path := liveSet(t, t.TempDir(), 120)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--live", "--simulate", "--dataset", "jsonl:" + path, "--n", "6", "--quiet"}, &stdout, &stderr))
	out := stdout.String()
	assert.Contains(t, stderr.String(), "SIMULATED RESULTS")
	assert.Contains(t, out, "SIMULATED (not real model answers) — live, test split: 6 prompts sampled (seed 1)")
	assert.Regexp(t, `(?m)^\s+always-capable\s+100\.0%`, out)
	assert.Regexp(t, `(?m)^\s+router @ 20% \(train-calibrated\)`, out)
	assert.Contains(t, out, "strategy  capable  accuracy")
}

// TestLiveGradesRealAnswers runs the openai path (no --simulate) against a
// local server whose answers are right for the capable model and wrong for
// the cheap one: grading, spend and the cost ratio come out as they must.
func TestLiveGradesRealAnswers(t *testing.T) {
	dir := t.TempDir()
	path := liveSet(t, dir, 300)
	set, err := bench.LoadLiveJSONL(path)
	require.NoError(t, err)
	gold := map[string]string{}
	for _, it := range set.Items {
		gold[instruct(it)] = it.Gold
	}
	srv := baartest.NewServer(baartest.WithAPIKey("k"), baartest.WithResponder(func(req *baartest.ChatRequest) baartest.Reply {
		g := gold[req.Messages[len(req.Messages)-1].Content]
		if req.Model == "gpt-4o-mini" {
			return baartest.Reply{Content: "I am not sure. Answer: 1 million"}
		}
		return baartest.Reply{Content: "Let me work it out.\nAnswer: " + g}
	}))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "k")
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	res, stderr := runLiveJSON(t, "--live", "--dataset", "jsonl:"+path, "--n", "30")
	assert.NotContains(t, stderr, "SIMULATED")
	assert.False(t, res.Simulated)
	assert.Equal(t, srv.URL(), res.Endpoint)
	tb := res.Tables[0]
	require.Len(t, tb.Rows, 3)
	cheap, capable, router := tb.Rows[0], tb.Rows[1], tb.Rows[2]
	assert.InDelta(t, 0.0, float64(cheap.Accuracy), 1e-12)
	assert.InDelta(t, 1.0, float64(capable.Accuracy), 1e-12)
	assert.Equal(t, tb.Graded, capable.Correct)
	assert.Equal(t, router.Capable > 0, router.Correct > 0)
	assert.Zero(t, capable.Unparsed)
	assert.Equal(t, int64(90), srv.Requests(), "30 prompts × 3 strategies")
}

func TestLiveBudgetExhaustion(t *testing.T) {
	path := liveSet(t, t.TempDir(), 300)
	res, _ := runLiveJSON(t, "--live", "--simulate", "--dataset", "jsonl:"+path, "--n", "40", "--budget", "0.0008", "--max-output-tokens", "200")
	tb := res.Tables[0]
	refused := 0
	for _, r := range tb.Rows {
		assert.Equal(t, tb.N, r.Cheap+r.Capable+r.Refused+r.Errors, r.Strategy)
		assert.Zero(t, r.Errors, r.Strategy)
		assert.LessOrEqual(t, r.Spent, 0.0008+1e-12, "the budget is hard: %s", r.Strategy)
		refused += r.Refused
	}
	capable := tb.Rows[1]
	assert.Greater(t, capable.Refused, 0, "always-capable runs out of budget")
	assert.Greater(t, capable.Downgraded, 0, "then the cheap model answers while it is affordable")
	assert.Greater(t, refused, 0)

	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--live", "--simulate", "--dataset", "jsonl:" + path, "--n", "40",
		"--budget", "0.0008", "--max-output-tokens", "200", "--quiet"}, &stdout, &stderr))
	assert.Regexp(t, regexp.MustCompile(`always-capable: budget exhausted, \d+ of 40 calls refused`), stdout.String())

	// A zero budget refuses everything, without a crash.
	res, _ = runLiveJSON(t, "--live", "--simulate", "--dataset", "jsonl:"+path, "--n", "5", "--budget", "0")
	for _, r := range res.Tables[0].Rows {
		assert.Equal(t, 5, r.Refused)
		assert.Zero(t, r.Spent)
		assert.InDelta(t, 0.0, float64(r.Accuracy), 1e-12)
		assert.True(t, math.IsNaN(float64(r.CostVsCapable)))
	}
}

func TestLiveMissingKey(t *testing.T) {
	path := liveSet(t, t.TempDir(), 30)
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1") // never dialled
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--live", "--dataset", "jsonl:" + path, "--quiet"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OPENAI_API_KEY")
	assert.Contains(t, err.Error(), "--simulate")
	assert.Empty(t, stdout.String())
}

func TestLiveEndpointFailsFast(t *testing.T) {
	path := liveSet(t, t.TempDir(), 60)
	srv := baartest.NewServer(baartest.WithAPIKey("right"))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "wrong")
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--live", "--dataset", "jsonl:" + path, "--quiet"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed 3 calls in a row")
	assert.LessOrEqual(t, srv.Requests(), int64(3))
}

func TestLiveFlags(t *testing.T) {
	path := liveSet(t, t.TempDir(), 30)
	ds := "jsonl:" + path
	t.Setenv(routellm.EnvDir, t.TempDir()) // no RouteLLM files there
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", ds, "--simulate"}, "--simulate needs --live"},
		{[]string{"--dataset", ds, "--n", "5"}, "--n needs --live"},
		{[]string{"--dataset", ds, "--live", "--cross"}, "--cross is not available with --live"},
		{[]string{"--dataset", ds, "--live", "--value-policy", "flat:1"}, "--value-policy is not available with --live"},
		{[]string{"--dataset", ds, "--live", "--n", "0"}, "--n 0"},
		{[]string{"--dataset", ds, "--live", "--budget", "-1"}, "--budget -1"},
		{[]string{"--dataset", ds, "--live", "--share", "2"}, "--share 2"},
		{[]string{"--dataset", ds, "--live", "--provider", "anthropic"}, `--provider "anthropic"`},
		{[]string{"--dataset", ds, "--live", "--cheap-price", "1"}, "IN,OUT"},
		{[]string{"--dataset", ds, "--live", "--cheap-price", "-1,2"}, "cheap-price"},
		{[]string{"--dataset", ds, "--live", "--simulate", "--cheap-model", "my-model"}, `"my-model" has no price`},
		{[]string{"--dataset", ds, "--live", "--simulate", "--provider", "ollama"}, "name both models"},
		{[]string{"--dataset", ds, "--live", "--simulate", "--provider", "ollama", "--cheap-model", "a", "--capable-model", "b"}, "--cheap-price"},
		{[]string{"--dataset", ds, "--live", "--simulate", "--only", "nope"}, "--only nope"},
		{[]string{"--live", "--simulate"}, routellm.GSM8KContaminated},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(c.args, "--quiet"), &stdout, &stderr)
		if assert.Error(t, err, c.args) {
			assert.Contains(t, err.Error(), c.want, c.args)
		}
	}
}

// TestLiveSimulateOllamaPrices: local models priced by flag, 0,0 allowed.
func TestLiveSimulateOllamaPrices(t *testing.T) {
	path := liveSet(t, t.TempDir(), 90)
	res, _ := runLiveJSON(t, "--live", "--simulate", "--provider", "ollama", "--dataset", "jsonl:"+path, "--n", "5",
		"--cheap-model", "llama3.2:3b", "--capable-model", "llama3.1:70b", "--cheap-price", "0,0", "--capable-price", "0.5,1.5")
	tb := res.Tables[0]
	assert.Equal(t, "llama3.2:3b", res.CheapModel)
	assert.Equal(t, [2]float64{0.5, 1.5}, res.CapablePrice)
	assert.Zero(t, tb.Rows[0].Spent, "free local model")
	assert.Greater(t, tb.Rows[1].Spent, 0.0)
	assert.Zero(t, float64(tb.Rows[0].CostVsCapable))
}

func TestOllamaHost(t *testing.T) {
	assert.Equal(t, defaultOllamaHost, ollamaHost(""))
	assert.Equal(t, "http://gpu:11434", ollamaHost("gpu:11434"))
	assert.Equal(t, "https://x.example", ollamaHost("https://x.example"))
}

func TestLiveRouteLLM(t *testing.T) {
	dir, err := routellm.Dir()
	require.NoError(t, err)
	res, _ := runLiveJSON(t, "--live", "--simulate", "--data", dir, "--n", "8")
	require.Len(t, res.Tables, 2)
	gsm, mmlu := res.Tables[0], res.Tables[1]
	assert.Equal(t, "gsm8k", gsm.Dataset)
	assert.Equal(t, 8, gsm.N)
	assert.Equal(t, 8, gsm.Graded)
	assert.Greater(t, gsm.Dropped, 0)
	assert.Contains(t, gsm.Gold, "derived")
	assert.Equal(t, "mmlu", mmlu.Dataset)
	assert.Zero(t, mmlu.Graded)
	assert.Contains(t, mmlu.Gold, "no gold letter")
	for _, r := range mmlu.Rows {
		assert.True(t, math.IsNaN(float64(r.Accuracy)), "MMLU is not graded")
		assert.Equal(t, 8, r.Cheap+r.Capable)
	}
	only, _ := runLiveJSON(t, "--live", "--simulate", "--data", dir, "--n", "3", "--only", "gsm8k")
	require.Len(t, only.Tables, 1)
	assert.Equal(t, "gsm8k", only.Tables[0].Dataset)
	assert.True(t, strings.HasPrefix(only.Banner, "SIMULATED"))
}
