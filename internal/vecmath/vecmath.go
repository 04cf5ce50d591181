// Package vecmath holds the small float32 kernels shared by the audio
// path (resampling) and the intent model (neighbour similarity).
package vecmath

// Dot returns the dot product of x and the first len(x) elements of c.
// Four accumulators break the dependency chain so the loop pipelines; the
// summation order is fixed, so the same inputs always give the same sum
// (the resampler's chunked and one-shot output stay identical).
func Dot(x, c []float32) float32 {
	c = c[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * c[i]
		s1 += x[i+1] * c[i+1]
		s2 += x[i+2] * c[i+2]
		s3 += x[i+3] * c[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * c[i]
	}
	return (s0 + s1) + (s2 + s3)
}
