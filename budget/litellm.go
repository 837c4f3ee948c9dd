package budget

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxPriceFileBytes is the largest price file [LoadLiteLLMPrices] reads
// (LiteLLM's own file is about 1.6 MB).
const MaxPriceFileBytes = 64 << 20

// DefaultMaxPriceMove is the factor by which a loaded price may differ from
// the embedded one before [LoadLiteLLMPrices] refuses it (see
// [AllowPriceMoves]).
const DefaultMaxPriceMove = 10

// ErrPriceMoved is matched by the error of a loaded price that moved by more
// than the allowed factor against the table it is compared with.
var ErrPriceMoved = errors.New("price moved")

// PriceFileError is an error in one row of a price file. It wraps the cause,
// which matches [ErrInvalid] or [ErrPriceMoved].
type PriceFileError struct {
	File  string // the file's source name
	Line  int    // 1-based line of the row's key; 0 when unknown
	Model string // the row's key as written
	Err   error
}

// Error implements error: "FILE:LINE: model "ID": cause".
func (e *PriceFileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Model != "" {
		b.WriteString("model ")
		b.WriteString(strconv.Quote(e.Model))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *PriceFileError) Unwrap() error { return e.Err }

// PriceMove is a loaded price that differs from the price it is compared
// with by more than the allowed factor. It matches [ErrPriceMoved].
type PriceMove struct {
	Field    string  // the Price field: "Input", "Output", "CachedInput", …
	Old, New float64 // USD per million tokens
	// Factor is max(New/Old, Old/New); +Inf when one of them is 0.
	Factor float64
	// Allowed is the largest factor that was allowed.
	Allowed float64
}

// Error implements error.
func (m *PriceMove) Error() string {
	return fmt.Sprintf("%s price moved from $%s to $%s per 1M tokens (factor %s, more than the %s allowed): allow it with budget.AllowPriceMove(model) or budget.AllowPriceMoves(factor)",
		m.Field, fmtPrice(m.Old), fmtPrice(m.New), fmtFactor(m.Factor), fmtFactor(m.Allowed))
}

// Is reports whether target is [ErrPriceMoved].
func (m *PriceMove) Is(target error) bool { return target == ErrPriceMoved }

func fmtPrice(usd float64) string { return strconv.FormatFloat(usd, 'f', -1, 64) }

func fmtFactor(f float64) string {
	if math.IsInf(f, 1) {
		return "∞"
	}
	return strconv.FormatFloat(f, 'g', 4, 64) + "×"
}

// LoadOption configures [LoadLiteLLMPrices].
type LoadOption func(*loadConfig)

type loadConfig struct {
	source, checked string
	compare         *PriceTable
	maxMove         float64
	allowed         map[string]bool
	skipInvalid     bool
	err             error
}

// WithSource names the file in the table's provenance and in errors; the
// default is "LiteLLM prices" for a reader and the file's base name for
// [LoadLiteLLMPricesFile].
func WithSource(name string) LoadOption {
	return func(c *loadConfig) { c.source = name }
}

// WithChecked gives the date (YYYY-MM-DD) the file's prices were published or
// checked, which every loaded [Price.Checked] carries. The default is none
// for a reader and the file's modification date (UTC) for
// [LoadLiteLLMPricesFile].
func WithChecked(date string) LoadOption {
	return func(c *loadConfig) {
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			c.err = fmt.Errorf("%w: WithChecked(%q): want a date YYYY-MM-DD", ErrInvalid, date)
			return
		}
		c.checked = date
	}
}

// CompareWith sets the table loaded prices are checked against (see
// [AllowPriceMoves]); the default is [EmbeddedPrices]. CompareWith(nil)
// turns the check off.
func CompareWith(t *PriceTable) LoadOption {
	return func(c *loadConfig) { c.compare = t }
}

// AllowPriceMoves sets the factor by which a loaded price may differ from
// the price the compared table ([CompareWith]) has for the same model id
// (or alias; "azure/gpt-4o" is not compared with "gpt-4o", a provider may
// price it differently) before the load fails with an error matching [ErrPriceMoved]: a new price
// must lie in [old/factor, old×factor]. The default is
// [DefaultMaxPriceMove]; math.Inf(1) allows any move. A price that becomes
// zero, or stops being zero, moves by an infinite factor.
func AllowPriceMoves(factor float64) LoadOption {
	return func(c *loadConfig) {
		if !(factor >= 1) {
			c.err = fmt.Errorf("%w: AllowPriceMoves(%v): the factor must be at least 1", ErrInvalid, factor)
			return
		}
		c.maxMove = factor
	}
}

// AllowPriceMove lets the prices of the given models (file keys, matched
// without case) move by any factor.
func AllowPriceMove(models ...string) LoadOption {
	return func(c *loadConfig) {
		if c.allowed == nil {
			c.allowed = make(map[string]bool)
		}
		for _, m := range models {
			c.allowed[strings.ToLower(strings.TrimSpace(m))] = true
		}
	}
}

// SkipInvalidRows makes an invalid chat or embedding row a skipped row
// ([PriceTable.Skipped]) instead of an error. Use it with care: a model
// whose row is skipped falls through to a lower table of a [LayerPrices]
// stack, whose price may be older. Price moves are still errors.
func SkipInvalidRows() LoadOption {
	return func(c *loadConfig) { c.skipInvalid = true }
}

// LoadLiteLLMPricesFile is [LoadLiteLLMPrices] on the file at path, whose
// base name is the default source and whose modification date is the
// default checked date.
func LoadLiteLLMPricesFile(path string, opts ...LoadOption) (*PriceTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pre := []LoadOption{WithSource(filepath.Base(path))}
	if fi, err := f.Stat(); err == nil {
		pre = append(pre, WithChecked(fi.ModTime().UTC().Format(time.DateOnly)))
	}
	return LoadLiteLLMPrices(f, append(pre, opts...)...)
}

// LoadLiteLLMPrices reads a price file in the format of LiteLLM's
// model_prices_and_context_window.json (one JSON object whose keys are model
// ids and whose values describe them) and returns the prices of its chat,
// completion and embedding models. It never uses the network: fetch the file
// yourself, review it, and load it from disk.
//
// Rows of mode "chat", "completion", "responses" or none are chat rows, rows
// of mode "embedding" embedding rows; rows of any other mode (image, audio,
// rerank, moderation, search, video…), rows priced only per second, per
// character, per image or per request, and the "sample_spec" row are
// skipped and listed by [PriceTable.Skipped].
//
// The fields read, in USD per token, become a [Price] in USD per million
// tokens, converted exactly from the decimal text of the JSON numbers (no
// float rounding: 2.5e-06 becomes exactly 2.5):
//
//	input_cost_per_token, output_cost_per_token     Input, Output (required; an embedding row's output may be absent: 0)
//	cache_read_input_token_cost                     CachedInput
//	cache_creation_input_token_cost                 CacheWrite (the 5-minute write; the 1-hour write price is not read)
//	input/output_cost_per_token_above_200k_tokens   LongInput, LongOutput, LongContextThreshold 200,000
//	input/output_cost_per_token_above_128k_tokens   the same with a 128,000-token threshold
//	output_cost_per_reasoning_token                 when above output_cost_per_token, it becomes Output
//	                                                (the budget over-counts other output rather than under-count reasoning)
//	max_input_tokens, max_output_tokens             MaxInputTokens, MaxOutputTokens (max_tokens when max_output_tokens is absent;
//	                                                for an embedding row, max_tokens when max_input_tokens is absent, no output limit)
//	mode                                            "embedding" becomes Mode
//
// Validation fails closed: a loaded row with a missing, negative, non-numeric
// or out-of-range price, or a bad token limit, is an error (a
// [*PriceFileError] naming the model and the line), as are duplicate ids
// (without case), a file that is not one JSON object, and a price that moved
// by more than a factor against the compared table (see [AllowPriceMoves],
// [AllowPriceMove], [CompareWith]). All errors are reported together, up to
// 20. A row whose prices are all zero is a free model (a local one).
//
// Loaded prices carry the source and date of the file in [Price.Source] and
// [Price.Checked]. Ids are matched as [PriceTable.Lookup] says; the file's
// provider-prefixed ids ("azure/gpt-4o", "bedrock/…") are kept as they are.
func LoadLiteLLMPrices(r io.Reader, opts ...LoadOption) (*PriceTable, error) {
	c := loadConfig{source: "LiteLLM prices", compare: EmbeddedPrices(), maxMove: DefaultMaxPriceMove}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxPriceFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.source, err)
	}
	if len(data) > MaxPriceFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, c.source, MaxPriceFileBytes)
	}
	l := liteLLMLoader{c: &c, data: data, t: &PriceTable{byID: make(map[string]*Price)}, lineOf: make(map[string]int)}
	l.t.source = c.source
	if c.checked != "" {
		l.t.source += ", checked " + c.checked
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l.t, nil
}

// maxReportedErrors is how many row errors a load reports at most.
const maxReportedErrors = 20

type liteLLMLoader struct {
	c    *loadConfig
	data []byte
	t    *PriceTable
	// lineOf is the line of each loaded key (lower case).
	lineOf map[string]int
	errs   []error
	more   int // errors beyond maxReportedErrors
	// line counting: the line at byte offset off.
	off, line int
}

func (l *liteLLMLoader) fail(line int, model string, err error) {
	if len(l.errs) == maxReportedErrors {
		l.more++
		return
	}
	l.errs = append(l.errs, &PriceFileError{File: l.c.source, Line: line, Model: model, Err: err})
}

// lineAt returns the 1-based line of byte offset off; offsets must not
// decrease between calls.
func (l *liteLLMLoader) lineAt(off int64) int {
	if l.line == 0 {
		l.line = 1
	}
	end := int(min(off, int64(len(l.data))))
	if end > l.off {
		l.line += bytes.Count(l.data[l.off:end], []byte{'\n'})
		l.off = end
	}
	return l.line
}

func (l *liteLLMLoader) load() error {
	dec := json.NewDecoder(bytes.NewReader(l.data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return &PriceFileError{File: l.c.source, Line: l.lineAt(dec.InputOffset()), Err: fmt.Errorf("%w: not a JSON object of models", ErrInvalid)}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &PriceFileError{File: l.c.source, Line: l.lineAt(dec.InputOffset()), Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
		}
		key, _ := tok.(string) // an object's keys are strings
		line := l.lineAt(dec.InputOffset())
		// A value that is not an object fails with an UnmarshalTypeError
		// after the decoder has read all of it: the stream goes on.
		var f map[string]json.RawMessage
		if err := dec.Decode(&f); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return &PriceFileError{File: l.c.source, Line: line, Model: key, Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
			}
			f = nil
		}
		l.row(key, line, f)
	}
	if _, err := dec.Token(); err != nil {
		return &PriceFileError{File: l.c.source, Line: l.lineAt(dec.InputOffset()), Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &PriceFileError{File: l.c.source, Line: l.lineAt(dec.InputOffset()), Err: fmt.Errorf("%w: data after the JSON object", ErrInvalid)}
	}
	l.checkMoves()
	if l.more > 0 {
		l.errs = append(l.errs, fmt.Errorf("… and %d more errors in %s", l.more, l.c.source))
	}
	if len(l.errs) > 0 {
		return errors.Join(l.errs...)
	}
	slices.Sort(l.t.models)
	return nil
}

// tokenPriced are the modes whose rows are priced per token and loaded.
var tokenPriced = map[string]string{"": "", "chat": "", "completion": "", "responses": "", ModeEmbedding: ModeEmbedding}

// row loads one row; errors are recorded in l.errs.
// f is nil when the row is not a JSON object.
func (l *liteLLMLoader) row(key string, line int, f map[string]json.RawMessage) {
	skip := func(reason string) {
		l.t.skipped = append(l.t.skipped, SkippedRow{Model: key, Line: line, Reason: reason})
	}
	invalid := func(err error) {
		if l.c.skipInvalid {
			skip("invalid: " + err.Error())
		} else {
			l.fail(line, key, err)
		}
	}
	if key == "sample_spec" {
		skip("the format's specification row")
		return
	}
	if f == nil {
		invalid(fmt.Errorf("%w: the row is not a JSON object", ErrInvalid))
		return
	}
	mode := ""
	if m, ok := f["mode"]; ok && !isNull(m) {
		if err := json.Unmarshal(m, &mode); err != nil {
			invalid(fmt.Errorf("%w: mode is not a string", ErrInvalid))
			return
		}
	}
	kind, ok := tokenPriced[mode]
	if !ok {
		skip("mode " + mode)
		return
	}
	if !present(f, "input_cost_per_token") && !present(f, "output_cost_per_token") {
		if other := otherPricing(f); other != "" {
			skip("priced by " + other + ", not per token")
			return
		}
	}
	p, err := liteLLMPrice(f, kind)
	if err == nil {
		err = p.Validate()
	}
	id := strings.ToLower(strings.TrimSpace(key))
	if err == nil && id == "" {
		err = fmt.Errorf("%w: empty model id", ErrInvalid)
	}
	if err == nil {
		if prev, dup := l.lineOf[id]; dup {
			err = fmt.Errorf("%w: duplicate model id (ids are matched without case; also on line %d)", ErrInvalid, prev)
		}
	}
	if err != nil {
		invalid(err)
		return
	}
	p.Source, p.Checked = l.c.source, l.c.checked
	l.lineOf[id] = line
	l.t.byID[id] = &p
	l.t.models = append(l.t.models, id)
}

// liteLLMPrice converts the fields of a token-priced row.
func liteLLMPrice(f map[string]json.RawMessage, mode string) (Price, error) {
	p := Price{Mode: mode}
	var errs []error
	price := func(name string, dst *float64) bool { return readField(f, name, perMillion, dst, &errs) }
	count := func(name string, dst *int64) bool { return readField(f, name, tokenCount, dst, &errs) }
	if !price("input_cost_per_token", &p.Input) && !hasErr(errs) {
		errs = append(errs, fmt.Errorf("%w: input_cost_per_token is missing", ErrInvalid))
	}
	if !price("output_cost_per_token", &p.Output) && !hasErr(errs) && mode != ModeEmbedding {
		errs = append(errs, fmt.Errorf("%w: output_cost_per_token is missing", ErrInvalid))
	}
	price("cache_read_input_token_cost", &p.CachedInput)
	price("cache_creation_input_token_cost", &p.CacheWrite)
	var reasoning float64
	if price("output_cost_per_reasoning_token", &reasoning) && reasoning > p.Output {
		p.Output = reasoning
	}
	for _, tier := range [...]struct {
		suffix    string
		threshold int64
	}{{"_above_200k_tokens", 200_000}, {"_above_128k_tokens", 128_000}} {
		var in, out float64
		hasIn := price("input_cost_per_token"+tier.suffix, &in)
		hasOut := price("output_cost_per_token"+tier.suffix, &out)
		if !hasIn && !hasOut {
			continue
		}
		if p.LongContextThreshold != 0 {
			errs = append(errs, fmt.Errorf("%w: two long-context tiers (above %d and %d tokens): not representable", ErrInvalid, p.LongContextThreshold, tier.threshold))
			break
		}
		// A tier that reprices only one side keeps the other's base price.
		if !hasIn {
			in = p.Input
		}
		if !hasOut {
			out = p.Output
		}
		p.LongContextThreshold, p.LongInput, p.LongOutput = tier.threshold, in, out
	}
	// max_tokens is LiteLLM's legacy limit: the output limit when
	// max_output_tokens is absent, but an embedding model's input limit
	// (it has no output tokens).
	if mode == ModeEmbedding {
		if !count("max_input_tokens", &p.MaxInputTokens) {
			count("max_tokens", &p.MaxInputTokens)
		}
	} else {
		count("max_input_tokens", &p.MaxInputTokens)
		if !count("max_output_tokens", &p.MaxOutputTokens) {
			count("max_tokens", &p.MaxOutputTokens)
		}
	}
	return p, errors.Join(errs...)
}

// readField converts field name of row f into *dst and reports whether it
// did; an absent or null field is not converted, a bad one adds an error to
// errs.
func readField[T any](f map[string]json.RawMessage, name string, conv func(json.RawMessage) (T, error), dst *T, errs *[]error) bool {
	raw, ok := f[name]
	if !ok || isNull(raw) {
		return false
	}
	v, err := conv(raw)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%w: %s %s", ErrInvalid, name, err))
		return false
	}
	*dst = v
	return true
}

func hasErr(errs []error) bool { return len(errs) > 0 }

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

func present(f map[string]json.RawMessage, name string) bool {
	raw, ok := f[name]
	return ok && !isNull(raw)
}

// otherPricing returns the first non-token pricing field of a row (per
// second, character, image, pixel, request, query, page), or "".
func otherPricing(f map[string]json.RawMessage) string {
	var names []string
	for name, raw := range f {
		if isNull(raw) || !strings.Contains(name, "cost_per_") || strings.Contains(name, "cost_per_token") {
			continue
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[0]
}

// perMillion converts a JSON number of USD per token to USD per million
// tokens exactly: the decimal text's exponent is shifted by 6 and the result
// parsed once, so that the float64 is the one nearest to the decimal value
// (2.5e-06 → 2.5, 1.25e-07 → 0.125), as if the per-million price had been
// written in decimal.
func perMillion(raw json.RawMessage) (float64, error) {
	s := string(raw)
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, fmt.Errorf("is not a number (%s)", jsonKind(raw))
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return 0, fmt.Errorf("%s is out of range", s)
		}
		mant, exp = s[:i], e
	}
	v, err := strconv.ParseFloat(mant+"e"+strconv.Itoa(exp+6), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%s is negative", s)
	}
	return v + 0, nil // + 0 turns -0 into 0
}

// tokenCount converts a JSON number of tokens: a non-negative integer
// (written as one, or as a float with no fraction, e.g. 8192.0).
func tokenCount(raw json.RawMessage) (int64, error) {
	s := string(raw)
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, fmt.Errorf("is not a number (%s)", jsonKind(raw))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		v, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || v != math.Trunc(v) || v >= 1<<63 || v < -(1<<63) {
			return 0, fmt.Errorf("%s is not a whole number of tokens", s)
		}
		n = int64(v)
	}
	if n < 0 {
		return 0, fmt.Errorf("%s is negative", s)
	}
	return n, nil
}

// jsonKind names the JSON type of a value that is not a number.
func jsonKind(raw json.RawMessage) string {
	switch {
	case len(raw) == 0:
		return "empty"
	case raw[0] == '"':
		return "a string"
	case raw[0] == '{':
		return "an object"
	case raw[0] == '[':
		return "an array"
	case raw[0] == 't' || raw[0] == 'f':
		return "a boolean"
	}
	return "null"
}

// checkMoves compares the loaded prices with the compared table.
func (l *liteLLMLoader) checkMoves() {
	if l.c.compare == nil || math.IsInf(l.c.maxMove, 1) {
		return
	}
	ids := make([]string, 0, len(l.t.byID))
	for id := range l.t.byID {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return l.lineOf[a] - l.lineOf[b] })
	for _, id := range ids {
		if l.c.allowed[id] {
			continue
		}
		old, ok := l.c.compare.exact(id)
		if !ok {
			continue
		}
		if m := priceMove(old, *l.t.byID[id], l.c.maxMove); m != nil {
			l.fail(l.lineOf[id], id, m)
		}
	}
}

// priceMove returns the first rate of p that differs from old's by more than
// factor, comparing effective rates (a zero cache price is billed at Input),
// or nil.
func priceMove(old, p Price, factor float64) *PriceMove {
	orZero := func(v, dflt float64) float64 {
		if v == 0 {
			return dflt
		}
		return v
	}
	for _, f := range [...]struct {
		name     string
		old, new float64
	}{
		{"Input", old.Input, p.Input},
		{"Output", old.Output, p.Output},
		{"CachedInput", orZero(old.CachedInput, old.Input), orZero(p.CachedInput, p.Input)},
		{"CacheWrite", orZero(old.CacheWrite, old.Input), orZero(p.CacheWrite, p.Input)},
	} {
		if f.old == f.new {
			continue
		}
		ratio := math.Inf(1)
		if f.old != 0 && f.new != 0 {
			ratio = max(f.new/f.old, f.old/f.new)
		}
		if ratio > factor {
			return &PriceMove{Field: f.name, Old: f.old, New: f.new, Factor: ratio, Allowed: factor}
		}
	}
	return nil
}
