package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/routellm"
	"github.com/baarcore/baar/scoring"
)

// writeData writes a small generated dataset in the generic JSONL format.
func writeData(t *testing.T) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	topics := []string{"apples", "trains", "integrals", "poetry", "enzymes", "contracts"}
	for i := 0; i < 600; i++ {
		nums := i % 6
		p := fmt.Sprintf("Question %s about %s", topics[i%len(topics)], topics[(i/7)%len(topics)])
		for k := 0; k < nums; k++ {
			p += fmt.Sprintf(" %d", (i*13+k*7)%101)
		}
		hard := nums >= 3 && i%4 != 0
		require.NoError(t, enc.Encode(map[string]any{"prompt": p + "?", "cheap_correct": !hard, "capable_correct": i%9 != 0}))
	}
	path := filepath.Join(t.TempDir(), "gen.jsonl")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

func TestTrainReproducible(t *testing.T) {
	data := writeData(t)
	dir := t.TempDir()
	var outs [][]byte
	for i := 0; i < 2; i++ {
		out := filepath.Join(dir, fmt.Sprintf("w%d.json", i))
		var stderr bytes.Buffer
		require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + data, "--out", out}, &bytes.Buffer{}, &stderr))
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		outs = append(outs, b)
	}
	assert.Equal(t, string(outs[0]), string(outs[1]), "same data → byte-identical weights")
	m, err := scoring.NewModel(outs[0])
	require.NoError(t, err)
	v, err := m.Score(context.Background(), scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: "x"}}})
	require.NoError(t, err)
	assert.True(t, v >= 0 && v <= 1)

	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--dataset", "jsonl:" + data, "--out", "-"}, &stdout, &bytes.Buffer{}))
	assert.Equal(t, string(outs[0]), stdout.String())
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	var sink bytes.Buffer
	t.Setenv(routellm.EnvDir, t.TempDir()) // no RouteLLM files there
	assert.ErrorContains(t, run(ctx, []string{"--out", "-"}, &sink, &sink), routellm.GSM8KContaminated)
	assert.Error(t, run(ctx, []string{"--dataset", "csv:x"}, &sink, &sink))
	assert.Error(t, run(ctx, []string{"--dataset", "jsonl:" + writeData(t), "--only", "nope", "--out", "-"}, &sink, &sink))
	assert.Error(t, run(ctx, []string{"--dataset", "jsonl:" + writeData(t), "--label", "nope", "--out", "-"}, &sink, &sink))
	assert.Error(t, run(ctx, []string{"extra"}, &sink, &sink))
	assert.ErrorContains(t, run(ctx, []string{"--dataset", "jsonl:" + writeData(t), "--out", "-", "--verifier-out", "-"}, &sink, &sink),
		"cheap model's answers", "the generic format carries no answers to train the verifier on")
}

// TestTrainDefaultData trains on the RouteLLM data by default (the module's
// copy, see routellm.Dir) and reproduces the embedded weights byte for byte.
func TestTrainDefaultData(t *testing.T) {
	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--out", "-"}, &stdout, &bytes.Buffer{}))
	want, err := os.ReadFile(filepath.Join("..", "..", "scoring", "weights.json"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, stdout.Bytes()), "scoring/weights.json is not what baar-train writes from the module's data")
}
