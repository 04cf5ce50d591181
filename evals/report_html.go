package evals

import (
	"fmt"
	"html/template"
	"io"
)

// WriteHTML writes the report as one self-contained HTML page: inline
// CSS, inline SVG plots, no script and nothing fetched, so it can be
// attached to a review or opened from CI artefacts offline. cmp may be
// nil (no baseline).
func WriteHTML(w io.Writer, r *Report, cmp *Comparison) error {
	deltas := map[string]Delta{}
	if cmp != nil {
		for _, d := range cmp.Deltas {
			deltas[d.Evaluation+"\x00"+d.Metric.Name] = d
		}
	}
	data := struct {
		R   *Report
		Cmp *Comparison
		D   map[string]Delta
	}{r, cmp, deltas}
	if err := reportTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("evals: html report: %w", err)
	}
	return nil
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"confusion": SVGConfusion,
	"f1bars":    SVGClassBars,
	"histogram": SVGHistogram,
	"stages":    SVGStages,
	"clips":     SVGClips,
	"value":     FormatValue,
	"delta": func(m map[string]Delta, ev string, metric string) *Delta {
		if d, ok := m[ev+"\x00"+metric]; ok {
			return &d
		}
		return nil
	},
	"signed":  func(d Delta) string { return fmt.Sprintf("%+.4g", d.Diff()) },
	"seconds": func(s float64) string { return fmt.Sprintf("%.1f s", s) },
	"changeClass": func(c Change) string {
		switch c {
		case Improved:
			return "good"
		case Regressed:
			return "bad"
		}
		return "same"
	},
}).Parse(reportHTML))

const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callbrief evaluation: {{.R.Suite}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
header { background: #1f3b57; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .85; font-size: 13px; }
main { padding: 16px 28px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 14px 20px; margin: 16px 0; }
h2 { font-size: 18px; margin: 4px 0 6px; }
h3 { font-size: 14px; margin: 14px 0 6px; color: #3d4a57; }
.meta { font-size: 12px; color: #56616d; margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid #e6e9ed; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.good { color: #1e7b34; font-weight: 600; }
.bad { color: #b3261e; font-weight: 600; }
.same { color: #56616d; }
.gate-pass { border-left: 6px solid #1e7b34; }
.gate-fail { border-left: 6px solid #b3261e; }
.note { background: #fff8e1; border-left: 4px solid #f2b600; padding: 6px 10px; font-size: 13px; margin: 6px 0; }
.error { background: #fdecea; border-left: 4px solid #b3261e; padding: 6px 10px; }
.plots { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.plots figure { margin: 0; }
figcaption { font-size: 12px; color: #56616d; }
nav a { margin-right: 12px; font-size: 13px; }
.tag { font-size: 11px; color: #56616d; }
</style>
</head>
<body>
<header>
<h1>callbrief evaluation: {{.R.Suite}}</h1>
<p>Run {{.R.Started.Format "2006-01-02 15:04 MST"}} · {{seconds .R.Seconds}} · {{.R.Machine}}</p>
{{if .R.Overrides}}<p><strong>Measured with configuration overrides</strong> (not the stack <code>serve</code> runs by default): {{range .R.Overrides}}<code>{{.}}</code> {{end}}</p>{{else}}<p>Measured on the stack <code>serve</code> runs by default (no configuration overrides).</p>{{end}}
</header>
<main>
<nav>{{range .R.Evaluations}}<a href="#{{.Name}}">{{.Name}}</a>{{end}}</nav>
{{with .Cmp}}
<section id="comparison" class="{{if .Passed}}gate-pass{{else}}gate-fail{{end}}">
<h2>Against the baseline of {{.Baseline}}: {{if .Passed}}gate passed{{else}}gate FAILED{{end}}</h2>
<p class="meta">{{.Count "improved"}} improved · {{.Count "regressed"}} regressed · {{.Count "within tolerance"}} within tolerance · {{.Count "new"}} new · {{.Count "missing"}} missing. Timings are compared but never gated.</p>
{{if .Failures}}<ul>{{range .Failures}}<li class="bad">{{.}}</li>{{end}}</ul>{{end}}
<table><tr><th>evaluation</th><th>metric</th><th>baseline</th><th>now</th><th>change</th><th>tolerance</th><th></th></tr>
{{range .Deltas}}{{if or (eq .Change "improved") (eq .Change "regressed")}}<tr><td>{{.Evaluation}}</td><td>{{.Metric.Name}}</td><td class="num">{{value .Metric .Baseline}}</td><td class="num">{{value .Metric .Metric.Value}}</td><td class="num {{changeClass .Change}}">{{signed .}}</td><td class="num">{{value .Metric .Tolerance}}</td><td class="{{changeClass .Change}}">{{.Change}}{{if not .Metric.Gate}} (timing){{end}}</td></tr>{{end}}{{end}}
</table>
</section>
{{end}}
{{$d := .D}}
{{range .R.Evaluations}}{{$ev := .}}
<section class="evaluation" id="{{.Name}}" data-kind="{{.Kind}}">
<h2>{{.Title}} <span class="tag">{{.Name}} · {{.Kind}}</span></h2>
<p class="meta">{{with .Engine}}Engine: {{.}} · {{end}}{{with .Dataset}}Data: {{.}} · {{end}}{{seconds .Seconds}}</p>
{{with .Error}}<p class="error">Did not run: {{.}}</p>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .Metrics}}
<table class="metrics"><tr><th>metric</th><th>value</th><th>better</th><th>n</th>{{if $d}}<th>baseline</th><th>change</th>{{end}}</tr>
{{range .Metrics}}{{$x := delta $d $ev.Name .Name}}<tr><td>{{.Name}}{{if not .Gate}} <span class="tag">(timing, not gated)</span>{{end}}</td><td class="num">{{value . .Value}}</td><td>{{.Better}}</td><td class="num">{{if .N}}{{.N}}{{end}}</td>{{if $d}}{{if $x}}<td class="num">{{value . $x.Baseline}}</td><td class="{{changeClass $x.Change}}">{{signed $x}} {{$x.Change}}</td>{{else}}<td></td><td></td>{{end}}{{end}}</tr>
{{end}}</table>
{{end}}
<div class="plots">
{{with .Charts.Confusion}}<figure>{{confusion .}}<figcaption>Confusion matrix{{if .Omitted}} ({{.Omitted}} least-confused classes left out){{end}}</figcaption></figure>{{end}}
{{with .Charts.PerClass}}<figure>{{f1bars .}}<figcaption>F1 per class (red: below 0.7)</figcaption></figure>{{end}}
{{with .Charts.Clips}}<figure>{{clips .}}<figcaption>Error rate by clip</figcaption></figure>{{end}}
{{with .Charts.Stages}}<figure>{{stages .}}<figcaption>Per-stage latency (mean; verifying includes the caller's answers)</figcaption></figure>{{end}}
{{range .Charts.Histograms}}<figure>{{histogram .}}<figcaption>{{.Name}}</figcaption></figure>{{end}}
</div>
{{with .Charts.Table}}{{if .Rows}}<h3>{{.Caption}}</h3>
<table class="detail"><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}{{end}}
</section>
{{end}}
</main>
</body>
</html>
`
