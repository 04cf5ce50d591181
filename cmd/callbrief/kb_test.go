package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/kbdir"
)

func TestKBIngestSearch(t *testing.T) {
	ctx := context.Background()
	idx := t.TempDir()
	var out, errb bytes.Buffer
	articles := filepath.Join("..", "..", "data", "kb", "articles")
	if err := cmdKB(ctx, []string{"ingest", articles, "--index", idx, "--embedder", "lexical", "--set", "log.level=warn"}, &out, &errb); err != nil {
		t.Fatalf("ingest: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "embedder lexical-hash512") {
		t.Fatalf("ingest output: %s", out.String())
	}
	out.Reset()
	if err := cmdKB(ctx, []string{"search", "部機冇信號呀打唔到電話", "--index", idx, "--lang", "yue", "--k", "3", "--set", "log.level=warn"}, &out, &errb); err != nil {
		t.Fatalf("search: %v", err)
	}
	if !strings.Contains(out.String(), "3 suggestions") || !strings.Contains(out.String(), "[zh-network-002]") {
		t.Fatalf("search output:\n%s", out.String())
	}
}

func TestKBErrors(t *testing.T) {
	ctx := context.Background()
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.md"), []byte("---\nid: a\ntitle: t\nproduct: phone\nintents: [x]\nlanguage: fr\n---\nbody\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want error
		msg  string
	}{
		{"no subcommand", nil, errUsage, "kb ingest"},
		{"malformed article", []string{"ingest", bad, "--index", t.TempDir(), "--embedder", "lexical"}, kb.ErrMalformed, "a.md:1: language"},
		{"search before ingest", []string{"search", "x", "--index", t.TempDir()}, kbdir.ErrNoKB, "kb ingest"},
		{"unknown embedder", []string{"ingest", bad, "--embedder", "magic"}, errUsage, ""},
		{"bad qdrant address", []string{"ingest", filepath.Join("..", "..", "data", "kb", "articles"), "--index", t.TempDir(), "--embedder", "lexical", "--qdrant", "nohostport"}, errUsage, "--qdrant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := cmdKB(ctx, append(tc.args, "--set", "log.level=warn"), &out, &errb)
			if tc.args == nil {
				err = cmdKB(ctx, nil, &out, &errb)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestEvalRetrievalLexical(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"retrieval", "--queries", filepath.Join("..", "..", "data", "kb", "queries.jsonl"),
		"--articles", filepath.Join("..", "..", "data", "kb", "articles"), "--systems", "lexical+sparse", "--out", t.TempDir(), "--set", "log.level=warn"}
	if err := cmdEvalRetrieval(context.Background(), args, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| lexical hashed + sparse TF-IDF (hybrid RRF)") {
		t.Fatalf("report:\n%s", out.String())
	}
}
