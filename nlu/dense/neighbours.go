package dense

import (
	"fmt"
	"math"

	"github.com/callbrief/callbrief/internal/vecmath"
)

// Neighbours measures how close an utterance's embedding comes to the
// training utterances of the intents a model knows: the mean cosine of its
// k nearest. A softmax only says which known intent an utterance is
// nearest to, and is often sure of it for speech about something else
// entirely (the probabilities must sum to one); distance to what was
// actually seen is the signal it lacks. Safe for concurrent use.
type Neighbours struct {
	vecs []float32 // row-major, each row unit length
	dim  int
	k    int
}

// NewNeighbours keeps unit-length copies of vecs. k is how many nearest
// are averaged (capped at len(vecs)).
func NewNeighbours(vecs [][]float32, k int) (*Neighbours, error) {
	if len(vecs) == 0 || k <= 0 {
		return nil, fmt.Errorf("%w: neighbours need vectors and k > 0 (got %d vectors, k %d)", ErrNoData, len(vecs), k)
	}
	dim := len(vecs[0])
	n := &Neighbours{vecs: make([]float32, 0, len(vecs)*dim), dim: dim, k: min(k, len(vecs))}
	for i, v := range vecs {
		if len(v) != dim {
			return nil, fmt.Errorf("%w: vector %d has %d dimensions, want %d", ErrNoData, i, len(v), dim)
		}
		n.vecs = append(n.vecs, unit(v)...)
	}
	return n, nil
}

// Len is the number of stored vectors.
func (n *Neighbours) Len() int { return len(n.vecs) / n.dim }

// Similarity is the mean cosine between x and its k nearest stored
// vectors, in [-1, 1].
func (n *Neighbours) Similarity(x []float32) (float64, error) {
	if len(x) != n.dim {
		return 0, fmt.Errorf("%w: vector has %d dimensions, want %d", ErrNoData, len(x), n.dim)
	}
	q := unit(x)
	// The k best so far, ascending; k is small, so insertion beats a heap.
	best := make([]float32, 0, n.k)
	for off := 0; off < len(n.vecs); off += n.dim {
		s := vecmath.Dot(q, n.vecs[off:off+n.dim])
		switch {
		case len(best) < n.k:
			best = append(best, s)
			for i := len(best) - 1; i > 0 && best[i] < best[i-1]; i-- {
				best[i], best[i-1] = best[i-1], best[i]
			}
		case s > best[0]:
			best[0] = s
			for i := 0; i+1 < len(best) && best[i] > best[i+1]; i++ {
				best[i], best[i+1] = best[i+1], best[i]
			}
		}
	}
	var sum float64
	for _, s := range best {
		sum += float64(s)
	}
	return sum / float64(len(best)), nil
}

func unit(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}
