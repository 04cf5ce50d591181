package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/models"
	"github.com/callbrief/callbrief/nlu"
)

// cmdModelsTrain is `callbrief models train` (args exclude "train"): it
// trains the hotline intent model on the embedded taxonomy and the Chinese
// variety model on the shared corpora and the repository's text, and
// writes the model files the service loads at start. Without an intent
// model file the service trains the same model at start (well under a
// second); the variety model needs the shared corpora, so the binary
// carries one built by this command (classifier/variety.cbvm), with the
// checksums of the data it was built from.
func cmdModelsTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("models train", &c, stderr)
	out := fs.String("out", "", "model file to write (default: <cache>/nlu/intent-hotline.cblm)")
	epochs := fs.Int("epochs", 0, "training epochs (default: the hotline's)")
	varietyOut := fs.String("variety-out", "", "variety model file to write (default: <cache>/nlu/variety.cbvm; classifier/variety.cbvm is the one built into the binary)")
	dataDir := fs.String("data", sharedDataDefault, "folder holding hkcancor/, tatoeba-zh-varieties/ and speech-zh/")
	relevanceOut := fs.String("relevance-out", "", "relevance background file to write (default: <cache>/nlu/background.cbrb; nlu/relevance/background.cbrb is the one built into the binary)")
	which := fs.String("models", "intent,variety", "which models to train (comma-separated: intent, variety, relevance)")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	dir := c.cfg.CacheDir
	if dir == "" {
		dir = models.DefaultCacheDir()
	}
	want := map[string]bool{}
	for _, w := range strings.Split(*which, ",") {
		switch w = strings.TrimSpace(w); w {
		case "intent", "variety", "relevance":
			want[w] = true
		default:
			return fmt.Errorf("models train: --models %q: unknown model %q (want intent, variety, relevance)", *which, w)
		}
	}
	if want["variety"] {
		p := *varietyOut
		if p == "" {
			p = filepath.Join(dir, "nlu", "variety.cbvm")
		}
		if err := trainVariety(ctx, *dataDir, p, stdout); err != nil {
			return err
		}
	}
	if want["relevance"] {
		p := *relevanceOut
		if p == "" {
			p = filepath.Join(dir, "nlu", "background.cbrb")
		}
		cache, err := models.NewCache(dir, c.log)
		if err != nil {
			return err
		}
		if err := trainRelevance(ctx, cache, *dataDir, p, stdout); err != nil {
			return err
		}
	}
	if !want["intent"] {
		return nil
	}
	path := *out
	if path == "" {
		path = filepath.Join(dir, "nlu", "intent-hotline.cblm")
	}
	opt := nlu.HotlineOptions()
	if *epochs > 0 {
		opt.Epochs = *epochs
	}
	start := time.Now()
	m, err := nlu.TrainHotline(ctx, opt, c.log)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := m.Save(path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "intent model: %d intents, %d features, temperature %.3f, out-of-scope threshold %.2f, trained in %v\nwrote %s (%d bytes)\n",
		len(m.Labels), m.NumFeatures(), m.Temperature, m.Threshold, time.Since(start).Round(time.Millisecond), path, st.Size())
	return nil
}

// trainVariety builds the variety model from the corpora under dataDir and
// the repository and writes it to path.
func trainVariety(ctx context.Context, dataDir, path string, stdout io.Writer) error {
	start := time.Now()
	cs, err := classifier.LoadCorpora(dataDir)
	if err != nil {
		return fmt.Errorf("variety model: %w (the shared corpora are needed: --data)", err)
	}
	m, err := classifier.BuildVariety(ctx, cs, classifier.DefaultVarietyOptions())
	if err != nil {
		return fmt.Errorf("variety model: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := m.Save(path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "variety model: %d features, temperature %.3f, trained in %v\n", m.NumFeatures(), m.Temperature, time.Since(start).Round(time.Millisecond))
	for _, d := range m.Data {
		fmt.Fprintf(stdout, "  %-10s sha256 %s  train %d  validation %d\n", d.Name, d.SHA256, d.Train, d.Validation)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", path, st.Size())
	return nil
}
