package cli

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	var stderr bytes.Buffer
	fs := NewFlagSet("tool", "[--n N]", &stderr)
	n := fs.Int("n", 1, "a number")

	require.NoError(t, Parse(fs, []string{"--n", "3"}))
	assert.Equal(t, 3, *n)
	assert.Empty(t, stderr.String())

	for _, help := range []string{"-h", "--help"} {
		stderr.Reset()
		err := Parse(fs, []string{help})
		require.ErrorIs(t, err, flag.ErrHelp)
		assert.Equal(t, ExitOK, Exit("tool", err, &stderr))
		assert.Contains(t, stderr.String(), "usage: tool [--n N]\n")
		assert.Contains(t, stderr.String(), "a number")
	}

	for _, args := range [][]string{{"--n", "x"}, {"--m"}, {"extra"}} {
		stderr.Reset()
		err := Parse(fs, args)
		var ue *UsageError
		require.ErrorAs(t, err, &ue, args)
		assert.Empty(t, stderr.String(), "%v: the flag package's own report is silenced", args)
		assert.Equal(t, ExitUsage, Exit("tool", err, &stderr))
		assert.Regexp(t, `^tool: [^\n]+\nRun 'tool --help' for usage.\n$`, stderr.String())
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := NewFlagSet("tool", "", &bytes.Buffer{})
	j := fs.Bool("json", false, "")
	rest, err := ParseInterspersed(fs, []string{"a", "--json", "b"})
	require.NoError(t, err)
	assert.True(t, *j)
	assert.Equal(t, []string{"a", "b"}, rest)
	_, err = ParseInterspersed(fs, []string{"a", "--nope"})
	assert.ErrorAs(t, err, new(*UsageError))
}

func TestExit(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, ExitOK, Exit("tool", nil, &stderr))
	assert.Empty(t, stderr.String())
	assert.Equal(t, ExitFailure, Exit("tool", errors.New("disk full"), &stderr))
	assert.Equal(t, "tool: disk full\n", stderr.String())
	stderr.Reset()
	assert.Equal(t, ExitUsage, Exit("tool", Usagef("--n %d: want ≥ 1", 0), &stderr))
	assert.Equal(t, "tool: --n 0: want ≥ 1\nRun 'tool --help' for usage.\n", stderr.String())
}

func TestAsUsageAndFirst(t *testing.T) {
	plain := errors.New("x")
	ue := Usagef("y")
	assert.Nil(t, AsUsage(nil))
	assert.Same(t, ue, AsUsage(ue))
	assert.ErrorIs(t, AsUsage(flag.ErrHelp), flag.ErrHelp)
	assert.NotErrorAs(t, AsUsage(flag.ErrHelp), new(*UsageError))
	wrapped := AsUsage(plain)
	assert.ErrorAs(t, wrapped, new(*UsageError))
	assert.ErrorIs(t, wrapped, plain)

	assert.NoError(t, First(nil, nil))
	err := First(nil, plain, ue)
	assert.ErrorIs(t, err, plain, "the first error wins")
	assert.ErrorAs(t, err, new(*UsageError))
}

func TestRangeChecks(t *testing.T) {
	assert.NoError(t, AtLeast("n", 0, 0))
	assert.EqualError(t, AtLeast("n", -1, 0), "--n -1: want ≥ 0")
	assert.EqualError(t, AtLeast("x", math.NaN(), 0), "--x NaN: want ≥ 0")
	assert.EqualError(t, AtLeast("bucket", -time.Minute, 0), "--bucket -1m0s: want ≥ 0s")
	assert.NoError(t, Positive("d", time.Second))
	assert.EqualError(t, Positive("d", time.Duration(0)), "--d 0s: want > 0")
	assert.EqualError(t, Positive("x", math.NaN()), "--x NaN: want > 0")
	assert.NoError(t, Between("share", 1.0, 0, 1))
	assert.EqualError(t, Between("share", 1.5, 0, 1), "--share 1.5: want a number in [0, 1]")
	assert.Error(t, Between("share", math.NaN(), 0, 1))
	assert.NoError(t, Finite("x", 1e300))
	assert.EqualError(t, Finite("x", math.Inf(-1)), "--x -Inf: want a finite number")
	assert.NoError(t, OneOf("label", "gap", "gap", "cheap-wrong"))
	assert.EqualError(t, OneOf("label", "x", "gap", "cheap-wrong"), `--label "x": want gap, cheap-wrong`)
	for _, err := range []error{AtLeast("n", -1, 0), Positive("n", 0), Between("n", 2, 0, 1), Finite("x", math.NaN()), OneOf("a", "b", "c")} {
		assert.ErrorAs(t, err, new(*UsageError))
	}
}

func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	assert.NoError(t, OutputFile("out", ""))
	assert.NoError(t, OutputFile("out", "-"))
	assert.NoError(t, OutputFile("out", filepath.Join(dir, "w.json")))
	err := OutputFile("out", filepath.Join(dir, "missing", "w.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorAs(t, err, new(*UsageError))
	assert.ErrorContains(t, OutputFile("out", dir), "is a directory")
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	assert.ErrorContains(t, OutputFile("out", filepath.Join(file, "w.json")), "is not a directory")
}
