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

	"github.com/baarcore/baar/internal/bench"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/internal/cli/clitest"
)

const name = "baar-bench"

func runner(args []string, stdout, stderr io.Writer) error {
	return run(context.Background(), args, stdout, stderr)
}

// exit runs the command as main does and returns its exit status, stdout and
// stderr.
func exit(args ...string) (int, string, string) { return clitest.Exit(name, runner, args...) }

// tinySet writes a labelled set of n prompts none of which is in the test
// split.
func tinySet(t *testing.T, n int) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := 0; n > 0; i++ {
		p := fmt.Sprintf("What is %d plus %d?", i, i+1)
		if bench.IsTest(p) {
			continue
		}
		require.NoError(t, enc.Encode(map[string]any{"prompt": p, "cheap_correct": i%2 == 0, "capable_correct": true}))
		n--
	}
	path := filepath.Join(t.TempDir(), "tiny.jsonl")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

func TestHelpExitsZero(t *testing.T) { clitest.Help(t, name, runner, "value-policy") }

// TestUsageErrorsBeforeWork: every flag value is checked before any data is
// read or scored, and reported once, with one prefix, with exit status 2.
func TestUsageErrorsBeforeWork(t *testing.T) {
	set := "jsonl:" + writeSet(t, t.TempDir(), "a", 0)
	for _, c := range []struct {
		args []string
		want string
	}{
		// No --quiet: a progress bar would show any work started.
		{[]string{"--cv", "-3"}, "--cv -3: want 0 (off) or ≥ 2 folds"},
		{[]string{"--cv", "1"}, "--cv 1: want 0 (off) or ≥ 2 folds"},
		{[]string{"--split", "dev"}, `unknown split "dev"`},
		{[]string{"--assume-output-tokens", "-1"}, "--assume-output-tokens -1: want ≥ 0"},
		{[]string{"--plot", filepath.Join(t.TempDir(), "no", "such", "dir", "c.svg")}, "--plot"},
		{[]string{"--scores-out", t.TempDir()}, "is a directory"},
		{[]string{"--cheap-model", "no-such-model"}, `--cheap-model "no-such-model": no price`},
		{[]string{"--dataset", "csv:x"}, `invalid value "csv:x" for flag -dataset: want jsonl:PATH`},
		{[]string{"--dataset", set, "--cross"}, "--cross needs at least two datasets (have 1)"},
		{[]string{"--live", "--simulate", "--only", "nope"}, "--only nope: no dataset of that name (given: gsm8k, mmlu)"},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		clitest.UsageError(t, name, runner, c.want, c.args...)
	}
}

// TestTinyDatasetNeedsSplitAll: a set too small to have a test split says
// what to do, before any work.
func TestTinyDatasetNeedsSplitAll(t *testing.T) {
	path := tinySet(t, 12)
	code, _, stderr := exit("--dataset", "jsonl:"+path, "--approx-tokens")
	assert.Equal(t, cli.ExitUsage, code, stderr)
	assert.Contains(t, stderr, "baar-bench: tiny: no prompt falls in the test split")
	assert.Contains(t, stderr, "use --split all")
	code, stdout, stderr := exit("--dataset", "jsonl:"+path, "--approx-tokens", "--quiet", "--split", "all")
	assert.Equal(t, cli.ExitOK, code, stderr)
	assert.Contains(t, stdout, "tiny, all split (n=12)")
}

// TestErrorsCarryOnePrefix: failures (exit status 1) of the loader are
// reported with the command's prefix only.
func TestErrorsCarryOnePrefix(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte("{not json\n"), 0o644))
	for _, args := range [][]string{
		{"--dataset", "jsonl:" + filepath.Join(t.TempDir(), "missing.jsonl")},
		{"--dataset", "jsonl:" + bad},
		{"--data", t.TempDir()},
	} {
		code, _, stderr := exit(append(args, "--quiet")...)
		assert.Equal(t, cli.ExitFailure, code, "%v: %s", args, stderr)
		assert.True(t, strings.HasPrefix(stderr, "baar-bench: "), "%v: %q", args, stderr)
		assert.NotContains(t, stderr, "bench: bench", args)
		assert.NotContains(t, stderr, "baar-bench: bench:", args)
	}
}
