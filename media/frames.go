package media

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Flusher is implemented by writers that hold back audio, such as a
// ResampleWriter (filter lookahead and a partial frame). Flush writes out
// what is held, padding the last frame with silence, and then flushes the
// next writer in the chain if it is a Flusher too, so that calling Flush
// once on the head of a chain at the end of a call delivers every sample
// to every sink. FanOut flushes all its destinations.
type Flusher interface {
	Flush() error
}

// Framer cuts a stream of samples, arriving in pieces of any size (RTP
// packets, WAV reads, resampler output), into 20 ms Frames with Offsets in
// stream time. Downstream stages (VAD, ASR) are tuned for fixed 20 ms
// frames, and deriving Offset from the count of samples emitted, rather
// than from arrival time, keeps timings exact however the input is chunked.
//
// A Framer is not safe for concurrent use.
type Framer struct {
	rate    int
	size    int           // samples per frame
	start   time.Duration // Offset of the first frame
	emitted int64         // samples emitted in frames so far
	pending []int16       // samples not yet in a frame; len < size
}

// NewFramer returns a Framer for mono audio at rate Hz whose first frame has
// Offset 0. The rate must give at least one sample per 20 ms frame.
func NewFramer(rate int) (*Framer, error) {
	if rate <= 0 || SamplesPerFrame(rate) < 1 {
		return nil, fmt.Errorf("%w: framer at %d Hz (need at least %d Hz for one sample per frame)",
			ErrUnsupportedRate, rate, int(time.Second/FrameDuration))
	}
	size := SamplesPerFrame(rate)
	return &Framer{rate: rate, size: size, pending: make([]int16, 0, size)}, nil
}

// Rate is the sample rate of the frames the Framer produces.
func (f *Framer) Rate() int { return f.rate }

// Reset drops any partial frame and restarts the stream so that the next
// frame has Offset start. A writer uses it to continue the Offsets of the
// frames it receives.
func (f *Framer) Reset(start time.Duration) {
	f.start = start
	f.emitted = 0
	f.pending = f.pending[:0]
}

// Push adds samples to the stream and returns every complete frame now
// available, oldest first; the remainder is kept for the next call. Each
// returned frame owns its Samples (the Framer keeps no reference to them),
// as the Frame contract requires, so a receiver may modify or retain them.
// samples is not retained.
func (f *Framer) Push(samples []int16) []Frame {
	total := len(f.pending) + len(samples)
	if total < f.size {
		f.pending = append(f.pending, samples...)
		return nil
	}
	n := total / f.size
	// One allocation backs all the frames of this call; each frame's slice
	// is capped at its own length so appending to one cannot overwrite the
	// next.
	backing := make([]int16, n*f.size)
	copy(backing, f.pending)
	used := copy(backing[len(f.pending):], samples)
	frames := make([]Frame, n)
	for i := range frames {
		frames[i] = f.frame(backing[i*f.size : (i+1)*f.size : (i+1)*f.size])
	}
	f.pending = append(f.pending[:0], samples[used:]...)
	return frames
}

// Flush returns the partial frame held back, padded with silence to a full
// 20 ms, and reports whether there was one. Padding keeps every frame the
// same length for downstream stages; it adds at most 20 ms of silence at
// the end of a stream. Frames pushed after Flush continue after the padded
// frame in stream time.
func (f *Framer) Flush() (Frame, bool) {
	if len(f.pending) == 0 {
		return Frame{}, false
	}
	samples := make([]int16, f.size)
	copy(samples, f.pending)
	f.pending = f.pending[:0]
	return f.frame(samples), true
}

// frame wraps samples, which must be one frame long, as the next frame.
func (f *Framer) frame(samples []int16) Frame {
	fr := Frame{Samples: samples, Rate: f.rate, Offset: f.start + samplesDuration(f.emitted, f.rate)}
	f.emitted += int64(len(samples))
	return fr
}

// samplesDuration converts a sample count to time without overflowing for
// streams of any realistic length (n * time.Second alone overflows after
// about 6.6 days at 16 kHz).
func samplesDuration(n int64, rate int) time.Duration {
	r := int64(rate)
	return time.Duration(n/r)*time.Second + time.Duration((n%r)*int64(time.Second)/r)
}

// FanOut is a Writer that delivers every frame to several writers at the
// same rate, such as ASR and a call recorder. Each destination gets its own
// copy of the samples, because a Frame's samples belong to its receiver and
// one receiver must not see another's changes.
//
// A failing destination does not stop the others: WriteFrame writes to all
// of them and returns the errors joined. FanOut is safe for concurrent use,
// though frames are normally written from one goroutine.
type FanOut struct {
	rate int
	mu   sync.Mutex
	dsts []Writer
}

// NewFanOut returns a FanOut at rate Hz writing to dsts, which must all take
// frames at that rate: a mismatch is reported now rather than on the first
// frame, in the middle of a call.
func NewFanOut(rate int, dsts ...Writer) (*FanOut, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("%w: fan-out at %d Hz", ErrUnsupportedRate, rate)
	}
	f := &FanOut{rate: rate}
	for _, d := range dsts {
		if err := f.Add(d); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Add appends a destination; later frames are written to it too.
func (f *FanOut) Add(w Writer) error {
	if w == nil {
		return errors.New("media: fan-out: nil writer")
	}
	if w.SampleRate() != f.rate {
		return fmt.Errorf("%w: fan-out at %d Hz cannot feed a writer at %d Hz (put a resampler in front of it)",
			ErrRateMismatch, f.rate, w.SampleRate())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dsts = append(f.dsts, w)
	return nil
}

// SampleRate is the rate every destination takes.
func (f *FanOut) SampleRate() int { return f.rate }

// WriteFrame writes fr to every destination: the last gets fr itself, the
// others a copy of its samples.
func (f *FanOut) WriteFrame(fr Frame) error {
	if fr.Rate != f.rate {
		return fmt.Errorf("%w: %d Hz frame written to a %d Hz fan-out", ErrRateMismatch, fr.Rate, f.rate)
	}
	dsts := f.snapshot()
	var errs []error
	for i, d := range dsts {
		out := fr
		if i < len(dsts)-1 {
			out.Samples = append([]int16(nil), fr.Samples...)
		}
		if err := d.WriteFrame(out); err != nil {
			errs = append(errs, fmt.Errorf("media: fan-out destination %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Flush flushes every destination that is a Flusher and returns the errors
// joined.
func (f *FanOut) Flush() error {
	var errs []error
	for i, d := range f.snapshot() {
		if fl, ok := d.(Flusher); ok {
			if err := fl.Flush(); err != nil {
				errs = append(errs, fmt.Errorf("media: fan-out destination %d: %w", i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// snapshot returns the destinations so that writes happen outside the lock
// (a slow destination must not block Add).
func (f *FanOut) snapshot() []Writer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dsts[:len(f.dsts):len(f.dsts)]
}

// Int16ToFloat32 appends src converted to floats in [-1, 1) to dst and
// returns the extended slice; dst may be nil. The scale is 1/32768, so the
// conversion back with Float32ToInt16 is exact.
func Int16ToFloat32(dst []float32, src []int16) []float32 {
	dst = slices.Grow(dst, len(src))
	out := dst[len(dst) : len(dst)+len(src)]
	for i, s := range src {
		out[i] = float32(s) * (1.0 / 32768)
	}
	return dst[:len(dst)+len(src)]
}

// Float32ToInt16 appends src converted to 16-bit samples to dst and returns
// the extended slice; dst may be nil. Values are scaled by 32768, rounded to
// nearest and clipped to the int16 range, because filters legitimately
// overshoot full scale slightly and wrapping around would turn that into a
// loud click. NaN converts to 0.
func Float32ToInt16(dst []int16, src []float32) []int16 {
	dst = slices.Grow(dst, len(src))
	out := dst[len(dst) : len(dst)+len(src)]
	for i, x := range src {
		out[i] = floatToInt16(x)
	}
	return dst[:len(dst)+len(src)]
}

// floatToInt16 converts one sample as Float32ToInt16 describes.
func floatToInt16(x float32) int16 {
	v := x * 32768
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v > 0:
		return int16(v + 0.5)
	case v < 0:
		return int16(v - 0.5)
	default: // zero or NaN
		return 0
	}
}
