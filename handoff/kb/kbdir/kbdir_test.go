package kbdir

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/e5"
	"github.com/callbrief/callbrief/models"
)

func demo(t testing.TB) []kb.Article {
	t.Helper()
	arts, err := kb.LoadDir(filepath.Join("..", "..", "..", "data", "kb", "articles"), kb.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return arts
}

func TestBuildOpenSuggest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base, meta, err := Build(ctx, demo(t), Options{Dir: dir, Hybrid: true})
	if err != nil {
		t.Fatal(err)
	}
	base.Index.Close()
	if meta.Articles < 60 || meta.Chunks < meta.Articles || !strings.HasPrefix(meta.Embedder, "lexical") {
		t.Fatalf("meta %+v", meta)
	}
	base, _, err = Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Index.Close()
	tests := []struct {
		lookup kb.Lookup
		want   string
	}{
		{kb.Lookup{Text: "手机后盖鼓起来了电池鼓包", Filter: kb.Filter{Language: "zh"}}, "zh-safety-001"},
		{kb.Lookup{Text: "我部手機冇信號", Filter: kb.Filter{Language: "yue"}}, "zh-network-002"},
		{kb.Lookup{Text: "camera won't connect to wifi", Filter: kb.Filter{Language: "en", Product: "smart_home"}}, "en-home-001"},
	}
	for _, tc := range tests {
		res, err := base.Suggest(ctx, tc.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Suggestions) == 0 || res.Suggestions[0].ArticleID != tc.want {
			t.Errorf("%q: got %v, want %s first", tc.lookup.Text, ids(res.Suggestions), tc.want)
			continue
		}
		s := res.Suggestions[0]
		if len(s.Why) == 0 || s.Snippet == "" || s.Title == "" {
			t.Errorf("%q: suggestion lacks why/snippet: %+v", tc.lookup.Text, s)
		}
		for _, o := range res.Suggestions {
			if !kb.ArticleLanguageMatches(tc.lookup.Filter.Language, o.Language) {
				t.Errorf("%q: suggestion %s in %s", tc.lookup.Text, o.ArticleID, o.Language)
			}
		}
		if slices.ContainsFunc(res.Suggestions[1:], func(o kb.Suggestion) bool { return o.ArticleID == s.ArticleID }) {
			t.Errorf("%q: an article suggested twice", tc.lookup.Text)
		}
	}
}

func ids(ss []kb.Suggestion) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ArticleID
	}
	return out
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, _, err := Open(ctx, Options{Dir: t.TempDir()}); !errors.Is(err, ErrNoKB) {
		t.Fatalf("empty folder: %v", err)
	}
	dir := t.TempDir()
	base, _, err := Build(ctx, demo(t)[:5], Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	base.Index.Close()
	other := otherEmbedder{}
	if _, _, err := Open(ctx, Options{Dir: dir, Dense: other}); !errors.Is(err, kb.ErrDimension) {
		t.Fatalf("other embedder: err = %v, want ErrDimension", err)
	}
}

type otherEmbedder struct{}

func (otherEmbedder) Embed(context.Context, []string, kb.Kind) ([][]float32, error) { return nil, nil }
func (otherEmbedder) Dim() int                                                      { return 7 }
func (otherEmbedder) Name() string                                                  { return "other" }
func (otherEmbedder) Close() error                                                  { return nil }

// BenchmarkBriefLookup is the knowledge-base part of a brief: embed the
// caller's words and search the demo KB, with the lexical fallback and
// with e5 (when installed), both hybrid. p50_ms/p99_ms are per lookup.
func BenchmarkBriefLookup(b *testing.B) {
	ctx := context.Background()
	arts := demo(b)
	queries := []kb.Lookup{
		{Text: "喂你好我手机突然就开不了机了按电源键一点反应都没有", Filter: kb.Filter{Language: "zh"}},
		{Text: "我部手機開唔到機呀點算好", Filter: kb.Filter{Language: "yue"}},
		{Text: "hi my phone won't turn on at all the screen is just black", Filter: kb.Filter{Language: "en"}},
		{Text: "新买的摄像头扫码一直连不上家里的无线网", Filter: kb.Filter{Language: "zh", Product: "smart_home"}},
	}
	run := func(b *testing.B, dense kb.Embedder) {
		base, _, err := Build(ctx, arts, Options{Dir: b.TempDir(), Dense: dense, Hybrid: true})
		if err != nil {
			b.Fatal(err)
		}
		defer base.Index.Close()
		var lat []time.Duration
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			res, err := base.Suggest(ctx, queries[i%len(queries)])
			lat = append(lat, time.Since(t0))
			if err != nil || len(res.Suggestions) == 0 {
				b.Fatalf("%v, %d suggestions", err, len(res.Suggestions))
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		at := func(q float64) float64 {
			return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
		}
		b.ReportMetric(at(.5), "p50_ms")
		b.ReportMetric(at(.99), "p99_ms")
	}
	b.Run("lexical", func(b *testing.B) { run(b, nil) })
	b.Run("e5", func(b *testing.B) {
		cache, err := models.NewCache(models.DefaultCacheDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		e, err := e5.Open(ctx, e5.Options{Cache: cache})
		if err != nil {
			b.Skipf("e5 not installed: %v", err)
		}
		defer e.Close()
		run(b, e)
	})
}

func TestHandoffAdapter(t *testing.T) {
	ctx := context.Background()
	base, _, err := Build(ctx, demo(t), Options{Dir: t.TempDir(), Hybrid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Index.Close()
	got, err := HandoffKB{Base: base}.Suggest(ctx, "电池鼓包了后盖翘起来", handoff.KBFilter{Product: "phone", Language: "cmn", Intent: "safety_emergency"}, 3)
	if err != nil || len(got) == 0 || got[0].ArticleID != "zh-safety-001" {
		t.Fatalf("%+v, %v", got, err)
	}
	if !strings.Contains(got[0].Why, "answers the caller's intent safety_emergency") {
		t.Errorf("why = %q", got[0].Why)
	}
}
