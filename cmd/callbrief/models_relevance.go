package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/models"
	"github.com/callbrief/callbrief/nlu/relevance"
)

// relevanceArtifact is the manifest entry holding the Mandarin news corpus.
const (
	relevanceArtifact = "peoples-daily-1998"
	relevanceFile     = "peoples-daily-199801.txt"
)

// BackgroundSources reads the general-language corpora the relevance
// background is built from: written Mandarin (People's Daily, from the
// model cache), spoken Cantonese (all of HKCanCor) and English requests
// to a voice assistant (CLINC150's training and validation lists, its
// out-of-scope ones included; its test list is left for evaluation).
// None of them is a corpus the relevance evaluation scores.
func backgroundSources(ctx context.Context, cache *models.Cache, dataDir string) ([]relevance.Source, error) {
	if err := cache.Fetch(ctx, relevanceArtifact); err != nil {
		return nil, err
	}
	p, err := cache.Path(relevanceArtifact, relevanceFile)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	pd, err := relevance.ParsePeoplesDaily(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	sum := sha256.Sum256(b)
	srcs := []relevance.Source{{Name: "peoples-daily-1998", SHA256: hex.EncodeToString(sum[:]), Texts: pd}}

	hk := filepath.Join(dataDir, "hkcancor")
	var hkTexts []string
	for _, split := range []classifier.Split{classifier.SplitTrain, classifier.SplitValidation, classifier.SplitTest} {
		us, err := classifier.LoadHKCanCor(hk, split, 2, 0)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			hkTexts = append(hkTexts, u.Text)
		}
	}
	hkSum, err := classifier.DirSHA256(hk)
	if err != nil {
		return nil, err
	}
	srcs = append(srcs, relevance.Source{Name: "hkcancor", SHA256: hkSum, Texts: hkTexts})

	cl := filepath.Join(dataDir, "clinc150")
	ds, err := evals.LoadCLINC150(cl)
	if err != nil {
		return nil, err
	}
	var clTexts []string
	for _, it := range append(append([]evals.IntentItem(nil), ds.Train...), ds.Validation...) {
		clTexts = append(clTexts, it.Text)
	}
	cb, err := os.ReadFile(filepath.Join(cl, "data", "data_full.json"))
	if err != nil {
		return nil, err
	}
	cs := sha256.Sum256(cb)
	srcs = append(srcs, relevance.Source{Name: "clinc150-train-val", SHA256: hex.EncodeToString(cs[:]), Texts: clTexts})
	return srcs, nil
}

// trainRelevance builds the relevance background and writes it to path.
func trainRelevance(ctx context.Context, cache *models.Cache, dataDir, path string, stdout io.Writer) error {
	start := time.Now()
	srcs, err := backgroundSources(ctx, cache, dataDir)
	if err != nil {
		return fmt.Errorf("relevance background: %w (the shared corpora are needed: --data)", err)
	}
	bg, err := relevance.BuildBackground(srcs, relevance.DefaultBits)
	if err != nil {
		return fmt.Errorf("relevance background: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := bg.Save(path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "relevance background: %d buckets, built in %v\n", 1<<bg.Bits, time.Since(start).Round(time.Millisecond))
	for _, s := range bg.Sources {
		fmt.Fprintf(stdout, "  %-20s sha256 %s  sentences %d\n", s.Name, s.SHA256, s.Sentences)
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}
