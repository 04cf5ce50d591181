package loadgen

import (
	"math"
	"testing"
)

// FuzzParseHistogram: a node's /metrics text, whatever it holds, never
// panics the parser, and a quantile read from it is a number within the
// finite bounds.
func FuzzParseHistogram(f *testing.F) {
	f.Add(metricsText)
	f.Add("x_live_speech_end_to_intent_seconds_bucket{le=\"+Inf\"} 1\n")
	f.Add("x_live_speech_end_to_intent_seconds_bucket{a=\"b\",le=\"NaN\"} -3\n")
	f.Add("x_live_speech_end_to_intent_seconds_bucket{le=\"2\"} 5\nx_live_speech_end_to_intent_seconds_bucket{le=\"1\"} 9\n")
	f.Fuzz(func(t *testing.T, text string) {
		h, ok := ParseHistogram(text, histIntent)
		if !ok {
			return
		}
		h = h.Sub(Histogram{}).Add(h)
		for _, q := range []float64{0, 0.5, 0.95, 1} {
			v, ok := h.Quantile(q)
			if ok && math.IsNaN(v) && !hasNaN(h) {
				t.Fatalf("quantile %v of %+v is NaN", q, h)
			}
		}
	})
}

func hasNaN(h Histogram) bool {
	for i := range h.Bounds {
		if math.IsNaN(h.Bounds[i]) || math.IsNaN(h.Counts[i]) || math.IsInf(h.Counts[i], 0) {
			return true
		}
	}
	return false
}

// FuzzProc: /proc lines of any shape never panic the readers.
func FuzzProc(f *testing.F) {
	f.Add([]byte("123 (a) b) S 77 123"))
	f.Add([]byte("VmRSS:\t 204800 kB\n"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parentOf(b)
		if v, err := parseVmRSS(b); err == nil && math.IsNaN(v) {
			t.Fatalf("VmRSS NaN from %q", b)
		}
	})
}

// FuzzParseRamp: any --ramp either parses to levels between 1 and 10,000
// or is refused, never a panic or an endless range.
func FuzzParseRamp(f *testing.F) {
	for _, s := range []string{"1,2,4", "1-4", "10-50/10", "0", "1-10000/1", "a-b/c", ",", "5-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		levels, err := ParseRamp(s)
		if err != nil {
			return
		}
		for _, l := range levels {
			if l < 1 || l > 10000 {
				t.Fatalf("%q gave level %d", s, l)
			}
		}
	})
}
