package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/internal/cli/clitest"
	"github.com/baarcore/baar/internal/routellm"
)

const name = "baar-train"

func runner(args []string, stdout, stderr io.Writer) error {
	return run(context.Background(), args, stdout, stderr)
}

// exit runs the command as main does and returns its exit status, stdout and
// stderr.
func exit(args ...string) (int, string, string) { return clitest.Exit(name, runner, args...) }

func TestHelpExitsZero(t *testing.T) { clitest.Help(t, name, runner, "tree-rate") }

// TestUsageErrorsBeforeWork: every flag value is checked before any data is
// read (the data directory given here is empty), reported once with one
// prefix, with exit status 2.
func TestUsageErrorsBeforeWork(t *testing.T) {
	t.Setenv(routellm.EnvDir, t.TempDir())
	data := "jsonl:" + writeData(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--folds", "1"}, "--folds 1: want 0 (default) or ≥ 2"},
		{[]string{"--folds", "-2"}, "--folds -2"},
		{[]string{"--l2", "-1"}, "--l2 -1: want ≥ 0"},
		{[]string{"--l2", "Inf"}, "--l2 +Inf: want a finite number"},
		{[]string{"--smoothing", "NaN"}, "--smoothing NaN"},
		{[]string{"--min-count", "-1"}, "--min-count -1"},
		{[]string{"--domain-smoothing", "-0.5"}, "--domain-smoothing -0.5"},
		{[]string{"--tree-depth", "9"}, "--tree-depth 9: want a number in [0, 8]"},
		{[]string{"--tree-rate", "1.5"}, "--tree-rate 1.5"},
		{[]string{"--label", "nope"}, `--label "nope": want gap, cheap-wrong`},
		{[]string{"--only", "nope"}, "--only nope: no dataset of that name (given: gsm8k, mmlu)"},
		{[]string{"--dataset", data, "--only", "mmlu"}, "--only mmlu: no dataset of that name (given: gen)"},
		{[]string{"--out", filepath.Join(t.TempDir(), "no", "dir", "w.json")}, "--out"},
		{[]string{"--dataset", "csv:x"}, "want jsonl:PATH"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		clitest.UsageError(t, name, runner, c.want, c.args...)
	}
	// The data is read only once the flags are valid: a failure, status 1.
	code, _, stderr := exit("--out", "-")
	assert.Equal(t, cli.ExitFailure, code, stderr)
	assert.Contains(t, stderr, routellm.GSM8KContaminated)
	assert.NotContains(t, stderr, "bench:")
}

// TestDefaultOutIsTheModulesWeights: without --out, the weights go to the
// scoring package of the module the working directory is in, not to
// ./scoring of the working directory.
func TestDefaultOutIsTheModulesWeights(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+cli.ModulePath+"\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "scoring"), 0o755))
	sub := filepath.Join(root, "cmd", "baar-train")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	data := writeData(t)
	t.Chdir(sub)

	code, _, stderr := exit("--dataset", "jsonl:"+data)
	require.Equal(t, cli.ExitOK, code, stderr)
	want := filepath.Join(root, "scoring", "weights.json")
	b, err := os.ReadFile(want)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"cdf"`)
	assert.Contains(t, stderr, "wrote "+want)
	_, err = os.Stat(filepath.Join(sub, "scoring"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
