package g722

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/callbrief/callbrief/internal/testenv"
)

// roundTrip encodes pcm 20 ms at a time, as a call does, and decodes it.
func roundTrip(t testing.TB, pcm []int16) []int16 {
	t.Helper()
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	const frame = 320
	pkt := make([]byte, EncodedLen(frame))
	out := make([]int16, 0, len(pcm))
	buf := make([]int16, frame)
	for i := 0; i+frame <= len(pcm); i += frame {
		n, err := enc.Encode(pcm[i:i+frame], pkt)
		if err != nil || n != frame/2 {
			t.Fatalf("encode: %d bytes, %v", n, err)
		}
		m, err := dec.Decode(pkt[:n], buf)
		if err != nil || m != frame {
			t.Fatalf("decode: %d samples, %v", m, err)
		}
		out = append(out, buf[:m]...)
	}
	return out
}

// snr is the signal to noise ratio (dB) of out against ref, out delayed
// by the codec's filters: the best alignment within 64 samples is taken.
func snr(ref, out []int16) (float64, int) {
	best, bestLag := math.Inf(-1), 0
	for lag := 0; lag < 64; lag++ {
		var sig, noise float64
		for i := 0; i+lag < len(out) && i < len(ref); i++ {
			r, o := float64(ref[i]), float64(out[i+lag])
			sig += r * r
			noise += (r - o) * (r - o)
		}
		if v := 10 * math.Log10(sig/max(noise, 1)); v > best {
			best, bestLag = v, lag
		}
	}
	return best, bestLag
}

// TestRoundTripSpeech: a LibriVox recording through the encoder and
// decoder comes back close to itself. 64 kbit/s G.722 on clean speech
// keeps well over 15 dB (G.711's 8 kHz band limit alone would cost the
// upper band of a 16 kHz recording).
func TestRoundTripSpeech(t *testing.T) {
	pcm := testenv.PCM16(t, filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	out := roundTrip(t, pcm)
	if len(out) != len(pcm)/320*320 {
		t.Fatalf("%d samples out of %d", len(out), len(pcm))
	}
	v, lag := snr(pcm, out)
	t.Logf("speech round trip: SNR %.1f dB at a delay of %d samples (%d samples)", v, lag, len(pcm))
	if v < 15 {
		t.Errorf("SNR %.1f dB, want at least 15", v)
	}
	if lag == 0 || lag > 40 {
		t.Errorf("delay %d samples: the QMF filters delay 22-23", lag)
	}
}

// TestWideband: a 6 kHz tone, which no 8 kHz codec carries, comes through.
func TestWideband(t *testing.T) {
	pcm := make([]int16, Rate) // 1 s
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*6000*float64(i)/Rate))
	}
	out := roundTrip(t, pcm)
	var in, got float64
	for i := 1000; i < len(out); i++ {
		in += float64(pcm[i]) * float64(pcm[i])
		got += float64(out[i]) * float64(out[i])
	}
	if ratio := got / in; ratio < 0.5 || ratio > 2 {
		t.Errorf("6 kHz tone's power came out at %.2f of its input", ratio)
	}
	if v, _ := snr(pcm, out); v < 15 {
		t.Errorf("6 kHz tone SNR %.1f dB", v)
	}
}

func TestErrors(t *testing.T) {
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(make([]int16, 3), make([]byte, 4)); err == nil {
		t.Error("odd sample count encoded")
	}
	if _, err := enc.Encode(make([]int16, 320), make([]byte, 100)); err == nil {
		t.Error("encoded into too small a buffer")
	}
	enc.Close()
	enc.Close()
	if _, err := enc.Encode(make([]int16, 2), make([]byte, 1)); err != ErrClosed {
		t.Errorf("after Close: %v", err)
	}
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Decode(make([]byte, 160), make([]int16, 319)); err == nil {
		t.Error("decoded into too small a buffer")
	}
	dec.Close()
	if _, err := dec.Decode([]byte{1}, make([]int16, 2)); err != ErrClosed {
		t.Errorf("after Close: %v", err)
	}
}

// FuzzDecode: any bytes decode, two samples each, without crashing, and
// the decoder's state stays usable for the next packet.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xff, 0x00, 0x7f, 0x80})
	f.Add(make([]byte, 160))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, err := NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		pcm := make([]int16, DecodedLen(len(data)))
		for range 2 {
			n, err := dec.Decode(data, pcm)
			if err != nil || n != 2*len(data) {
				t.Fatalf("%d bytes decoded to %d samples: %v", len(data), n, err)
			}
		}
	})
}

func BenchmarkDecode20ms(b *testing.B) {
	dec, _ := NewDecoder()
	defer dec.Close()
	data := make([]byte, 160)
	for i := range data {
		data[i] = byte(i * 37)
	}
	pcm := make([]int16, 320)
	for b.Loop() {
		_, _ = dec.Decode(data, pcm)
	}
}

func BenchmarkEncode20ms(b *testing.B) {
	enc, _ := NewEncoder()
	defer enc.Close()
	pcm := make([]int16, 320)
	for i := range pcm {
		pcm[i] = int16(5000 * math.Sin(float64(i)/5))
	}
	out := make([]byte, 160)
	for b.Loop() {
		_, _ = enc.Encode(pcm, out)
	}
}
