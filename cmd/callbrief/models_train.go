package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callbrief/callbrief/models"
	"github.com/callbrief/callbrief/nlu"
)

// cmdModelsTrain is `callbrief models train` (args exclude "train"): it
// trains the hotline intent model on the embedded taxonomy and writes the
// model file the service loads at start. Without a model file the service
// trains the same model at start (it takes well under a second), so this
// command is for shipping a reviewed, fixed artefact.
func cmdModelsTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("models train", &c, stderr)
	out := fs.String("out", "", "model file to write (default: <cache>/nlu/intent-hotline.cblm)")
	epochs := fs.Int("epochs", 0, "training epochs (default: the hotline's)")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	path := *out
	if path == "" {
		dir := c.cfg.CacheDir
		if dir == "" {
			dir = models.DefaultCacheDir()
		}
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
