package e5

import (
	"context"
	"math"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/models"
)

// The model is a real dependency that can be installed here, so the test
// needs it and fails with the setup command when it is missing.
func open(t *testing.T) *Embedder {
	t.Helper()
	cache, err := models.NewCache(models.DefaultCacheDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(context.Background(), Options{Cache: cache})
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestEmbedRanksParaphrasesFirst(t *testing.T) {
	e := open(t)
	if e.Dim() != 384 {
		t.Fatalf("Dim = %d, want 384", e.Dim())
	}
	ctx := context.Background()
	passages := []string{
		"手机无法开机：长按电源键15秒强制重启，连接原装充电器充电30分钟后再试。",
		"智能摄像头配网失败：确认路由器为2.4GHz频段，靠近路由器后重新扫码添加。",
		"How to claim warranty service in another country: bring the invoice to an authorised service centre.",
	}
	pv, err := e.Embed(ctx, passages, kb.Passage)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"我部手机开唔到机点算", 0},
		{"my phone won't turn on at all", 0},
		{"摄像头连不上wifi", 1},
		{"can I get my phone repaired under warranty abroad", 2},
	}
	for _, tc := range tests {
		qv, err := e.Embed(ctx, []string{tc.query}, kb.Query)
		if err != nil {
			t.Fatal(err)
		}
		if n := cos(qv[0], qv[0]); math.Abs(n-1) > 1e-3 {
			t.Errorf("%q: vector norm² %.4f, want 1", tc.query, n)
		}
		best, bestScore := -1, -2.0
		for i, p := range pv {
			if s := cos(qv[0], p); s > bestScore {
				best, bestScore = i, s
			}
		}
		if best != tc.want {
			t.Errorf("%q: nearest passage %d (%.3f), want %d", tc.query, best, bestScore, tc.want)
		}
	}
	// Query and passage prefixes differ, so the same text embeds differently.
	q, _ := e.Embed(ctx, passages[:1], kb.Query)
	if cos(q[0], pv[0]) > 0.9999 {
		t.Error("query and passage embeddings are identical: the prefix is not applied")
	}
	if out, err := e.Embed(ctx, nil, kb.Query); err != nil || len(out) != 0 {
		t.Errorf("empty input: %v, %v", out, err)
	}
}

func BenchmarkEmbedQuery(b *testing.B) {
	cache, err := models.NewCache(models.DefaultCacheDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	e, err := Open(context.Background(), Options{Cache: cache})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for b.Loop() {
		if _, err := e.Embed(context.Background(), []string{"我的手机开不了机了怎么办"}, kb.Query); err != nil {
			b.Fatal(err)
		}
	}
}
