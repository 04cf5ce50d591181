package main

import (
	"context"
	"fmt"
	"io"

	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/evals"
)

// cmdEvalDialect is `callbrief eval dialect` (args exclude "dialect"): it
// trains the variety model on the training parts of the corpora and scores
// language and variety identification on the held-out parts.
func cmdEvalDialect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval dialect", &c, stderr)
	dataDir := fs.String("data", sharedDataDefault, "folder holding hkcancor/ and tatoeba-zh-varieties/")
	embeddedOnly := fs.Bool("embedded-only", false, "train and test on the built-in text only (no shared data)")
	out := fs.String("out", "", "folder to write report.json and report.md (default: print Markdown)")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	load := func(s classifier.Split) ([]classifier.VarietyExample, error) {
		if *embeddedOnly {
			return classifier.EmbeddedCorpus(s)
		}
		return classifier.SharedCorpus(*dataDir, s)
	}
	train, err := load(classifier.SplitTrain)
	if err != nil {
		return err
	}
	test, err := load(classifier.SplitTest)
	if err != nil {
		return err
	}
	m, err := classifier.TrainVariety(ctx, train)
	if err != nil {
		return err
	}
	id, err := classifier.NewIdentifier(m, c.log)
	if err != nil {
		return err
	}
	items := make([]evals.DialectItem, len(test))
	for i, e := range test {
		items[i] = evals.DialectItem{Text: e.Text, Variety: e.Variety, Source: e.Source}
	}
	name := "held-out splits of HKCanCor, Tatoeba varieties and our text"
	if *embeddedOnly {
		name = "held-out split of the built-in text"
	}
	rep, err := evals.RunDialect(ctx, "lingua-go + variety n-gram model", name, items, id.Identify)
	if err != nil {
		return fmt.Errorf("eval dialect: %w", err)
	}
	rep.Train = len(train)
	rep.Machine = machine()
	return writeReport(rep, rep.Markdown(), *out, *asJSON, stdout)
}
