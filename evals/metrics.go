package evals

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Better says which way a metric improves.
type Better string

// Directions of improvement.
const (
	HigherIsBetter Better = "higher"
	LowerIsBetter  Better = "lower"
)

// Metric is one number of an evaluation.
type Metric struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Better Better  `json:"better"`
	Unit   string  `json:"unit,omitempty"` // "", "ms", "s", "x" (real-time factor), "count"
	// Gate is false for numbers that depend on the machine (latencies,
	// real-time factor): they are compared and shown but never fail a
	// gate, since CI machines differ from the one the baseline was made on.
	Gate bool `json:"gate"`
	// N is how many items the metric is over, so a reader can judge a
	// change of one item.
	N int `json:"n,omitempty"`
	// Limit, when set, is an absolute ceiling: a value above it fails the
	// gate whatever the baseline says (a baseline made on a bad day must
	// not make a false accept acceptable).
	Limit *float64 `json:"limit,omitempty"`
}

// mustBeZero is a gated count whose only passing value is 0.
func mustBeZero(name string, v, n int) Metric {
	m := count(name, v, n)
	m.Limit = new(float64)
	return m
}

// quality is a gated metric (an accuracy or error rate).
func quality(name string, v float64, b Better, n int) Metric {
	return Metric{Name: name, Value: v, Better: b, Gate: true, N: n}
}

// count is a gated number of bad events (failures, false accepts).
func count(name string, v, n int) Metric {
	return Metric{Name: name, Value: float64(v), Better: LowerIsBetter, Unit: "count", Gate: true, N: n}
}

// timing is a metric that depends on the machine: never gated.
func timing(name string, v float64, unit string, n int) Metric {
	return Metric{Name: name, Value: v, Better: LowerIsBetter, Unit: unit, N: n}
}

// Charts is what the HTML report plots for one evaluation; every field is
// optional.
type Charts struct {
	Confusion  *Matrix         `json:"confusion,omitempty"`
	PerClass   []ClassScore    `json:"per_class,omitempty"`
	Histograms []Histogram     `json:"histograms,omitempty"`
	Stages     []StageLatency  `json:"stages,omitempty"`
	Clips      []ClipRate      `json:"clips,omitempty"`
	Table      *Table          `json:"table,omitempty"`
	Extra      []LabelledValue `json:"extra,omitempty"`
}

// Matrix is a confusion matrix: Counts[gold][predicted] over Labels.
type Matrix struct {
	Labels []string `json:"labels"`
	Counts [][]int  `json:"counts"`
	// Omitted is how many classes were left out to keep the matrix
	// readable (the least confused ones).
	Omitted int `json:"omitted,omitempty"`
}

// ClassScore is one class's F1 (and support) for the bar chart.
type ClassScore struct {
	Label   string  `json:"label"`
	F1      float64 `json:"f1"`
	Support int     `json:"support"`
}

// Histogram is a latency distribution in milliseconds.
type Histogram struct {
	Name    string    `json:"name"`
	Samples []float64 `json:"samples_ms"`
}

// StageLatency is the mean time one pipeline stage took, per mode.
type StageLatency struct {
	Group  string  `json:"group"` // e.g. "text mode", "audio mode"
	Stage  string  `json:"stage"`
	MeanMS float64 `json:"mean_ms"`
	P90MS  float64 `json:"p90_ms"`
}

// ClipRate is one clip's error rate.
type ClipRate struct {
	Clip   string  `json:"clip"`
	Metric string  `json:"metric"` // WER or CER
	Rate   float64 `json:"rate"`
}

// Table is a small table of results (verification scenarios, failing
// call scenarios).
type Table struct {
	Caption string     `json:"caption"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// LabelledValue is a number shown beside the metrics (not compared).
type LabelledValue struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// durationsMS converts latencies to milliseconds.
func durationsMS(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// percentile is the nearest-rank percentile of ms (q in 0..1); 0 when empty.
func percentile(ms []float64, q float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// matrixFrom rebuilds a confusion matrix from per-class scores (the
// diagonal is recall times support) and the off-diagonal cells. At most
// limit classes are kept, the most confused first, so a 77-class matrix
// stays readable; the rest are counted in Omitted.
func matrixFrom(per []IntentScores, conf []Confusion, limit int) *Matrix {
	if len(per) == 0 {
		return nil
	}
	involvement := map[string]int{}
	for _, c := range conf {
		involvement[c.Gold] += c.Count
		involvement[c.Predicted] += c.Count
	}
	labels := make([]string, 0, len(per))
	seen := map[string]bool{}
	for _, p := range per {
		labels = append(labels, p.Intent)
		seen[p.Intent] = true
	}
	for _, c := range conf { // predicted labels that are never gold (errors, "und")
		if !seen[c.Predicted] {
			seen[c.Predicted] = true
			labels = append(labels, c.Predicted)
		}
	}
	omitted := 0
	if limit > 0 && len(labels) > limit {
		sort.SliceStable(labels, func(i, j int) bool { return involvement[labels[i]] > involvement[labels[j]] })
		omitted = len(labels) - limit
		labels = labels[:limit]
	}
	sort.Strings(labels)
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	m := &Matrix{Labels: labels, Counts: make([][]int, len(labels)), Omitted: omitted}
	for i := range m.Counts {
		m.Counts[i] = make([]int, len(labels))
	}
	for _, p := range per {
		if i, ok := idx[p.Intent]; ok {
			m.Counts[i][i] = int(math.Round(p.Recall * float64(p.Support)))
		}
	}
	for _, c := range conf {
		i, ok1 := idx[c.Gold]
		j, ok2 := idx[c.Predicted]
		if ok1 && ok2 {
			m.Counts[i][j] += c.Count
		}
	}
	return m
}

func classScores(per []IntentScores) []ClassScore {
	out := make([]ClassScore, len(per))
	for i, p := range per {
		out[i] = ClassScore{Label: p.Intent, F1: p.F1, Support: p.Support}
	}
	return out
}

// metricName turns a free-form label (a corpus name) into a metric-name
// fragment: lower case letters, digits and underscores.
func metricName(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}
