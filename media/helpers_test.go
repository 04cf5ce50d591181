package media

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// sine returns n samples of a sine of freq Hz at rate Hz and amplitude amp,
// phase 0 at sample 0.
func sine(n, rate int, freq, amp float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// snrDB compares got with want over [from, to) and returns the
// signal-to-noise ratio in dB, the noise being their difference.
func snrDB(got, want []float32, from, to int) float64 {
	var sig, noise float64
	for i := from; i < to; i++ {
		d := float64(got[i]) - float64(want[i])
		sig += float64(want[i]) * float64(want[i])
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// power is the mean square of x over [from, to).
func power(x []float32, from, to int) float64 {
	var p float64
	for _, v := range x[from:to] {
		p += float64(v) * float64(v)
	}
	return p / float64(to-from)
}

// checkNoGoroutineLeak records the goroutine count and returns a function
// that fails t if, within a few seconds, the count has not come back down:
// a stand-in for goleak without the dependency. Tests using it must not
// run in parallel with others.
func checkNoGoroutineLeak(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			now := runtime.NumGoroutine()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutine leak: %d goroutines before, %d after; stacks:\n%s", before, now, buf[:n])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// recorder is a Writer that keeps the frames it receives.
type recorder struct {
	rate    int
	frames  []Frame
	err     error // returned by WriteFrame when set
	flushes int
}

func (r *recorder) WriteFrame(f Frame) error {
	if r.err != nil {
		return r.err
	}
	if f.Rate != r.rate {
		return ErrRateMismatch
	}
	r.frames = append(r.frames, f)
	return nil
}

func (r *recorder) SampleRate() int { return r.rate }

func (r *recorder) Flush() error {
	r.flushes++
	return nil
}

// samples concatenates the recorded frames' samples.
func (r *recorder) samples() []int16 {
	var out []int16
	for _, f := range r.frames {
		out = append(out, f.Samples...)
	}
	return out
}

// wantErrContains fails t unless err's message contains every part.
func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
