package evals

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Runner runs one evaluation of a suite. The suite is passed for path
// resolution; progress reports items done on long runs.
type Runner func(ctx context.Context, s *Suite, spec EvalSpec, p *Progress) (*Evaluation, error)

// Harness runs suites with a runner per kind. The runners live with
// whatever builds the engines (the command line), so this package needs
// no knowledge of configuration.
type Harness struct {
	Runners map[string]Runner
	// Progress receives one line per evaluation and progress bars; nil
	// discards them.
	Progress io.Writer
}

// Run runs every evaluation of s in order. An evaluation that fails is
// recorded with its error and the suite goes on, so one broken dataset
// does not hide the other results; cancellation stops the run.
func (h *Harness) Run(ctx context.Context, s *Suite) (*Report, error) {
	out := h.Progress
	if out == nil {
		out = io.Discard
	}
	rep := &Report{Version: ReportVersion, Suite: s.Name, Started: time.Now().UTC().Truncate(time.Second),
		Machine: fmt.Sprintf("%s/%s, %d cores, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
	start := time.Now()
	for i, spec := range s.Evaluations {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "[%d/%d] %s (%s)...\n", i+1, len(s.Evaluations), spec.Name, spec.Kind)
		t0 := time.Now()
		// Bars redraw a line with \r: on a terminal only, not in CI logs.
		var bar *Progress
		if isTerminal(out) {
			bar = &Progress{w: out, label: spec.Name}
		}
		ev, err := h.runOne(ctx, s, spec, bar)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			ev = &Evaluation{Name: spec.Name, Kind: spec.Kind, Title: spec.Kind, Error: err.Error()}
			fmt.Fprintf(out, "      failed: %v\n", err)
		}
		ev.Name, ev.Kind = spec.Name, spec.Kind
		ev.Seconds = time.Since(t0).Seconds()
		if err == nil {
			fmt.Fprintf(out, "      %.1f s: %s\n", ev.Seconds, headline(ev))
		}
		rep.Evaluations = append(rep.Evaluations, ev)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func (h *Harness) runOne(ctx context.Context, s *Suite, spec EvalSpec, p *Progress) (ev *Evaluation, err error) {
	r, ok := h.Runners[spec.Kind]
	if !ok {
		kinds := make([]string, 0, len(h.Runners))
		for k := range h.Runners {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return nil, fmt.Errorf("%w: no runner for kind %q in this build (have %s)", ErrSuite, spec.Kind, strings.Join(kinds, ", "))
	}
	defer p.done()
	ev, err = r(ctx, s, spec, p)
	if err == nil && ev == nil {
		err = errors.New("runner returned no result")
	}
	return ev, err
}

// headline is the first gated metrics, for the progress line.
func headline(e *Evaluation) string {
	var parts []string
	for _, m := range e.Metrics {
		if m.Gate && len(parts) < 3 {
			parts = append(parts, fmt.Sprintf("%s %s", m.Name, FormatValue(m, m.Value)))
		}
	}
	return strings.Join(parts, ", ")
}

// FormatValue prints a metric value in its unit.
func FormatValue(m Metric, v float64) string {
	switch m.Unit {
	case "count":
		return fmt.Sprintf("%.0f", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "s":
		return fmt.Sprintf("%.2f s", v)
	case "x":
		return fmt.Sprintf("%.3f×", v)
	}
	return fmt.Sprintf("%.4f", v)
}
