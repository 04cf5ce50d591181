package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/nlu"
	"github.com/callbrief/callbrief/nlu/linear"
)

// sharedDataDefault is where the public labelled datasets sit relative to
// the repository (and to the working directory CI runs from).
const sharedDataDefault = "../shared/data"

// cmdEvalIntent is `callbrief eval intent` (args exclude "intent"): it
// trains a fresh embedded model and scores it.
//
//	--train FILE --test FILE [--val FILE] [--oos-label L]   your own data (.csv, .jsonl, .tsv)
//	--dataset banking77|clinc150|hwu64 [--data DIR]         a public dataset's layout
//	(neither)                                                the hotline taxonomy's held-out split
func cmdEvalIntent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval intent", &c, stderr)
	trainPath := fs.String("train", "", "training utterances (.csv, .jsonl or .tsv)")
	testPath := fs.String("test", "", "test utterances (.csv, .jsonl or .tsv)")
	valPath := fs.String("val", "", "validation utterances for calibration (default: 10% of --train)")
	oosLabel := fs.String("oos-label", "", "label that means out of scope in the data (e.g. oos)")
	dataset := fs.String("dataset", "", "public dataset: banking77, clinc150 or hwu64")
	dataDir := fs.String("data", sharedDataDefault, "folder holding the public datasets")
	epochs := fs.Int("epochs", 0, "training epochs (default: the model's)")
	out := fs.String("out", "", "folder to write report.json and report.md (default: print Markdown)")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	var ds *evals.IntentDataset
	hotline := false
	var err error
	switch {
	case *dataset != "":
		ds, err = evals.LoadNamedIntentDataset(*dataDir, *dataset)
	case *trainPath != "" || *testPath != "":
		if *trainPath == "" || *testPath == "" {
			return fmt.Errorf("%w: --train and --test go together", errUsage)
		}
		ds = &evals.IntentDataset{Name: filepath.Base(*testPath), OOSLabel: *oosLabel}
		if ds.Train, err = evals.LoadIntentFile(*trainPath); err == nil {
			ds.Test, err = evals.LoadIntentFile(*testPath)
		}
		if err == nil && *valPath != "" {
			ds.Validation, err = evals.LoadIntentFile(*valPath)
		}
	default:
		hotline = true
		ds, err = hotlineDataset()
	}
	if err != nil {
		return err
	}
	eng, err := app.NewEngines(c.cfg, c.log)
	if err != nil {
		return err
	}
	defer eng.Close()
	// The served trainer: sparse model plus the e5 head unless
	// intent.dense=none (or e5 is missing, which it logs).
	fit, hybrid := eng.IntentTrainer(ctx)
	trainer := func(ctx context.Context, train, val []evals.IntentItem, oos string) (evals.IntentPredictor, error) {
		opt := linear.DefaultOptions()
		if hotline {
			opt = nlu.HotlineOptions()
		}
		if *epochs > 0 {
			opt.Epochs = *epochs
		}
		opt.OOSLabel = oos
		opt.Validation = toExamples(val)
		eo := nlu.EmbeddedOptions{Log: c.log}
		if hotline {
			eo.Rules = nlu.DefaultRules
		}
		cl, err := fit(ctx, toExamples(train), opt, eo)
		if err != nil {
			return nil, err
		}
		return cl.Classify, nil
	}
	engine := "embedded linear model"
	if hybrid {
		engine += " + e5 head"
	}
	if hotline {
		engine += " + emergency rules"
	}
	rep, err := evals.RunIntent(ctx, engine, ds, trainer)
	if err != nil {
		return err
	}
	rep.Machine = machine()
	return writeReport(rep, rep.Markdown(), *out, *asJSON, stdout)
}

// hotlineDataset is our taxonomy's training and held-out utterances.
func hotlineDataset() (*evals.IntentDataset, error) {
	tax, err := taxonomy.Load()
	if err != nil {
		return nil, err
	}
	tr, err := tax.Train()
	if err != nil {
		return nil, err
	}
	te, err := tax.Test()
	if err != nil {
		return nil, err
	}
	conv := func(us []taxonomy.Utterance) []evals.IntentItem {
		out := make([]evals.IntentItem, len(us))
		for i, u := range us {
			out[i] = evals.IntentItem{Text: u.Text, Intent: u.Intent, Language: call.Language(u.Lang)}
		}
		return out
	}
	var emergencies []string
	for _, in := range tax.Intents() {
		if in.Emergency {
			emergencies = append(emergencies, in.ID)
		}
	}
	return &evals.IntentDataset{Name: "hotline taxonomy (held-out split)", Train: conv(tr), Test: conv(te), OOSLabel: string(call.IntentOutOfScope), Emergencies: emergencies}, nil
}

// hotlineCrossDataset is the hotline's held-out split pooled with speech
// from corpora the hotline never saw, all of it out of scope: everyday
// sentences in four Chinese varieties (Tatoeba), real Mandarin and
// Cantonese recordings' transcripts (speech-zh: livestreams, audiobooks,
// chat), English requests to a voice assistant (HWU64, its smart-home
// commands apart) and CLINC150's out-of-scope test list. None of them
// trains the intent model; CLINC150's training lists are part of the
// relevance model's general-language background, so its row is marked.
func hotlineCrossDataset(shared string) (*evals.IntentDataset, error) {
	ds, err := hotlineDataset()
	if err != nil {
		return nil, err
	}
	ds.Name = "hotline taxonomy (held-out split) + out-of-scope speech from other corpora"
	for i := range ds.Test {
		ds.Test[i].Source = "hotline held-out"
	}
	oos := string(call.IntentOutOfScope)
	add := func(src string, lang call.Language, text string) {
		ds.Test = append(ds.Test, evals.IntentItem{Text: text, Intent: oos, Language: lang, Source: src})
	}
	for _, split := range []classifier.Split{classifier.SplitTrain, classifier.SplitValidation, classifier.SplitTest} {
		tat, err := classifier.LoadTatoeba(filepath.Join(shared, "tatoeba-zh-varieties"), split)
		if err != nil {
			return nil, err
		}
		for _, e := range tat {
			add("tatoeba "+string(e.Variety), e.Variety, e.Text)
		}
		sz, err := classifier.LoadSpeechZH(filepath.Join(shared, "speech-zh"), split)
		if err != nil {
			return nil, err
		}
		for _, e := range sz {
			add("speech-zh transcripts", e.Variety, e.Text)
		}
	}
	hwu, err := evals.LoadHWU64(filepath.Join(shared, "hwu64"))
	if err != nil {
		return nil, err
	}
	for _, it := range hwu.Test {
		src := "hwu64 assistant requests"
		if strings.HasPrefix(it.Intent, "iot_") {
			src = "hwu64 smart-home commands"
		}
		add(src, call.LangEnglish, it.Text)
	}
	cl, err := evals.LoadCLINC150(filepath.Join(shared, "clinc150"))
	if err != nil {
		return nil, err
	}
	for _, it := range cl.Test {
		if it.Intent == evals.CLINCOOSLabel {
			add("clinc150 oos test (in the background corpus)", call.LangEnglish, it.Text)
		}
	}
	return ds, nil
}

func toExamples(items []evals.IntentItem) []linear.Example {
	out := make([]linear.Example, len(items))
	for i, it := range items {
		out[i] = linear.Example{Text: it.Text, Label: it.Intent}
	}
	return out
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}

// writeReport writes report.json and report.md under out (when set) and
// prints Markdown or JSON.
func writeReport(rep any, md, out string, asJSON bool, stdout io.Writer) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "report.json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(md), 0o644); err != nil {
			return err
		}
	}
	if asJSON {
		_, err = fmt.Fprintf(stdout, "%s\n", js)
		return err
	}
	_, err = fmt.Fprint(stdout, md)
	return err
}

// homophoneRate is the share of Chinese characters the homophone test set
// replaces: Whisper base's Mandarin CER on real speech is 10-25%, most of
// it characters heard by their sound.
const homophoneRate = 0.2

// hotlineHomophoneDataset is the hotline's held-out Chinese utterances as a
// recognizer that errs by sound would write them: each character, with
// probability homophoneRate, replaced by another with the same toneless
// Mandarin reading (冲 for 充, 鸡 for 机), drawn from the characters of the
// hotline's own sentences (seeded, so every run scores the same text).
// English lines are left out. It stands for recognizer transcripts of
// real requests, which no recording here holds.
func hotlineHomophoneDataset() (*evals.IntentDataset, error) {
	ds, err := hotlineDataset()
	if err != nil {
		return nil, err
	}
	bySound := map[string][]rune{}
	seen := map[rune]bool{}
	for _, it := range append(append([]evals.IntentItem(nil), ds.Train...), ds.Test...) {
		for _, r := range it.Text {
			if p := linear.TonelessPinyin(r); p != "" && !seen[r] {
				seen[r] = true
				bySound[p] = append(bySound[p], r)
			}
		}
	}
	for _, rs := range bySound {
		slices.Sort(rs) // map order must not decide the draw
	}
	rng := rand.New(rand.NewPCG(12, 12))
	var test []evals.IntentItem
	for _, it := range ds.Test {
		if it.Language == call.LangEnglish {
			continue
		}
		rs := []rune(it.Text)
		for i, r := range rs {
			alts := bySound[linear.TonelessPinyin(r)]
			if len(alts) < 2 || rng.Float64() >= homophoneRate {
				continue
			}
			for {
				if a := alts[rng.IntN(len(alts))]; a != r {
					rs[i] = a
					break
				}
			}
		}
		it.Text = string(rs)
		test = append(test, it)
	}
	ds.Test = test
	ds.Name = fmt.Sprintf("hotline taxonomy (held-out Chinese, %.0f%% of characters replaced by homophones)", 100*homophoneRate)
	return ds, nil
}
