package media

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// edge is how much of each end of a test signal to leave out of quality
// measurements: the filter sees the silence before and after the signal
// there, so those samples are a transient, not the steady state.
const edge = 50 * time.Millisecond

func edgeSamples(rate int) int { return int(int64(rate) * int64(edge) / int64(time.Second)) }

// The pipeline's own round trip: wideband speech to telephone band and
// back. A 1 kHz tone must come through essentially untouched.
func TestResampleRoundTripSNR(t *testing.T) {
	in := sine(Rate16k, Rate16k, 1000, 0.5) // 1 s
	down, err := Resample(in, Rate16k, Rate8k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Resample(down, Rate8k, Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	if len(down) != 8000 || len(back) != len(in) {
		t.Fatalf("lengths %d -> %d -> %d", len(in), len(down), len(back))
	}
	e := edgeSamples(Rate16k)
	snr := snrDB(back, in, e, len(in)-e)
	t.Logf("1 kHz sine 16k -> 8k -> 16k: SNR %.1f dB", snr)
	if snr < 40 {
		t.Errorf("SNR %.1f dB, want > 40", snr)
	}
}

// Anti-aliasing: a tone above the output Nyquist frequency must vanish, not
// fold back into the speech band (6 kHz at 8 kHz would alias to 2 kHz).
func TestResampleAntiAliasing(t *testing.T) {
	for _, tc := range []struct {
		freq    float64
		in, out int
		minDB   float64
	}{
		{6000, Rate16k, Rate8k, 50},
		{4400, Rate16k, Rate8k, 50}, // just past the 4 kHz stop-band edge
		{9000, Rate48k, Rate16k, 50},
		{20000, 44100, Rate16k, 50},
	} {
		t.Run(fmt.Sprintf("%gHz_%d_to_%d", tc.freq, tc.in, tc.out), func(t *testing.T) {
			in := sine(tc.in, tc.in, tc.freq, 0.5)
			out, err := Resample(in, tc.in, tc.out)
			if err != nil {
				t.Fatal(err)
			}
			ei, eo := edgeSamples(tc.in), edgeSamples(tc.out)
			atten := 10 * math.Log10(power(in, ei, len(in)-ei)/power(out, eo, len(out)-eo))
			t.Logf("%g Hz tone, %d -> %d Hz: attenuated %.1f dB", tc.freq, tc.in, tc.out, atten)
			if atten < tc.minDB {
				t.Errorf("attenuation %.1f dB, want > %.0f", atten, tc.minDB)
			}
		})
	}
}

// The pass band reaches 90% of the lower Nyquist frequency: the whole
// telephone band (300-3400 Hz) survives 16k -> 8k at full level.
func TestResamplePassband(t *testing.T) {
	for _, freq := range []float64{300, 1000, 3400, 3600} {
		in := sine(Rate16k, Rate16k, freq, 0.5)
		out, err := Resample(in, Rate16k, Rate8k)
		if err != nil {
			t.Fatal(err)
		}
		ei, eo := edgeSamples(Rate16k), edgeSamples(Rate8k)
		gain := 10 * math.Log10(power(out, eo, len(out)-eo)/power(in, ei, len(in)-ei))
		t.Logf("%g Hz, 16k -> 8k: gain %+.4f dB", freq, gain)
		if math.Abs(gain) > 0.01 {
			t.Errorf("%g Hz: gain %+.4f dB, want within 0.01 dB", freq, gain)
		}
	}
}

// Every supported kind of pair: length exact, a pass-band tone reproduced
// at the right time (delay compensated) with high SNR, DC preserved.
func TestResamplerPairs(t *testing.T) {
	for _, p := range [][2]int{
		{8000, 16000}, {16000, 8000}, {16000, 48000}, {48000, 16000},
		{8000, 48000}, {48000, 8000}, {44100, 16000}, {22050, 16000},
		{11025, 16000}, {16000, 44100}, {44100, 48000}, {192000, 8000},
		{44101, 16000}, // coprime: 16000 phases, the interpolated table
	} {
		in, out := p[0], p[1]
		t.Run(fmt.Sprintf("%d_to_%d", in, out), func(t *testing.T) {
			r, err := NewResampler(in, out)
			if err != nil {
				t.Fatal(err)
			}
			// A tone at a third of the lower Nyquist frequency, not
			// commensurate with either rate.
			freq := float64(min(in, out)) / 6.1
			n := in/2 + 17 // half a second, odd length
			x := sine(n, in, freq, 0.7)
			y := append(append([]float32(nil), r.Process(x)...), r.Flush()...)
			if want := r.OutputLen(int64(n)); int64(len(y)) != want {
				t.Fatalf("%d output samples, want %d", len(y), want)
			}
			if want := int(math.Ceil(float64(n) * float64(out) / float64(in))); len(y) != want {
				t.Fatalf("%d output samples, want ceil(%d*%d/%d) = %d", len(y), n, out, in, want)
			}
			ideal := sine(len(y), out, freq, 0.7)
			e := edgeSamples(out)
			snr := snrDB(y, ideal, e, len(y)-e)
			t.Logf("%g Hz tone: SNR %.1f dB, latency %v", freq, snr, r.Latency())
			if snr < 70 {
				t.Errorf("SNR %.1f dB, want > 70", snr)
			}

			dc := make([]float32, n)
			for i := range dc {
				dc[i] = 0.5
			}
			y = append(append([]float32(nil), r.Process(dc)...), r.Flush()...)
			for i := e; i < len(y)-e; i++ {
				if math.Abs(float64(y[i])-0.5) > 1e-4 {
					t.Fatalf("DC 0.5 came out as %v at %d", y[i], i)
				}
			}
		})
	}
}

// Streaming: any chunking of the input gives the one-shot output bit for
// bit, so 20 ms frames resample seamlessly.
func TestResampleChunkedEqualsOneShot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range [][2]int{{16000, 8000}, {8000, 16000}, {48000, 16000}, {44100, 16000}, {44101, 16000}, {16000, 16000}} {
		in, out := p[0], p[1]
		x := make([]float32, in/3)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 0.2)
		}
		want, err := Resample(x, in, out)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunking := range []string{"20ms", "1", "random"} {
			t.Run(fmt.Sprintf("%d_to_%d/%s", in, out, chunking), func(t *testing.T) {
				r, err := NewResampler(in, out)
				if err != nil {
					t.Fatal(err)
				}
				var got []float32
				for rest := x; len(rest) > 0; {
					n := SamplesPerFrame(in)
					switch chunking {
					case "1":
						n = 1
					case "random":
						n = rng.IntN(700)
					}
					n = min(n, len(rest))
					got = append(got, r.Process(rest[:n])...)
					rest = rest[n:]
				}
				got = append(got, r.Flush()...)
				if len(got) != len(want) {
					t.Fatalf("%d samples, one-shot %d", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("sample %d: %v, one-shot %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// Flush resets: a second stream through the same Resampler comes out as
// from a new one, and the lookahead holds back at most Latency of output.
func TestResamplerFlushResetsAndLatency(t *testing.T) {
	r, err := NewResampler(Rate16k, Rate8k)
	if err != nil {
		t.Fatal(err)
	}
	x := sine(3200, Rate16k, 440, 0.5)
	first := append(append([]float32(nil), r.Process(x)...), r.Flush()...)
	second := append(append([]float32(nil), r.Process(x)...), r.Flush()...)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatal("second stream differs from the first")
	}
	held := int64(1600) - int64(len(r.Process(x)))
	if max := int64(r.Latency() * Rate8k / time.Second); held > max+1 {
		t.Errorf("held back %d output samples, Latency %v allows %d", held, r.Latency(), max+1)
	}
	r.Reset()
	if got := append(append([]float32(nil), r.Process(x)...), r.Flush()...); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Fatal("Reset did not restart the stream")
	}
}

func TestResamplerIdentityAndInt16(t *testing.T) {
	r, err := NewResampler(Rate16k, Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{0.1, -0.2, 0.3}
	if got := r.Process(x); fmt.Sprint(got) != fmt.Sprint(x) {
		t.Fatalf("identity: %v", got)
	}
	if got := r.Flush(); len(got) != 0 {
		t.Fatalf("identity Flush: %v", got)
	}

	pcm := []int16{0, 1000, -1000, 32767, -32768}
	same, err := ResampleInt16(pcm, Rate8k, Rate8k)
	if err != nil || fmt.Sprint(same) != fmt.Sprint(pcm) {
		t.Fatalf("ResampleInt16 at equal rates: %v, %v", same, err)
	}
	// Full-scale square waves overshoot after filtering (Gibbs); int16
	// output must clip, not wrap.
	sq := make([]int16, 1600)
	for i := range sq {
		sq[i] = 32767
		if i/40%2 == 1 {
			sq[i] = -32768
		}
	}
	up, err := ResampleInt16(sq, Rate8k, Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(up)-1; i++ {
		// A wrapped overshoot shows up as a full-scale jump between
		// neighbouring samples where the square wave is flat.
		if d := int(up[i]) - int(up[i-1]); (d > 60000 || d < -60000) && i%80 > 4 && i%80 < 76 {
			t.Fatalf("jump of %d at %d: overshoot wrapped around", d, i)
		}
	}
}

func TestNewResamplerErrors(t *testing.T) {
	for _, p := range [][2]int{{0, 16000}, {16000, 0}, {7999, 16000}, {16000, 192001}, {-8000, 8000}} {
		if _, err := NewResampler(p[0], p[1]); !errors.Is(err, ErrUnsupportedRate) {
			t.Errorf("NewResampler(%d, %d): %v, want ErrUnsupportedRate", p[0], p[1], err)
		}
	}
	if _, err := Resample(nil, 1, 2); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("Resample: %v", err)
	}
	if _, err := ResampleInt16(nil, 1, 2); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("ResampleInt16: %v", err)
	}
}

func TestResampleWriter(t *testing.T) {
	dst := &recorder{rate: Rate16k}
	if w, err := NewResampleWriter(dst, Rate16k); err != nil || w != Writer(dst) {
		t.Fatalf("equal rates must return dst itself, got %v, %v", w, err)
	}
	w, err := NewResampleWriter(dst, Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	if w.SampleRate() != Rate48k {
		t.Fatalf("SampleRate %d, want the input rate", w.SampleRate())
	}

	// 1 s of 48 kHz in 20 ms frames starting at call time 3 s.
	x := Float32ToInt16(nil, sine(Rate48k, Rate48k, 1000, 0.5))
	start := 3 * time.Second
	for i := 0; i < 50; i++ {
		f := Frame{Samples: x[i*960 : (i+1)*960], Rate: Rate48k, Offset: start + time.Duration(i)*FrameDuration}
		if err := w.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.(Flusher).Flush(); err != nil {
		t.Fatal(err)
	}
	if dst.flushes != 1 {
		t.Errorf("destination flushed %d times, want 1", dst.flushes)
	}
	if len(dst.frames) != 50 {
		t.Fatalf("%d output frames, want 50", len(dst.frames))
	}
	for i, f := range dst.frames {
		if len(f.Samples) != 320 || f.Rate != Rate16k || f.Offset != start+time.Duration(i)*FrameDuration {
			t.Fatalf("frame %d: %d samples at %d Hz, Offset %v", i, len(f.Samples), f.Rate, f.Offset)
		}
	}
	want, err := ResampleInt16(x, Rate48k, Rate16k)
	if err != nil {
		t.Fatal(err)
	}
	if got := dst.samples(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("frame-by-frame output differs from one-shot")
	}

	if err := w.WriteFrame(Frame{Samples: make([]int16, 320), Rate: Rate16k}); !errors.Is(err, ErrRateMismatch) {
		t.Errorf("16 kHz frame into a 48 kHz writer: %v, want ErrRateMismatch", err)
	}
	dst.err = errDisk
	if err := w.WriteFrame(Frame{Samples: make([]int16, 9600), Rate: Rate48k}); !errors.Is(err, errDisk) {
		t.Errorf("destination error: %v, want it wrapped", err)
	}
	if _, err := NewResampleWriter(nil, Rate8k); err == nil {
		t.Error("nil destination accepted")
	}
	if _, err := NewResampleWriter(&recorder{rate: 1000}, Rate8k); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("1 kHz destination: %v", err)
	}
}
