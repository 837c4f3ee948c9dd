package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"

	"github.com/baarcore/baar/internal/bench"
)

// writePlot writes one cost–quality panel per table to path as SVG: x is the
// cost as a share of always-capable, y the accuracy; each scorer's curve
// (routing solid, cascades and hybrids dashed, side by side on the same
// axes: a cascade's curve runs past 100% where it escalates everything,
// having paid every cheap call), random as the straight line, always-cheap /
// always-capable / the router's and the cascades' operating points as
// markers, the oracle dashed black.
func writePlot(path string, tables []*bench.Table) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := plotSVG(f, tables); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"}

func plotSVG(w io.Writer, tables []*bench.Table) error {
	total := panelW * float64(len(tables))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", total, panelH+marginB)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for ti, t := range tables {
		p := newPanel(&b, t, float64(ti)*panelW)
		p.axes()
		p.legend(p.curves())
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// The geometry of a dataset's panel.
const panelW, panelH, marginL, marginR, marginT, marginB = 520.0, 400.0, 60.0, 20.0, 40.0, 150.0

// panel draws one dataset's cost–quality curves into b.
type panel struct {
	b              *strings.Builder
	t              *bench.Table
	ox             float64 // the panel's left edge
	x0, x1, y0, y1 float64 // the plot area
	lo, hi, xmax   float64 // the accuracy and relative-cost ranges
}

// legendEntry is one line of a panel's legend.
type legendEntry struct{ name, color, dash string }

func newPanel(b *strings.Builder, t *bench.Table, ox float64) *panel {
	p := &panel{b: b, t: t, ox: ox, x0: ox + marginL, x1: ox + panelW - marginR, y0: marginT, y1: panelH - 40}
	p.lo = math.Min(t.Weak, t.Strong) - 0.02
	p.hi = math.Max(t.Strong, t.Oracle.Acc[len(t.Oracle.Acc)-1])
	for _, a := range t.Oracle.Acc {
		p.hi = math.Max(p.hi, a)
	}
	p.hi += 0.02
	p.xmax = 1.0
	for _, r := range t.Rows {
		if c := r.Curve(); c != nil {
			p.xmax = math.Max(p.xmax, p.rel(c.Cost[len(c.Cost)-1]))
		}
	}
	return p
}

// rel is a cost relative to always-capable's.
func (p *panel) rel(cost float64) float64 {
	if p.t.CapableCost == 0 {
		return 0
	}
	return cost / p.t.CapableCost
}

func (p *panel) sx(c float64) float64 { return p.x0 + (p.x1-p.x0)*c/p.xmax }
func (p *panel) sy(a float64) float64 { return p.y1 - (p.y1-p.y0)*(a-p.lo)/(p.hi-p.lo) }

// axes draws the title, the frame, the grid and the axis labels.
func (p *panel) axes() {
	b, t, x0, x1, y0, y1 := p.b, p.t, p.x0, p.x1, p.y0, p.y1
	fmt.Fprintf(b, `<text x="%.1f" y="20" font-size="14" font-weight="bold">%s (%s split, n=%d)</text>`+"\n", x0, html.EscapeString(t.Dataset), t.Split, t.N)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", x0, y0, x1-x0, y1-y0)
	for k := 0; k <= 5; k++ {
		c := float64(k) / 5
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%.0f%%</text>`+"\n",
			p.sx(c), y0, p.sx(c), y1, p.sx(c), y1+15, 100*c)
		a := p.lo + (p.hi-p.lo)*c
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%.1f%%</text>`+"\n",
			x0, p.sy(a), x1, p.sy(a), x0-4, p.sy(a)+4, 100*a)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">cost vs always-capable</text>`+"\n", (x0+x1)/2, y1+32)
	fmt.Fprintf(b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">accuracy</text>`+"\n", p.ox+14, (y0+y1)/2)
}

// curves draws random's line, every strategy's curve (cascades dashed) and
// the fixed points, and returns the legend.
func (p *panel) curves() []legendEntry {
	b, t := p.b, p.t
	// Random: the straight line between the two fixed points.
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2,3"/>`+"\n",
		p.sx(p.rel(t.CheapCost)), p.sy(t.Weak), p.sx(1), p.sy(t.Strong))
	legend := []legendEntry{{"random", "#999", "2,3"}}
	ci := 0
	for _, r := range t.Rows {
		c := r.Curve()
		if c == nil {
			continue
		}
		color, dash := palette[ci%len(palette)], ""
		switch {
		case r.Strategy == "oracle":
			color, dash = "#000", "6,4"
		case isCascade(r.Strategy):
			dash = "5,2"
			ci++
		default:
			ci++
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="%s" points="`, color, dash)
		step := max(1, len(c.X)/400)
		for i := 0; i < len(c.X); i += step {
			fmt.Fprintf(b, "%.1f,%.1f ", p.sx(p.rel(c.Cost[i])), p.sy(c.Acc[i]))
		}
		last := len(c.X) - 1
		fmt.Fprintf(b, "%.1f,%.1f\"/>\n", p.sx(p.rel(c.Cost[last])), p.sy(c.Acc[last]))
		legend = append(legend, legendEntry{r.Strategy, color, dash})
	}
	p.points()
	return legend
}

// points marks the fixed strategies: always-cheap, always-capable, the
// cascades at their threshold, the router at its calibrated shares.
func (p *panel) points() {
	b := p.b
	for _, r := range p.t.Rows {
		x, y := p.sx(r.CostVsCapable), p.sy(r.Accuracy)
		switch {
		case r.Strategy == "always-cheap":
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="5" fill="#000"/><text x="%.1f" y="%.1f">always-cheap</text>`+"\n", x, y, x+8, y+4)
		case r.Strategy == "always-capable":
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="#000"/><text x="%.1f" y="%.1f" text-anchor="end">always-capable</text>`+"\n", x-5, y-5, x-8, y-8)
		case isCascade(r.Strategy):
			fmt.Fprintf(b, `<path d="M%.1f,%.1f l5,8 h-10 z" fill="none" stroke="#000" stroke-width="1.2"><title>%s</title></path>`+"\n", x, y-5, html.EscapeString(r.Strategy))
		case strings.HasPrefix(r.Strategy, "router @"):
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="none" stroke="#d62728" stroke-width="1.5"><title>%s</title></circle>`+"\n", x, y, html.EscapeString(r.Strategy))
		}
	}
}

// legend draws the legend under the plot.
func (p *panel) legend(legend []legendEntry) {
	b, x0 := p.b, p.x0
	for i, l := range legend {
		ly := p.y1 + 50 + float64(i)*15
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%.1f" y="%.1f">%s</text>`+"\n",
			x0, ly, x0+25, ly, l.color, l.dash, x0+30, ly+4, html.EscapeString(l.name))
	}
	ly := p.y1 + 50 + float64(len(legend))*15
	fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="none" stroke="#d62728" stroke-width="1.5"/><text x="%.1f" y="%.1f">router at train-calibrated shares 10/20/30/50%%; triangle: a cascade at its escalation threshold</text>`+"\n", x0+12, ly, x0+30, ly+4)
}

// isCascade reports whether a row is a cascade's or a hybrid's.
func isCascade(strategy string) bool {
	return strings.HasPrefix(strategy, "cascade, ") || strings.HasPrefix(strategy, "hybrid, ")
}
