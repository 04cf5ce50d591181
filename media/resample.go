package media

import (
	"fmt"
	"math"
	"time"

	"github.com/callbrief/callbrief/internal/vecmath"
)

// Resampler design. Each output sample is a windowed-sinc interpolation of
// the input: y(t) = sum_k x[k] h(t - k), t measured in input samples, with
// h a low-pass sinc whose cutoff sits below the lower of the two Nyquist
// frequencies, shaped by a Kaiser window. For a rate pair reduced to
// out/in = L/M only L distinct fractional positions t - floor(t) occur, so
// h is tabulated once per position (the polyphase form) and each output
// costs one dot product. Pairs with very many positions (coprime odd rates
// such as 44101 -> 16000) use a table of resamplerInterpPhases positions
// instead and interpolate linearly between the two nearest, which keeps the
// table small at an error far below the stop-band level.
const (
	// resamplerStopbandDB is the Kaiser design's stop-band attenuation and
	// pass-band ripple level: aliases land 80 dB down, below the noise floor
	// of 16-bit telephone audio, and the pass band is flat to 0.001 dB.
	resamplerStopbandDB = 80
	// resamplerPassband is where the pass band ends, as a fraction of the
	// lower Nyquist frequency; the transition band runs from there to that
	// Nyquist frequency, so nothing above it passes. 0.9 keeps all of the
	// telephone band (to 3.4 kHz of 4 kHz) and wideband speech (to 7.2 kHz
	// of 8 kHz); a narrower transition would lengthen the filter.
	resamplerPassband = 0.9
	// resamplerMaxExactPhases bounds the exact polyphase table; every
	// common pair (44.1k -> 16k has 160 phases, 11.025k -> 16k has 640)
	// stays below it.
	resamplerMaxExactPhases = 1024
	// resamplerInterpPhases is the table size for the interpolated case.
	resamplerInterpPhases = 512
)

// Resampler converts a stream of mono float32 samples from one rate to
// another with a windowed-sinc polyphase filter (Kaiser window, 80 dB
// stop band, pass band to 90% of the lower Nyquist frequency).
//
// It is streaming: it keeps the filter history between calls, so feeding a
// signal 20 ms at a time gives exactly (bit for bit) the output of feeding
// it at once. Output is time-aligned with input, the filter delay being
// compensated: output sample n is the signal at time n/outRate, and after
// Flush a stream of N input samples has produced exactly ceil(N*out/in)
// output samples. The price is lookahead: each Process call holds back the
// last Latency() of output until more input (or Flush) arrives.
//
// A Resampler is not safe for concurrent use; use one per stream.
type Resampler struct {
	inRate, outRate int
	l, m            int // out/in reduced: each output advances m/l input samples
	identity        bool

	half   int       // taps on each side of the output position
	taps   int       // 2*half: coefficients per phase
	phases int       // rows in coef (l when exact)
	exact  bool      // phases == l: no interpolation between rows
	coef   []float32 // (phases+1) rows of taps; row phases is row 0 shifted by one tap

	// Stream state. buf[0] is input sample number base (negative numbers
	// are the zeros before the stream starts). The next output sits at
	// input position pos + frac/l.
	buf      []float32
	base     int64
	pos      int64
	frac     int
	inCount  int64
	outCount int64
	out      []float32
	scratch  []float32
}

// NewResampler returns a Resampler from inRate to outRate Hz. Both rates
// must lie in MinSampleRate..MaxSampleRate; any pair works, including equal
// rates (a plain copy).
func NewResampler(inRate, outRate int) (*Resampler, error) {
	for _, rate := range []int{inRate, outRate} {
		if err := checkRate(rate); err != nil {
			return nil, fmt.Errorf("media: resampler %d Hz -> %d Hz: %w", inRate, outRate, err)
		}
	}
	g := gcd(inRate, outRate)
	r := &Resampler{inRate: inRate, outRate: outRate, l: outRate / g, m: inRate / g}
	if inRate == outRate {
		r.identity = true
		return r, nil
	}
	r.design()
	r.Reset()
	return r, nil
}

// design computes the filter table.
func (r *Resampler) design() {
	in := float64(r.inRate)
	nyquist := float64(min(r.inRate, r.outRate)) / 2
	transition := (1 - resamplerPassband) * nyquist
	cutoff := nyquist - transition/2 // -6 dB point, mid transition band
	// Kaiser's formulas for the window shape and length (Oppenheim &
	// Schafer 7.6), with frequencies normalised to the input rate because
	// the taps are spaced one input sample apart.
	const atten = resamplerStopbandDB
	beta := 0.1102 * (atten - 8.7)
	length := (atten - 8) / (2.285 * 2 * math.Pi * transition / in)
	r.half = int(math.Ceil(length / 2))
	r.taps = 2 * r.half

	r.exact = r.l <= resamplerMaxExactPhases
	r.phases = resamplerInterpPhases
	if r.exact {
		r.phases = r.l
	}
	fc := cutoff / in // cycles per input sample
	i0beta := besselI0(beta)
	halfWidth := float64(r.half)
	r.coef = make([]float32, (r.phases+1)*r.taps)
	row := make([]float64, r.taps)
	for p := 0; p <= r.phases; p++ {
		frac := float64(p) / float64(r.phases)
		sum := 0.0
		for i := range row {
			// Tap i multiplies input sample pos-half+1+i, at distance u
			// from the output position pos+frac.
			u := frac + float64(r.half-1-i)
			v := 0.0
			if w := u / halfWidth; math.Abs(w) <= 1 {
				v = 2 * fc * sinc(2*fc*u) * besselI0(beta*math.Sqrt(1-w*w)) / i0beta
			}
			row[i] = v
			sum += v
		}
		// Normalise every phase to unit DC gain: otherwise the small gain
		// differences between phases modulate a constant signal into a
		// faint tone at the phase repetition rate.
		for i, v := range row {
			r.coef[p*r.taps+i] = float32(v / sum)
		}
	}
}

// Reset discards the stream state so that the Resampler starts a new
// stream, as if newly made.
func (r *Resampler) Reset() {
	r.inCount, r.outCount = 0, 0
	r.out = r.out[:0]
	if r.identity {
		return
	}
	// The stream is preceded by silence: half-1 zeros let the first
	// output, at input position 0, see a full window.
	r.buf = append(r.buf[:0], make([]float32, r.half-1)...)
	r.base = -int64(r.half - 1)
	r.pos, r.frac = 0, 0
}

// InRate is the rate of the input, in Hz.
func (r *Resampler) InRate() int { return r.inRate }

// OutRate is the rate of the output, in Hz.
func (r *Resampler) OutRate() int { return r.outRate }

// Latency is how much output Process holds back for lookahead until more
// input or Flush arrives: half the filter length. It is not a delay in
// the output's timing, which is compensated.
func (r *Resampler) Latency() time.Duration {
	return samplesDuration(int64(r.half), r.inRate)
}

// OutputLen is the number of samples a whole stream of n input samples
// produces once flushed: ceil(n*out/in).
func (r *Resampler) OutputLen(n int64) int64 {
	// Split to avoid overflowing n*l for long streams.
	q, rem := n/int64(r.m), n%int64(r.m)
	return q*int64(r.l) + (rem*int64(r.l)+int64(r.m)-1)/int64(r.m)
}

// Process resamples the next piece of the stream and returns the output
// now available. The returned slice belongs to the Resampler and is valid
// until the next call to any of its methods; copy it to keep it. Process
// does not retain in.
func (r *Resampler) Process(in []float32) []float32 {
	r.out = r.out[:0]
	r.inCount += int64(len(in))
	if r.identity {
		r.out = append(r.out, in...)
		r.outCount += int64(len(in))
		return r.out
	}
	r.buf = append(r.buf, in...)
	r.produce(-1)
	r.compact()
	return r.out
}

// Flush ends the stream: it returns the remaining output, computed as if
// the input continued with silence, and resets the Resampler for a new
// stream. The returned slice is valid until the next call.
func (r *Resampler) Flush() []float32 {
	r.out = r.out[:0]
	if !r.identity {
		// The last output needs half samples past the last input sample.
		r.buf = append(r.buf, make([]float32, r.half)...)
		r.produce(r.OutputLen(r.inCount))
	}
	out := r.out
	r.Reset()
	return out
}

// ProcessInt16 is Process for 16-bit samples: it resamples in and appends
// the output, converted with clipping, to dst.
func (r *Resampler) ProcessInt16(dst []int16, in []int16) []int16 {
	r.scratch = Int16ToFloat32(r.scratch[:0], in)
	return Float32ToInt16(dst, r.Process(r.scratch))
}

// FlushInt16 is Flush for 16-bit samples: it appends the remaining output
// to dst.
func (r *Resampler) FlushInt16(dst []int16) []int16 {
	return Float32ToInt16(dst, r.Flush())
}

// produce appends outputs to r.out while their input window is available
// and, if limit >= 0, until limit outputs have been produced in total.
func (r *Resampler) produce(limit int64) {
	end := r.base + int64(len(r.buf)) // one past the last input sample held
	for (limit < 0 || r.outCount < limit) && r.pos+int64(r.half) < end {
		start := int(r.pos - int64(r.half) + 1 - r.base)
		x := r.buf[start : start+r.taps]
		var y float32
		if r.exact {
			y = vecmath.Dot(x, r.coef[r.frac*r.taps:])
		} else {
			// Position between table rows, interpolated linearly.
			p := float64(r.frac) * float64(r.phases) / float64(r.l)
			i := int(p)
			a := float32(p - float64(i))
			y0 := vecmath.Dot(x, r.coef[i*r.taps:])
			y1 := vecmath.Dot(x, r.coef[(i+1)*r.taps:])
			y = y0 + a*(y1-y0)
		}
		r.out = append(r.out, y)
		r.outCount++
		r.frac += r.m
		r.pos += int64(r.frac / r.l)
		r.frac %= r.l
	}
}

// compact drops input samples no future output needs.
func (r *Resampler) compact() {
	drop := int(r.pos - int64(r.half) + 1 - r.base)
	if drop <= 0 {
		return
	}
	drop = min(drop, len(r.buf))
	n := copy(r.buf, r.buf[drop:])
	r.buf = r.buf[:n]
	r.base += int64(drop)
}

// sinc is the normalised sinc function sin(pi x)/(pi x).
func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the zeroth-order modified Bessel function of the first kind,
// by its power series, which converges quickly for the arguments a Kaiser
// window uses (up to beta, about 8).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Resample converts a whole signal from inRate to outRate Hz; see
// Resampler. The result is a new slice of ceil(len(in)*outRate/inRate)
// samples.
func Resample(in []float32, inRate, outRate int) ([]float32, error) {
	r, err := NewResampler(inRate, outRate)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, r.OutputLen(int64(len(in))))
	out = append(out, r.Process(in)...)
	return append(out, r.Flush()...), nil
}

// ResampleInt16 is Resample for 16-bit samples.
func ResampleInt16(in []int16, inRate, outRate int) ([]int16, error) {
	r, err := NewResampler(inRate, outRate)
	if err != nil {
		return nil, err
	}
	out := make([]int16, 0, r.OutputLen(int64(len(in))))
	out = r.ProcessInt16(out, in)
	return r.FlushInt16(out), nil
}

// ResampleWriter is a Writer at one rate that resamples frames for a
// destination Writer at another, and re-cuts the output into whole 20 ms
// frames, which downstream stages expect. Output Offsets continue from the
// first input frame's Offset, counting output samples: the input is treated
// as one contiguous stream. Call Flush at the end of the stream to deliver
// the held-back tail (padded to a whole frame). Not safe for concurrent
// use.
type ResampleWriter struct {
	dst     Writer
	rs      *Resampler
	framer  *Framer
	started bool
	out     []int16
}

// NewResampleWriter returns a Writer taking frames at inRate and writing
// them to dst at dst.SampleRate(). When the rates are equal it returns dst
// itself: a resampler adds nothing but latency and work then. Otherwise
// the result is a *ResampleWriter, which is a Flusher.
func NewResampleWriter(dst Writer, inRate int) (Writer, error) {
	if dst == nil {
		return nil, fmt.Errorf("media: resample writer: nil destination")
	}
	if inRate == dst.SampleRate() {
		return dst, nil
	}
	rs, err := NewResampler(inRate, dst.SampleRate())
	if err != nil {
		return nil, err
	}
	framer, err := NewFramer(dst.SampleRate())
	if err != nil {
		return nil, err
	}
	return &ResampleWriter{dst: dst, rs: rs, framer: framer}, nil
}

// SampleRate is the input rate.
func (w *ResampleWriter) SampleRate() int { return w.rs.InRate() }

// WriteFrame resamples f and writes every complete output frame to the
// destination. The first frame of a stream sets the Offset of the output.
// If the destination fails, the error is returned and the remaining
// output frames of this call are dropped.
func (w *ResampleWriter) WriteFrame(f Frame) error {
	if f.Rate != w.rs.InRate() {
		return fmt.Errorf("%w: %d Hz frame written to a %d Hz resampler", ErrRateMismatch, f.Rate, w.rs.InRate())
	}
	if !w.started {
		w.framer.Reset(f.Offset)
		w.started = true
	}
	w.out = w.rs.ProcessInt16(w.out[:0], f.Samples)
	return w.emit(w.framer.Push(w.out))
}

// Flush ends the stream: it writes the resampler's remaining output and
// the last partial frame, padded with silence, then flushes the
// destination if it is a Flusher. The next frame written starts a new
// stream.
func (w *ResampleWriter) Flush() error {
	if w.started {
		w.out = w.rs.FlushInt16(w.out[:0])
		frames := w.framer.Push(w.out)
		if last, ok := w.framer.Flush(); ok {
			frames = append(frames, last)
		}
		w.started = false
		if err := w.emit(frames); err != nil {
			return err
		}
	}
	if fl, ok := w.dst.(Flusher); ok {
		return fl.Flush()
	}
	return nil
}

func (w *ResampleWriter) emit(frames []Frame) error {
	for _, fr := range frames {
		if err := w.dst.WriteFrame(fr); err != nil {
			return fmt.Errorf("media: resample writer: %w", err)
		}
	}
	return nil
}
