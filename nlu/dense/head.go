package dense

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ErrNoData means the head was given too few examples or classes, or
// vectors of mixed dimension.
var ErrNoData = errors.New("dense: not enough training data")

// Head is a softmax regression over a standardised embedding. Its labels
// are indices into the caller's label list. It is safe for concurrent use
// once trained.
type Head struct {
	Dim     int       `json:"dim"`
	Classes int       `json:"classes"`
	Mean    []float32 `json:"mean"`
	Scale   []float32 `json:"scale"` // 1/std per dimension
	W       []float32 `json:"w"`     // class-major: W[c*Dim+d]
	B       []float32 `json:"b"`
}

// HeadOptions control training.
type HeadOptions struct {
	Epochs int     // passes over the data (default 20)
	Rate   float64 // AdaGrad learning rate (default 0.1)
	L2     float64 // L2 penalty (default 1e-4)
	Seed   uint64
}

func (o *HeadOptions) defaults() {
	if o.Epochs <= 0 {
		o.Epochs = 20
	}
	if o.Rate <= 0 {
		o.Rate = 0.1
	}
	if o.L2 <= 0 {
		o.L2 = 1e-4
	}
}

// TrainHead fits a head on xs with class indices ys in [0, classes). The
// embedding is standardised per dimension first: sentence embeddings sit
// in a narrow cone (cosines of unrelated texts are 0.7-0.8 for e5), and a
// linear model learns much faster on centred, unit-variance inputs.
func TrainHead(ctx context.Context, xs [][]float32, ys []int, classes int, opt HeadOptions) (*Head, error) {
	opt.defaults()
	if len(xs) < 2 || classes < 2 || len(xs) != len(ys) {
		return nil, fmt.Errorf("%w: %d vectors, %d labels, %d classes", ErrNoData, len(xs), len(ys), classes)
	}
	D := len(xs[0])
	h := &Head{Dim: D, Classes: classes, Mean: make([]float32, D), Scale: make([]float32, D), W: make([]float32, classes*D), B: make([]float32, classes)}
	mean := make([]float64, D)
	sq := make([]float64, D)
	for i, x := range xs {
		if len(x) != D {
			return nil, fmt.Errorf("%w: vector %d has dimension %d, not %d", ErrNoData, i, len(x), D)
		}
		if ys[i] < 0 || ys[i] >= classes {
			return nil, fmt.Errorf("%w: label %d of vector %d is outside [0,%d)", ErrNoData, ys[i], i, classes)
		}
		for d, v := range x {
			mean[d] += float64(v)
			sq[d] += float64(v) * float64(v)
		}
	}
	n := float64(len(xs))
	for d := range mean {
		m := mean[d] / n
		v := sq[d]/n - m*m
		h.Mean[d] = float32(m)
		h.Scale[d] = float32(1 / math.Sqrt(max(v, 1e-12)))
	}
	std := make([][]float32, len(xs))
	for i, x := range xs {
		std[i] = h.standardise(x, make([]float32, D))
	}
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(opt.Seed, 0xd15e))
	gw := make([]float32, len(h.W))
	gb := make([]float32, classes)
	p := make([]float64, classes)
	const eps = 1e-8
	// A decaying L2 per step is the usual SGD form of the penalty: weights
	// shrink in proportion to their size, which keeps the head from
	// trusting any one of 384 correlated dimensions too much.
	for ep := 0; ep < opt.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			x, y := std[i], ys[i]
			h.logits(x, p)
			softmaxInPlace(p)
			p[y] -= 1
			for c := 0; c < classes; c++ {
				g := p[c]
				if g > -1e-5 && g < 1e-5 {
					continue
				}
				gb[c] += float32(g * g)
				h.B[c] -= float32(opt.Rate * g / math.Sqrt(float64(gb[c])+eps))
				row := h.W[c*D : (c+1)*D]
				grow := gw[c*D : (c+1)*D]
				for d, v := range x {
					gr := g*float64(v) + opt.L2*float64(row[d])
					grow[d] += float32(gr * gr)
					row[d] -= float32(opt.Rate * gr / math.Sqrt(float64(grow[d])+eps))
				}
			}
		}
	}
	return h, nil
}

func (h *Head) standardise(x, out []float32) []float32 {
	for d, v := range x {
		out[d] = (v - h.Mean[d]) * h.Scale[d]
	}
	return out
}

func (h *Head) logits(x []float32, out []float64) {
	D := h.Dim
	for c := range out {
		s := float64(h.B[c])
		row := h.W[c*D : (c+1)*D]
		var acc float32
		for d, v := range x {
			acc += row[d] * v
		}
		out[c] = s + float64(acc)
	}
}

// Logits returns the class scores of embedding x (length Classes).
func (h *Head) Logits(x []float32) ([]float64, error) {
	if len(x) != h.Dim {
		return nil, fmt.Errorf("%w: embedding of dimension %d, head takes %d", ErrNoData, len(x), h.Dim)
	}
	out := make([]float64, h.Classes)
	h.logits(h.standardise(x, make([]float32, h.Dim)), out)
	return out, nil
}

func softmaxInPlace(s []float64) {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range s {
		s[i] = math.Exp(v - mx)
		sum += s[i]
	}
	for i := range s {
		s[i] /= sum
	}
}
