package evals

import (
	"fmt"
	"io"
	"math"
)

// Change classifies one metric's move against the baseline.
type Change string

// Changes.
const (
	Improved  Change = "improved"
	Regressed Change = "regressed"
	Unchanged Change = "within tolerance"
	New       Change = "new"     // not in the baseline
	Missing   Change = "missing" // in the baseline, not in this run
)

// Delta is one metric compared with the baseline.
type Delta struct {
	Evaluation string  `json:"evaluation"`
	Metric     Metric  `json:"metric"`
	Baseline   float64 `json:"baseline"`
	Tolerance  float64 `json:"tolerance"`
	Change     Change  `json:"change"`
}

// Diff is Current minus Baseline.
func (d Delta) Diff() float64 { return d.Metric.Value - d.Baseline }

// Comparison is a run against a baseline.
type Comparison struct {
	Baseline string  `json:"baseline"` // when the baseline was made
	Deltas   []Delta `json:"deltas"`
	// Failures are why the gate fails: gated regressions, evaluations
	// that errored or disappeared.
	Failures []string `json:"failures"`
}

// Compare matches evaluations by name and metrics by name. A gated metric
// that moved the wrong way by more than its tolerance is a regression; so
// is an evaluation that errored or that the baseline has and this run
// lacks. Timings are compared but never fail the gate.
func Compare(s *Suite, base, cur *Report) *Comparison {
	c := &Comparison{Baseline: base.Started.Format("2006-01-02 15:04 MST")}
	specs := map[string]EvalSpec{}
	for _, sp := range s.Evaluations {
		specs[sp.Name] = sp
	}
	for _, e := range cur.Evaluations {
		if e.Error != "" {
			c.Failures = append(c.Failures, fmt.Sprintf("%s: did not run: %s", e.Name, e.Error))
		}
		for _, m := range e.Metrics {
			if m.Limit != nil && m.Value > *m.Limit {
				c.Failures = append(c.Failures, fmt.Sprintf("%s: %s is %s, above its absolute limit %s", e.Name, m.Name,
					FormatValue(m, m.Value), FormatValue(m, *m.Limit)))
			}
		}
		b, ok := base.Evaluation(e.Name)
		if !ok {
			for _, m := range e.Metrics {
				c.Deltas = append(c.Deltas, Delta{Evaluation: e.Name, Metric: m, Change: New})
			}
			continue
		}
		for _, m := range e.Metrics {
			bm, ok := b.Metric(m.Name)
			if !ok {
				c.Deltas = append(c.Deltas, Delta{Evaluation: e.Name, Metric: m, Change: New})
				continue
			}
			d := Delta{Evaluation: e.Name, Metric: m, Baseline: bm.Value, Tolerance: s.Tolerance(specs[e.Name], bm)}
			d.Change = classify(m, bm.Value, d.Tolerance)
			c.Deltas = append(c.Deltas, d)
			if d.Change == Regressed && m.Gate {
				c.Failures = append(c.Failures, fmt.Sprintf("%s: %s %s -> %s (tolerance %s)", e.Name, m.Name,
					FormatValue(m, bm.Value), FormatValue(m, m.Value), FormatValue(m, d.Tolerance)))
			}
		}
		for _, bm := range b.Metrics {
			if _, ok := e.Metric(bm.Name); !ok && e.Error == "" {
				c.Deltas = append(c.Deltas, Delta{Evaluation: e.Name, Metric: bm, Baseline: bm.Value, Change: Missing})
				if bm.Gate {
					c.Failures = append(c.Failures, fmt.Sprintf("%s: metric %s is in the baseline but was not measured", e.Name, bm.Name))
				}
			}
		}
	}
	for _, b := range base.Evaluations {
		if _, ok := cur.Evaluation(b.Name); !ok {
			c.Failures = append(c.Failures, fmt.Sprintf("%s: in the baseline but not run", b.Name))
		}
	}
	return c
}

// classify compares v with the baseline b. A tiny epsilon keeps float
// noise on an exactly reproduced value from counting as a move.
func classify(m Metric, b, tol float64) Change {
	d := m.Value - b
	if m.Better == LowerIsBetter {
		d = -d
	}
	const eps = 1e-9
	switch {
	case d < -tol-eps:
		return Regressed
	case d > tol+eps:
		return Improved
	}
	return Unchanged
}

// Passed reports whether the gate passes.
func (c *Comparison) Passed() bool { return len(c.Failures) == 0 }

// Count returns how many deltas have the change.
func (c *Comparison) Count(ch Change) int {
	n := 0
	for _, d := range c.Deltas {
		if d.Change == ch {
			n++
		}
	}
	return n
}

// WriteText prints what improved and what regressed, for the terminal.
func (c *Comparison) WriteText(w io.Writer) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	p("Compared with the baseline of %s: %d improved, %d regressed, %d within tolerance, %d new, %d missing\n",
		c.Baseline, c.Count(Improved), c.Count(Regressed), c.Count(Unchanged), c.Count(New), c.Count(Missing))
	for _, ch := range []Change{Regressed, Improved} {
		for _, d := range c.Deltas {
			if d.Change != ch {
				continue
			}
			gate := ""
			if !d.Metric.Gate {
				gate = " (timing, not gated)"
			}
			p("  %-9s %s %s: %s -> %s (%+.4g, tolerance %s)%s\n", ch, d.Evaluation, d.Metric.Name,
				FormatValue(d.Metric, d.Baseline), FormatValue(d.Metric, d.Metric.Value), d.Diff(), FormatValue(d.Metric, math.Abs(d.Tolerance)), gate)
		}
	}
	if c.Passed() {
		p("Gate: passed\n")
	} else {
		p("Gate: FAILED\n")
		for _, f := range c.Failures {
			p("  - %s\n", f)
		}
	}
	return err
}
