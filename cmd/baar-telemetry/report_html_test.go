package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/telemetrylog"
)

// element is an element of the report with its attributes and text.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parsePage parses the page as XML (the report is written to be
// well-formed) and returns its elements in document order.
func parsePage(t *testing.T, page []byte) []element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = true
	var (
		out   []element
		stack []int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the page is well-formed")
		switch tk := tok.(type) {
		case xml.StartElement:
			e := element{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(tk)
			}
		}
	}
	require.Empty(t, stack)
	return out
}

// withAttr returns the elements that have attribute name.
func withAttr(els []element, name string) []element {
	var out []element
	for _, e := range els {
		if _, ok := e.attrs[name]; ok {
			out = append(out, e)
		}
	}
	return out
}

func TestHTMLReport(t *testing.T) {
	const evilModel = `<script>alert("m")</script>`
	const evilKey = `"><img src=x onerror=alert(1)>`
	var recs []telemetrylog.Record
	wantModel := map[string]float64{}
	wantModelCalls := map[string]int{}
	wantTier := map[string]float64{}
	wantDecision := map[string]int{}
	wantKey := map[string]float64{}
	var total float64
	decisions := []string{"cheap", "cheap", "capable", "downgraded", "failover", "rejected", "escalated", "shadow-route"}
	for i := range 40 {
		d := decisions[i%len(decisions)]
		model := []string{"gpt-4o-mini", "gpt-4o", evilModel}[i%3]
		tier := []string{"cheap", "capable"}[i%2]
		cost := float64(i%7+1) * 0.00025
		r := telemetrylog.Record{V: 1, Time: t0.Add(time.Duration(i) * 3 * time.Minute), Decision: d, BudgetUSD: 0.5,
			Key: fmt.Sprintf("team-%02d", i%12)}
		if i%5 == 0 {
			r.Key = evilKey
		}
		if d == telemetrylog.DecisionRejected {
			r.Error = []string{"budget_exceeded", "value_gate"}[(i/8)%2]
			r.EstimatedUSD = 0.01
		} else {
			r.CostUSD = cost
			r.Attempts = []telemetrylog.Attempt{{Tier: tier, Model: model, CostUSD: cost}}
			wantModel[model] += cost
			wantModelCalls[model]++
			wantTier[tier] += cost
			total += cost
		}
		if i == 39 {
			r.BudgetUSD = 0.75 // the latest limit is drawn
		}
		if i >= 30 {
			r.AlertThresholds = []float64{0.5, 0.8, 1}
		}
		wantDecision[d]++
		wantKey[r.Key] += r.CostUSD
		recs = append(recs, r)
	}
	log := writeLog(t, "calls.jsonl", recs, "not a record\n")
	out := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--html", out, log}, nil, &stdout, &stderr))
	page, err := os.ReadFile(out)
	require.NoError(t, err)

	// Self-contained and escaped: no script, no external resource, no
	// event handler; user data appears only as text.
	assert.Equal(t, strings.Count(string(page), `xmlns="http://www.w3.org/2000/svg"`), strings.Count(string(page), "http"), "no URL but the SVG namespace")
	assert.NotContains(t, strings.ToLower(string(page)), "url(")
	assert.Contains(t, string(page), "&lt;script&gt;alert(&#34;m&#34;)&lt;/script&gt;")
	els := parsePage(t, page)
	for _, e := range els {
		assert.NotContains(t, []string{"script", "img", "iframe", "object", "embed", "link", "foreignObject"}, e.name)
		for a := range e.attrs {
			assert.False(t, strings.HasPrefix(strings.ToLower(a), "on") || a == "src" || a == "href", "attribute %s on %s", a, e.name)
		}
	}
	one := func(attr string) string {
		found := withAttr(els, attr)
		require.Len(t, found, 1, attr)
		return found[0].attrs[attr]
	}
	assert.Equal(t, "40", one("data-calls"))
	assert.Equal(t, "1", one("data-malformed"))
	assert.Equal(t, money(total), one("data-spend"))
	assert.Equal(t, money(0.75), one("data-limit"))
	assert.Equal(t, money(total), one("data-total"))

	// Spend over time: one point per call after the origin; the line ends
	// at the total.
	for _, e := range els {
		if e.name == "polyline" {
			assert.Len(t, strings.Fields(e.attrs["points"]), 41)
		}
	}
	var lines []string
	for _, e := range withAttr(els, "data-kind") {
		lines = append(lines, e.attrs["data-kind"]+" "+e.attrs["data-fraction"]+" "+e.attrs["data-usd"])
	}
	assert.Equal(t, []string{"limit 1 " + money(0.75), "alert 0.5 " + money(0.375), "alert 0.8 " + money(0.6)}, lines)

	// Spend by model and tier.
	gotModel := map[string]string{}
	for _, e := range withAttr(els, "data-model") {
		gotModel[e.attrs["data-model"]] = e.attrs["data-usd"]
		assert.Equal(t, strconv.Itoa(wantModelCalls[e.attrs["data-model"]]), e.attrs["data-attempts"])
	}
	require.Len(t, gotModel, len(wantModel))
	for m, usd := range wantModel {
		assert.Equal(t, money(usd), gotModel[m], m)
	}
	gotTier := map[string]string{}
	for _, e := range withAttr(els, "data-tier") {
		gotTier[e.attrs["data-tier"]] = e.attrs["data-usd"]
	}
	assert.Equal(t, map[string]string{"cheap": money(wantTier["cheap"]), "capable": money(wantTier["capable"])}, gotTier)

	// Decisions over time, unknown ones included.
	gotDecision := map[string]int{}
	for _, e := range withAttr(els, "data-decision") {
		n, err := strconv.Atoi(e.attrs["data-count"])
		require.NoError(t, err)
		gotDecision[e.attrs["data-decision"]] += n
	}
	assert.Equal(t, wantDecision, gotDecision)
	legend := map[string]int{}
	for _, e := range withAttr(els, "data-legend") {
		legend[e.attrs["data-legend"]], _ = strconv.Atoi(e.attrs["data-count"])
	}
	assert.Equal(t, wantDecision, legend)
	assert.Len(t, withAttr(els, "data-bucket"), 24, "117 minutes in 5-minute buckets")

	// Top keys: ten, by spend.
	keys := withAttr(els, "data-key")
	require.Len(t, keys, 10)
	prev := 1e9
	for _, e := range keys {
		spend := wantKey[e.attrs["data-key"]]
		assert.LessOrEqual(t, spend, prev)
		prev = spend
	}
	assert.Equal(t, evilKey, keys[0].attrs["data-key"], "the evil key spends most (every fifth call)")

	// Refusals.
	assert.Equal(t, strconv.Itoa(wantDecision["rejected"]), one("data-refused"))
	classes := map[string]bool{}
	for _, e := range withAttr(els, "data-class") {
		classes[e.attrs["data-class"]] = true
	}
	assert.Equal(t, map[string]bool{"budget_exceeded": true, "value_gate": true}, classes)
}

func TestHTMLReportEmpty(t *testing.T) {
	agg := newAggregator()
	agg.report = newHTMLReport()
	s := agg.summary(0)
	out := filepath.Join(t.TempDir(), "empty.html")
	require.NoError(t, writeHTMLReport(out, agg.report, &s, 0))
	page, err := os.ReadFile(out)
	require.NoError(t, err)
	els := parsePage(t, page)
	assert.Equal(t, "0", withAttr(els, "data-calls")[0].attrs["data-calls"])
	assert.Contains(t, string(page), "No calls.")
	assert.Contains(t, string(page), "The log records no budget keys.")
	assert.Contains(t, string(page), "No call was refused.")
}

func TestHTMLReportUnwritable(t *testing.T) {
	log := writeLog(t, "a.jsonl", []telemetrylog.Record{rec(0, "cheap", 0.001, att("m", 0.001, ""))}, "")
	err := run(context.Background(), []string{"--html", filepath.Join(t.TempDir(), "no", "such", "dir", "r.html"), log}, nil, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "writing the HTML report")
}

func TestLayoutBarsShortensLongNames(t *testing.T) {
	long := strings.Repeat("m", 40)
	rows := []barRow{{Name: long}, {Name: "short"}}
	layoutBars(rows, []float64{2, 1}, func(v float64) float64 { return v })
	assert.Equal(t, strings.Repeat("m", maxLabel-1)+"…", rows[0].Label)
	assert.Equal(t, "short", rows[1].Label)
	assert.Equal(t, chartW-barL-barR, rows[0].W)
	assert.Equal(t, (chartW-barL-barR)/2, rows[1].W)
	assert.Equal(t, 22.0, rows[1].Y)
}
