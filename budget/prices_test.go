package budget

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPriceTableLoads(t *testing.T) {
	tbl, err := loadPrices()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(tbl.models), 23)
}

func TestPriceTableRows(t *testing.T) {
	models := Models()
	require.NotEmpty(t, models)
	assert.True(t, slices.IsSorted(models), "Models is sorted")
	assert.Len(t, slices.Compact(slices.Clone(models)), len(models), "Models has no duplicates")

	latest, embeddings := "", 0
	for _, m := range models {
		p, ok := Lookup(m)
		require.True(t, ok, m)
		assert.NoError(t, p.Validate(), m)
		assert.NotEmpty(t, p.Source, m)
		d, err := time.Parse(time.DateOnly, p.Checked)
		require.NoError(t, err, m)
		assert.LessOrEqual(t, p.Checked, PricesChecked, m)
		latest = max(latest, d.Format(time.DateOnly))
		assert.Positive(t, p.Input, m)
		if p.Mode == ModeEmbedding {
			assert.Zero(t, p.Output, "%s: an embedding model has no output tokens", m)
			assert.Zero(t, p.MaxOutputTokens, m)
			assert.Positive(t, p.MaxInputTokens, m)
			embeddings++
		} else {
			assert.Empty(t, p.Mode, m)
			assert.Positive(t, p.Output, m)
		}
		if p.CachedInput != 0 {
			assert.Less(t, p.CachedInput, p.Input, "%s: a cache read is a discount", m)
		}
		if p.CacheWrite != 0 {
			assert.Greater(t, p.CacheWrite, p.Input, "%s: a cache write costs more than input", m)
		}
		if p.MaxInputTokens != 0 && p.LongContextThreshold != 0 {
			assert.LessOrEqual(t, p.LongContextThreshold, p.MaxInputTokens, m)
		}
	}
	assert.Equal(t, PricesChecked, latest, "PricesChecked is the latest row date")
	assert.Equal(t, 6, embeddings, "embedding models")
}

func TestEmbeddingPrices(t *testing.T) {
	for model, input := range map[string]float64{
		"text-embedding-3-small": 0.02, "openai/text-embedding-3-large": 0.13, "text-embedding-ada-002": 0.10,
		"models/gemini-embedding-001": 0.15, "text-embedding-004": 0.10, "mistral/mistral-embed": 0.10,
	} {
		p, ok := Lookup(model)
		require.True(t, ok, model)
		assert.Equal(t, input, p.Input, model)
		assert.Equal(t, ModeEmbedding, p.Mode, model)
		// 1M input tokens cost the input price; output is free.
		c, err := p.Cost(Usage{InputTokens: 1_000_000, OutputTokens: 100})
		require.NoError(t, err)
		want, err := FromUSD(input)
		require.NoError(t, err)
		assert.Equal(t, want, c, model)
	}
}

func TestModelsReturnsACopy(t *testing.T) {
	m := Models()
	m[0] = "changed"
	assert.NotEqual(t, "changed", Models()[0])
}

func TestLookup(t *testing.T) {
	sonnet, ok := Lookup("claude-sonnet-4-5-20250929")
	require.True(t, ok)
	assert.Equal(t, testSonnet.Input, sonnet.Input)

	same := []struct{ name, canonical string }{
		{"gpt-4o", "gpt-4o"},
		{"GPT-4o", "gpt-4o"},
		{"  gpt-4o\n", "gpt-4o"},
		{"openai/gpt-4o", "gpt-4o"},
		{"openrouter/openai/gpt-4o", "gpt-4o"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-2024-11-20", "gpt-4o"},
		{"o3-2025-04-16", "o3"},
		{"groq/llama-3.1-8b-instant", "llama-3.1-8b-instant"},
		{"models/gemini-2.5-pro", "gemini-2.5-pro"},
		{"google/gemini-2.0-flash-001", "gemini-2.0-flash"},
		{"claude-sonnet-4-5", "claude-sonnet-4-5-20250929"},
		{"anthropic/Claude-Sonnet-4-5", "claude-sonnet-4-5-20250929"},
		{"claude-haiku-4-5", "claude-haiku-4-5-20251001"},
		{"claude-sonnet-4-0", "claude-sonnet-4-20250514"},
		{"claude-opus-4-0", "claude-opus-4-20250514"},
		{"claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219"},
		{"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"},
		{"mixtral-8x7b", "mixtral-8x7b"},
		{"mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"},
		{"together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"},
		{"gpt-4-1106-preview", "gpt-4-1106-preview"},
	}
	for _, tt := range same {
		got, ok := Lookup(tt.name)
		require.True(t, ok, tt.name)
		want, ok := Lookup(tt.canonical)
		require.True(t, ok, tt.canonical)
		assert.Equal(t, want, got, tt.name)
	}

	unknown := []string{
		"", " ", "/", "openai/", "gpt", "gpt-4", "gpt-4o-", "gpt-4o-mini-2",
		"gpt-4o-2024-05-13", // a gpt-4o snapshot at a different price
		"claude-sonnet-4",   // not an Anthropic id
		"claude-sonnet-4-5-2025",
		"gemini-2.5-pro-preview-03-25",
		"gemini-2.5-flash-lite",
		"llama-3.1-8b",
		"mixtral-8x7b-32768",
		"mistralai/Mixtral-8x7B-Instruct",
		"gpt-4o/openai",
	}
	for _, name := range unknown {
		got, ok := Lookup(name)
		assert.False(t, ok, "%q must be unknown", name)
		assert.Zero(t, got, name)
	}
}

func TestParsePriceTableErrors(t *testing.T) {
	const header = "model,aliases,input,output,cached_input,cache_write,long_threshold,long_input,long_output,max_input,max_output,mode,source,checked\n"
	const src = "s"
	tests := []struct {
		name, data, mention string
	}{
		{"empty", "", "header"},
		{"bad header", "model,input\n", "header"},
		{"no rows", header, "no rows"},
		{"short row", header + "a,,1,1\n", "wrong number of fields"},
		{"bad number", header + "a,,x,1,,,,,,,,," + src + ",2025-01-01\n", "input"},
		{"bad count", header + "a,,1,1,,,,,,1.5,,," + src + ",2025-01-01\n", "max_input"},
		{"missing input", header + "a,,,1,,,,,,,,," + src + ",2025-01-01\n", "required"},
		{"invalid price", header + "a,,-1,1,,,,,,,,," + src + ",2025-01-01\n", "negative"},
		{"incomplete tier", header + "a,,1,1,,,10,,,,,," + src + ",2025-01-01\n", "incomplete"},
		{"bad mode", header + "a,,1,1,,,,,,,,chat," + src + ",2025-01-01\n", "mode"},
		{"no source", header + "a,,1,1,,,,,,,,,,2025-01-01\n", "no source"},
		{"bad date", header + "a,,1,1,,,,,,,,," + src + ",2025-13-01\n", "checked"},
		{"future date", header + "a,,1,1,,,,,,,,," + src + ",2999-01-01\n", "after PricesChecked"},
		{"upper case id", header + "A,,1,1,,,,,,,,," + src + ",2025-01-01\n", "lower case"},
		{"spaces in id", header + " a,,1,1,,,,,,,,," + src + ",2025-01-01\n", "bad model id"},
		{"duplicate id", header + "a,,1,1,,,,,,,,," + src + ",2025-01-01\na,,1,1,,,,,,,,," + src + ",2025-01-01\n", "duplicate"},
		{"alias of another id", header + "a,,1,1,,,,,,,,," + src + ",2025-01-01\nb,A,1,1,,,,,,,,," + src + ",2025-01-01\n", "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePriceTable(tt.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.mention)
		})
	}
	tbl, err := parsePriceTable("# comment\n" + header + "b,x y,1,2,,,,,,,,," + src + ",2025-01-01\na,,0,0,,,,,,,,," + src + ",2025-01-01\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, tbl.models)
	assert.Len(t, tbl.byID, 4)
}

// pricesNotes is the project's notes on prices, which the table restates.
// BAAR_PRICES_MD overrides its path.
func pricesNotes() string {
	if p := os.Getenv("BAAR_PRICES_MD"); p != "" {
		return p
	}
	return "/work/shared/notes/prices.md"
}

// TestPriceTableMatchesNotes compares every number of every row of the price
// notes' table with the embedded table.
func TestPriceTableMatchesNotes(t *testing.T) {
	path := pricesNotes()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("price notes %s not found (set BAAR_PRICES_MD to compare the table with them)", path)
	}
	require.NoError(t, err)
	defer f.Close()

	var (
		cols    map[string]int
		thresh  int64
		rows    int
		splitRe = regexp.MustCompile(`\s*\|\s*`)
		kRe     = regexp.MustCompile(`>(\d+)k`)
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := splitRe.Split(strings.Trim(line, "|"), -1)
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cols == nil { // the header
			cols = map[string]int{}
			for i, c := range cells {
				lc := strings.ToLower(c)
				for _, key := range []string{"model id", "input", "output", "cached input", "cache write", "prompt", "max input", "max output"} {
					if _, done := cols[key]; !done && (lc == key || strings.HasPrefix(lc, key+" ") || (key == "prompt" && strings.Contains(lc, key))) {
						cols[key] = i
					}
				}
				if m := kRe.FindStringSubmatch(c); m != nil {
					k, err := strconv.ParseInt(m[1], 10, 64)
					require.NoError(t, err)
					thresh = k * 1000
				}
			}
			require.Len(t, cols, 8, "header %q not understood", line)
			require.Positive(t, thresh, "no long-context threshold in header %q", line)
			continue
		}
		if strings.Trim(cells[0], "-: ") == "" { // the separator row
			continue
		}
		rows++
		id := strings.Fields(cells[cols["model id"]])[0]
		if strings.Contains(cells[cols["model id"]], "blended") {
			// RouteLLM's blended cost assumption is for benchmarks
			// (internal/bench keeps it); the billing table carries the list
			// price, which bills output higher.
			p, ok := Lookup(id)
			assert.True(t, ok, id)
			assert.GreaterOrEqual(t, p.Output, num0(cells[cols["output"]]), id)
			rows++
			continue
		}
		p, ok := Lookup(id)
		if !assert.True(t, ok, "model %s of %s is not in the table", id, path) {
			continue
		}
		num := func(col string) float64 {
			s := strings.ReplaceAll(cells[cols[col]], ",", "")
			if s == "–" || s == "-" || s == "" {
				return 0
			}
			v, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err, "%s %s", id, col)
			return v
		}
		assert.Equal(t, num("input"), p.Input, "%s input", id)
		assert.Equal(t, num("output"), p.Output, "%s output", id)
		assert.Equal(t, num("cached input"), p.CachedInput, "%s cached input", id)
		assert.Equal(t, num("cache write"), p.CacheWrite, "%s cache write", id)
		assert.Equal(t, num("max input"), float64(p.MaxInputTokens), "%s max input", id)
		assert.Equal(t, num("max output"), float64(p.MaxOutputTokens), "%s max output", id)
		long := cells[cols["prompt"]]
		if long == "–" || long == "-" {
			assert.Zero(t, p.LongContextThreshold, "%s long-context threshold", id)
			assert.Zero(t, p.LongInput, "%s long input", id)
			assert.Zero(t, p.LongOutput, "%s long output", id)
			continue
		}
		in, out, ok := strings.Cut(long, "/")
		require.True(t, ok, "%s long-context cell %q", id, long)
		li, err := strconv.ParseFloat(strings.TrimSpace(in), 64)
		require.NoError(t, err)
		lo, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		require.NoError(t, err)
		assert.Equal(t, thresh, p.LongContextThreshold, "%s long-context threshold", id)
		assert.Equal(t, li, p.LongInput, "%s long input", id)
		assert.Equal(t, lo, p.LongOutput, "%s long output", id)
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, rows, 20, "too few rows parsed from %s", path)
	t.Logf("compared %d rows of %s", rows, path)
}

func num0(s string) float64 {
	v, _ := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return v
}
