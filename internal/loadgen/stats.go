package loadgen

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Dist summarises a latency sample in milliseconds. Percentiles are by
// nearest rank: p95 of 20 values is the 19th smallest, a value that was
// measured, never an interpolation.
type Dist struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Summarize computes the distribution of vs (it sorts a copy).
func Summarize(vs []float64) Dist {
	if len(vs) == 0 {
		return Dist{}
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Dist{N: len(s), Mean: round(sum / float64(len(s))), P50: rank(s, 50), P95: rank(s, 95), P99: rank(s, 99), Max: s[len(s)-1]}
}

// rank is the nearest-rank percentile p of sorted s.
func rank(s []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// Histogram is a Prometheus histogram read from /metrics: cumulative
// counts by upper bound (seconds), as exported.
type Histogram struct {
	Bounds []float64 // ascending, +Inf last
	Counts []float64 // cumulative
}

// ParseHistogram reads the buckets of the histogram whose name ends with
// suffix (e.g. "live_speech_end_to_intent_seconds") from a Prometheus text
// exposition; ok is false when there is none.
func ParseHistogram(text, suffix string) (Histogram, bool) {
	var h Histogram
	for _, line := range strings.Split(text, "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || !strings.HasSuffix(name, suffix+"_bucket") {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		le := ""
		for _, l := range strings.Split(labels, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), `le="`); ok {
				le = strings.TrimSuffix(v, `"`)
			}
		}
		b, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		c, err2 := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		h.Bounds, h.Counts = append(h.Bounds, b), append(h.Counts, c)
	}
	return h, len(h.Bounds) > 0
}

// Sub is h minus an earlier reading of the same histogram: the
// observations made in between. A histogram whose buckets changed (the
// node restarted) gives h itself.
func (h Histogram) Sub(before Histogram) Histogram {
	if len(before.Bounds) != len(h.Bounds) {
		return h
	}
	out := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts))}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i] - before.Counts[i]
		if out.Counts[i] < 0 {
			return h // restarted: the counters began again
		}
	}
	return out
}

// Quantile estimates quantile q (0-1) in milliseconds by linear
// interpolation within the bucket, as Prometheus' histogram_quantile
// does; a quantile in the +Inf bucket is reported as the last finite
// bound (a floor). ok is false without observations.
func (h Histogram) Quantile(q float64) (float64, bool) {
	n := len(h.Counts)
	if n == 0 || h.Counts[n-1] == 0 {
		return 0, false
	}
	target := q * h.Counts[n-1]
	prevBound, prevCount := 0.0, 0.0
	for i, c := range h.Counts {
		if c >= target {
			b := h.Bounds[i]
			if math.IsInf(b, 1) {
				return round(prevBound * 1000), true
			}
			if c == prevCount {
				return round(b * 1000), true
			}
			return round(1000 * (prevBound + (b-prevBound)*(target-prevCount)/(c-prevCount))), true
		}
		prevBound, prevCount = h.Bounds[i], c
	}
	return round(prevBound * 1000), true
}

// Count is the number of observations.
func (h Histogram) Count() float64 {
	if len(h.Counts) == 0 {
		return 0
	}
	return h.Counts[len(h.Counts)-1]
}

// Add sums two readings of histograms with the same buckets (two nodes);
// an empty h takes o as it is.
func (h Histogram) Add(o Histogram) Histogram {
	if len(h.Bounds) == 0 {
		return Histogram{Bounds: o.Bounds, Counts: append([]float64(nil), o.Counts...)}
	}
	if len(o.Bounds) != len(h.Bounds) {
		return h
	}
	out := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts))}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i] + o.Counts[i]
	}
	return out
}
