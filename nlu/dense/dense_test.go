package dense

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestHeadLearnsClusters(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const D, C = 16, 4
	centres := make([][]float32, C)
	for c := range centres {
		centres[c] = make([]float32, D)
		for d := range centres[c] {
			centres[c][d] = float32(r.NormFloat64())
		}
	}
	gen := func(n int) ([][]float32, []int) {
		var xs [][]float32
		var ys []int
		for i := 0; i < n; i++ {
			c := i % C
			x := make([]float32, D)
			for d := range x {
				// A shared offset, as sentence embeddings have, plus noise.
				x[d] = 5 + centres[c][d] + float32(0.5*r.NormFloat64())
			}
			xs, ys = append(xs, x), append(ys, c)
		}
		return xs, ys
	}
	xs, ys := gen(400)
	h, err := TrainHead(context.Background(), xs, ys, C, HeadOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tx, ty := gen(200)
	ok := 0
	for i, x := range tx {
		l, err := h.Logits(x)
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for c := range l {
			if l[c] > l[best] {
				best = c
			}
		}
		if best == ty[i] {
			ok++
		}
	}
	if acc := float64(ok) / float64(len(tx)); acc < 0.95 {
		t.Fatalf("accuracy %.3f on separable clusters, want >= 0.95", acc)
	}
	if _, err := h.Logits(make([]float32, D+1)); err == nil {
		t.Fatal("an embedding of the wrong dimension was accepted")
	}
	if _, err := TrainHead(context.Background(), xs[:1], ys[:1], C, HeadOptions{}); err == nil {
		t.Fatal("one example was accepted")
	}
	if _, err := TrainHead(context.Background(), xs, append([]int{C}, ys[1:]...), C, HeadOptions{}); err == nil {
		t.Fatal("a label outside the classes was accepted")
	}
}

func TestStoreEmbedsOnceAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emb.bin")
	calls := 0
	embed := func(ctx context.Context, texts []string) ([][]float32, error) {
		calls += len(texts)
		out := make([][]float32, len(texts))
		for i, s := range texts {
			out[i] = []float32{float32(len(s)), 1, 2}
		}
		return out, nil
	}
	s, err := OpenStore(path, "m", 3)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a", "bb", "a", "ccc"}
	vs, err := s.Embeddings(context.Background(), texts, embed, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || vs[2][0] != 1 || vs[3][0] != 3 {
		t.Fatalf("calls %d, vectors %v: want 3 distinct texts embedded", calls, vs)
	}
	// Reopened, nothing is embedded again; a torn last record is ignored.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{1, 2, 3})
	f.Close()
	s2, err := OpenStore(path, "m", 3)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 3 {
		t.Fatalf("reopened store holds %d, want 3", s2.Len())
	}
	if _, err := s2.Embeddings(context.Background(), texts, embed, 2, nil); err != nil || calls != 3 {
		t.Fatalf("reopened store embedded again (calls %d, err %v)", calls, err)
	}
	// Another model's store, or another dimension, is refused or separate.
	if _, err := OpenStore(path, "m", 4); err == nil {
		t.Fatal("a store of another dimension was opened")
	}
	s3, _ := OpenStore(path, "other", 3)
	if _, ok := s3.Get("a"); ok {
		t.Fatal("another model's embedding was returned")
	}
}

// Two stores on one file (two processes on one cache) appending at once
// leave every record whole and readable.
func TestStoreConcurrentWritersOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.bin")
	const dim, per = 384, 600
	embed := func(ctx context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, s := range texts {
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(len(s) + j)
			}
			out[i] = v
		}
		return out, nil
	}
	var wg sync.WaitGroup
	for w := range 4 {
		s, err := OpenStore(path, "m", dim)
		if err != nil {
			t.Fatal(err)
		}
		texts := make([]string, per)
		for i := range texts {
			texts[i] = fmt.Sprintf("writer %d text %d", w, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Embeddings(context.Background(), texts, embed, 50, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, err := OpenStore(path, "m", dim)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4*per {
		t.Fatalf("reopened store holds %d embeddings, want %d (records interleaved or a header written twice)", s.Len(), 4*per)
	}
}

// A record torn by a crash is cut off before the next append, so what
// follows it is read in step.
func TestStoreCutsATornRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.bin")
	embed := func(ctx context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i := range texts {
			out[i] = []float32{float32(i), 1, 2, 3}
		}
		return out, nil
	}
	s, err := OpenStore(path, "m", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Embeddings(context.Background(), []string{"a", "b"}, embed, 8, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 17)) // half a record
	f.Close()
	s, err = OpenStore(path, "m", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Embeddings(context.Background(), []string{"c"}, embed, 8, nil); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(path, "m", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("c"); !ok || s.Len() != 3 {
		t.Fatalf("after a torn record and an append: %d embeddings, c found %v; want 3 and true", s.Len(), ok)
	}
}
