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

	"github.com/callbrief/callbrief/evals"
)

// defaultAPIKeyEnv holds the API key a served evaluation sends, when the
// service requires one.
const defaultAPIKeyEnv = "CALLBRIEF_EVAL_API_KEY"

// cmdEvalServed is `callbrief eval served` (args exclude "served"): it
// starts the real service from its binary and places every scenario as a
// call (uploads to /v1/calls, live calls over WHIP), then writes
// report.json, report.html and report.md.
//
//	callbrief eval served [--data DIR|FILE] [--bin PATH] [--serve-set KEY=VALUE]... [--api-key-env NAME]
//	                      [--mode upload|live|both] [--tags a,b] [--out DIR] [--server-log FILE]
func cmdEvalServed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval served", &c, stderr)
	data := fs.String("data", "data/evals/served", "scenario folder (*.yaml) or file")
	bin := fs.String("bin", "", "the callbrief binary to serve (default: this one)")
	var sets multiFlag
	fs.Var(&sets, "serve-set", "override a configuration key of the served service: KEY=VALUE (repeatable; listed in the report)")
	keyEnv := fs.String("api-key-env", defaultAPIKeyEnv, "environment variable holding the API key sent on the call endpoints (unset or empty: none)")
	mode := fs.String("mode", "both", "upload (POST /v1/calls), live (WHIP, scenarios tagged live) or both")
	tags := fs.String("tags", "", "only scenarios with one of these tags (comma-separated)")
	out := fs.String("out", "eval-report/served", "folder to write report.json, report.html and report.md")
	serverLog := fs.String("server-log", "", "write the service's log to this file")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	if c.cfg.Log.Level != "debug" {
		// The text-mode pass logs every call at info: warnings only.
		c.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	modes, abs, err := modesAndData(*mode, *data, evals.ModeUpload, evals.ModeLive)
	if err != nil {
		return err
	}
	sp := evals.EvalSpec{Name: "served", Kind: "served", Data: abs, Modes: modes, Binary: *bin, Set: sets, APIKeyEnv: *keyEnv,
		Tags: splitList(*tags)}
	s := &evals.Suite{Name: "served", Evaluations: []evals.EvalSpec{sp}}
	var logw io.Writer
	if *serverLog != "" {
		f, err := os.Create(*serverLog)
		if err != nil {
			return fmt.Errorf("eval served: %w", err)
		}
		defer f.Close()
		logw = f
	}
	var rep *evals.ServedReport
	h := &evals.Harness{Progress: stderr, Runners: map[string]evals.Runner{
		"served": func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
			var ev *evals.Evaluation
			var err error
			ev, rep, err = runServedSpec(ctx, &c, s, sp, p, logw)
			return ev, err
		},
	}}
	run, err := h.Run(ctx, s)
	if err != nil {
		return err
	}
	if err := writeSuiteReport(*out, run, nil); err != nil {
		return err
	}
	if ev := run.Evaluations[0]; ev.Error != "" {
		return fmt.Errorf("eval served: %s", ev.Error)
	}
	md := rep.Markdown()
	if err := os.WriteFile(filepath.Join(*out, "report.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("eval served: %w", err)
	}
	fmt.Fprint(stdout, md)
	fmt.Fprintf(stdout, "\nwrote %s, report.html and report.md\n", filepath.Join(*out, "report.json"))
	return nil
}

// servedRunner is the suite runner of kind served.
func servedRunner(c *common) evals.Runner {
	return func(ctx context.Context, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress) (*evals.Evaluation, error) {
		ev, _, err := runServedSpec(ctx, c, s, sp, p, nil)
		return ev, err
	}
}

// runServedSpec runs one served evaluation, then the same scenarios in
// text mode offline, so that the report names the gap between the two.
func runServedSpec(ctx context.Context, c *common, s *evals.Suite, sp evals.EvalSpec, p *evals.Progress, serverLog io.Writer) (*evals.Evaluation, *evals.ServedReport, error) {
	path := s.Path(sp.Data)
	if sp.Data == "" {
		path = s.Path("served")
	}
	scs, err := evals.LoadScenarios(path)
	if err != nil {
		return nil, nil, err
	}
	scs = evals.WithTags(scs, sp.Tags)
	if sp.Limit > 0 && sp.Limit < len(scs) {
		scs = scs[:sp.Limit]
	}
	if len(scs) == 0 {
		return nil, nil, fmt.Errorf("%w: no scenarios in %s with tags %v", evals.ErrSuite, path, sp.Tags)
	}
	bin := sp.Binary
	if bin == "" {
		// The running binary: `go run ./cmd/callbrief eval run` serves
		// exactly the tree it was built from.
		if bin, err = os.Executable(); err != nil {
			return nil, nil, fmt.Errorf("eval served: which binary: %w", err)
		}
	} else if !filepath.IsAbs(bin) && !fileExists(bin) {
		bin = s.Path(bin) // relative to the suite file
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, nil, fmt.Errorf("eval served: %w", err)
	}
	envName := sp.APIKeyEnv
	if envName == "" {
		envName = defaultAPIKeyEnv
	}
	cfg := evals.ServedConfig{Binary: bin, Sets: sp.Set, APIKey: os.Getenv(envName), Modes: sp.Modes, ServerLog: serverLog, Progress: p}
	rep, err := evals.RunServed(ctx, cfg, scs)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(rep.Modes, evals.ModeUpload) {
		// Live calls alone are the gate's quick check of the media path;
		// the gap to text mode is named where uploads run.
		return evals.ServedEvaluation(sp.Name, rep), rep, nil
	}
	// The same scenarios with their words given as the transcript,
	// offline, with the knowledge base serve would use.
	text, err := runScenarios(ctx, c, scs, []string{evals.ModeText}, true, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("eval served: text mode: %w", err)
	}
	rep.AddTextMode(scs, text)
	return evals.ServedEvaluation(sp.Name, rep), rep, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}
