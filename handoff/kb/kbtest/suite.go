// Package kbtest is the one test suite every kb.Index implementation runs,
// so the in-process index and Qdrant are held to the same contract.
package kbtest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/callbrief/callbrief/handoff/kb"
)

// Dim is the vector size the suite uses.
const Dim = 8

func axis(weights map[int]float32) []float32 {
	v := make([]float32, Dim)
	var n float64
	for i, w := range weights {
		v[i] = w
		n += float64(w * w)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func sparse(kv ...float32) kb.SparseVector {
	var s kb.SparseVector
	for i := 0; i+1 < len(kv); i += 2 {
		s.Indices = append(s.Indices, uint32(kv[i]))
		s.Values = append(s.Values, kv[i+1])
	}
	return s
}

func chunk(id, article, product, lang string, intents ...string) kb.Chunk {
	return kb.Chunk{ID: id, ArticleID: article, Title: "title " + article, Text: "text of " + id, Product: product, Language: lang, Intents: intents, Tags: []string{"t"}}
}

// Records is the suite's fixture: five chunks of four articles.
func Records() []kb.Record {
	return []kb.Record{
		{Chunk: chunk("a1#0", "a1", "phone", "zh", "device_power_boot"), Dense: axis(map[int]float32{0: 1})},
		{Chunk: chunk("a1#1", "a1", "phone", "zh", "device_power_boot"), Dense: axis(map[int]float32{0: 1, 1: 1})},
		{Chunk: chunk("a2#0", "a2", "phone", "en", "network_sim"), Dense: axis(map[int]float32{1: 1}), Sparse: sparse(7, 1)},
		{Chunk: chunk("a3#0", "a3", kb.GeneralProduct, "zh", "account_device_unlock"), Dense: axis(map[int]float32{2: 1})},
		{Chunk: chunk("a4#0", "a4", "smart_home", "zh", "smart_home_setup"), Dense: axis(map[int]float32{0: 0.6, 3: 0.8}), Sparse: sparse(7, 0.5, 9, 0.866)},
	}
}

// Open makes a fresh, empty index of dimension Dim for one subtest.
type Open func(t *testing.T) kb.Index

func ids(hits []kb.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Chunk.ID
	}
	return out
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 2e-3 }

// Run runs the suite against the index that open makes.
func Run(t *testing.T, open Open) {
	ctx := context.Background()
	filled := func(t *testing.T) kb.Index {
		ix := open(t)
		if err := ix.Upsert(ctx, Records()); err != nil {
			t.Fatalf("upsert: %v", err)
		}
		return ix
	}

	t.Run("empty", func(t *testing.T) {
		ix := open(t)
		n, err := ix.Len(ctx)
		if err != nil || n != 0 {
			t.Fatalf("Len = %d, %v; want 0", n, err)
		}
		hits, err := ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{0: 1}), K: 5})
		if err != nil || len(hits) != 0 {
			t.Fatalf("search of an empty index = %v, %v; want no hits, no error", ids(hits), err)
		}
	})

	t.Run("dense", func(t *testing.T) {
		ix := filled(t)
		if n, _ := ix.Len(ctx); n != 5 {
			t.Fatalf("Len = %d, want 5", n)
		}
		tests := []struct {
			name   string
			q      []float32
			k      int
			filter kb.Filter
			want   []string
			scores []float32
		}{
			{"nearest first", axis(map[int]float32{0: 1}), 3, kb.Filter{}, []string{"a1#0", "a1#1", "a4#0"}, []float32{1, 0.7071, 0.6}},
			{"k above size", axis(map[int]float32{2: 1}), 50, kb.Filter{Language: "en"}, []string{"a2#0"}, []float32{0}},
			{"product keeps general", axis(map[int]float32{2: 1}), 1, kb.Filter{Product: "phone"}, []string{"a3#0"}, []float32{1}},
			{"product excludes others", axis(map[int]float32{3: 1}), 5, kb.Filter{Product: "phone"}, []string{"a1#0", "a1#1", "a2#0", "a3#0"}, nil},
			{"intent", axis(map[int]float32{1: 1}), 5, kb.Filter{Intent: "smart_home_setup"}, []string{"a4#0"}, []float32{0}},
			{"language and product", axis(map[int]float32{0: 1}), 5, kb.Filter{Product: "smart_home", Language: "zh"}, []string{"a4#0", "a3#0"}, []float32{0.6, 0}},
			{"nothing matches", axis(map[int]float32{0: 1}), 5, kb.Filter{Intent: "no_such_intent"}, []string{}, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				hits, err := ix.Search(ctx, kb.SearchRequest{Dense: tc.q, K: tc.k, Filter: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				got := ids(hits)
				if tc.scores == nil { // order among equal scores is not part of the contract
					slices.Sort(got)
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("hits = %v, want %v", got, tc.want)
				}
				for i, s := range tc.scores {
					if !near(hits[i].Score, s) {
						t.Errorf("hit %d score = %.4f, want %.4f", i, hits[i].Score, s)
					}
				}
				for _, h := range hits {
					if h.Chunk.Title == "" || h.Chunk.Text == "" || h.Chunk.Language == "" || len(h.Chunk.Intents) == 0 || len(h.Chunk.Tags) == 0 {
						t.Errorf("hit %s lost its metadata: %+v", h.Chunk.ID, h.Chunk)
					}
				}
			})
		}
	})

	t.Run("sparse only", func(t *testing.T) {
		ix := filled(t)
		hits, err := ix.Search(ctx, kb.SearchRequest{Sparse: sparse(7, 1), K: 5})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(hits); !slices.Equal(got, []string{"a2#0", "a4#0"}) {
			t.Fatalf("hits = %v, want [a2#0 a4#0] (only chunks sharing a term)", got)
		}
		if !near(hits[0].Score, 1) || !near(hits[1].Score, 0.5) {
			t.Errorf("scores = %v, %v; want 1, 0.5", hits[0].Score, hits[1].Score)
		}
	})

	t.Run("hybrid fusion", func(t *testing.T) {
		ix := filled(t)
		// a4#0 is third by the dense vector and first by the sparse one:
		// 1/63 + 1/61 beats a1#0's 1/61 from the dense list alone.
		hits, err := ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{0: 1}), Sparse: sparse(9, 1), K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(hits); !slices.Equal(got, []string{"a4#0", "a1#0", "a1#1"}) {
			t.Fatalf("hits = %v, want [a4#0 a1#0 a1#1]", got)
		}
		if want := float32(1.0/63 + 1.0/61); !near(hits[0].Score, want) {
			t.Errorf("fused score = %.5f, want %.5f", hits[0].Score, want)
		}
		// The filter applies to both lists.
		hits, err = ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{0: 1}), Sparse: sparse(9, 1), K: 3, Filter: kb.Filter{Product: "phone"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Chunk.ID == "a4#0" {
				t.Fatalf("filtered hybrid search returned a smart_home chunk: %v", ids(hits))
			}
		}
	})

	t.Run("upsert replaces", func(t *testing.T) {
		ix := filled(t)
		r := Records()[2]
		r.Dense = axis(map[int]float32{5: 1})
		r.Chunk.Text = "rewritten"
		if err := ix.Upsert(ctx, []kb.Record{r}); err != nil {
			t.Fatal(err)
		}
		if n, _ := ix.Len(ctx); n != 5 {
			t.Fatalf("Len after re-upsert = %d, want 5", n)
		}
		hits, err := ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{5: 1}), K: 1})
		if err != nil || len(hits) != 1 || hits[0].Chunk.ID != "a2#0" || hits[0].Chunk.Text != "rewritten" {
			t.Fatalf("after replace: %+v, %v", hits, err)
		}
	})

	t.Run("delete article", func(t *testing.T) {
		ix := filled(t)
		if err := ix.Delete(ctx, []string{"a1", "no-such-article"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := ix.Len(ctx); n != 3 {
			t.Fatalf("Len after delete = %d, want 3", n)
		}
		hits, err := ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{0: 1}), Sparse: sparse(7, 1), K: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Chunk.ArticleID == "a1" {
				t.Fatalf("deleted article still found: %v", ids(hits))
			}
		}
		if err := ix.Delete(ctx, nil); err != nil {
			t.Fatalf("empty delete: %v", err)
		}
	})

	t.Run("bad dimension", func(t *testing.T) {
		ix := filled(t)
		r := Records()[0]
		r.Dense = r.Dense[:Dim-1]
		if err := ix.Upsert(ctx, []kb.Record{r}); !errors.Is(err, kb.ErrDimension) {
			t.Errorf("upsert with %d dims: err = %v, want ErrDimension", Dim-1, err)
		}
		if _, err := ix.Search(ctx, kb.SearchRequest{Dense: make([]float32, Dim+1), K: 1}); !errors.Is(err, kb.ErrDimension) {
			t.Errorf("search with %d dims: err = %v, want ErrDimension", Dim+1, err)
		}
		if hits, err := ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{0: 1}), K: 0}); err != nil || len(hits) != 0 {
			t.Errorf("K=0: %v, %v; want nothing", ids(hits), err)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		ix := filled(t)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Go(func() {
				for range 10 {
					hits, err := ix.Search(ctx, kb.SearchRequest{Dense: axis(map[int]float32{0: 1}), Sparse: sparse(7, 1), K: 2})
					if err != nil {
						errs <- err
						return
					}
					if len(hits) != 2 {
						errs <- errors.New("wrong hit count")
						return
					}
				}
				if g == 0 { // one writer among the readers
					if err := ix.Upsert(ctx, Records()[:1]); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
