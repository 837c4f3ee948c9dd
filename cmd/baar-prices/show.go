package main

import (
	"fmt"
	"io"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/cliout"
)

func showCmd(args []string, w io.Writer) (int, error) {
	fs := newFlags("show")
	file := fs.String("file", "", "a LiteLLM-format price `FILE` stacked over the embedded table")
	models, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(models) == 0 {
		return 0, usageErr("show needs at least one MODEL")
	}
	table := budget.EmbeddedPrices()
	if *file != "" {
		loaded, err := budget.LoadLiteLLMPricesFile(*file)
		if err != nil {
			return 0, &exitError{exitFile, err}
		}
		table = budget.LayerPrices(table, loaded)
	}
	ew := &cliout.Writer{W: w}
	code := exitOK
	for i, m := range models {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		p, ok := table.Lookup(m)
		if !ok {
			fmt.Fprintf(ew, "%s: no price in %s (never billed as free: give it one)\n", m, table.Source())
			code = exitChanged
			continue
		}
		printPrice(ew, m, p)
	}
	if ew.Err != nil {
		return 0, &exitError{exitFile, ew.Err}
	}
	return code, nil
}

// printPrice prints p, in USD per 1M tokens.
func printPrice(w io.Writer, model string, p budget.Price) {
	orInput := func(v float64) string {
		if v == 0 {
			return "billed at input"
		}
		return "$" + usd(v)
	}
	limit := func(n int64) string {
		if n == 0 {
			return "unknown"
		}
		return fmt.Sprint(n)
	}
	fmt.Fprintf(w, "%s (%s)\n", model, mode(p.Mode))
	fmt.Fprintf(w, "  input         $%s per 1M tokens\n", usd(p.Input))
	fmt.Fprintf(w, "  output        $%s per 1M tokens\n", usd(p.Output))
	fmt.Fprintf(w, "  cached input  %s\n", orInput(p.CachedInput))
	fmt.Fprintf(w, "  cache write   %s\n", orInput(p.CacheWrite))
	if p.LongContextThreshold > 0 {
		fmt.Fprintf(w, "  above %d input tokens, the whole request: $%s in, $%s out\n", p.LongContextThreshold, usd(p.LongInput), usd(p.LongOutput))
	}
	fmt.Fprintf(w, "  max input     %s tokens\n", limit(p.MaxInputTokens))
	fmt.Fprintf(w, "  max output    %s tokens\n", limit(p.MaxOutputTokens))
	checked := p.Checked
	if checked == "" {
		checked = "unknown"
	}
	fmt.Fprintf(w, "  source        %s (checked %s)\n", p.Source, checked)
}
