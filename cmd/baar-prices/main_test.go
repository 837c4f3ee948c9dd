package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// perToken writes a per-million price as an exact per-token JSON number.
func perToken(usd float64) json.RawMessage {
	return json.RawMessage(strconv.FormatFloat(usd, 'f', -1, 64) + "e-6")
}

// embeddedAsLiteLLM returns the embedded table as LiteLLM rows, with edit
// applied to each row (nil drops it).
func embeddedAsLiteLLM(t *testing.T, edit func(model string, row map[string]any) map[string]any) map[string]any {
	t.Helper()
	rows := map[string]any{}
	for _, m := range budget.Models() {
		p, ok := budget.Lookup(m)
		require.True(t, ok)
		row := map[string]any{"input_cost_per_token": perToken(p.Input), "output_cost_per_token": perToken(p.Output), "mode": "chat"}
		if p.Mode != "" {
			row["mode"] = p.Mode
		}
		if p.CachedInput != 0 {
			row["cache_read_input_token_cost"] = perToken(p.CachedInput)
		}
		if p.CacheWrite != 0 {
			row["cache_creation_input_token_cost"] = perToken(p.CacheWrite)
		}
		if p.LongContextThreshold != 0 {
			suffix := fmt.Sprintf("_above_%dk_tokens", p.LongContextThreshold/1000)
			row["input_cost_per_token"+suffix] = perToken(p.LongInput)
			row["output_cost_per_token"+suffix] = perToken(p.LongOutput)
		}
		if p.MaxInputTokens != 0 {
			row["max_input_tokens"] = p.MaxInputTokens
		}
		if p.MaxOutputTokens != 0 {
			row["max_output_tokens"] = p.MaxOutputTokens
		}
		if edit != nil {
			row = edit(m, row)
		}
		if row != nil {
			rows[m] = row
		}
	}
	return rows
}

func writeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "    ")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "prices.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"diff", "--help"}, {"show", "-h"}} {
		code, out, errs := runCmd(args...)
		assert.Equal(t, exitOK, code, args)
		assert.Contains(t, out, "usage: baar-prices diff", args)
		assert.Empty(t, errs, args)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		message string
	}{
		{nil, "no command given"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"diff"}, "diff needs one FILE, got 0 operands"},
		{[]string{"diff", "a", "b"}, "diff needs one FILE, got 2 operands"},
		{[]string{"diff", "--nope", "a"}, "flag provided but not defined: -nope"},
		{[]string{"show"}, "show needs at least one MODEL"},
		{[]string{"show", "--file"}, "flag needs an argument: -file"},
	} {
		code, out, errs := runCmd(tt.args...)
		assert.Equal(t, exitUsage, code, tt.args)
		assert.Empty(t, out, tt.args)
		first, _, _ := strings.Cut(errs, "\n")
		assert.Equal(t, "baar-prices: "+tt.message, first, tt.args)
		assert.Equal(t, 1, strings.Count(errs, "baar-prices:"), "one prefix: %q", errs)
		assert.Contains(t, errs, "usage: baar-prices", tt.args)
	}
}

func TestDiffNoChange(t *testing.T) {
	path := writeJSON(t, embeddedAsLiteLLM(t, nil))
	code, out, errs := runCmd("diff", path)
	assert.Equal(t, exitOK, code, "%s\n%s", out, errs)
	assert.Empty(t, errs)
	assert.Contains(t, out, "\n0 changed, 0 not in file, 0 added, 0 skipped\n")
	assert.Contains(t, out, "embedded, checked "+budget.PricesChecked+" → prices.json, checked ")
}

func TestDiffChanges(t *testing.T) {
	rows := embeddedAsLiteLLM(t, func(m string, row map[string]any) map[string]any {
		switch m {
		case "gpt-4o":
			row["input_cost_per_token"] = json.RawMessage("5e-06") // ×2
			row["max_output_tokens"] = 32768
		case "gpt-4o-mini":
			row["output_cost_per_token"] = json.RawMessage("1.2e-05") // ×20
		case "o3":
			return nil
		case "text-embedding-3-small":
			row["mode"] = "chat"
		}
		return row
	})
	rows["brand-new-model"] = map[string]any{"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "mode": "chat"}
	rows["dall-e-3"] = map[string]any{"output_cost_per_image": 0.04, "mode": "image_generation"}
	path := writeJSON(t, rows)

	code, out, errs := runCmd("diff", path)
	assert.Equal(t, exitChanged, code)
	assert.Empty(t, errs)
	assert.Contains(t, out, "changed (3):\n  gpt-4o\n")
	assert.Regexp(t, `\n    Input +2\.5 → +5 +×2\n`, out)
	assert.Regexp(t, `\n    MaxOutputTokens +16384 → +32768 *\n`, out)
	assert.Regexp(t, `\n    Output +0\.6 → +12 +×20  ! beyond the default 10× \(budget\.AllowPriceMove\)\n`, out)
	assert.Regexp(t, `\n    Mode +embedding → +chat *\n`, out)
	assert.Contains(t, out, "not in file (1): embedded prices still apply\n  o3\n")
	assert.Regexp(t, `added \(1\):\n  brand-new-model +chat +in 1 +out 2 *\n`, out)
	assert.Contains(t, out, "skipped rows (1): mode image_generation 1\n")
	assert.Contains(t, out, "\n3 changed, 1 not in file, 1 added, 1 skipped\n")

	// Only added models: no change to what the embedded table bills.
	rows = embeddedAsLiteLLM(t, nil)
	rows["brand-new-model"] = map[string]any{"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
	code, out, _ = runCmd("diff", writeJSON(t, rows))
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "0 changed, 0 not in file, 1 added, 0 skipped")
}

func TestDiffFixture(t *testing.T) {
	code, out, errs := runCmd("diff", "../../budget/testdata/litellm_prices.json")
	assert.Equal(t, exitChanged, code)
	assert.Empty(t, errs)
	assert.Contains(t, out, "changed (1):\n  claude-3-5-haiku-20241022\n")
	assert.Regexp(t, `\n    CacheWrite +1 → +1\.25 +×1\.25\n`, out)
	assert.Contains(t, out, "skipped rows (11): mode image_generation 3,")
	assert.Regexp(t, `\n  mistral/mistral-embed +embedding +in 0\.1 +out 0 +\(embedded, by alias or prefix: in 0\.1 out 0\)\n`, out)
	assert.Regexp(t, `\n  o1-pro +chat +in 150 +out 600 *\n`, out)
}

func TestDiffInvalidFile(t *testing.T) {
	rows := embeddedAsLiteLLM(t, nil)
	rows["broken"] = map[string]any{"input_cost_per_token": "1e-6", "output_cost_per_token": 2e-6, "mode": "chat"}
	path := writeJSON(t, rows)
	code, out, errs := runCmd("diff", path)
	assert.Equal(t, exitFile, code)
	assert.Empty(t, out)
	assert.Regexp(t, `^baar-prices: prices\.json:\d+: model "broken": invalid budget input: input_cost_per_token is not a number \(a string\)\n$`, errs)

	code, out, errs = runCmd("diff", "--skip-invalid", path)
	assert.Equal(t, exitOK, code)
	assert.Empty(t, errs)
	assert.Contains(t, out, "skipped rows (1): invalid 1\n")

	code, _, errs = runCmd("diff", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, exitFile, code)
	assert.Contains(t, errs, "baar-prices: open ")
	assert.Equal(t, 1, strings.Count(errs, "baar-prices:"))
}

func TestShow(t *testing.T) {
	code, out, errs := runCmd("show", "claude-sonnet-4-5", "text-embedding-3-small")
	assert.Equal(t, exitOK, code)
	assert.Empty(t, errs)
	assert.Contains(t, out, "claude-sonnet-4-5 (chat)\n  input         $3 per 1M tokens\n  output        $15 per 1M tokens\n  cached input  $0.3\n  cache write   $3.75\n  above 200000 input tokens, the whole request: $6 in, $22.5 out\n")
	assert.Contains(t, out, "text-embedding-3-small (embedding)\n  input         $0.02 per 1M tokens\n  output        $0 per 1M tokens\n  cached input  billed at input\n")
	assert.Contains(t, out, "  max output    unknown tokens\n")
	assert.Contains(t, out, "LiteLLM model_prices_and_context_window.json (checked "+budget.PricesChecked+")\n")

	code, out, _ = runCmd("show", "gpt-4o", "no-such-model")
	assert.Equal(t, exitChanged, code)
	assert.Contains(t, out, "no-such-model: no price in embedded, checked "+budget.PricesChecked)

	// A file stacked over the embedded table.
	rows := map[string]any{"gpt-4o": map[string]any{"input_cost_per_token": 3e-6, "output_cost_per_token": 1.1e-5}}
	code, out, _ = runCmd("show", "--file", writeJSON(t, rows), "gpt-4o", "gpt-4o-mini")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "gpt-4o (chat)\n  input         $3 per 1M tokens\n  output        $11 per 1M tokens\n")
	assert.Contains(t, out, "  source        prices.json (checked ")
	assert.Contains(t, out, "gpt-4o-mini (chat)\n  input         $0.15 per 1M tokens\n")

	// The stack refuses a moved price, as a router's would.
	rows = map[string]any{"gpt-4o": map[string]any{"input_cost_per_token": 3e-4, "output_cost_per_token": 1e-5}}
	code, _, errs = runCmd("show", "--file", writeJSON(t, rows), "gpt-4o")
	assert.Equal(t, exitFile, code)
	assert.Contains(t, errs, "Input price moved from $2.5 to $300")
}
