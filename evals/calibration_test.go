package evals

import (
	"math"
	"testing"
)

func TestCalibrate(t *testing.T) {
	// Perfectly calibrated: 0.75 confidence, right 3 times in 4.
	c := Calibrate([]float64{.75, .75, .75, .75}, []bool{true, true, true, false})
	if c.ECE > 1e-9 || c.Bins[7].N != 4 || c.Bins[7].Accuracy != .75 {
		t.Fatalf("%+v", c)
	}
	// Overconfident: 0.95 but right half the time -> ECE 0.45.
	c = Calibrate([]float64{.95, .95}, []bool{true, false})
	if math.Abs(c.ECE-.45) > 1e-9 {
		t.Fatalf("ECE %v", c.ECE)
	}
	// Confidence 1.0 falls in the last bin, not past it.
	if c := Calibrate([]float64{1}, []bool{true}); c.Bins[9].N != 1 {
		t.Fatalf("%+v", c)
	}
	if Calibrate(nil, nil) != nil {
		t.Fatal("no predictions: nil")
	}
}
