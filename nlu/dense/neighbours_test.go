package dense

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestNeighboursMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vecs := make([][]float32, 200)
	for i := range vecs {
		v := make([]float32, 16)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		vecs[i] = v
	}
	for _, k := range []int{1, 5, 300} {
		n, err := NewNeighbours(vecs, k)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			q := make([]float32, 16)
			for j := range q {
				q[j] = float32(r.NormFloat64() * 3)
			}
			got, err := n.Similarity(q)
			if err != nil {
				t.Fatal(err)
			}
			uq := unit(q)
			var sims []float64
			for _, v := range vecs {
				uv := unit(v)
				var s float64
				for j := range uq {
					s += float64(uq[j] * uv[j])
				}
				sims = append(sims, s)
			}
			sort.Sort(sort.Reverse(sort.Float64Slice(sims)))
			kk := min(k, len(sims))
			var want float64
			for _, s := range sims[:kk] {
				want += s
			}
			want /= float64(kk)
			if math.Abs(got-want) > 1e-5 {
				t.Fatalf("k=%d: similarity %.6f, brute force %.6f", k, got, want)
			}
		}
	}
	// A stored vector is its own nearest neighbour.
	n, _ := NewNeighbours(vecs, 1)
	if s, _ := n.Similarity(vecs[7]); math.Abs(s-1) > 1e-5 {
		t.Errorf("self similarity %.6f, want 1", s)
	}
}

func TestNeighboursBadInput(t *testing.T) {
	if _, err := NewNeighbours(nil, 5); !errors.Is(err, ErrNoData) {
		t.Errorf("no vectors: %v", err)
	}
	if _, err := NewNeighbours([][]float32{{1, 0}, {1}}, 1); !errors.Is(err, ErrNoData) {
		t.Errorf("mixed dimensions: %v", err)
	}
	n, _ := NewNeighbours([][]float32{{1, 0}}, 1)
	if _, err := n.Similarity([]float32{1, 0, 0}); !errors.Is(err, ErrNoData) {
		t.Errorf("query of the wrong dimension: %v", err)
	}
}

// BenchmarkNeighboursSimilarity: one utterance against the hotline
// taxonomy's size of training set (1,792 lines of 384 dimensions) and
// CLINC150's (15,000).
func BenchmarkNeighboursSimilarity(b *testing.B) {
	for _, n := range []int{1792, 15000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			vecs := make([][]float32, n)
			for i := range vecs {
				vecs[i] = make([]float32, 384)
				for j := range vecs[i] {
					vecs[i][j] = float32(rng.NormFloat64())
				}
			}
			nb, err := NewNeighbours(vecs, 5)
			if err != nil {
				b.Fatal(err)
			}
			q := vecs[0]
			b.ResetTimer()
			for range b.N {
				if _, err := nb.Similarity(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
