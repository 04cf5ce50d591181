package evals

import "math"

// CalibrationBin is one bar of a reliability diagram.
type CalibrationBin struct {
	Lo, Hi         float64 // confidence range [Lo, Hi)
	N              int
	MeanConfidence float64
	Accuracy       float64
}

// Calibration says how far a classifier's confidence is from how often it
// is right: a model that says 0.9 should be right nine times in ten, or
// thresholds set on its confidence (out-of-scope rejection, asking the
// caller to confirm) do not mean what they say.
type Calibration struct {
	// ECE is the expected calibration error: the mean gap between
	// confidence and accuracy over equal-width bins, weighted by bin size.
	ECE  float64          `json:"ece"`
	Bins []CalibrationBin `json:"bins"`
}

// Calibrate computes 10-bin calibration from each prediction's confidence
// and whether it was right. It returns nil when there are no predictions.
func Calibrate(conf []float64, correct []bool) *Calibration {
	if len(conf) == 0 || len(conf) != len(correct) {
		return nil
	}
	const nb = 10
	c := &Calibration{Bins: make([]CalibrationBin, nb)}
	sumConf := make([]float64, nb)
	right := make([]int, nb)
	for i, p := range conf {
		if math.IsNaN(p) {
			p = 0
		}
		b := min(nb-1, max(0, int(p*nb)))
		c.Bins[b].N++
		sumConf[b] += p
		if correct[i] {
			right[b]++
		}
	}
	for b := range c.Bins {
		bin := &c.Bins[b]
		bin.Lo, bin.Hi = float64(b)/nb, float64(b+1)/nb
		if bin.N == 0 {
			continue
		}
		bin.MeanConfidence = sumConf[b] / float64(bin.N)
		bin.Accuracy = float64(right[b]) / float64(bin.N)
		c.ECE += float64(bin.N) / float64(len(conf)) * math.Abs(bin.MeanConfidence-bin.Accuracy)
	}
	return c
}
