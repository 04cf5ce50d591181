package handoff_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkBrief measures the handoff decision to the brief being ready on
// the desk: route, profile, ticket, template summary, KB (the fake here;
// the real index has its own benchmarks), store write, enqueue, dispatch.
// It reports p50/p99 per call.
func BenchmarkBrief(b *testing.B) {
	e := newEngine(b, fakeKB{})
	ctx := context.Background()
	if err := e.Online(ctx, "sam.taylor"); err != nil {
		b.Fatal(err)
	}
	base := bootRequest(b, "x")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := base
		req.CallID = fmt.Sprintf("bench-%d", i)
		t := time.Now()
		if _, err := e.Handoff(ctx, req); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Brief(ctx, req.CallID); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		b.ReportMetric(float64(lat[n/2].Microseconds()), "p50_us")
		b.ReportMetric(float64(lat[n*99/100].Microseconds()), "p99_us")
	}
}
