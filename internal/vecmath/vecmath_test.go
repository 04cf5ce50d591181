package vecmath

import "testing"

func TestDot(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7}
	c := []float32{7, 6, 5, 4, 3, 2, 1, 100} // longer than x: the rest is ignored
	if got := Dot(x, c); got != 84 {
		t.Fatalf("Dot = %v, want 84", got)
	}
	if got := Dot(nil, c); got != 0 {
		t.Fatalf("Dot of nothing = %v", got)
	}
}
