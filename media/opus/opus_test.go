package opus

import (
	"errors"
	"math"
	"testing"
)

func tone(n, rate int, hz float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return s
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

// encodeFrames encodes 1 s of a 440 Hz tone at 16 kHz in 20 ms packets.
func encodeFrames(t *testing.T, fec bool) [][]byte {
	t.Helper()
	enc, err := NewEncoder(16000, 1, AppVoIP)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if err := enc.SetInbandFEC(fec, 20); err != nil {
		t.Fatal(err)
	}
	pcm := tone(16000, 16000, 440)
	var pkts [][]byte
	buf := make([]byte, 4000)
	for i := 0; i+320 <= len(pcm); i += 320 {
		n, err := enc.Encode(pcm[i:i+320], buf)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, append([]byte(nil), buf[:n]...))
	}
	return pkts
}

func TestRoundTripAt16k(t *testing.T) {
	pkts := encodeFrames(t, true)
	dec, err := NewDecoder(16000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	pcm := make([]int16, MaxFrameSamples(16000))
	var out []int16
	for i, p := range pkts {
		if ps, err := PacketSamples(p, 16000); err != nil || ps != 320 {
			t.Fatalf("packet %d: PacketSamples = %d, %v; want 320", i, ps, err)
		}
		var n int
		switch {
		case i == 25: // lost: conceal
			n, err = dec.Conceal(pcm, 320)
		case i == 26: // lost, then rebuilt from packet 27's FEC data
			n, err = dec.DecodeFEC(pkts[27], pcm, 320)
		default:
			n, err = dec.Decode(p, pcm)
		}
		if err != nil || n != 320 {
			t.Fatalf("packet %d: %d samples, %v; want 320", i, n, err)
		}
		out = append(out, pcm[:n]...)
	}
	// Skip the codec's start-up; the decoded tone keeps most of its level
	// (8000 peak -> about 5657 RMS), concealed packets included.
	if got := rms(out[1600:]); got < 4000 || got > 7000 {
		t.Fatalf("decoded RMS %.0f, want about 5657", got)
	}
	if got := rms(out[25*320 : 27*320]); got < 2000 {
		t.Fatalf("concealed/FEC RMS %.0f, want the tone continued (>2000)", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"decoder rate", func() error { _, err := NewDecoder(44100, 1); return err }, ErrBadArgument},
		{"encoder channels", func() error { _, err := NewEncoder(16000, 3, AppVoIP); return err }, ErrBadArgument},
		{"empty packet", func() error {
			d, _ := NewDecoder(16000, 1)
			defer d.Close()
			_, err := d.Decode(nil, make([]int16, 320))
			return err
		}, ErrInvalidPacket},
		{"garbage packet", func() error {
			d, _ := NewDecoder(16000, 1)
			defer d.Close()
			// TOC code 3 (arbitrary frame count) with a frame count of 0.
			_, err := d.Decode([]byte{0x03, 0x00}, make([]int16, 1920))
			return err
		}, ErrInvalidPacket},
		{"small buffer", func() error {
			d, _ := NewDecoder(16000, 1)
			defer d.Close()
			_, err := d.Conceal(make([]int16, 10), 320)
			return err
		}, ErrBufferTooSmall},
		{"closed", func() error {
			d, _ := NewDecoder(16000, 1)
			d.Close()
			_, err := d.Decode([]byte{0xf8, 0xff, 0xfe}, make([]int16, 1920))
			return err
		}, ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes, as a hostile peer could, to the
// decoder: it must return audio or an error, never crash or overrun.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xf8, 0xff, 0xfe})
	f.Add([]byte{0x03, 0x00})
	f.Add([]byte{0x7b, 0x01, 0x02, 0x03})
	d, err := NewDecoder(16000, 1)
	if err != nil {
		f.Fatal(err)
	}
	pcm := make([]int16, MaxFrameSamples(16000))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n, err := d.Decode(pkt, pcm)
		if err == nil && (n <= 0 || n > len(pcm)) {
			t.Fatalf("decoded %d samples into %d", n, len(pcm))
		}
		if ps, err := PacketSamples(pkt, 16000); err == nil && ps < 0 {
			t.Fatalf("negative duration %d", ps)
		}
	})
}

func BenchmarkDecode20msAt16k(b *testing.B) {
	enc, _ := NewEncoder(48000, 1, AppVoIP)
	defer enc.Close()
	buf := make([]byte, 4000)
	n, err := enc.Encode(tone(960, 48000, 440), buf)
	if err != nil {
		b.Fatal(err)
	}
	d, _ := NewDecoder(16000, 1)
	defer d.Close()
	pcm := make([]int16, MaxFrameSamples(16000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(buf[:n], pcm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
