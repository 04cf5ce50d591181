package evals

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// The plots are drawn here as inline SVG so that report.html is one file
// that opens anywhere, offline, with no script.

const (
	svgFont  = `font-family="system-ui, sans-serif"`
	barColor = "#3b6ea5"
)

func esc(s string) string { return html.EscapeString(s) }

// short trims a label to n runes for an axis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// heatColor runs from white (0) to dark blue (1).
func heatColor(f float64) string {
	f = math.Max(0, math.Min(1, f))
	c := func(from, to float64) int { return int(from + (to-from)*f) }
	return fmt.Sprintf("rgb(%d,%d,%d)", c(255, 16), c(255, 63), c(255, 125))
}

// SVGConfusion draws a confusion matrix as a heatmap, each row shaded by
// its share of that gold class so that small classes stay visible.
func SVGConfusion(m *Matrix) template.HTML {
	if m == nil || len(m.Labels) == 0 {
		return ""
	}
	n := len(m.Labels)
	cell := 22
	if n > 16 {
		cell = 16
	}
	left, top := 170, 150
	w, h := left+max(n*cell+20, 330), top+n*cell+30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot confusion" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="11" role="img"><title>Confusion matrix</title>`, w, h, w, h, svgFont)
	for i, l := range m.Labels {
		y := top + i*cell + cell/2 + 4
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y, esc(short(l, 26)))
		x := left + i*cell + cell/2 + 4
		fmt.Fprintf(&b, `<text transform="translate(%d,%d) rotate(-60)" text-anchor="start">%s</text>`, x, top-6, esc(short(l, 26)))
	}
	for i, row := range m.Counts {
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			f := 0.0
			if total > 0 {
				f = float64(v) / float64(total)
			}
			x, y := left+j*cell, top+i*cell
			stroke := "#ddd"
			if i == j {
				stroke = "#888"
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="%s"><title>gold %s, predicted %s: %d</title></rect>`,
				x, y, cell, cell, heatColor(f), stroke, esc(m.Labels[i]), esc(m.Labels[j]), v)
			if v > 0 && cell >= 20 {
				color := "#000"
				if f > 0.55 {
					color = "#fff"
				}
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s" font-size="10">%d</text>`, x+cell/2, y+cell/2+4, color, v)
			}
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">rows: expected · columns: predicted · shade: share of the row</text>`, left, h-8)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// SVGClassBars draws per-class F1 as horizontal bars.
func SVGClassBars(scores []ClassScore) template.HTML {
	if len(scores) == 0 {
		return ""
	}
	row, left, width := 16, 190, 320
	if len(scores) > 40 {
		row = 11
	}
	h := 30 + len(scores)*row
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot f1bars" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="%d" role="img"><title>F1 per class</title>`,
		left+width+60, h, left+width+60, h, svgFont, min(11, row-1))
	for _, t := range []float64{0, 0.5, 1} {
		x := left + int(t*float64(width))
		fmt.Fprintf(&b, `<line x1="%d" y1="14" x2="%d" y2="%d" stroke="#ccc"/><text x="%d" y="11" text-anchor="middle">%.1f</text>`, x, x, h-6, x, t)
	}
	for i, s := range scores {
		y := 18 + i*row
		color := barColor
		if s.F1 < 0.7 {
			color = "#c0504d" // weak classes stand out
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+row-4, esc(short(s.Label, 30)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: F1 %.3f (support %d)</title></rect>`,
			left, y+1, s.F1*float64(width), row-3, color, esc(s.Label), s.F1, s.Support)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.2f</text>`, float64(left)+s.F1*float64(width)+4, y+row-4, s.F1)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// SVGHistogram draws a latency histogram with p50 and p90 marked.
func SVGHistogram(hg Histogram) template.HTML {
	if len(hg.Samples) == 0 {
		return ""
	}
	const bins, w, h, left, bottom = 24, 420, 170, 44, 36
	lo, hi := hg.Samples[0], hg.Samples[0]
	for _, v := range hg.Samples {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	// Latencies have long tails: cap the axis at p99 so the bulk is
	// visible; the tail goes in the last bin.
	hi = math.Max(percentile(hg.Samples, 0.99), lo+1e-6)
	counts := make([]int, bins)
	for _, v := range hg.Samples {
		i := int(float64(bins) * (v - lo) / (hi - lo))
		counts[max(0, min(i, bins-1))]++
	}
	top := 1
	for _, c := range counts {
		top = max(top, c)
	}
	pw, ph := w-left-10, h-bottom-14
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot histogram" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="11" role="img"><title>%s</title>`, w, h, w, h, svgFont, esc(hg.Name))
	bw := float64(pw) / bins
	for i, c := range counts {
		bh := float64(ph) * float64(c) / float64(top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%d samples</title></rect>`,
			float64(left)+float64(i)*bw, float64(14+ph)-bh, bw-1, bh, barColor, c)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, 14+ph, left+pw, 14+ph)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start">%s</text><text x="%d" y="%d" text-anchor="end">%s ms</text>`,
		left, 14+ph+14, fmtMS(lo), left+pw, 14+ph+14, fmtMS(hi))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%d</text>`, left-4, 22, top)
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50", .5}, {"p90", .9}} {
		v := percentile(hg.Samples, q.p)
		x := float64(left) + float64(pw)*math.Min(1, (v-lo)/(hi-lo))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="10" x2="%.1f" y2="%d" stroke="#c0504d" stroke-dasharray="3,2"/><text x="%.1f" y="10" fill="#c0504d">%s %s</text>`,
			x, x, 14+ph, x+3, q.name, fmtMS(v))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s (n=%d, axis to p99)</text>`, left+pw/2, h-4, esc(hg.Name), len(hg.Samples))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// tail keeps the last n runes: clip names differ at the end.
func tail(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

var stageColors = []string{"#3b6ea5", "#9bbb59", "#f79646", "#8064a2", "#4bacc6"}

// SVGStages draws the mean time of each pipeline stage as a stacked bar
// per group (mode).
func SVGStages(st []StageLatency) template.HTML {
	if len(st) == 0 {
		return ""
	}
	var groups, stages []string
	by := map[[2]string]float64{}
	for _, s := range st {
		if !containsStr(groups, s.Group) {
			groups = append(groups, s.Group)
		}
		if !containsStr(stages, s.Stage) {
			stages = append(stages, s.Stage)
		}
		by[[2]string{s.Group, s.Stage}] = s.MeanMS
	}
	top := 0.0
	for _, g := range groups {
		t := 0.0
		for _, s := range stages {
			t += by[[2]string{g, s}]
		}
		top = math.Max(top, t)
	}
	if top <= 0 {
		top = 1
	}
	const left, width, row = 110, 420, 30
	h := 40 + len(groups)*row + 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot stages" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="11" role="img"><title>Per-stage latency</title>`,
		left+width+80, h, left+width+80, h, svgFont)
	for i, g := range groups {
		y := 10 + i*row
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+16, esc(g))
		x, total := float64(left), 0.0
		for k, s := range stages {
			v := by[[2]string{g, s}]
			w := float64(width) * v / top
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="22" fill="%s"><title>%s, %s: mean %s ms</title></rect>`,
				x, y, w, stageColors[k%len(stageColors)], esc(g), esc(s), fmtMS(v))
			x += w
			total += v
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s ms</text>`, x+4, y+16, fmtMS(total))
	}
	ly := 20 + len(groups)*row
	for k, s := range stages {
		x := left + k*110
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`, x, ly, stageColors[k%len(stageColors)], x+14, ly+9, esc(s))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// SVGClips draws each clip's error rate as a vertical bar.
func SVGClips(clips []ClipRate) template.HTML {
	if len(clips) == 0 {
		return ""
	}
	const h, bottom, left = 200, 70, 40
	bw := 28
	if len(clips) > 30 {
		bw = 12
	}
	w := left + len(clips)*bw + 20
	top := 1.0
	for _, c := range clips {
		top = math.Max(top, c.Rate)
	}
	ph := h - bottom - 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot clips" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="10" role="img"><title>Error rate by clip</title>`, w, h, w, h, svgFont)
	fmt.Fprintf(&b, `<text x="%d" y="14" text-anchor="end">%.0f%%</text><text x="%d" y="%d" text-anchor="end">0</text>`, left-4, 100*top, left-4, 10+ph)
	for i, c := range clips {
		bh := float64(ph) * c.Rate / top
		x := left + i*bw
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s: %s %.1f%%</title></rect>`,
			x, float64(10+ph)-bh, bw-3, bh, barColor, esc(c.Clip), c.Metric, 100*c.Rate)
		fmt.Fprintf(&b, `<text transform="translate(%d,%d) rotate(60)">%s</text>`, x+bw/2, 14+ph, esc(tail(strings.TrimSuffix(c.Clip, ".wav"), 14)))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, 10+ph, w-10, 10+ph)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
