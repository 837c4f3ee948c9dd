package budget

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	fixture        = "testdata/litellm_prices.json"
	invalidFixture = "testdata/litellm_prices_invalid.json"
)

// keyLine returns the 1-based line of the key "model": in data.
func keyLine(t testing.TB, data []byte, model string) int {
	t.Helper()
	i := bytes.Index(data, []byte(strconv.Quote(model)+": "))
	require.GreaterOrEqual(t, i, 0, "%s not in the fixture", model)
	return 1 + bytes.Count(data[:i], []byte{'\n'})
}

func loadFixture(t *testing.T, opts ...LoadOption) *PriceTable {
	t.Helper()
	tbl, err := LoadLiteLLMPricesFile(fixture, append([]LoadOption{WithChecked("2026-12-01")}, opts...)...)
	require.NoError(t, err)
	return tbl
}

func TestLoadLiteLLMPricesFixture(t *testing.T) {
	tbl := loadFixture(t)
	const src = "litellm_prices.json"
	assert.Equal(t, src+", checked 2026-12-01", tbl.Source())

	type want struct {
		model string
		p     Price
	}
	for _, w := range []want{
		{"gpt-4o", Price{Input: 2.5, Output: 10, CachedInput: 1.25, MaxInputTokens: 128000, MaxOutputTokens: 16384}},
		{"gpt-4o-mini", Price{Input: 0.15, Output: 0.6, CachedInput: 0.075, MaxInputTokens: 128000, MaxOutputTokens: 16384}},
		{"openai/gpt-4.1-nano", Price{Input: 0.1, Output: 0.4, CachedInput: 0.025, MaxInputTokens: 1047576, MaxOutputTokens: 32768}},
		{"gpt-5-nano", Price{Input: 0.05, Output: 0.4, CachedInput: 0.005, MaxInputTokens: 272000, MaxOutputTokens: 128000}},
		{"o4-mini", Price{Input: 1.1, Output: 4.4, CachedInput: 0.275, MaxInputTokens: 200000, MaxOutputTokens: 100000}},
		{"o1-pro", Price{Input: 150, Output: 600, MaxInputTokens: 200000, MaxOutputTokens: 100000}},
		{"gpt-3.5-turbo-instruct", Price{Input: 1.5, Output: 2, MaxInputTokens: 8192, MaxOutputTokens: 4096}},
		{"azure/eu/gpt-4o-mini-2024-07-18", Price{Input: 0.165, Output: 0.66, CachedInput: 0.083, MaxInputTokens: 128000, MaxOutputTokens: 16384}},
		{"claude-sonnet-4-5-20250929", Price{Input: 3, Output: 15, CachedInput: 0.3, CacheWrite: 3.75,
			LongContextThreshold: 200000, LongInput: 6, LongOutput: 22.5, MaxInputTokens: 200000, MaxOutputTokens: 64000}},
		{"eu.anthropic.claude-haiku-4-5-20251001-v1:0", Price{Input: 1.1, Output: 5.5, CachedInput: 0.11, CacheWrite: 1.375, MaxInputTokens: 200000, MaxOutputTokens: 64000}},
		{"gemini/gemini-2.5-pro", Price{Input: 1.25, Output: 10, CachedInput: 0.125,
			LongContextThreshold: 200000, LongInput: 2.5, LongOutput: 15, MaxInputTokens: 1048576, MaxOutputTokens: 65535}},
		// Reasoning priced above output: all output is billed at it.
		{"gemini-2.5-flash-preview-04-17", Price{Input: 0.15, Output: 3.5, MaxInputTokens: 1048576, MaxOutputTokens: 65535}},
		{"gemini-2.5-flash", Price{Input: 0.3, Output: 2.5, CachedInput: 0.03, MaxInputTokens: 1048576, MaxOutputTokens: 65535}},
		{"gemini-1.5-pro-002", Price{Input: 1.25, Output: 5, LongContextThreshold: 128000, LongInput: 2.5, LongOutput: 10, MaxInputTokens: 2097152, MaxOutputTokens: 8192}},
		{"deepseek/deepseek-chat", Price{Input: 0.27, Output: 1.1, CachedInput: 0.07, MaxInputTokens: 65536, MaxOutputTokens: 8192}},
		// Plain decimal and capital-E numbers; max_tokens as the output cap.
		{"openrouter/anthropic/claude-3-haiku", Price{Input: 0.25, Output: 1.25, MaxOutputTokens: 200000}},
		// Free (local) model; 8192.0 is a whole number of tokens.
		{"ollama/llama3.1", Price{MaxInputTokens: 8192, MaxOutputTokens: 8192}},
		{"together_ai/mistralai/mixtral-8x7b-instruct-v0.1", Price{Input: 0.6, Output: 0.6}},
		{"text-embedding-3-small", Price{Input: 0.02, MaxInputTokens: 8191, Mode: ModeEmbedding}},
		{"text-embedding-3-large", Price{Input: 0.13, MaxInputTokens: 8191, Mode: ModeEmbedding}},
		{"text-embedding-ada-002", Price{Input: 0.1, MaxInputTokens: 8191, Mode: ModeEmbedding}},
		{"gemini/gemini-embedding-001", Price{Input: 0.15, MaxInputTokens: 2048, Mode: ModeEmbedding}},
		{"text-embedding-004", Price{Input: 0.1, MaxInputTokens: 2048, Mode: ModeEmbedding}},
		{"mistral/mistral-embed", Price{Input: 0.1, MaxInputTokens: 8192, Mode: ModeEmbedding}},
	} {
		got, ok := tbl.Lookup(w.model)
		if !assert.True(t, ok, w.model) {
			continue
		}
		w.p.Source, w.p.Checked = src, "2026-12-01"
		assert.Equal(t, w.p, got, w.model)
	}

	// Provider prefixes and case, as the embedded table.
	same := map[string]string{
		"openai/gpt-4o":                   "gpt-4o",
		"GPT-4o":                          "gpt-4o",
		"openrouter/openai/gpt-4o-mini":   "gpt-4o-mini",
		"gpt-4.1-nano":                    "", // the file has only openai/gpt-4.1-nano
		"Groq/Llama-3.1-8B-Instant":       "groq/llama-3.1-8b-instant",
		"azure/gpt-4o":                    "azure/gpt-4o",
		"litellm_proxy/azure/gpt-4o":      "azure/gpt-4o",
		"gemini/gemini-2.5-flash":         "gemini-2.5-flash",
		"vertex_ai/text-embedding-004":    "text-embedding-004",
		"Mistral/Mistral-Large-2411":      "mistral/mistral-large-2411",
		"models/gemini/gemini-2.5-pro":    "gemini/gemini-2.5-pro",
		"gpt-4o-2024-05-13":               "gpt-4o-2024-05-13",
		"bedrock/gpt-4o-realtime-preview": "gpt-4o-realtime-preview",
	}
	for name, canonical := range same {
		got, ok := tbl.Lookup(name)
		if canonical == "" {
			assert.False(t, ok, name)
			continue
		}
		require.True(t, ok, name)
		want, _ := tbl.Lookup(canonical)
		assert.Equal(t, want, got, name)
	}

	// What was skipped, and why.
	skipped := map[string]string{}
	for _, s := range tbl.Skipped() {
		skipped[s.Model] = s.Reason
	}
	assert.Equal(t, map[string]string{
		"sample_spec":            "the format's specification row",
		"1024-x-1024/dall-e-2":   "mode image_generation",
		"dall-e-3":               "mode image_generation",
		"gpt-image-1":            "mode image_generation",
		"whisper-1":              "mode audio_transcription",
		"tts-1":                  "mode audio_speech",
		"omni-moderation-latest": "mode moderation",
		"cohere/rerank-v3.5":     "mode rerank",
		"perplexity/search":      "mode search",
		"sagemaker/meta-textgeneration-llama-2-7b-f": "priced by input_cost_per_second, not per token",
		"vertex_ai/multimodalembedding@001":          "priced by input_cost_per_character, not per token",
	}, skipped)
	data, err := os.ReadFile(fixture)
	require.NoError(t, err)
	for _, s := range tbl.Skipped() {
		assert.Equal(t, keyLine(t, data, s.Model), s.Line, s.Model)
	}
	var all map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &all))
	assert.Equal(t, len(all), tbl.Len()+len(skipped), "every row is loaded or skipped")

	for _, m := range tbl.Models() {
		p, ok := tbl.Lookup(m)
		require.True(t, ok, m)
		assert.NoError(t, p.Validate(), m)
		assert.Equal(t, src, p.Source, m)
		assert.Equal(t, "2026-12-01", p.Checked, m)
		assert.Equal(t, strings.ToLower(m), m)
	}
}

// TestLoadedPricesAreExact checks that a price loaded from per-token USD is
// the very float64 the embedded table has for the same per-million decimal:
// no float multiplication error.
func TestLoadedPricesAreExact(t *testing.T) {
	tbl := loadFixture(t)
	for _, m := range []string{"gpt-4o", "gpt-4o-mini", "o4-mini", "gpt-5-nano", "claude-sonnet-4-5-20250929"} {
		got, ok := tbl.Lookup(m)
		require.True(t, ok, m)
		want, ok := Lookup(m)
		require.True(t, ok, m)
		got.Source, got.Checked, want.Source, want.Checked = "", "", "", ""
		assert.Equal(t, want, got, m)
		// And the integer rates, hence every cost, are the same.
		gr, err := got.Compile()
		require.NoError(t, err)
		wr, err := want.Compile()
		require.NoError(t, err)
		assert.Equal(t, wr, gr, m)
	}
}

func TestPerMillion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{
		{"2.5e-06", 2.5}, {"2.5E-06", 2.5}, {"2.5e-6", 2.5}, {"0.0000025", 2.5},
		{"1.1e-06", 1.1}, {"4.4e-06", 4.4}, {"2.75e-07", 0.275}, {"1.25e-07", 0.125},
		{"7.5e-08", 0.075}, {"2.5e-08", 0.025}, {"5e-09", 0.005}, {"1.65e-07", 0.165},
		{"3e-07", 0.3}, {"1.5e-05", 15}, {"2.25e-05", 22.5}, {"1.375e-06", 1.375},
		{"0", 0}, {"0.0", 0}, {"-0", 0}, {"0e0", 0}, {"1", 1e6}, {"1e+2", 1e8},
		{"0.00000001", 0.01}, {"123456789e-15", 0.123456789}, {"7.9e-07", 0.79},
	} {
		got, err := perMillion(json.RawMessage(tt.in))
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		assert.False(t, math.Signbit(got), "%s: no negative zero", tt.in)
	}
	// The naive conversion is wrong for these (0.024999999999999998, …);
	// the table above would catch a loader that used it.
	for _, s := range []string{"2.5e-08", "1e-07", "7.9e-07"} {
		f, _ := strconv.ParseFloat(s, 64)
		want, _ := perMillion(json.RawMessage(s))
		assert.NotEqual(t, want, f*1e6, s)
	}

	for _, bad := range []string{`"2.5e-06"`, `true`, `null`, `{}`, `[]`, `-1e-06`, `1e+400`, `1e99999999999`, `-5`} {
		_, err := perMillion(json.RawMessage(bad))
		assert.Error(t, err, bad)
	}
}

func TestTokenCount(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "8192": 8192, "8192.0": 8192, "1e6": 1_000_000, "9223372036854775807": math.MaxInt64} {
		got, err := tokenCount(json.RawMessage(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{`"8192"`, `-1`, `1.5`, `1e300`, `true`, `9223372036854775808`} {
		_, err := tokenCount(json.RawMessage(bad))
		assert.Error(t, err, bad)
	}
}

func TestLoadLiteLLMPricesInvalidRows(t *testing.T) {
	data, err := os.ReadFile(invalidFixture)
	require.NoError(t, err)
	_, err = LoadLiteLLMPrices(bytes.NewReader(data), WithSource("bad.json"))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorIs(t, err, ErrPriceMoved)
	var fe *PriceFileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "bad.json", fe.File)

	msg := err.Error()
	for model, cause := range map[string]string{
		"missing-output":     "output_cost_per_token is missing",
		"missing-both":       "input_cost_per_token is missing",
		"negative-input":     "input_cost_per_token -1e-06 is negative",
		"string-price":       "input_cost_per_token is not a number (a string)",
		"bool-price":         "output_cost_per_token is not a number (a boolean)",
		"bad-max-tokens":     "max_output_tokens is not a number (a string)",
		"fractional-max":     "max_input_tokens 1000.5 is not a whole number of tokens",
		"negative-max":       "max_tokens -1 is negative",
		"long-cheaper":       "cheaper than the base price",
		"two-tiers":          "two long-context tiers",
		"huge":               "above the maximum",
		"mode-number":        "mode is not a string",
		"not-an-object":      "the row is not a JSON object",
		"embedding-no-input": "input_cost_per_token is missing",
		"GPT-4o-Mini":        fmt.Sprintf("duplicate model id (ids are matched without case; also on line %d)", keyLine(t, data, "gpt-4o-mini")),
		"gpt-4o-mini":        "Input price moved from $0.15 to $0 per 1M tokens (factor ∞, more than the 10× allowed)",
		"gpt-4o":             "Input price moved from $2.5 to $250 per 1M tokens (factor 100×, more than the 10× allowed)",
	} {
		want := fmt.Sprintf("bad.json:%d: model %q: ", keyLine(t, data, model), model)
		assert.Contains(t, msg, want+"", model)
		line := ""
		for _, l := range strings.Split(msg, "\n") {
			if strings.HasPrefix(l, want) {
				line = l
			}
		}
		assert.Contains(t, line, cause, model)
	}
	assert.NotContains(t, msg, `"ok-model"`)
	assert.NotContains(t, msg, `"dall-e-3"`, "a skipped row is not validated")
	assert.NotContains(t, msg, `"sample_spec"`)

	// Skipping invalid rows keeps the valid ones; moves still need allowing.
	_, err = LoadLiteLLMPrices(bytes.NewReader(data), SkipInvalidRows())
	assert.ErrorIs(t, err, ErrPriceMoved)
	tbl, err := LoadLiteLLMPrices(bytes.NewReader(data), SkipInvalidRows(), AllowPriceMove("gpt-4o", "GPT-4O-MINI"))
	require.NoError(t, err)
	assert.Equal(t, []string{"gpt-4o", "gpt-4o-mini", "ok-model"}, tbl.Models())
	p, _ := tbl.Lookup("gpt-4o-mini")
	assert.Zero(t, p.Input, "the first of the duplicates is kept")
	reasons := map[string]string{}
	for _, s := range tbl.Skipped() {
		reasons[s.Model] = s.Reason
	}
	assert.Len(t, reasons, 17)
	assert.Contains(t, reasons["missing-output"], "invalid: ")
	assert.Equal(t, "mode image_generation", reasons["dall-e-3"])
}

func TestLoadLiteLLMPricesMalformed(t *testing.T) {
	for _, in := range []string{"", " ", "[]", "null", `"x"`, "{", `{"a"`, `{"a":`, `{"a":{}`, `{} {}`, `{}x`, `{"a":{"mode":"chat"},}`} {
		_, err := LoadLiteLLMPrices(strings.NewReader(in))
		assert.ErrorIs(t, err, ErrInvalid, "%q", in)
	}
	tbl, err := LoadLiteLLMPrices(strings.NewReader("{}"))
	require.NoError(t, err)
	assert.Zero(t, tbl.Len())
	assert.Equal(t, "LiteLLM prices", tbl.Source())

	// Line numbers count from 1, also past a first line with content.
	_, err = LoadLiteLLMPrices(strings.NewReader("{\"a\": {\"mode\": \"chat\"},\n\n \"b\": {\"mode\": \"chat\", \"input_cost_per_token\": 1, \"output_cost_per_token\": 1},\n\"c\": {}}"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `LiteLLM prices:1: model "a"`)
	assert.Contains(t, err.Error(), `LiteLLM prices:4: model "c"`)
	assert.NotContains(t, err.Error(), `"b"`)
}

func TestLoadLiteLLMPricesTooLarge(t *testing.T) {
	r := io.MultiReader(strings.NewReader("{"), io.LimitReader(zeros{}, MaxPriceFileBytes))
	_, err := LoadLiteLLMPrices(r)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "larger than")
}

// zeros reads spaces forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestLoadLiteLLMPricesReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := LoadLiteLLMPrices(io.MultiReader(strings.NewReader("{"), errReader{boom}))
	assert.ErrorIs(t, err, boom)
	_, err = LoadLiteLLMPricesFile("testdata/no-such-file.json")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestPriceMoves(t *testing.T) {
	row := func(model string, in, out, cached string) string {
		s := fmt.Sprintf(`{%q: {"mode": "chat", "input_cost_per_token": %s, "output_cost_per_token": %s`, model, in, out)
		if cached != "" {
			s += `, "cache_read_input_token_cost": ` + cached
		}
		return s + "}}"
	}
	load := func(data string, opts ...LoadOption) error {
		_, err := LoadLiteLLMPrices(strings.NewReader(data), opts...)
		return err
	}
	// gpt-4o is $2.50 / $10 / $1.25 cached in the embedded table.
	assert.NoError(t, load(row("gpt-4o", "2.5e-05", "1e-06", "1.25e-05")), "exactly 10× either way is allowed")
	assert.NoError(t, load(row("gpt-4o-2024-08-06", "2.5e-06", "1e-05", "")), "an alias is compared; no cached price is billed at input, 2×")

	err := load(row("GPT-4o", "2.5e-06", "1.01e-04", ""))
	require.ErrorIs(t, err, ErrPriceMoved)
	var m *PriceMove
	require.ErrorAs(t, err, &m)
	assert.Equal(t, PriceMove{Field: "Output", Old: 10, New: 101, Factor: 10.1, Allowed: 10}, *m)

	err = load(row("gpt-4o", "2.5e-06", "1e-05", "1e-07"))
	require.ErrorAs(t, err, &m)
	assert.Equal(t, "CachedInput", m.Field)
	assert.InDelta(t, 12.5, m.Factor, 1e-12)

	assert.NoError(t, load(row("gpt-4o", "2.5e-06", "1.01e-04", ""), AllowPriceMoves(11)))
	assert.NoError(t, load(row("gpt-4o", "0", "0", ""), AllowPriceMoves(math.Inf(1))))
	assert.NoError(t, load(row("gpt-4o", "0", "0", ""), AllowPriceMove("gpt-4O")))
	assert.NoError(t, load(row("gpt-4o", "0", "0", ""), CompareWith(nil)))
	assert.NoError(t, load(row("azure/gpt-4o", "0", "0", "")), "a provider-prefixed id is not compared")
	assert.NoError(t, load(row("new-model", "1", "1", "")), "a model the compared table lacks is not compared")

	base, err := NewPriceTable("mine", map[string]Price{"new-model": {Input: 1, Output: 1}})
	require.NoError(t, err)
	err = load(row("new-model", "2e-05", "1e-06", ""), CompareWith(base))
	require.ErrorAs(t, err, &m)
	assert.Equal(t, PriceMove{Field: "Input", Old: 1, New: 20, Factor: 20, Allowed: 10}, *m)
	assert.NoError(t, load(row("new-model", "2e-05", "1e-06", ""), CompareWith(base), AllowPriceMoves(20)))

	assert.ErrorIs(t, load("{}", AllowPriceMoves(0.5)), ErrInvalid)
	assert.ErrorIs(t, load("{}", AllowPriceMoves(math.NaN())), ErrInvalid)
	assert.ErrorIs(t, load("{}", WithChecked("2026-13-01")), ErrInvalid)
	assert.NoError(t, load("{}", nil))
}

func TestPriceTableLayers(t *testing.T) {
	file := loadFixture(t)
	over, err := NewPriceTable("overrides", map[string]Price{
		"gpt-4o":   {Input: 2, Output: 8},
		"my-model": {Input: 1, Output: 2, Source: "our contract", Checked: "2026-10-01"},
	})
	require.NoError(t, err)
	emb := EmbeddedPrices()
	tbl := LayerPrices(emb, nil, file, over)

	assert.Equal(t, "overrides > litellm_prices.json, checked 2026-12-01 > embedded, checked "+PricesChecked, tbl.Source())
	p, ok := tbl.Lookup("openai/gpt-4o")
	require.True(t, ok)
	assert.Equal(t, Price{Input: 2, Output: 8, Source: "overrides"}, p, "the override wins")
	p, _ = tbl.Lookup("my-model")
	assert.Equal(t, "our contract", p.Source, "a given source is kept")
	p, _ = tbl.Lookup("claude-3-5-haiku-20241022")
	assert.Equal(t, 1.0, p.Input, "the file wins over the embedded table")
	p, _ = tbl.Lookup("gpt-4.1")
	want, _ := Lookup("gpt-4.1")
	assert.Equal(t, want, p, "the embedded table answers what the others lack")
	_, ok = tbl.Lookup("no-such-model")
	assert.False(t, ok)

	models := tbl.Models()
	assert.Contains(t, models, "my-model")
	assert.Contains(t, models, "gpt-4.1")
	assert.Contains(t, models, "mistral/mistral-embed")
	assert.Equal(t, len(models), tbl.Len())
	assert.Less(t, tbl.Len(), emb.Len()+file.Len()+over.Len(), "a model in several tables counts once")
	assert.Nil(t, tbl.Skipped())

	// Layering a layered table flattens it.
	top, err := NewPriceTable("top", map[string]Price{"gpt-4o": {Input: 3, Output: 9}})
	require.NoError(t, err)
	tbl2 := LayerPrices(tbl, top)
	assert.Equal(t, "top > "+tbl.Source(), tbl2.Source())
	p, _ = tbl2.Lookup("gpt-4o")
	assert.Equal(t, 3.0, p.Input)

	empty := LayerPrices()
	_, ok = empty.Lookup("gpt-4o")
	assert.False(t, ok)
	assert.Empty(t, empty.Models())
	assert.Empty(t, empty.Source())
}

func TestPriceTableZeroAndNil(t *testing.T) {
	var nilT *PriceTable
	for _, tbl := range []*PriceTable{nilT, {}} {
		_, ok := tbl.Lookup("gpt-4o")
		assert.False(t, ok)
		assert.Empty(t, tbl.Models())
		assert.Zero(t, tbl.Len())
		assert.Empty(t, tbl.Source())
		assert.Nil(t, tbl.Skipped())
		_, ok = tbl.exact("gpt-4o")
		assert.False(t, ok)
	}
}

func TestNewPriceTableErrors(t *testing.T) {
	_, err := NewPriceTable("o", map[string]Price{" ": {Input: 1, Output: 1}})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = NewPriceTable("o", map[string]Price{"m": {Input: -1, Output: 1}})
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `"m"`)
	_, err = NewPriceTable("o", map[string]Price{"m": {Input: 1, Output: 1}, "M": {Input: 1, Output: 1}})
	assert.ErrorIs(t, err, ErrInvalid)
	tbl, err := NewPriceTable("o", nil)
	require.NoError(t, err)
	assert.Zero(t, tbl.Len())
}

func TestEmbeddedPrices(t *testing.T) {
	e := EmbeddedPrices()
	assert.Equal(t, "embedded, checked "+PricesChecked, e.Source())
	assert.Equal(t, Models(), e.Models())
	for _, m := range e.Models() {
		p, ok := e.Lookup(m)
		require.True(t, ok)
		q, _ := Lookup(m)
		assert.Equal(t, q, p)
	}
	assert.Nil(t, e.Skipped())
}

// FuzzLoadLiteLLMPrices checks that the loader never panics, and that a
// table it returns prices every model it lists with a valid price carrying
// the file's provenance.
func FuzzLoadLiteLLMPrices(f *testing.F) {
	for _, name := range []string{fixture, invalidFixture} {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range []string{"{}", `{"m":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6}}`,
		`{"m":{"mode":"embedding","input_cost_per_token":0.0000001,"max_tokens":8191.0}}`,
		`{"m":{"input_cost_per_token":3e-06,"output_cost_per_token":1.5e-05,"input_cost_per_token_above_200k_tokens":6e-06}}`,
		`{"a/B":{"input_cost_per_token":1,"output_cost_per_token":1},"b":{"input_cost_per_token":1,"output_cost_per_token":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tbl, err := LoadLiteLLMPrices(bytes.NewReader(data), WithSource("f.json"), WithChecked("2026-01-02"), CompareWith(nil))
		if err != nil {
			assert.Nil(t, tbl)
			return
		}
		for _, m := range tbl.Models() {
			p, ok := tbl.Lookup(m)
			require.True(t, ok, m)
			require.NoError(t, p.Validate(), m)
			require.Equal(t, "f.json", p.Source)
			require.Equal(t, "2026-01-02", p.Checked)
		}
		// Loading is deterministic.
		again, err := LoadLiteLLMPrices(bytes.NewReader(data), WithSource("f.json"), WithChecked("2026-01-02"), CompareWith(nil))
		require.NoError(t, err)
		require.Equal(t, tbl, again)
	})
}

// syntheticLiteLLM returns a LiteLLM-format file of at least size bytes made
// of the fixture's rows repeated under new ids.
func syntheticLiteLLM(t testing.TB, size int) []byte {
	data, err := os.ReadFile(fixture)
	require.NoError(t, err)
	var rows map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &rows))
	var b bytes.Buffer
	b.WriteString("{\n")
	n := 0
	for b.Len() < size {
		for id, raw := range rows {
			if n > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, "    %q: ", fmt.Sprintf("copy%d/%s", n, id))
			require.NoError(t, json.Indent(&b, raw, "    ", "    "))
			n++
		}
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

func BenchmarkLoadLiteLLMPrices1MB(b *testing.B) {
	data := syntheticLiteLLM(b, 1<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadLiteLLMPrices(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
