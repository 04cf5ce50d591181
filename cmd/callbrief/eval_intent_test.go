package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
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
	var rep struct {
		Accuracy float64 `json:"accuracy"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Accuracy < 0.8 {
		t.Errorf("dialect (built-in text): accuracy %.3f, %v", rep.Accuracy, err)
	}
}

func TestModelsTrain(t *testing.T) {
	p := filepath.Join(t.TempDir(), "intent.cblm")
	var out, errb bytes.Buffer
	if err := cmdModelsTrain(context.Background(), []string{"--out", p}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
		t.Fatalf("model file: %v", err)
	}
}
