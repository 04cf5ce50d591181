package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/evals"
)

// errGate is a regression beyond tolerance: the run worked, the models
// got worse.
var errGate = errors.New("regression gate failed")

// cmdEvalRun is `callbrief eval run SUITE.yaml` (args exclude "run"): it
// runs every evaluation the suite lists, writes report.json and
// report.html, and compares with a baseline report when given.
//
//	callbrief eval run SUITE.yaml [--out DIR] [--baseline report.json] [--gate] [--only NAME,...]
func cmdEvalRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval run", &c, stderr)
	out := fs.String("out", "eval-report", "folder to write report.json and report.html")
	baseline := fs.String("baseline", "", "an earlier report.json to compare with")
	gate := fs.Bool("gate", false, "exit non-zero when a gated metric regressed beyond its tolerance (needs --baseline)")
	save := fs.String("save-baseline", "", "also write the metrics alone to this file, to commit as the new baseline")
	only := fs.String("only", "", "run only these evaluations (comma-separated names); the comparison covers only them")
	pos, err := c.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: callbrief eval run SUITE.yaml [--out DIR] [--baseline report.json] [--gate]", errUsage)
	}
	if *gate && *baseline == "" {
		return fmt.Errorf("%w: --gate needs --baseline", errUsage)
	}
	suite, err := evals.LoadSuite(pos[0])
	if err != nil {
		return err
	}
	if *only != "" {
		if suite, err = onlySuite(suite, strings.Split(*only, ",")); err != nil {
			return err
		}
	}
	return runSuite(ctx, &c, suite, suiteOptions{out: *out, baseline: *baseline, gate: *gate, saveBaseline: *save}, stdout, stderr)
}

// onlySuite keeps the named evaluations of s.
func onlySuite(s *evals.Suite, names []string) (*evals.Suite, error) {
	cp := *s
	cp.Evaluations = nil
	for _, n := range names {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(s.Evaluations, func(e evals.EvalSpec) bool { return e.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("%w: --only: the suite has no evaluation %q", errUsage, n)
		}
		cp.Evaluations = append(cp.Evaluations, s.Evaluations[i])
	}
	return &cp, nil
}

type suiteOptions struct {
	out, baseline, saveBaseline string
	gate                        bool
}

// runSuite runs s, writes the reports and applies the gate.
func runSuite(ctx context.Context, c *common, s *evals.Suite, o suiteOptions, stdout, stderr io.Writer) error {
	if c.cfg.Log.Level != "debug" {
		// Thousands of calls and utterances: per-call info lines would
		// bury the progress; warnings and errors still show.
		c.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	h := &evals.Harness{Runners: suiteRunners(c), Progress: stderr}
	rep, err := h.Run(ctx, s)
	if err != nil {
		return err
	}
	rep.Overrides = stackOverrides(c.cfg)
	if len(rep.Overrides) > 0 {
		fmt.Fprintf(stderr, "measured with configuration overrides (not the stack serve runs by default): %s\n", strings.Join(rep.Overrides, ", "))
	}
	var cmp *evals.Comparison
	if o.baseline != "" {
		base, err := evals.LoadReport(o.baseline)
		if err != nil {
			return err
		}
		base = onlyEvaluations(base, s)
		cmp = evals.Compare(s, base, rep)
	}
	if err := writeSuiteReport(o.out, rep, cmp); err != nil {
		return err
	}
	if o.saveBaseline != "" {
		if err := saveBaseline(o.saveBaseline, rep); err != nil {
			return err
		}
	}
	for _, e := range rep.Evaluations {
		fmt.Fprintf(stdout, "%-22s", e.Name)
		if e.Error != "" {
			fmt.Fprintf(stdout, " FAILED: %s\n", e.Error)
			continue
		}
		for _, m := range e.Metrics {
			if m.Gate {
				fmt.Fprintf(stdout, " %s=%s", m.Name, evals.FormatValue(m, m.Value))
			}
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "Suite %s: %d evaluations in %.1f s; wrote %s and %s\n", rep.Suite, len(rep.Evaluations), rep.Seconds,
		filepath.Join(o.out, "report.json"), filepath.Join(o.out, "report.html"))
	if cmp != nil {
		if err := cmp.WriteText(stdout); err != nil {
			return err
		}
		if o.gate && !cmp.Passed() {
			return fmt.Errorf("%w: %s", errGate, strings.Join(cmp.Failures, "; "))
		}
	}
	return nil
}

// onlyEvaluations drops baseline evaluations the suite does not list, so
// that a run restricted with --only is not failed for what it skipped.
func onlyEvaluations(base *evals.Report, s *evals.Suite) *evals.Report {
	cp := *base
	cp.Evaluations = nil
	for _, e := range base.Evaluations {
		if slices.ContainsFunc(s.Evaluations, func(sp evals.EvalSpec) bool { return sp.Name == e.Name }) {
			cp.Evaluations = append(cp.Evaluations, e)
		}
	}
	return &cp
}

func saveBaseline(path string, rep *evals.Report) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("eval run: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	return rep.Compact().WriteJSON(f)
}

func writeSuiteReport(dir string, rep *evals.Report, cmp *evals.Comparison) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval run: %w", err)
	}
	write := func(name string, fn func(io.Writer) error) (err error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("eval run: %w", err)
		}
		defer func() { err = errors.Join(err, f.Close()) }()
		return fn(f)
	}
	if err := write("report.json", rep.WriteJSON); err != nil {
		return err
	}
	return write("report.html", func(w io.Writer) error { return evals.WriteHTML(w, rep, cmp) })
}

// cmdEvalScenarios is `callbrief eval scenarios` (args exclude
// "scenarios"): the end-to-end call scenarios alone, in text mode,
// audio mode or both, with the same report files as a suite.
//
//	callbrief eval scenarios [--data DIR|FILE] [--mode text|audio|both] [--out DIR] [--only-failures]
func cmdEvalScenarios(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval scenarios", &c, stderr)
	data := fs.String("data", "data/evals/scenarios", "scenario folder (*.yaml) or file")
	mode := fs.String("mode", "both", "text (turn text as the transcript), audio (synthesized speech through the recognizer) or both")
	out := fs.String("out", "eval-report", "folder to write report.json and report.html")
	withKB := fs.Bool("kb", false, "give briefs the configured knowledge base")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	modes, abs, err := modesAndData(*mode, *data, evals.ModeText, evals.ModeAudio)
	if err != nil {
		return err
	}
	s := &evals.Suite{Name: "scenarios", Evaluations: []evals.EvalSpec{{Name: "scenarios", Kind: "scenarios", Data: abs, Modes: modes, KB: *withKB}}}
	return runSuite(ctx, &c, s, suiteOptions{out: *out}, stdout, stderr)
}

// stackOverrides are the configuration keys that change what is measured
// (logging and the listen address do not).
func stackOverrides(cfg config.Config) []string {
	var out []string
	for _, o := range config.Overrides(cfg) {
		if !strings.HasPrefix(o, "log.") && !strings.HasPrefix(o, "http.") {
			out = append(out, o)
		}
	}
	return out
}

// modesAndData reads a scenario command's --mode (one of a and b, or
// "both") and makes its data folder absolute.
func modesAndData(mode, data, a, b string) ([]string, string, error) {
	var modes []string
	switch mode {
	case a, b:
		modes = []string{mode}
	case "both":
		modes = []string{a, b}
	default:
		return nil, "", fmt.Errorf("%w: --mode %q is not %s, %s or both", errUsage, mode, a, b)
	}
	abs, err := filepath.Abs(data)
	return modes, abs, err
}
