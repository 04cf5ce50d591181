package app

import (
	"context"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/nlu"
)

// benchmarkUnderstand times the served understanding step on the
// taxonomy's held-out lines (each line once per pass, so the utterance
// cache only helps within a turn, as it does in a call): text in, intent
// and variety out (understand), then the brief's KB suggestions for the
// same turn (kb), which reuse the turn's embedding. It needs the e5 model
// and a built knowledge base (make setup) and skips without them.
func benchmarkUnderstand(b *testing.B, dense string) {
	cfg := config.Default()
	cfg.Intent.Dense = dense
	log := slog.New(slog.DiscardHandler)
	e, err := NewEngines(cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	kbase, err := e.KB(ctx)
	if err != nil {
		b.Skipf("no knowledge base: %v", err)
	}
	under, err := e.Understanding(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tax, err := taxonomy.Load()
	if err != nil {
		b.Fatal(err)
	}
	test, err := tax.Test()
	if err != nil {
		b.Fatal(err)
	}
	var und, sug []time.Duration
	hybrid, right := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		text := test[i%len(test)].Text
		if i >= len(test) {
			// A later pass: a distinct text, so no turn is served from
			// an earlier turn's cache entry.
			text += " " + string(rune('a'+i/len(test)%26))
		}
		t0 := time.Now()
		u, err := under.Understand(ctx, text, call.LangUndetermined)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		// What the served wait bound gives: how many turns the hybrid
		// answered (the rest fell back to the sparse model alone) and how
		// many were right.
		if u.Intent.Engine == nlu.HybridName {
			hybrid++
		}
		if string(u.Intent.Intent) == test[i%len(test)].Intent {
			right++
		}
		lang := "zh" // as handoff.Engine asks: the variety, or zh, or en
		switch l := u.Language.Language; {
		case l == call.LangEnglish:
			lang = "en"
		case l.IsChinese():
			lang = string(l)
		}
		if _, err := kbase.Suggest(ctx, text, handoff.KBFilter{Language: lang, Intent: string(u.Intent.Intent)}, 5); err != nil {
			b.Fatal(err)
		}
		und, sug = append(und, t1.Sub(t0)), append(sug, time.Since(t1))
	}
	b.StopTimer()
	q := func(ds []time.Duration, p float64) float64 {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return float64(s[min(len(s)-1, int(p*float64(len(s))))]) / 1e6
	}
	b.ReportMetric(float64(hybrid)/float64(b.N), "e5-answered-share")
	b.ReportMetric(float64(right)/float64(b.N), "served-accuracy")
	b.ReportMetric(q(und, 0.5), "understand-p50-ms")
	b.ReportMetric(q(und, 0.99), "understand-p99-ms")
	b.ReportMetric(q(sug, 0.5), "kb-p50-ms")
	b.ReportMetric(q(sug, 0.99), "kb-p99-ms")
	if qc, err := e.QueryEmbedder(ctx); err == nil {
		h, m := qc.Stats()
		b.ReportMetric(float64(h)/float64(max(1, h+m)), "embed-cache-hit-rate")
	}
}

// go test -run '^$' -bench Understand -benchtime 480x ./app
func BenchmarkUnderstandE5(b *testing.B)     { benchmarkUnderstand(b, "e5") }
func BenchmarkUnderstandSparse(b *testing.B) { benchmarkUnderstand(b, "none") }
