package kb

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingEmbedder struct {
	calls   atomic.Int32
	release chan struct{} // nil: answer at once
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string, kind Kind) ([][]float32, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), float32(kind)}
	}
	return out, nil
}
func (c *countingEmbedder) Dim() int     { return 2 }
func (c *countingEmbedder) Name() string { return "counting" }
func (c *countingEmbedder) Close() error { return nil }

func TestQueryCacheEmbedsATurnOnce(t *testing.T) {
	e := &countingEmbedder{release: make(chan struct{})}
	q := NewQueryCache(e, 2)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := q.Query(ctx, "my phone is broken"); err != nil || v[0] != 18 {
				t.Errorf("Query = %v, %v", v, err)
			}
		}()
	}
	// All eight ask while the one computation is in flight.
	deadline := time.Now().Add(5 * time.Second)
	for e.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(e.release)
	wg.Wait()
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("embedder called %d times for one text, want 1", n)
	}
	// The KB's Embed of the same single query is a hit.
	if _, err := q.Embed(ctx, []string{"my phone is broken"}, Query); err != nil || e.calls.Load() != 1 {
		t.Fatalf("Embed after Query called the embedder again (%d)", e.calls.Load())
	}
	// Passages are never cached; the oldest query is evicted past size.
	q.Embed(ctx, []string{"p"}, Passage)
	q.Embed(ctx, []string{"p"}, Passage)
	if e.calls.Load() != 3 {
		t.Fatalf("passages: %d calls, want 3", e.calls.Load())
	}
	q.Query(ctx, "b")
	q.Query(ctx, "c")
	q.Query(ctx, "my phone is broken")
	if e.calls.Load() != 6 {
		t.Fatalf("after eviction: %d calls, want 6", e.calls.Load())
	}
	if h, m := q.Stats(); h < 8 || m != 4 {
		t.Fatalf("stats hits %d misses %d", h, m)
	}
}

func TestQueryCacheWaiterGivesUp(t *testing.T) {
	e := &countingEmbedder{release: make(chan struct{})}
	q := NewQueryCache(e, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := q.Query(ctx, "slow"); err == nil {
		t.Fatal("a waiter past its deadline got no error")
	}
	close(e.release)
	// The computation went on for the others and landed in the cache.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, err := q.Query(context.Background(), "slow"); err == nil && v[0] == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the embedding never landed")
		}
	}
	if e.calls.Load() != 1 {
		t.Fatalf("embedder called %d times, want 1", e.calls.Load())
	}
}

// TestQueryCacheWarm: Warm returns at once, computes once, and a later
// Query joins the computation in flight instead of starting another.
func TestQueryCacheWarm(t *testing.T) {
	e := &countingEmbedder{release: make(chan struct{})}
	q := NewQueryCache(e, 4)
	q.Warm("部机开唔到") // returns although the embedder is held
	q.Warm("部机开唔到")
	done := make(chan []float32)
	go func() {
		v, err := q.Query(context.Background(), "部机开唔到")
		if err != nil {
			t.Error(err)
		}
		done <- v
	}()
	close(e.release)
	select {
	case v := <-done:
		if v[0] != float32(len("部机开唔到")) {
			t.Fatalf("Query after Warm = %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Query after Warm never returned")
	}
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("embedder called %d times, want 1", n)
	}
	q.Warm("部机开唔到") // cached: nothing more
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("Warm of a cached text called the embedder (%d)", n)
	}
}

// TestQueryCacheWarmIsBounded: with MaxWarming warm-ups held in flight,
// more do nothing; a finished one makes room again.
func TestQueryCacheWarmIsBounded(t *testing.T) {
	e := &countingEmbedder{release: make(chan struct{})}
	q := NewQueryCache(e, 16)
	for i := range MaxWarming + 3 {
		q.Warm(fmt.Sprint("turn ", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for int(e.calls.Load()) < MaxWarming && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	q.mu.Lock()
	n := len(q.inflight)
	q.mu.Unlock()
	if n != MaxWarming {
		t.Fatalf("%d warm-ups in flight, want %d", n, MaxWarming)
	}
	close(e.release)
	deadline = time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		w := q.warming
		q.mu.Unlock()
		if w == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("warm-ups never finished")
		}
		time.Sleep(time.Millisecond)
	}
	q.Warm("one more")
	if _, err := q.Query(context.Background(), "one more"); err != nil {
		t.Fatal(err)
	}
	if n := e.calls.Load(); n != MaxWarming+1 {
		t.Fatalf("embedder called %d times, want %d", n, MaxWarming+1)
	}
}
