package qdrant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
	"github.com/callbrief/callbrief/handoff/kb/kbtest"
)

// TestIndexSuite runs the shared index suite through the real Qdrant Go
// client against the in-process stand-in server (see fake_test.go):
// Qdrant cannot run on the build machine.
func TestIndexSuite(t *testing.T) {
	_, port := startFake(t)
	n := 0
	kbtest.Run(t, func(t *testing.T) kb.Index {
		n++
		ix, err := New(context.Background(), Options{Host: "127.0.0.1", Port: port, Dim: kbtest.Dim, Collection: fmt.Sprintf("suite_%d", n), Logger: slog.New(slog.DiscardHandler), BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		return ix
	})
}

func TestHybridRequestShape(t *testing.T) {
	ctx := context.Background()
	fake, port := startFake(t)
	ix, err := New(ctx, Options{Host: "127.0.0.1", Port: port, Dim: kbtest.Dim})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, kbtest.Records()); err != nil {
		t.Fatal(err)
	}
	rec := kbtest.Records()[4]
	if _, err := ix.Search(ctx, kb.SearchRequest{Dense: rec.Dense, Sparse: rec.Sparse, K: 3, Filter: kb.Filter{Product: "smart_home", Language: "zh"}}); err != nil {
		t.Fatal(err)
	}
	q := fake.last
	if len(q.GetPrefetch()) != 2 || q.GetQuery().GetRrf().GetK() != kb.RRFK || q.GetLimit() != 3 {
		t.Fatalf("want two prefetches fused by RRF(k=%d), limit 3; got %v", kb.RRFK, q)
	}
	for _, p := range q.GetPrefetch() {
		if p.GetFilter() == nil || p.GetLimit() != uint64(kb.SearchRequest{K: 3}.PrefetchLimit()) {
			t.Errorf("prefetch %s: filter %v, limit %d", p.GetUsing(), p.GetFilter(), p.GetLimit())
		}
	}
	if got := len(q.GetFilter().GetMust()); got != 2 {
		t.Errorf("filter has %d conditions, want product and language", got)
	}
}

func TestExistingCollectionOfOtherSize(t *testing.T) {
	ctx := context.Background()
	_, port := startFake(t)
	ix, err := New(ctx, Options{Host: "127.0.0.1", Port: port, Dim: 8, Collection: "kb"})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if _, err := New(ctx, Options{Host: "127.0.0.1", Port: port, Dim: 16, Collection: "kb"}); !errors.Is(err, kb.ErrDimension) {
		t.Fatalf("err = %v, want ErrDimension", err)
	}
	// Reopening with the same size reuses the collection.
	ix, err = New(ctx, Options{Host: "127.0.0.1", Port: port, Dim: 8, Collection: "kb"})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
}

func TestServerDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2e9)
	defer cancel()
	_, err := New(ctx, Options{Host: "127.0.0.1", Port: 1, Dim: 8})
	if !errors.Is(err, kb.ErrIndex) {
		t.Fatalf("err = %v, want ErrIndex", err)
	}
}
