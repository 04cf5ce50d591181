package evals

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// ReportVersion is the schema version of report.json; a baseline with
// another version is refused rather than compared field by field.
const ReportVersion = 1

// Report is the output of one suite run: every evaluation, its metrics
// (each with the direction in which it is better) and what the HTML
// report plots. One schema for every kind of evaluation, so that two runs
// can be compared without knowing the kinds.
type Report struct {
	Version int       `json:"version"`
	Suite   string    `json:"suite"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Machine string    `json:"machine"`
	// Overrides are the configuration keys the run changed from what
	// `serve` runs by default; none: every figure is of the served stack.
	Overrides   []string      `json:"overrides,omitempty"`
	Evaluations []*Evaluation `json:"evaluations"`
}

// Evaluation is one evaluation's result in a suite report.
type Evaluation struct {
	Name    string   `json:"name"` // unique in the suite: how runs are matched
	Kind    string   `json:"kind"` // asr, intent, dialect, verify, retrieval, scenarios
	Title   string   `json:"title"`
	Engine  string   `json:"engine,omitempty"`
	Dataset string   `json:"dataset,omitempty"`
	Notes   []string `json:"notes,omitempty"` // caveats a reader must see next to the numbers
	Seconds float64  `json:"seconds"`
	// Error is set when the evaluation could not run; it then has no
	// metrics and fails any gate.
	Error   string   `json:"error,omitempty"`
	Metrics []Metric `json:"metrics"`
	Charts  Charts   `json:"charts"`
	// Detail is the kind's own report (ASRReport, IntentReport...), kept
	// whole so nothing measured is lost.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// Metric returns the named metric.
func (e *Evaluation) Metric(name string) (Metric, bool) {
	for _, m := range e.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Evaluation returns the named evaluation.
func (r *Report) Evaluation(name string) (*Evaluation, bool) {
	for _, e := range r.Evaluations {
		if e.Name == name {
			return e, true
		}
	}
	return nil, false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("evals: report: %w", err)
	}
	return nil
}

// LoadReport reads a report.json written by a suite run.
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evals: report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("evals: report %s: %w", path, err)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("evals: report %s: schema version %d, this build reads %d", path, r.Version, ReportVersion)
	}
	return &r, nil
}

// Compact is the report with metrics only: what a committed baseline
// needs, without plots or per-item detail.
func (r *Report) Compact() *Report {
	cp := *r
	cp.Evaluations = make([]*Evaluation, len(r.Evaluations))
	for i, e := range r.Evaluations {
		c := *e
		c.Charts, c.Detail = Charts{}, nil
		c.Metrics = slices.Clone(e.Metrics) // the copy may be edited without touching r
		c.Notes = slices.Clone(e.Notes)
		cp.Evaluations[i] = &c
	}
	return &cp
}
