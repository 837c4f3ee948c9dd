package main

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baarcore/baar/internal/telemetrylog"
)

// htmlReport collects what the HTML report draws, record by record, in any
// order. It keeps one small entry per record for the charts over time.
type htmlReport struct {
	points    []reportPoint
	tiers     map[string]float64 // attempt spend by tier
	keys      map[string]*keyStat
	refusals  map[string]*refusalStat
	alerts    []float64 // of the latest record that carries them
	alertsAt  time.Time
	limitUSD  float64 // of the latest record
	limitAt   time.Time
	decisions map[string]bool
}

type reportPoint struct {
	t        time.Time
	decision string
	cost     float64
}

type keyStat struct {
	Key      string
	Calls    int
	Refused  int
	SpendUSD float64
}

type refusalStat struct {
	Class        string
	Calls        int
	EstimatedUSD float64
}

func newHTMLReport() *htmlReport {
	return &htmlReport{tiers: map[string]float64{}, keys: map[string]*keyStat{},
		refusals: map[string]*refusalStat{}, decisions: map[string]bool{}}
}

func (h *htmlReport) add(r telemetrylog.Record) {
	h.points = append(h.points, reportPoint{t: r.Time, decision: r.Decision, cost: r.CostUSD})
	h.decisions[r.Decision] = true
	for _, a := range r.Attempts {
		tier := a.Tier
		if tier == "" {
			tier = "(none)"
		}
		h.tiers[tier] += a.CostUSD
	}
	if r.Key != "" {
		k := h.keys[r.Key]
		if k == nil {
			k = &keyStat{Key: r.Key}
			h.keys[r.Key] = k
		}
		k.Calls++
		k.SpendUSD += r.CostUSD
		if r.Decision == telemetrylog.DecisionRejected {
			k.Refused++
		}
	}
	if r.Decision == telemetrylog.DecisionRejected {
		class := r.Error
		if class == "" {
			class = "(unclassified)"
		}
		f := h.refusals[class]
		if f == nil {
			f = &refusalStat{Class: class}
			h.refusals[class] = f
		}
		f.Calls++
		f.EstimatedUSD += r.EstimatedUSD
	}
	if !r.Time.Before(h.limitAt) {
		h.limitAt, h.limitUSD = r.Time, r.BudgetUSD
	}
	if len(r.AlertThresholds) > 0 && !r.Time.Before(h.alertsAt) {
		h.alertsAt, h.alerts = r.Time, r.AlertThresholds
	}
}

// writeHTMLReport writes the report of h and s to path: one self-contained
// page (inline CSS and SVG, no script, no network).
func writeHTMLReport(path string, h *htmlReport, s *Summary, bucket time.Duration) error {
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, h.page(s, bucket)); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	return nil
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 720.0, 220.0
	padL, padR     = 70.0, 110.0
	padT, padB     = 12.0, 28.0
	// Bar charts: room for the names on the left, the figures on the right.
	barL, barR = 210.0, 150.0
	// maxLabel is the longest name drawn in full (runes); the bar's title
	// holds the whole name.
	maxLabel = 32
)

type reportPage struct {
	BarL                             float64
	Files, Records, Malformed, Calls int
	First, Last                      string
	SpendUSD, EstimatedUSD           string
	LimitUSD                         string
	W, H                             float64

	Spend     spendChart
	Models    []barRow
	Tiers     []barRow
	Decisions decisionChart
	Keys      []keyStat
	Refusals  []refusalStat
	Refused   int
}

type spendChart struct {
	Points         string // polyline points
	EndX, EndY     float64
	TotalUSD       string
	MaxUSD         string
	FirstT, LastT  string
	Lines          []hLine
	X0, X1, Y0, Y1 float64
}

// hLine is a horizontal reference line: the budget limit or an alert.
type hLine struct {
	Y        float64
	Label    string
	USD      string
	Kind     string // "limit" or "alert"
	Fraction string
}

type barRow struct {
	Name     string
	Label    string // Name, shortened to maxLabel runes
	USD      string
	Share    string
	Y, W     float64
	Calls    int
	HasCalls bool
}

type decisionChart struct {
	Buckets []decisionBucket
	Legend  []legendItem
	Bucket  string
	Max     int
	X0, Y1  float64
	BarW    float64
}

type decisionBucket struct {
	Start string
	X     float64
	Rects []decisionRect
}

type decisionRect struct {
	Decision string
	Count    int
	Y, H     float64
	Color    string
}

type legendItem struct {
	Decision string
	Color    string
	Count    int
	Y        float64
}

// decisionColors are the colors of the known decisions; others take
// otherColors in turn.
var (
	decisionColors = map[string]string{
		telemetrylog.DecisionCheap: "#4e79a7", telemetrylog.DecisionCapable: "#f28e2b",
		telemetrylog.DecisionDowngraded: "#edc948", "escalated": "#b07aa1",
		telemetrylog.DecisionFailover: "#e15759", telemetrylog.DecisionRejected: "#59323c",
	}
	decisionOrder = []string{telemetrylog.DecisionCheap, telemetrylog.DecisionCapable, telemetrylog.DecisionDowngraded,
		"escalated", telemetrylog.DecisionFailover, telemetrylog.DecisionRejected}
	otherColors = []string{"#76b7b2", "#59a14f", "#ff9da7", "#9c755f", "#bab0ac"}
)

func money(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 6, 64) }

func (h *htmlReport) page(s *Summary, bucket time.Duration) reportPage {
	p := reportPage{Files: s.Files, Records: s.Records, Malformed: s.Malformed, Calls: s.Calls,
		SpendUSD: money(s.SpendUSD), EstimatedUSD: money(s.EstimatedUSD), LimitUSD: money(h.limitUSD),
		W: chartW, H: chartH, BarL: barL}
	if s.Calls > 0 {
		p.First, p.Last = s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339)
	}
	slices.SortStableFunc(h.points, func(a, b reportPoint) int { return a.t.Compare(b.t) })
	p.Spend = h.spendChart(s)

	var modelTotal float64
	for _, m := range s.Models {
		modelTotal += m.SpendUSD
	}
	for _, m := range s.Models {
		p.Models = append(p.Models, barRow{Name: m.Model, USD: money(m.SpendUSD), Calls: m.Calls, HasCalls: true,
			Share: share(m.SpendUSD, modelTotal)})
	}
	layoutBars(p.Models, s.Models, func(m ModelStat) float64 { return m.SpendUSD })
	tiers := make([]string, 0, len(h.tiers))
	for t := range h.tiers {
		tiers = append(tiers, t)
	}
	slices.SortFunc(tiers, func(a, b string) int {
		return cmp.Or(cmp.Compare(h.tiers[b], h.tiers[a]), strings.Compare(a, b))
	})
	var tierTotal float64
	for _, t := range tiers {
		tierTotal += h.tiers[t]
	}
	for _, t := range tiers {
		p.Tiers = append(p.Tiers, barRow{Name: t, USD: money(h.tiers[t]), Share: share(h.tiers[t], tierTotal)})
	}
	layoutBars(p.Tiers, tiers, func(t string) float64 { return h.tiers[t] })

	p.Decisions = h.decisionChart(s, bucket)

	for _, k := range h.keys {
		p.Keys = append(p.Keys, *k)
	}
	slices.SortFunc(p.Keys, func(a, b keyStat) int {
		return cmp.Or(cmp.Compare(b.SpendUSD, a.SpendUSD), cmp.Compare(b.Calls, a.Calls), strings.Compare(a.Key, b.Key))
	})
	p.Keys = p.Keys[:min(len(p.Keys), 10)]
	for _, f := range h.refusals {
		p.Refusals = append(p.Refusals, *f)
		p.Refused += f.Calls
	}
	slices.SortFunc(p.Refusals, func(a, b refusalStat) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), strings.Compare(a.Class, b.Class))
	})
	return p
}

func share(v, total float64) string {
	if total <= 0 {
		return "–"
	}
	return strconv.FormatFloat(100*v/total, 'f', 1, 64) + "%"
}

// layoutBars sets the position and length of horizontal bars whose values
// are value(items[i]).
func layoutBars[T any](rows []barRow, items []T, value func(T) float64) {
	var peak float64
	for _, it := range items {
		peak = max(peak, value(it))
	}
	for i := range rows {
		rows[i].Y = float64(i) * 22
		rows[i].Label = rows[i].Name
		if r := []rune(rows[i].Name); len(r) > maxLabel {
			rows[i].Label = string(r[:maxLabel-1]) + "…"
		}
		if peak > 0 {
			rows[i].W = round2((chartW - barL - barR) * value(items[i]) / peak)
		}
	}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// spendChart draws the cumulative spend of the log over time against the
// latest budget limit and its alert thresholds.
func (h *htmlReport) spendChart(s *Summary) spendChart {
	c := spendChart{X0: padL, X1: chartW - padR, Y0: chartH - padB, Y1: padT, TotalUSD: money(s.SpendUSD)}
	if len(h.points) == 0 {
		return c
	}
	top := s.SpendUSD
	top = max(top, h.limitUSD)
	if top <= 0 {
		top = 1e-6
	}
	top *= 1.05
	c.MaxUSD = money(top)
	first, last := h.points[0].t, h.points[len(h.points)-1].t
	c.FirstT, c.LastT = first.UTC().Format("2006-01-02 15:04:05Z"), last.UTC().Format("2006-01-02 15:04:05Z")
	x := func(t time.Time) float64 {
		if !last.After(first) {
			return (c.X0 + c.X1) / 2
		}
		return round2(c.X0 + (c.X1-c.X0)*float64(t.Sub(first))/float64(last.Sub(first)))
	}
	y := func(usd float64) float64 { return round2(c.Y0 - (c.Y0-c.Y1)*usd/top) }
	var pts strings.Builder
	fmt.Fprintf(&pts, "%g,%g", x(first), c.Y0)
	var cum float64
	for _, p := range h.points {
		cum += p.cost
		// A step: the spend rises at the call's time.
		fmt.Fprintf(&pts, " %g,%g", x(p.t), y(cum))
	}
	c.Points = pts.String()
	c.EndX, c.EndY = x(last), y(cum)
	if h.limitUSD > 0 {
		c.Lines = append(c.Lines, hLine{Y: y(h.limitUSD), Label: "limit " + money(h.limitUSD), USD: money(h.limitUSD), Kind: "limit", Fraction: "1"})
		for _, a := range h.alerts {
			if a >= 1 {
				continue
			}
			usd := a * h.limitUSD
			c.Lines = append(c.Lines, hLine{Y: y(usd), Label: "alert " + strconv.FormatFloat(100*a, 'f', -1, 64) + "%", USD: money(usd), Kind: "alert",
				Fraction: strconv.FormatFloat(a, 'f', -1, 64)})
		}
	}
	return c
}

// decisionChart draws the decisions per time bucket as stacked bars.
func (h *htmlReport) decisionChart(s *Summary, bucket time.Duration) decisionChart {
	c := decisionChart{X0: padL, Y1: padT}
	if len(h.points) == 0 {
		return c
	}
	if bucket <= 0 {
		bucket = autoBucket(s.Last.Sub(s.First))
	}
	c.Bucket = bucket.String()
	order := slices.Clone(decisionOrder)
	var others []string
	for d := range h.decisions {
		if !slices.Contains(order, d) {
			others = append(others, d)
		}
	}
	slices.Sort(others)
	colors := map[string]string{}
	for d, col := range decisionColors {
		colors[d] = col
	}
	for i, d := range others {
		colors[d] = otherColors[i%len(otherColors)]
	}
	order = append(order, others...)

	counts := map[time.Time]map[string]int{}
	var starts []time.Time
	for _, p := range h.points {
		st := p.t.UTC().Truncate(bucket)
		if counts[st] == nil {
			counts[st] = map[string]int{}
			starts = append(starts, st)
		}
		counts[st][p.decision]++
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for _, st := range starts {
		n := 0
		for _, v := range counts[st] {
			n += v
		}
		c.Max = max(c.Max, n)
	}
	plotW := chartW - padL - padR
	step := plotW / float64(len(starts))
	c.BarW = round2(max(1, step*0.8))
	y0 := chartH - padB
	for i, st := range starts {
		b := decisionBucket{Start: st.Format("2006-01-02 15:04Z"), X: round2(padL + float64(i)*step)}
		base := y0
		for _, d := range order {
			n := counts[st][d]
			if n == 0 {
				continue
			}
			hgt := round2((y0 - padT) * float64(n) / float64(c.Max))
			base -= hgt
			b.Rects = append(b.Rects, decisionRect{Decision: d, Count: n, Y: round2(base), H: hgt, Color: colors[d]})
		}
		c.Buckets = append(c.Buckets, b)
	}
	for _, d := range order {
		if !h.decisions[d] {
			continue
		}
		c.Legend = append(c.Legend, legendItem{Decision: d, Color: colors[d], Count: s.Decisions[d], Y: padT + float64(len(c.Legend))*18})
	}
	return c
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"barsHeight": func(n int) float64 { return float64(n)*22 + 4 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>baar telemetry report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; margin: 0.5em 0; } svg text { font: 11px system-ui, sans-serif; fill: #444; }
.axis { stroke: #999; } .limit { stroke: #c00; stroke-width: 1.5; } .alert { stroke: #e90; stroke-dasharray: 5 4; }
.spend { fill: none; stroke: #4e79a7; stroke-width: 2; } .bar { fill: #4e79a7; }
p.none { color: #777; }
</style>
</head>
<body>
<h1>baar telemetry report</h1>
<table id="totals">
<tr><th>files</th><td class="n" data-files="{{.Files}}">{{.Files}}</td></tr>
<tr><th>records</th><td class="n" data-records="{{.Records}}">{{.Records}}</td></tr>
<tr><th>malformed lines skipped</th><td class="n" data-malformed="{{.Malformed}}">{{.Malformed}}</td></tr>
<tr><th>calls</th><td class="n" data-calls="{{.Calls}}">{{.Calls}}</td></tr>
<tr><th>period</th><td>{{.First}} … {{.Last}}</td></tr>
<tr><th>total spend</th><td class="n" data-spend="{{.SpendUSD}}">{{.SpendUSD}}</td></tr>
<tr><th>estimated worst case</th><td class="n">{{.EstimatedUSD}}</td></tr>
<tr><th>budget limit (latest)</th><td class="n" data-limit="{{.LimitUSD}}">{{.LimitUSD}}</td></tr>
</table>

<h2>Spend over time</h2>
{{with .Spend}}{{if .Points}}
<svg id="spend" xmlns="http://www.w3.org/2000/svg" width="{{$.W}}" height="{{$.H}}" viewBox="0 0 {{$.W}} {{$.H}}" role="img" aria-label="cumulative spend against the budget limit">
<line class="axis" x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X1}}" y2="{{.Y0}}"/>
<line class="axis" x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X0}}" y2="{{.Y1}}"/>
<text x="{{.X0}}" y="{{$.H}}" dy="-8">{{.FirstT}}</text>
<text x="{{.X1}}" y="{{$.H}}" dy="-8" text-anchor="end">{{.LastT}}</text>
<text x="{{.X0}}" y="{{.Y0}}" dx="-4" text-anchor="end">$0</text>
<text x="{{.X0}}" y="{{.Y1}}" dx="-4" dy="8" text-anchor="end">{{.MaxUSD}}</text>
{{range .Lines}}<line class="{{.Kind}}" data-kind="{{.Kind}}" data-usd="{{.USD}}" data-fraction="{{.Fraction}}" x1="{{$.Spend.X0}}" y1="{{.Y}}" x2="{{$.Spend.X1}}" y2="{{.Y}}"><title>{{.Label}}</title></line>
<text x="{{$.Spend.X1}}" y="{{.Y}}" dx="4" dy="4">{{.Label}}</text>
{{end}}<polyline class="spend" data-total="{{.TotalUSD}}" points="{{.Points}}"><title>cumulative spend {{.TotalUSD}}</title></polyline>
<text x="{{.EndX}}" y="{{.EndY}}" dx="4" dy="-4">{{.TotalUSD}}</text>
</svg>
{{else}}<p class="none">No calls.</p>{{end}}{{end}}

<h2>Spend by model</h2>
{{if .Models}}<svg id="models" xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{len .Models | barsHeight}}">
{{range .Models}}<g transform="translate(0,{{.Y}})"><text x="{{$.BarL}}" y="14" dx="-4" text-anchor="end">{{.Label}}</text>
<rect class="bar" data-model="{{.Name}}" data-usd="{{.USD}}" data-attempts="{{.Calls}}" x="{{$.BarL}}" y="2" width="{{.W}}" height="16"><title>{{.Name}}: {{.USD}}, {{.Calls}} attempts</title></rect>
<text x="{{$.BarL}}" dx="{{.W}}" y="14">  {{.USD}} ({{.Share}})</text></g>
{{end}}</svg>{{else}}<p class="none">No provider attempts.</p>{{end}}

<h2>Spend by tier</h2>
{{if .Tiers}}<svg id="tiers" xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{len .Tiers | barsHeight}}">
{{range .Tiers}}<g transform="translate(0,{{.Y}})"><text x="{{$.BarL}}" y="14" dx="-4" text-anchor="end">{{.Label}}</text>
<rect class="bar" data-tier="{{.Name}}" data-usd="{{.USD}}" x="{{$.BarL}}" y="2" width="{{.W}}" height="16"><title>{{.Name}}: {{.USD}}</title></rect>
<text x="{{$.BarL}}" dx="{{.W}}" y="14">  {{.USD}} ({{.Share}})</text></g>
{{end}}</svg>{{else}}<p class="none">No provider attempts.</p>{{end}}

<h2>Decisions over time</h2>
{{with .Decisions}}{{if .Buckets}}<p>Calls per {{.Bucket}} bucket (at most {{.Max}} in one).</p>
<svg id="decisions" xmlns="http://www.w3.org/2000/svg" width="{{$.W}}" height="{{$.H}}">
{{range .Buckets}}<g data-bucket="{{.Start}}">{{$x := .X}}{{$start := .Start}}{{range .Rects}}<rect data-decision="{{.Decision}}" data-count="{{.Count}}" x="{{$x}}" y="{{.Y}}" width="{{$.Decisions.BarW}}" height="{{.H}}" fill="{{.Color}}"><title>{{$start}}: {{.Count}} {{.Decision}}</title></rect>{{end}}</g>
{{end}}{{range .Legend}}<g transform="translate({{$.Spend.X1}},{{.Y}})"><rect x="8" width="10" height="10" fill="{{.Color}}"/><text x="22" y="9" data-legend="{{.Decision}}" data-count="{{.Count}}">{{.Decision}} {{.Count}}</text></g>
{{end}}</svg>{{else}}<p class="none">No calls.</p>{{end}}{{end}}

<h2>Top budget keys by spend</h2>
{{if .Keys}}<table id="keys"><tr><th>key</th><th class="n">calls</th><th class="n">refused</th><th class="n">spend</th></tr>
{{range .Keys}}<tr data-key="{{.Key}}"><td>{{.Key}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Refused}}</td><td class="n">{{printf "$%.6f" .SpendUSD}}</td></tr>
{{end}}</table>{{else}}<p class="none">The log records no budget keys.</p>{{end}}

<h2>Refusals</h2>
{{if .Refusals}}<p data-refused="{{.Refused}}">{{.Refused}} of {{.Calls}} calls refused.</p>
<table id="refusals"><tr><th>error class</th><th class="n">calls</th><th class="n">refused estimate</th></tr>
{{range .Refusals}}<tr data-class="{{.Class}}"><td>{{.Class}}</td><td class="n">{{.Calls}}</td><td class="n">{{printf "$%.6f" .EstimatedUSD}}</td></tr>
{{end}}</table>{{else}}<p class="none" data-refused="0">No call was refused.</p>{{end}}
</body>
</html>
`))
