package budget

import (
	"fmt"
	"slices"
	"strings"
)

// PriceTable is a set of model prices with its provenance. The embedded table
// ([EmbeddedPrices]), a file in LiteLLM's format ([LoadLiteLLMPrices]) and a
// caller's own prices ([NewPriceTable]) are each a PriceTable; [LayerPrices]
// stacks them so that a higher table's price wins.
//
// A PriceTable is immutable and safe for concurrent use. The zero PriceTable
// and a nil *PriceTable know no model: their Lookup returns false, never a
// zero price to bill at.
type PriceTable struct {
	// source is the table's provenance (see Source).
	source string
	// byID maps lower-case model ids and aliases to their price; models are
	// the canonical ids, sorted.
	byID   map[string]*Price
	models []string
	// layers, for a layered table, are the tables from the highest
	// precedence to the lowest; byID and models are then unused.
	layers []*PriceTable
	// skipped are the rows a loader left out, in file order.
	skipped []SkippedRow
}

// SkippedRow is a row of a price file that a loader did not load: a row of
// a mode the budget does not price (images, audio, rerank…), a row priced
// other than per token (per second, per character, per image), the
// specification row of LiteLLM's file, or, with [SkipInvalidRows], an
// invalid row.
type SkippedRow struct {
	Model  string // the row's key, as written in the file
	Line   int    // the 1-based line of the key
	Reason string // why it was skipped, e.g. "mode image_generation"
}

// Lookup returns the price of model and whether the table has one. The match
// is exact but for case, surrounding spaces and leading provider prefixes,
// which are removed one path segment at a time until an id matches
// ("openrouter/openai/gpt-4o" tries itself, then "openai/gpt-4o", then
// "gpt-4o"). A layered table ([LayerPrices]) returns the price of its highest
// table that knows model. An unknown model returns false and a zero Price:
// never treat it as free.
func (t *PriceTable) Lookup(model string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	if t.layers != nil {
		for _, l := range t.layers {
			if p, ok := l.Lookup(model); ok {
				return p, true
			}
		}
		return Price{}, false
	}
	key := strings.ToLower(strings.TrimSpace(model))
	for {
		if p, ok := t.byID[key]; ok {
			return *p, true
		}
		i := strings.IndexByte(key, '/')
		if i < 0 {
			return Price{}, false
		}
		key = key[i+1:]
	}
}

// exact returns the price of the id or alias key (lower case) itself, with
// no prefix removed.
func (t *PriceTable) exact(key string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	for _, l := range t.layers {
		if p, ok := l.exact(key); ok {
			return p, true
		}
	}
	if p, ok := t.byID[key]; ok {
		return *p, true
	}
	return Price{}, false
}

// Models returns the ids of the models in the table, sorted, without
// aliases; for a layered table, those of all its tables, each once.
func (t *PriceTable) Models() []string {
	if t == nil {
		return nil
	}
	if t.layers == nil {
		return slices.Clone(t.models)
	}
	var all []string
	for _, l := range t.layers {
		all = append(all, l.Models()...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Len returns the number of models in the table: len(t.Models()).
func (t *PriceTable) Len() int {
	if t != nil && t.layers == nil {
		return len(t.models)
	}
	return len(t.Models())
}

// Source returns the table's provenance, for reports and spans: for example
// "embedded, checked 2026-12-02" or "model_prices_and_context_window.json,
// checked 2026-12-01". A layered table joins the sources of its tables from
// the highest precedence to the lowest with " > ". Each price also carries
// its own row's provenance in [Price.Source] and [Price.Checked].
func (t *PriceTable) Source() string {
	if t == nil {
		return ""
	}
	if t.layers == nil {
		return t.source
	}
	parts := make([]string, len(t.layers))
	for i, l := range t.layers {
		parts[i] = l.Source()
	}
	return strings.Join(parts, " > ")
}

// Skipped returns the rows the loader of t left out (see [SkippedRow]), in
// file order; nil for a table not loaded from a file, and for a layered
// table.
func (t *PriceTable) Skipped() []SkippedRow {
	if t == nil {
		return nil
	}
	return slices.Clone(t.skipped)
}

// LayerPrices returns a table that looks a model up in tables from the last
// to the first: the last table has the highest precedence. The usual stack
// is
//
//	budget.LayerPrices(budget.EmbeddedPrices(), fromFile, overrides)
//
// so that a caller's own prices win over a price file, which wins over the
// embedded table. Nil tables are ignored; the tables are shared, not copied.
func LayerPrices(tables ...*PriceTable) *PriceTable {
	l := &PriceTable{layers: []*PriceTable{}}
	for i := len(tables) - 1; i >= 0; i-- {
		switch t := tables[i]; {
		case t == nil:
		case t.layers != nil:
			l.layers = append(l.layers, t.layers...)
		default:
			l.layers = append(l.layers, t)
		}
	}
	return l
}

// NewPriceTable returns a table of the given prices by model id, named
// source (for example "overrides"). Ids are matched as [PriceTable.Lookup]
// says; two ids equal but for case are an error. Each price must be valid
// ([Price.Validate]); a price whose Source is empty gets source, so that
// every price says where it comes from. The map is copied.
func NewPriceTable(source string, prices map[string]Price) (*PriceTable, error) {
	t := &PriceTable{source: source, byID: make(map[string]*Price, len(prices))}
	for id, p := range prices {
		key := strings.ToLower(strings.TrimSpace(id))
		if key == "" {
			return nil, fmt.Errorf("%w: price table %s: empty model id", ErrInvalid, source)
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("price table %s: model %q: %w", source, id, err)
		}
		if _, dup := t.byID[key]; dup {
			return nil, fmt.Errorf("%w: price table %s: model id %q is given twice (ids are matched without case)", ErrInvalid, source, id)
		}
		if p.Source == "" {
			p.Source = source
		}
		t.byID[key] = &p
		t.models = append(t.models, key)
	}
	slices.Sort(t.models)
	return t, nil
}

// EmbeddedPrices returns the embedded price table, whose source is
// "embedded, checked " + [PricesChecked]. Its Lookup is the package's
// [Lookup]. If the embedded table failed to parse (which the tests rule out)
// it is empty: every lookup fails closed.
func EmbeddedPrices() *PriceTable {
	t, err := loadPrices()
	if err != nil {
		return &PriceTable{source: "embedded (unreadable: " + err.Error() + ")"}
	}
	return t
}
