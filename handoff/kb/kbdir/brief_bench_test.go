package kbdir

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/e5"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/models"
	"github.com/callbrief/callbrief/store/memory"
)

// BenchmarkBriefEndToEnd measures what the desk waits for: from the handoff
// decision to the brief readable, with the real knowledge base behind the
// suggestions (route, profile, ticket, summary, KB lookup, store, queue,
// dispatch). It runs on the demo KB with the e5 and lexical embedders, and
// on a synthetic KB of 100,000 chunks.
func BenchmarkBriefEndToEnd(b *testing.B) {
	ctx := context.Background()
	tx, err := taxonomy.Load()
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, base *kb.Base) {
		r, err := handoff.DefaultRouter(tx)
		if err != nil {
			b.Fatal(err)
		}
		ro, err := handoff.DemoRoster(r.Groups())
		if err != nil {
			b.Fatal(err)
		}
		eng, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx, KB: HandoffKB{Base: base}})
		if err != nil {
			b.Fatal(err)
		}
		texts := []string{"喂你好我手机突然就开不了机了按电源键一点反应都没有", "我部手機開唔到機呀點算好", "hi my phone won't turn on at all the screen is just black"}
		langs := []call.Language{call.LangMandarin, call.LangCantonese, call.LangEnglish}
		var lat []time.Duration
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			req := handoff.Request{CallID: fmt.Sprintf("bench-%d", i), Caller: "+8613812345678",
				Transcript: call.Transcript{Segments: []call.Segment{{Text: texts[i%3], End: 3 * time.Second, Final: true}}},
				Intent:     call.IntentResult{Intent: "device_power_boot", Confidence: 0.9},
				Language:   call.LanguageResult{Language: langs[i%3], Confidence: 0.9}}
			t0 := time.Now()
			if _, err := eng.Handoff(ctx, req); err != nil {
				b.Fatal(err)
			}
			br, err := eng.Brief(ctx, req.CallID)
			lat = append(lat, time.Since(t0))
			if err != nil || len(br.KB) == 0 {
				b.Fatalf("brief %v, %d suggestions, kb error %q", err, len(br.KB), br.KBError)
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
	b.Run("demo-lexical", func(b *testing.B) {
		base, _, err := Build(ctx, demo(b), Options{Dir: b.TempDir(), Hybrid: true})
		if err != nil {
			b.Fatal(err)
		}
		defer base.Index.Close()
		run(b, base)
	})
	b.Run("demo-e5", func(b *testing.B) {
		cache, err := models.NewCache(models.DefaultCacheDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		emb, err := e5.Open(ctx, e5.Options{Cache: cache})
		if err != nil {
			b.Fatalf("%v", err)
		}
		defer emb.Close()
		base, _, err := Build(ctx, demo(b), Options{Dir: b.TempDir(), Dense: emb, Hybrid: true})
		if err != nil {
			b.Fatal(err)
		}
		defer base.Index.Close()
		run(b, base)
	})
	b.Run("synthetic-100k-lexical", func(b *testing.B) {
		arts := demo(b)
		var many []kb.Article
		for i := 0; len(many) < 100_000; i++ {
			a := arts[i%len(arts)]
			a.ID = fmt.Sprintf("%s-%d", a.ID, i)
			// One short paragraph per copy keeps each article one chunk.
			a.Body = fmt.Sprintf("%s %d", firstLine(a.Body), i)
			many = append(many, a)
		}
		base, meta, err := Build(ctx, many, Options{Dir: b.TempDir(), Hybrid: true})
		if err != nil {
			b.Fatal(err)
		}
		defer base.Index.Close()
		b.ReportMetric(float64(meta.Chunks), "chunks")
		run(b, base)
	})
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' && i > 0 {
			return s[:i]
		}
	}
	return s
}
