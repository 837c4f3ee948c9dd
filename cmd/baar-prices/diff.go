package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/cliout"
)

// fieldChange is one field of a model's price that differs.
type fieldChange struct {
	name     string
	old, new string
	// factor is the price move, max(new/old, old/new); 0 for a field that
	// is not a price, +Inf when one side is zero.
	factor float64
}

// modelChange is an embedded model whose price in the file differs.
type modelChange struct {
	model  string
	fields []fieldChange
}

// priceDiff is what a price file changes against a base table.
type priceDiff struct {
	changed []modelChange
	missing []string // base models the file does not price
	// added are the file's models that are not models of base; base may
	// still price some of them through an alias or a provider prefix.
	added []string
}

// diffTables compares the models of base with their price in file (looked up
// as a router would), and lists the models of file that are not base's.
func diffTables(base, file *budget.PriceTable) priceDiff {
	var d priceDiff
	for _, m := range base.Models() {
		old, _ := base.Lookup(m)
		p, ok := file.Lookup(m)
		if !ok {
			d.missing = append(d.missing, m)
			continue
		}
		if fields := diffPrice(old, p); len(fields) > 0 {
			d.changed = append(d.changed, modelChange{model: m, fields: fields})
		}
	}
	known := map[string]bool{}
	for _, m := range base.Models() {
		known[m] = true
	}
	for _, m := range file.Models() {
		if !known[m] {
			d.added = append(d.added, m)
		}
	}
	return d
}

// diffPrice returns the fields of p that differ from old's, in the order of
// budget.Price; provenance is not compared.
func diffPrice(old, p budget.Price) []fieldChange {
	var out []fieldChange
	price := func(name string, a, b float64) {
		if a == b {
			return
		}
		f := math.Inf(1)
		if a != 0 && b != 0 {
			f = max(a/b, b/a)
		}
		out = append(out, fieldChange{name: name, old: usd(a), new: usd(b), factor: f})
	}
	count := func(name string, a, b int64) {
		if a != b {
			out = append(out, fieldChange{name: name, old: strconv.FormatInt(a, 10), new: strconv.FormatInt(b, 10)})
		}
	}
	price("Input", old.Input, p.Input)
	price("Output", old.Output, p.Output)
	price("CachedInput", old.CachedInput, p.CachedInput)
	price("CacheWrite", old.CacheWrite, p.CacheWrite)
	count("LongContextThreshold", old.LongContextThreshold, p.LongContextThreshold)
	price("LongInput", old.LongInput, p.LongInput)
	price("LongOutput", old.LongOutput, p.LongOutput)
	count("MaxInputTokens", old.MaxInputTokens, p.MaxInputTokens)
	count("MaxOutputTokens", old.MaxOutputTokens, p.MaxOutputTokens)
	if old.Mode != p.Mode {
		out = append(out, fieldChange{name: "Mode", old: mode(old.Mode), new: mode(p.Mode)})
	}
	return out
}

func usd(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func mode(m string) string {
	if m == "" {
		return "chat"
	}
	return m
}

func factor(f float64) string {
	switch {
	case f == 0:
		return ""
	case math.IsInf(f, 1):
		return "×∞"
	}
	return "×" + strconv.FormatFloat(f, 'g', 4, 64)
}

func diffCmd(args []string, w io.Writer) (int, error) {
	fs := newFlags("diff")
	skipInvalid := fs.Bool("skip-invalid", false, "count invalid rows as skipped instead of failing")
	ops, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(ops) != 1 {
		return 0, usageErr("diff needs one FILE, got %d operands", len(ops))
	}
	// Every move is shown, so none is refused.
	opts := []budget.LoadOption{budget.CompareWith(nil)}
	if *skipInvalid {
		opts = append(opts, budget.SkipInvalidRows())
	}
	file, err := budget.LoadLiteLLMPricesFile(ops[0], opts...)
	if err != nil {
		return 0, &exitError{exitFile, err}
	}
	base := budget.EmbeddedPrices()
	d := diffTables(base, file)
	if err := printDiff(w, base, file, d); err != nil {
		return 0, &exitError{exitFile, err}
	}
	if len(d.changed) > 0 || len(d.missing) > 0 {
		return exitChanged, nil
	}
	return exitOK, nil
}

func printDiff(w io.Writer, base, file *budget.PriceTable, d priceDiff) error {
	ew := &cliout.Writer{W: w}
	fmt.Fprintf(ew, "%s → %s\n", base.Source(), file.Source())

	fmt.Fprintf(ew, "\nchanged (%d):\n", len(d.changed))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, c := range d.changed {
		fmt.Fprintf(tw, "  %s\n", c.model)
		for _, f := range c.fields {
			mark := ""
			if f.factor > budget.DefaultMaxPriceMove {
				mark = "  ! beyond the default " + strconv.Itoa(budget.DefaultMaxPriceMove) + "× (budget.AllowPriceMove)"
			}
			fmt.Fprintf(tw, "    %s\t%s →\t%s\t%s%s\n", f.name, f.old, f.new, factor(f.factor), mark)
		}
	}
	_ = tw.Flush()

	fmt.Fprintf(ew, "\nnot in file (%d): embedded prices still apply\n", len(d.missing))
	for _, m := range d.missing {
		fmt.Fprintf(ew, "  %s\n", m)
	}

	fmt.Fprintf(ew, "\nadded (%d):\n", len(d.added))
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, m := range d.added {
		p, _ := file.Lookup(m)
		was := ""
		if old, ok := base.Lookup(m); ok {
			was = fmt.Sprintf("(embedded, by alias or prefix: in %s out %s)", usd(old.Input), usd(old.Output))
		}
		fmt.Fprintf(tw, "  %s\t%s\tin %s\tout %s\t%s\n", m, mode(p.Mode), usd(p.Input), usd(p.Output), was)
	}
	_ = tw.Flush()

	skipped := file.Skipped()
	fmt.Fprintf(ew, "\nskipped rows (%d): %s\n", len(skipped), skipReasons(skipped))
	fmt.Fprintf(ew, "\n%d changed, %d not in file, %d added, %d skipped\n", len(d.changed), len(d.missing), len(d.added), len(skipped))
	return ew.Err
}

// skipReasons counts skipped rows by reason, most frequent first; invalid
// rows count as "invalid" whatever their error.
func skipReasons(rows []budget.SkippedRow) string {
	n := map[string]int{}
	for _, r := range rows {
		reason := r.Reason
		if strings.HasPrefix(reason, "invalid: ") {
			reason = "invalid"
		}
		n[reason]++
	}
	return cliout.Counts(n)
}
