package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/callbrief/callbrief/classifier"
	"github.com/callbrief/callbrief/internal/testenv"
)

func TestEvalIntentHotline(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	if err := cmdEvalIntent(context.Background(), []string{"--json", "--out", dir}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep struct {
		Accuracy  float64 `json:"accuracy"`
		Test      int     `json:"test_utterances"`
		PerIntent []struct {
			Intent string  `json:"intent"`
			Recall float64 `json:"recall"`
		} `json:"per_intent"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Test < 200 || rep.Accuracy < 0.8 {
		t.Errorf("hotline held-out: %d utterances, accuracy %.3f", rep.Test, rep.Accuracy)
	}
	for _, p := range rep.PerIntent {
		if (p.Intent == "safety_emergency" || p.Intent == "data_leak_fraud") && p.Recall != 1 {
			t.Errorf("%s recall %.3f, want 1", p.Intent, p.Recall)
		}
	}
	for _, f := range []string{"report.json", "report.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestEvalIntentFiles(t *testing.T) {
	dir := t.TempDir()
	train := filepath.Join(dir, "train.csv")
	test := filepath.Join(dir, "test.jsonl")
	os.WriteFile(train, []byte("text,intent\nwhere is my order,order\nhas my parcel shipped,order\ntrack my package,order\nmy screen is broken,fault\nthe battery dies fast,fault\nthe camera is blurry,fault\n"), 0o644)
	os.WriteFile(test, []byte(`{"text":"where is my parcel","intent":"order"}`+"\n"+`{"text":"broken screen","label":"fault"}`+"\n"), 0o644)
	var out, errb bytes.Buffer
	if err := cmdEvalIntent(context.Background(), []string{"--train", train, "--test", test}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("**Accuracy**")) {
		t.Errorf("no Markdown report:\n%s", out.String())
	}
	if err := cmdEvalIntent(context.Background(), []string{"--train", train}, &out, &errb); err == nil {
		t.Error("--train without --test accepted")
	}
}

func TestEvalDialectEmbedded(t *testing.T) {
	var out, errb bytes.Buffer
	if err := cmdEvalDialect(context.Background(), []string{"--embedded-only", "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	type sub struct {
		Dataset  string                    `json:"dataset"`
		Accuracy float64                   `json:"accuracy"`
		Matrix   map[string]map[string]int `json:"matrix"`
	}
	var rep struct {
		Cross    []sub `json:"cross_corpus"`
		Pooled   *sub  `json:"cross_corpus_pooled"`
		InCorpus []sub `json:"in_corpus"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// Built-in text: the taxonomy and our own sentences, each held out in turn.
	if len(rep.Cross) != 2 || rep.Pooled == nil || len(rep.Pooled.Matrix) == 0 {
		t.Fatalf("cross-corpus part incomplete: %s", out.String())
	}
	// The served (built-in) model on the taxonomy's held-out test part.
	if len(rep.InCorpus) == 0 || rep.InCorpus[0].Accuracy < 0.9 {
		t.Errorf("in-corpus: %+v", rep.InCorpus)
	}
}

// TestEvalDialectShared runs the full cross-corpus evaluation and holds the
// served constructor to its claim: on Mandarin and Cantonese sentences of
// corpora it was not trained on, it beats the marker rule.
func TestEvalDialectShared(t *testing.T) {
	root := testenv.SharedData(t, "")
	var out, errb bytes.Buffer
	if err := cmdEvalDialect(context.Background(), []string{"--data", root, "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep struct {
		Model float64 `json:"cross_corpus_cmn_yue_accuracy"`
		Rule  float64 `json:"marker_rule_cmn_yue_accuracy"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Model < 0.9 || rep.Model <= rep.Rule {
		t.Errorf("cross-corpus Mandarin/Cantonese accuracy %.4f (marker rule %.4f)", rep.Model, rep.Rule)
	}
}

func TestModelsTrain(t *testing.T) {
	p := filepath.Join(t.TempDir(), "intent.cblm")
	var out, errb bytes.Buffer
	if err := cmdModelsTrain(context.Background(), []string{"--out", p, "--models", "intent"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
		t.Fatalf("model file: %v", err)
	}
}

func TestModelsTrainVariety(t *testing.T) {
	root := testenv.SharedData(t, "")
	p := filepath.Join(t.TempDir(), "variety.cbvm")
	var out, errb bytes.Buffer
	if err := cmdModelsTrain(context.Background(), []string{"--models", "variety", "--variety-out", p, "--data", root}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	m, err := classifier.LoadVariety(p)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, d := range m.Data {
		if len(d.SHA256) != 64 {
			t.Errorf("%s: checksum %q", d.Name, d.SHA256)
		}
		names[d.Name] = true
	}
	for _, want := range []string{classifier.CorpusHKCanCor, classifier.CorpusTatoeba, classifier.CorpusSpeechZH, classifier.CorpusTaxonomy, classifier.CorpusOwn} {
		if !names[want] {
			t.Errorf("model file does not name corpus %s", want)
		}
	}
	if err := cmdModelsTrain(context.Background(), []string{"--models", "varieties"}, &out, &errb); err == nil {
		t.Error("unknown model name accepted")
	}
	if err := cmdModelsTrain(context.Background(), []string{"--models", "variety", "--variety-out", p, "--data", t.TempDir()}, &out, &errb); err == nil {
		t.Error("training without the shared corpora accepted")
	}
}
