package budget

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PricesChecked is the date (YYYY-MM-DD) the embedded price table was last
// checked against its sources: the latest Checked date of its rows.
const PricesChecked = "2026-12-02"

// pricesCSV is the embedded price table; see the comment at its top for the
// columns.
//
//go:embed prices.csv
var pricesCSV string

// loadPrices parses the embedded table once. A table that fails to parse
// (which the tests rule out) leaves Lookup without prices: callers fail
// closed.
var loadPrices = sync.OnceValues(func() (*PriceTable, error) {
	t, err := parsePriceTable(pricesCSV)
	if err != nil {
		return nil, err
	}
	t.source = "embedded, checked " + PricesChecked
	return t, nil
})

// Lookup returns the list price of model from the embedded table (see
// [PricesChecked]) and whether there is one: it is
// EmbeddedPrices().Lookup(model) (see [PriceTable.Lookup]). Besides case and
// leading provider prefixes ("openai/gpt-4o", "groq/llama-3.1-8b-instant",
// "models/gemini-2.5-pro"), a few provider aliases of the same model at the
// same price are known ("claude-sonnet-4-5" for "claude-sonnet-4-5-20250929",
// the dated snapshots of OpenAI ids). An unknown model returns false and a
// zero Price: never treat it as free.
//
// A prefix is not checked against the model's provider: "azure/gpt-4o" gets
// OpenAI's list price for gpt-4o. Load a provider's own prices with
// [LoadLiteLLMPrices] and stack them with [LayerPrices].
func Lookup(model string) (Price, bool) {
	return EmbeddedPrices().Lookup(model)
}

// Models returns the ids of the models in the embedded price table, sorted
// (aliases excluded).
func Models() []string {
	return EmbeddedPrices().Models()
}

// priceColumns are the columns of prices.csv, in order.
var priceColumns = []string{
	"model", "aliases", "input", "output", "cached_input", "cache_write",
	"long_threshold", "long_input", "long_output", "max_input", "max_output",
	"mode", "source", "checked",
}

// parsePriceTable parses a price table in the format of prices.csv.
func parsePriceTable(data string) (*PriceTable, error) {
	r := csv.NewReader(strings.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = len(priceColumns)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("price table header: %w", err)
	}
	if !slices.Equal(header, priceColumns) {
		return nil, fmt.Errorf("price table: unexpected header %q", header)
	}
	t := &PriceTable{byID: make(map[string]*Price)}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("price table: %w", err)
		}
		line, _ := r.FieldPos(0)
		p, err := parsePriceRow(rec)
		if err != nil {
			return nil, fmt.Errorf("price table line %d (%s): %w", line, rec[0], err)
		}
		id := rec[0]
		if strings.ToLower(id) != id {
			return nil, fmt.Errorf("price table line %d: model id %q is not lower case", line, id)
		}
		for _, name := range append([]string{id}, strings.Fields(rec[1])...) {
			key := strings.ToLower(name)
			if _, dup := t.byID[key]; dup {
				return nil, fmt.Errorf("price table line %d: duplicate model id or alias %q", line, name)
			}
			t.byID[key] = p
		}
		t.models = append(t.models, id)
	}
	if len(t.models) == 0 {
		return nil, errors.New("price table: no rows")
	}
	slices.Sort(t.models)
	return t, nil
}

// parsePriceRow parses one record of the price table.
func parsePriceRow(rec []string) (*Price, error) {
	var (
		p    Price
		errs []error
	)
	num := func(col int, dst *float64) {
		if rec[col] == "" {
			return
		}
		v, err := strconv.ParseFloat(rec[col], 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", priceColumns[col], err))
		}
		*dst = v
	}
	count := func(col int, dst *int64) {
		if rec[col] == "" {
			return
		}
		v, err := strconv.ParseInt(rec[col], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", priceColumns[col], err))
		}
		*dst = v
	}
	if rec[0] == "" || strings.TrimSpace(rec[0]) != rec[0] {
		errs = append(errs, fmt.Errorf("bad model id %q", rec[0]))
	}
	num(2, &p.Input)
	num(3, &p.Output)
	num(4, &p.CachedInput)
	num(5, &p.CacheWrite)
	count(6, &p.LongContextThreshold)
	num(7, &p.LongInput)
	num(8, &p.LongOutput)
	count(9, &p.MaxInputTokens)
	count(10, &p.MaxOutputTokens)
	if rec[2] == "" || rec[3] == "" {
		errs = append(errs, errors.New("input and output prices are required"))
	}
	switch rec[11] {
	case "":
	case ModeEmbedding:
		p.Mode = ModeEmbedding
	default:
		errs = append(errs, fmt.Errorf("mode %q: want empty (chat) or %q", rec[11], ModeEmbedding))
	}
	p.Source, p.Checked = rec[12], rec[13]
	if p.Source == "" {
		errs = append(errs, errors.New("no source"))
	}
	if d, err := time.Parse(time.DateOnly, p.Checked); err != nil {
		errs = append(errs, fmt.Errorf("checked: %w", err))
	} else if d.After(priceTableDate) {
		errs = append(errs, fmt.Errorf("checked %s is after PricesChecked %s", p.Checked, PricesChecked))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// priceTableDate is PricesChecked as a time.
var priceTableDate, _ = time.Parse(time.DateOnly, PricesChecked)
