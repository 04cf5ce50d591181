package nlu

import (
	"math"
	"testing"
)

// TestCalibrateNoveltyUsesDistanceWhenItSeparates: out-of-scope items the
// softmax is sure about (p 0.9) but that lie far from the training lines
// (similarity 0.80 against 0.95) can only be rejected with the distance:
// a weight above 0 wins and its threshold rejects them while keeping the
// in-scope hits. When similarity carries no signal, weight 0 wins.
func TestCalibrateNoveltyUsesDistanceWhenItSeparates(t *testing.T) {
	const oos = 2
	var fused [][]float64
	var sims []float64
	var ys []int
	for i := range 40 { // in scope, right, sure, near
		fused = append(fused, []float64{4 + float64(i%3)*0.1, 0, -5})
		sims = append(sims, 0.95-float64(i%5)*0.005)
		ys = append(ys, 0)
	}
	for range 10 { // out of scope, sure, far
		fused = append(fused, []float64{0, 4, -5})
		sims = append(sims, 0.80)
		ys = append(ys, -1)
	}
	alpha, thr := calibrateNovelty(fused, sims, ys, oos, 1, 0.015)
	if alpha == 0 || thr <= 0 {
		t.Fatalf("alpha %v, threshold %v: want the distance used", alpha, thr)
	}
	for i := range fused {
		p := softmaxTop(fused[i])
		score := p * exp(alpha*(sims[i]-1))
		if rejected := score < thr; rejected != (ys[i] < 0) {
			t.Fatalf("item %d (gold %d): rejected %v at score %.4f, threshold %.4f", i, ys[i], rejected, score, thr)
		}
	}
	flat := make([]float64, len(sims))
	for i := range flat {
		flat[i] = 0.9
	}
	if a, _ := calibrateNovelty(fused, flat, ys, oos, 1, 0.015); a != 0 {
		t.Fatalf("similarity without signal: alpha %v, want 0", a)
	}
}

func softmaxTop(l []float64) float64 {
	mx := l[0]
	for _, v := range l {
		mx = max(mx, v)
	}
	var z float64
	for _, v := range l {
		z += exp(v - mx)
	}
	return 1 / z
}

func exp(x float64) float64 { return math.Exp(x) }
