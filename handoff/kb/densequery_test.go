package kb

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDenseQueryFoldsSpokenVarietiesOnly(t *testing.T) {
	fold := func(s string) string { return strings.ReplaceAll(s, "唔", "不") }
	for _, c := range []struct {
		lang string
		on   bool
		want string
	}{
		{"yue", true, "开不到"},
		{"wuu", true, "开唔到"}, // the table is Cantonese's
		{"cmn", true, "开唔到"}, // Mandarin is embedded as said
		{"zh", true, "开唔到"},
		{"en", true, "开唔到"},
		{"", true, "开唔到"},
		{"yue", false, "开唔到"},
	} {
		if got := DenseQuery("开唔到", c.lang, c.on, fold); got != c.want {
			t.Errorf("DenseQuery(%q, fold %v) = %q, want %q", c.lang, c.on, got, c.want)
		}
	}
	if got := DenseQuery("开唔到", "yue", true, nil); got != "开唔到" {
		t.Errorf("no normalizer: %q", got)
	}
}

type recordingEmbedder struct{ texts []string }

func (r *recordingEmbedder) Embed(_ context.Context, texts []string, _ Kind) ([][]float32, error) {
	r.texts = append(r.texts, texts...)
	return nil, errors.New("stop after the embedding")
}
func (r *recordingEmbedder) Dim() int     { return 2 }
func (r *recordingEmbedder) Name() string { return "recording" }
func (r *recordingEmbedder) Close() error { return nil }

// TestSuggestEmbedsTheFoldedQuery: the search's dense half is the folded
// text for a Cantonese caller, the words as said for a Mandarin one.
func TestSuggestEmbedsTheFoldedQuery(t *testing.T) {
	r := &recordingEmbedder{}
	b := &Base{Embedder: r, Normalize: func(s string) string { return strings.ReplaceAll(s, "唔", "不") }, FoldDense: true}
	for _, lang := range []string{"yue", "cmn"} {
		if _, err := b.Suggest(context.Background(), Lookup{Text: "开唔到", Filter: Filter{Language: lang}}); err == nil {
			t.Fatal("the embedder's error was lost")
		}
	}
	if len(r.texts) != 2 || r.texts[0] != "开不到" || r.texts[1] != "开唔到" {
		t.Fatalf("embedded %q, want the folded text for yue and the words for cmn", r.texts)
	}
}
