package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/evals"
)

// cmdEvalDialect is `callbrief eval dialect` (args exclude "dialect"). The
// headline is cross-corpus: for each corpus (our hotline taxonomy, our own
// sentences, HKCanCor, Tatoeba's varieties, the speech-zh transcripts) a
// model is built by the served constructor from the others and tested on
// all of it. The served model itself (the same constructor and file the
// service uses, classifier.ServedVariety) is then scored on each corpus's
// held-out test part.
func cmdEvalDialect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval dialect", &c, stderr)
	dataDir := fs.String("data", sharedDataDefault, "folder holding hkcancor/, tatoeba-zh-varieties/ and speech-zh/")
	model := fs.String("model", "", "variety model file (default: files.variety_model, else the model built into the binary)")
	testFile := fs.String("test", "", "also score the served model and the marker rule on this file (variety<TAB>text per line)")
	embeddedOnly := fs.Bool("embedded-only", false, "use the built-in text only (no shared data)")
	out := fs.String("out", "", "folder to write report.json and report.md (default: print Markdown)")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	root := *dataDir
	if *embeddedOnly {
		root = ""
	}
	corpora, err := classifier.LoadCorpora(root)
	if err != nil {
		return fmt.Errorf("eval dialect: %w (use --data, or --embedded-only)", err)
	}
	path := *model
	if path == "" {
		path = c.cfg.Files.VarietyModel
	}
	// The identifier the service runs, built by the same function.
	id, err := app.LanguageIdentifier(ctx, path, c.log)
	if err != nil {
		return err
	}
	opt := id.Variety().Options
	build := func(ctx context.Context, cs []classifier.Corpus) (*classifier.VarietyModel, error) {
		return classifier.BuildVariety(ctx, cs, opt)
	}
	rep, err := evals.RunDialectCross(ctx, corpora, id, build, c.log)
	if err != nil {
		return fmt.Errorf("eval dialect: %w", err)
	}
	if *testFile != "" {
		f, err := os.Open(*testFile)
		if err != nil {
			return fmt.Errorf("eval dialect: --test: %w", err)
		}
		items, err := evals.ReadDialectTSV(f, filepath.Base(*testFile))
		f.Close()
		if err != nil {
			return fmt.Errorf("eval dialect: --test: %w", err)
		}
		if rep.Outside, rep.OutsideRule, err = evals.RunDialectFile(ctx, items, id, filepath.Base(*testFile)); err != nil {
			return fmt.Errorf("eval dialect: %w", err)
		}
	}
	rep.Served = "model built into the binary"
	if path != "" {
		rep.Served = path
	}
	rep.Machine = machine()
	return writeReport(rep, rep.Markdown(), *out, *asJSON, stdout)
}
