package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/internal/telemetrylog"
	"github.com/baarcore/baar/scoring"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func rec(at time.Duration, decision string, cost float64, attempts ...telemetrylog.Attempt) telemetrylog.Record {
	r := telemetrylog.Record{V: 1, Time: t0.Add(at), Decision: decision, Policy: "threshold", CostUSD: cost, EstimatedUSD: 2 * cost,
		BudgetUSD: 1, SpentAfterUSD: float64(at) / float64(time.Hour), RemainingUSD: 0.5, Attempts: attempts}
	if decision == telemetrylog.DecisionRejected {
		r.Error = "budget_exceeded"
		r.EstimatedUSD = 0.01
	}
	for _, a := range attempts {
		r.Tokens.Input += a.Tokens.Input
		r.Tokens.Output += a.Tokens.Output
	}
	return r
}

func att(model string, cost float64, errClass string) telemetrylog.Attempt {
	a := telemetrylog.Attempt{Model: model, CostUSD: cost, Error: errClass, UsageSource: "provider"}
	if errClass == "" {
		a.Tokens = telemetrylog.Tokens{Input: 100, Output: 10}
	}
	return a
}

func writeLog(t *testing.T, name string, recs []telemetrylog.Record, extra string) string {
	t.Helper()
	var b []byte
	for i := range recs {
		var err error
		b, err = telemetrylog.Append(b, &recs[i])
		require.NoError(t, err)
	}
	b = append(b, extra...)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func fixture(t *testing.T) (string, string) {
	a := writeLog(t, "a.jsonl", []telemetrylog.Record{
		rec(0, "cheap", 0.001, att("mini", 0.001, "")),
		rec(time.Minute, "capable", 0.01, att("big", 0.01, "")),
		rec(2*time.Minute, "failover", 0.001, att("big", 0, "rate_limit"), att("mini", 0.001, "")),
		rec(3*time.Minute, "downgraded", 0.001, att("mini", 0.001, "")),
	}, "garbage line\n{\"v\":1,\"time\":\"2026-11-25T10:00:00Z\"}\n")
	b := writeLog(t, "b.jsonl", []telemetrylog.Record{
		rec(70*time.Minute, "cheap", 0.002, att("mini", 0.002, "")),
		rec(75*time.Minute, "rejected", 0),
	}, `{"v":1,"time":"2026-11-25T11:20:00Z","decision":"cheap","cost_usd":`) // truncated last line
	return a, b
}

func TestSummaryJSON(t *testing.T) {
	a, b := fixture(t)
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{a, "--json", b}, nil, &out, &errOut))
	var s Summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))

	assert.Equal(t, 2, s.Files)
	assert.Equal(t, 6, s.Records)
	assert.Equal(t, 3, s.Malformed)
	assert.Equal(t, 6, s.Calls)
	assert.Equal(t, map[string]int{"cheap": 2, "capable": 1, "failover": 1, "downgraded": 1, "rejected": 1}, s.Decisions)
	assert.Equal(t, map[string]int{"threshold": 6}, s.Policies)
	assert.InDelta(t, 1.0/6, s.RejectRate, 1e-12)
	assert.InDelta(t, 1.0/6, s.DowngradeRate, 1e-12)
	assert.InDelta(t, 1.0/6, s.FailoverRate, 1e-12)
	assert.InDelta(t, 0.015, s.SpendUSD, 1e-12)
	assert.Equal(t, t0, s.First)
	assert.Equal(t, t0.Add(75*time.Minute), s.Last)
	require.NotNil(t, s.Budget)
	assert.InDelta(t, 1.25, s.Budget.SpentUSD, 1e-12, "the latest record's")

	require.Len(t, s.Models, 2)
	assert.Equal(t, "big", s.Models[0].Model, "sorted by spend")
	assert.Equal(t, 2, s.Models[0].Calls)
	assert.Equal(t, 1, s.Models[0].Errors)
	assert.InDelta(t, 0.01, s.Models[0].SpendUSD, 1e-12)
	assert.InDelta(t, 0.01/0.015, s.Models[0].Share, 1e-12)
	assert.Equal(t, "mini", s.Models[1].Model)
	assert.Equal(t, 4, s.Models[1].Calls)
	assert.InDelta(t, 0.005, s.Models[1].SpendUSD, 1e-12)
	assert.Equal(t, map[string]int{"rate_limit": 1, "budget_exceeded": 1}, s.Errors)

	// 75 minutes: 5-minute buckets; only the non-empty ones.
	assert.Equal(t, "5m0s", s.Bucket)
	require.Len(t, s.Spend, 3)
	assert.Equal(t, BucketStat{Start: t0, Calls: 4, SpendUSD: 0.013}, roundBucket(s.Spend[0]))
	assert.Equal(t, BucketStat{Start: t0.Add(70 * time.Minute), Calls: 1, SpendUSD: 0.002}, roundBucket(s.Spend[1]))
	assert.Equal(t, BucketStat{Start: t0.Add(75 * time.Minute), Calls: 1, Rejected: 1}, roundBucket(s.Spend[2]))
}

func roundBucket(b BucketStat) BucketStat {
	b.SpendUSD = float64(int64(b.SpendUSD*1e9+0.5)) / 1e9
	return b
}

func TestSummaryText(t *testing.T) {
	a, b := fixture(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--bucket", "1h", a, b}, nil, &out, &bytes.Buffer{}))
	text := out.String()
	for _, want := range []string{
		"2 file(s), 6 record(s), 3 malformed line(s) skipped",
		"reject rate 16.7%   downgrade rate 16.7%   failover rate 16.7%",
		"total spend      $0.015000",
		"budget (latest)  spent $1.250000 of $1.000000",
		"errors: budget_exceeded 1, rate_limit 1",
		"policies: threshold 6",
		"spend over time (bucket 1h0m0s):",
		"2026-11-25 10:00Z",
		"2026-11-25 11:00Z",
	} {
		assert.Contains(t, text, want)
	}
	// The model table is sorted by spend.
	assert.Less(t, strings.Index(text, "\nbig "), strings.Index(text, "\nmini "))
}

func TestStdinAndErrors(t *testing.T) {
	a, _ := fixture(t)
	data, err := os.ReadFile(a)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--json", "-"}, bytes.NewReader(data), &out, &bytes.Buffer{}))
	var s Summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))
	assert.Equal(t, 4, s.Calls)

	var errOut bytes.Buffer
	err = run(context.Background(), nil, nil, &bytes.Buffer{}, &errOut)
	assert.ErrorAs(t, err, new(*cli.UsageError))
	assert.Contains(t, errOut.String(), "usage: baar-telemetry")

	err = run(context.Background(), []string{"--bucket", "-1m", a}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	assert.ErrorAs(t, err, new(*cli.UsageError))

	err = run(context.Background(), []string{filepath.Join(t.TempDir(), "missing.jsonl")}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	require.Error(t, err)
	assert.NotErrorAs(t, err, new(*cli.UsageError))

	// Records that are all rejections are calls with no spend, not an error.
	out.Reset()
	refusals := writeLog(t, "refusals.jsonl", []telemetrylog.Record{rec(0, "rejected", 0)}, "")
	require.NoError(t, run(context.Background(), []string{refusals}, nil, &out, &bytes.Buffer{}))
	assert.Contains(t, out.String(), "1 record(s)")
}

// TestExitStatus: 0 for a summary and for --help, 2 for a bad command line,
// 1 when no line of the input is a valid record (an empty file, a file of
// garbage: the wrong file, or a log that was never written).
func TestExitStatus(t *testing.T) {
	a, _ := fixture(t)
	empty := writeLog(t, "empty.jsonl", nil, "")
	garbage := writeLog(t, "garbage.jsonl", nil, "not json\n{\"v\":1}\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{a}, 0, ""},
		{[]string{"--help"}, 0, "usage: baar-telemetry"},
		{[]string{"-h"}, 0, "usage: baar-telemetry"},
		{[]string{"--bucket", "-1m", a}, 2, "baar-telemetry: --bucket -1m0s: want ≥ 0s\n"},
		{[]string{"--no-such-flag", a}, 2, "baar-telemetry: flag provided but not defined: -no-such-flag\n"},
		{[]string{empty}, 1, "baar-telemetry: no valid telemetry record in 1 file(s) (0 malformed line(s))\n"},
		{[]string{garbage, empty}, 1, "baar-telemetry: no valid telemetry record in 2 file(s) (2 malformed line(s))\n"},
	} {
		var out, errOut bytes.Buffer
		code := cli.Exit("baar-telemetry", run(context.Background(), c.args, nil, &out, &errOut), &errOut)
		assert.Equal(t, c.code, code, "%v: %s", c.args, errOut.String())
		assert.Contains(t, errOut.String(), c.want, c.args)
		assert.NotContains(t, errOut.String(), "help requested", c.args)
		if c.code != 0 {
			assert.Empty(t, out.String(), c.args)
		}
	}
}

// TestReadsWhatTheRouterWrites summarizes a log written by a real Router.
func TestReadsWhatTheRouterWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "router.jsonl")
	n := 0
	r, err := baar.New(
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o-mini"}, Name: "gpt-4o-mini"},
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o"},
		baar.WithBudget(0.0005), baar.WithMaxOutputTokens(200), baar.WithTelemetryLogFile(path),
		baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) {
			n++
			return float64(n%2) * 0.9, nil // alternate cheap and capable
		})))
	require.NoError(t, err)
	calls, refused := 0, 0
	for range 60 {
		_, err := r.GenerateContent(context.Background(), []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Explain the budget.")})
		calls++
		if err != nil {
			refused++
		}
	}
	require.Positive(t, refused, "the budget ran out")

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--json", path}, nil, &out, &bytes.Buffer{}))
	var s Summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))
	assert.Equal(t, calls, s.Calls)
	assert.Zero(t, s.Malformed)
	assert.Equal(t, refused, s.Decisions["rejected"])
	assert.InDelta(t, r.Spent(), s.SpendUSD, 1e-12)
	require.NotNil(t, s.Budget)
	assert.InDelta(t, r.Spent(), s.Budget.SpentUSD, 1e-12)
	assert.NotEmpty(t, s.Policies, "the routing policies are logged")
	var modelSpend float64
	for _, m := range s.Models {
		modelSpend += m.SpendUSD
	}
	assert.InDelta(t, s.SpendUSD, modelSpend, 1e-12)
}

// The summary lists the alerts the calls crossed, in time order.
func TestSummaryAlerts(t *testing.T) {
	a := newAggregator()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a.add(telemetrylog.Record{Time: t0.Add(time.Minute), Decision: "cheap",
		Alerts: []telemetrylog.Alert{{Threshold: 0.8, Key: "team-a", SpentUSD: 0.8, LimitUSD: 1}}})
	a.add(telemetrylog.Record{Time: t0, Decision: "cheap", Alerts: []telemetrylog.Alert{{Threshold: 0.5, SpentUSD: 5, LimitUSD: 10}}})
	a.add(telemetrylog.Record{Time: t0, Decision: "cheap"})
	s := a.summary(0)
	require.Len(t, s.Alerts, 2)
	assert.Equal(t, 0.5, s.Alerts[0].Threshold, "in time order")
	var out bytes.Buffer
	require.NoError(t, printText(&out, &s))
	assert.Contains(t, out.String(), "budget alerts:")
	assert.Contains(t, out.String(), `key "team-a"  80.0%  spent $0.800000 of $1.000000`)
	assert.Contains(t, out.String(), "global        50.0%  spent $5.000000 of $10.000000")
}

// A cascade's log: the summary reports how many calls went through it and
// its escalation rate.
func TestCascadeEscalationRate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cascade.jsonl")
	n := 0
	doubt := scoring.VerifierFunc(func(context.Context, scoring.Request, []scoring.Answer) (float64, error) {
		n++
		if n%4 == 0 {
			return 0.9, nil // every fourth cheap answer is doubted
		}
		return 0.1, nil
	})
	r, err := baar.New(
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o-mini"}, Name: "gpt-4o-mini"},
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o"},
		baar.WithBudget(1), baar.WithTelemetryLogFile(path), baar.WithCascade(doubt))
	require.NoError(t, err)
	for range 20 {
		_, err := r.GenerateContent(context.Background(), []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "What is 2+2?")})
		require.NoError(t, err)
	}
	require.NoError(t, r.Close())
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--json", path}, nil, &out, &bytes.Buffer{}))
	var s Summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))
	require.NotNil(t, s.Cascade)
	assert.Equal(t, 20, s.Cascade.Calls)
	assert.Equal(t, 5, s.Cascade.Escalated)
	assert.InDelta(t, 0.25, s.Cascade.EscalationRate, 1e-12)
	assert.Equal(t, map[string]int{"custom": 20}, s.Cascade.Verifiers)
	assert.Equal(t, 5, s.Decisions["escalated"])

	out.Reset()
	require.NoError(t, run(context.Background(), []string{path}, nil, &out, &bytes.Buffer{}))
	assert.Contains(t, out.String(), "cascade: 20 calls (custom 20), 5 escalated: escalation rate 25.0%")
}

// The Router's alert thresholds reach the HTML report's spend chart.
func TestHTMLReportDrawsTheRoutersAlertThresholds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "router.jsonl")
	r, err := baar.New(
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o-mini"}, Name: "gpt-4o-mini"},
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o"},
		baar.WithBudget(0.01), baar.WithTelemetryLogFile(path),
		baar.WithBudgetAlerts([]float64{0.5, 0.8}, func(context.Context, baar.BudgetAlert) {}))
	require.NoError(t, err)
	for range 3 {
		_, err := r.GenerateContent(context.Background(), []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "hello")})
		require.NoError(t, err)
	}
	require.NoError(t, r.Close())
	html := filepath.Join(dir, "report.html")
	require.NoError(t, run(context.Background(), []string{"--html", html, path}, nil, &bytes.Buffer{}, &bytes.Buffer{}))
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Contains(t, string(page), "alert 50%")
	assert.Contains(t, string(page), "alert 80%")
}
