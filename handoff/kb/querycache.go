package kb

import (
	"container/list"
	"context"
	"sync"
)

// QueryCache is an Embedder that remembers the embeddings of recent
// single queries and shares one computation among concurrent asks for the
// same text. The intent classifier and the knowledge-base search both
// embed the caller's turn; through one QueryCache the turn is embedded
// once. Passages and batches go straight to the embedder.
type QueryCache struct {
	Embedder
	size int

	mu       sync.Mutex
	entries  map[string]*list.Element
	order    *list.List // front = most recent
	inflight map[string]*flight
	warming  int // Warm computations in flight
	hits     int
	misses   int
}

type flight struct {
	warm bool // started by Warm
	done chan struct{}
	v    []float32
	err  error
}

type cached struct {
	text string
	v    []float32
}

// NewQueryCache wraps e, keeping the last size query embeddings (default
// 512: a few minutes of turns on a busy node).
func NewQueryCache(e Embedder, size int) *QueryCache {
	if size <= 0 {
		size = 512
	}
	return &QueryCache{Embedder: e, size: size, entries: map[string]*list.Element{}, order: list.New(), inflight: map[string]*flight{}}
}

// Embed implements Embedder.
func (q *QueryCache) Embed(ctx context.Context, texts []string, kind Kind) ([][]float32, error) {
	if kind != Query || len(texts) != 1 {
		return q.Embedder.Embed(ctx, texts, kind)
	}
	v, err := q.Query(ctx, texts[0])
	if err != nil {
		return nil, err
	}
	return [][]float32{v}, nil
}

// Query returns the query embedding of text, computing it at most once
// however many callers ask at the same time. The returned slice is shared:
// callers must not change it.
func (q *QueryCache) Query(ctx context.Context, text string) ([]float32, error) {
	q.mu.Lock()
	if el, ok := q.entries[text]; ok {
		q.order.MoveToFront(el)
		q.hits++
		q.mu.Unlock()
		return el.Value.(*cached).v, nil
	}
	f, ok := q.inflight[text]
	if ok {
		q.hits++ // joined a computation in flight
	} else {
		q.misses++
		f = &flight{done: make(chan struct{})}
		q.inflight[text] = f
		// The computation belongs to every waiter, not to the first
		// caller's context: one caller giving up must not fail the others.
		go q.compute(context.WithoutCancel(ctx), text, f)
	}
	q.mu.Unlock()
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// MaxWarming bounds the Warm computations in flight. The embedder runs
// one job at a time: warm-ups beyond a couple would only queue ahead of
// the turns that need their embedding now, so past it Warm does nothing
// (the turn is then embedded when asked, as without warming).
const MaxWarming = 2

// Warm starts computing text's query embedding in the background unless
// it is cached or in flight already, or MaxWarming are, and returns at
// once: a later Query for it finds it done, or joins it.
func (q *QueryCache) Warm(text string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.entries[text]; ok {
		return
	}
	if _, ok := q.inflight[text]; ok {
		return
	}
	if q.warming >= MaxWarming {
		return
	}
	q.warming++
	f := &flight{done: make(chan struct{}), warm: true}
	q.inflight[text] = f
	go q.compute(context.Background(), text, f)
}

func (q *QueryCache) compute(ctx context.Context, text string, f *flight) {
	vs, err := q.Embedder.Embed(ctx, []string{text}, Query)
	if err == nil && len(vs) != 1 {
		err = ErrEmbedder
	}
	q.mu.Lock()
	delete(q.inflight, text)
	if f.warm {
		q.warming--
	}
	if err == nil {
		f.v = vs[0]
		q.entries[text] = q.order.PushFront(&cached{text, vs[0]})
		for q.order.Len() > q.size {
			old := q.order.Back()
			q.order.Remove(old)
			delete(q.entries, old.Value.(*cached).text)
		}
	}
	f.err = err
	q.mu.Unlock()
	close(f.done)
}

// Stats are the cache's hits and misses since it was made.
func (q *QueryCache) Stats() (hits, misses int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.hits, q.misses
}
