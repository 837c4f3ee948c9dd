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
	"github.com/baarcore/baar/internal/cliout"
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
	ew := &cliout.Writer{W: w}
	ew.Printf("baar-telemetry: %d file(s), %d record(s), %d malformed line(s) skipped\n", s.Files, s.Records, s.Malformed)
	if s.Calls == 0 {
		ew.Printf("no calls\n")
		return ew.Err
	}
	ew.Printf("period: %s … %s\n\n", s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339))
	printDecisions(ew, s)
	printSpend(ew, s)
	if len(s.Errors) > 0 {
		ew.Printf("\nerrors: %s\n", cliout.Counts(s.Errors))
	}
	printAlerts(ew, s)
	printSpendOverTime(ew, s)
	return ew.Err
}

// printDecisions prints the calls by decision, the policies, the rates and
// the cascade's escalations.
func printDecisions(ew *cliout.Writer, s *Summary) {
	ew.Printf("%-12s %7d\n", "calls", s.Calls)
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
		ew.Printf("  %-10s %7d %7s\n", d, n, pct(float64(n)/float64(s.Calls)))
	}
	if len(s.Policies) > 0 {
		ew.Printf("policies: %s\n", cliout.Counts(s.Policies))
	}
	ew.Printf("reject rate %s   downgrade rate %s   failover rate %s\n", pct(s.RejectRate), pct(s.DowngradeRate), pct(s.FailoverRate))
	if c := s.Cascade; c != nil {
		ew.Printf("cascade: %d calls (%s), %d escalated: escalation rate %s", c.Calls, cliout.Counts(c.Verifiers), c.Escalated, pct(c.EscalationRate))
		if len(c.NotAnswered) > 0 {
			ew.Printf("; cheap answer kept: %s", cliout.Counts(c.NotAnswered))
		}
		ew.Printf("\n")
	}
	ew.Printf("\n")
}

// printSpend prints the spend, the tokens, the budget and the spend by
// model.
func printSpend(ew *cliout.Writer, s *Summary) {
	ew.Printf("total spend      %s   (estimated worst case %s)\n", usd(s.SpendUSD), usd(s.EstimatedUSD))
	ew.Printf("tokens           input %d (cache read %d, cache write %d), output %d (reasoning %d)\n",
		s.Tokens.Input, s.Tokens.CacheRead, s.Tokens.CacheWrite, s.Tokens.Output, s.Tokens.Reasoning)
	if b := s.Budget; b != nil {
		ew.Printf("budget (latest)  spent %s of %s, remaining %s\n", usd(b.SpentUSD), usd(b.LimitUSD), usd(b.RemainingUSD))
	}
	if len(s.Models) == 0 {
		return
	}
	ew.Printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tCALLS\tERRORS\tSPEND\tSHARE\tINPUT TOKENS\tOUTPUT TOKENS")
	for _, m := range s.Models {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%d\n", m.Model, m.Calls, m.Errors, usd(m.SpendUSD), pct(m.Share), m.InputTokens, m.OutputTokens)
	}
	_ = tw.Flush()
}

// printAlerts lists the budget alerts.
func printAlerts(ew *cliout.Writer, s *Summary) {
	if len(s.Alerts) == 0 {
		return
	}
	ew.Printf("\nbudget alerts:\n")
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

// printSpendOverTime draws the spend per bucket as bars.
func printSpendOverTime(ew *cliout.Writer, s *Summary) {
	ew.Printf("\nspend over time (bucket %s):\n", s.Bucket)
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
}
