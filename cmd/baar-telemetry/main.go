package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/internal/telemetrylog"
)

func main() {
	cli.Main("baar-telemetry", run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errNoRecords is returned when no line of the input is a valid record.
var errNoRecords = errors.New("no valid telemetry record")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("baar-telemetry", "[--json] [--bucket DURATION] [--html FILE] FILE...   (FILE - is standard input)", stderr)
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	bucket := fs.Duration("bucket", 0, "width of the spend-over-time buckets, e.g. 1m, 1h (default: automatic)")
	html := fs.String("html", "", "also write a self-contained HTML report to `FILE`")
	// Flags may come before or after the files.
	files, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return cli.Usagef("no telemetry log given")
	}
	if err := cli.AtLeast("bucket", *bucket, 0); err != nil {
		return err
	}

	agg := newAggregator()
	if *html != "" {
		agg.report = newHTMLReport()
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := scanFile(name, stdin, agg.add)
		if err != nil {
			return err
		}
		agg.s.Files++
		agg.s.Records += st.Records
		agg.s.Malformed += st.Malformed
	}
	if agg.s.Records == 0 {
		return fmt.Errorf("%w in %d file(s) (%d malformed line(s))", errNoRecords, agg.s.Files, agg.s.Malformed)
	}
	s := agg.summary(*bucket)
	if *html != "" {
		if err := writeHTMLReport(*html, agg.report, &s, *bucket); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return printText(stdout, &s)
}

func scanFile(name string, stdin io.Reader, fn func(telemetrylog.Record)) (telemetrylog.ScanStats, error) {
	if name == "-" {
		st, err := telemetrylog.Scan(stdin, fn)
		if err != nil {
			return st, fmt.Errorf("reading standard input: %w", err)
		}
		return st, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return telemetrylog.ScanStats{}, err
	}
	defer f.Close()
	st, err := telemetrylog.Scan(f, fn)
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", name, err)
	}
	return st, nil
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func usd(f float64) string { return fmt.Sprintf("$%.6f", f) }

func printText(w io.Writer, s *Summary) error {
	ew := &errWriter{w: w}
	ew.printf("baar-telemetry: %d file(s), %d record(s), %d malformed line(s) skipped\n", s.Files, s.Records, s.Malformed)
	if s.Calls == 0 {
		ew.printf("no calls\n")
		return ew.err
	}
	ew.printf("period: %s … %s\n\n", s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339))

	ew.printf("%-12s %7d\n", "calls", s.Calls)
	names := []string{telemetrylog.DecisionCheap, telemetrylog.DecisionCapable, telemetrylog.DecisionDowngraded,
		telemetrylog.DecisionFailover, telemetrylog.DecisionEscalated, telemetrylog.DecisionRejected}
	var others []string
	for d := range s.Decisions {
		if !slices.Contains(names, d) {
			others = append(others, d)
		}
	}
	slices.Sort(others)
	for _, d := range append(names, others...) {
		n := s.Decisions[d]
		ew.printf("  %-10s %7d %7s\n", d, n, pct(float64(n)/float64(s.Calls)))
	}
	if len(s.Policies) > 0 {
		ew.printf("policies: %s\n", counts(s.Policies))
	}
	ew.printf("reject rate %s   downgrade rate %s   failover rate %s\n", pct(s.RejectRate), pct(s.DowngradeRate), pct(s.FailoverRate))
	if c := s.Cascade; c != nil {
		ew.printf("cascade: %d calls (%s), %d escalated: escalation rate %s", c.Calls, counts(c.Verifiers), c.Escalated, pct(c.EscalationRate))
		if len(c.NotAnswered) > 0 {
			ew.printf("; cheap answer kept: %s", counts(c.NotAnswered))
		}
		ew.printf("\n")
	}
	ew.printf("\n")

	ew.printf("total spend      %s   (estimated worst case %s)\n", usd(s.SpendUSD), usd(s.EstimatedUSD))
	ew.printf("tokens           input %d (cache read %d, cache write %d), output %d (reasoning %d)\n",
		s.Tokens.Input, s.Tokens.CacheRead, s.Tokens.CacheWrite, s.Tokens.Output, s.Tokens.Reasoning)
	if b := s.Budget; b != nil {
		ew.printf("budget (latest)  spent %s of %s, remaining %s\n", usd(b.SpentUSD), usd(b.LimitUSD), usd(b.RemainingUSD))
	}

	if len(s.Models) > 0 {
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tCALLS\tERRORS\tSPEND\tSHARE\tINPUT TOKENS\tOUTPUT TOKENS")
		for _, m := range s.Models {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%d\n", m.Model, m.Calls, m.Errors, usd(m.SpendUSD), pct(m.Share), m.InputTokens, m.OutputTokens)
		}
		_ = tw.Flush()
	}

	if len(s.Errors) > 0 {
		ew.printf("\nerrors: %s\n", counts(s.Errors))
	}

	if len(s.Alerts) > 0 {
		ew.printf("\nbudget alerts:\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, a := range s.Alerts {
			key := "global"
			if a.Key != "" {
				key = "key " + strconv.Quote(a.Key)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\tspent %s of %s\n", a.Time.UTC().Format(time.RFC3339), key, pct(a.Threshold), usd(a.SpentUSD), usd(a.LimitUSD))
		}
		_ = tw.Flush()
	}

	ew.printf("\nspend over time (bucket %s):\n", s.Bucket)
	var peak float64
	for _, b := range s.Spend {
		peak = max(peak, b.SpendUSD)
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, b := range s.Spend {
		bar := ""
		if peak > 0 {
			bar = strings.Repeat("█", int(40*b.SpendUSD/peak+0.5))
		}
		fmt.Fprintf(tw, "%s\t%d calls\t%d rejected\t%s\t%s\n", b.Start.Format("2006-01-02 15:04Z"), b.Calls, b.Rejected, usd(b.SpendUSD), bar)
	}
	_ = tw.Flush()
	return ew.err
}

// counts formats m as "k n, …", largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
