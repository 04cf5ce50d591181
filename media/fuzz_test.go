package media

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"
)

// wavSentinels are the errors ReadWAV reports for bad input; with an
// in-memory reader every error must be one of them.
var wavSentinels = []error{
	ErrNotWAV, ErrNoFormat, ErrMalformed, ErrUnsupportedEncoding, ErrUnsupportedChannels,
	ErrUnsupportedBits, ErrUnsupportedRate, ErrTruncated, ErrNoSamples, ErrTooLarge,
}

// FuzzReadWAV feeds ReadWAV arbitrary bytes. It must never panic, and must
// either fail with a documented sentinel or return Audio that keeps every
// invariant; the same input read one byte at a time must give the same
// answer, and a successful result must survive WriteWAV and ReadWAV again.
//
// Run: go test -run=^$ -fuzz=FuzzReadWAV -fuzztime=60s ./media
func FuzzReadWAV(f *testing.F) {
	for _, tc := range handBuiltCases() {
		f.Add(tc.in)
	}
	for _, v := range []struct {
		enc            Encoding
		bits, channels int
	}{{PCM, 8, 1}, {PCM, 16, 2}, {PCM, 24, 1}, {PCM, 32, 2}, {Float, 32, 1}, {Float, 64, 2}, {MuLaw, 8, 1}, {ALaw, 8, 2}} {
		a := &Audio{Format: Format{Encoding: v.enc, SampleRate: 8000, Channels: v.channels}, Data: make([]float32, 8*v.channels)}
		copy(a.Data, []float32{0.5, -0.5, 1, -1, 0.25, 0, 0.125, -0.75})
		var buf bytes.Buffer
		if err := WriteWAV(&buf, a, v.bits); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := DecodeWAV(in)
		if err != nil {
			known := false
			for _, s := range wavSentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			if a != nil && !errors.Is(err, ErrTruncated) {
				t.Fatalf("Audio returned with error %v", err)
			}
		}
		if a != nil {
			checkAudio(t, a)
		}

		b, err2 := ReadWAV(iotest.OneByteReader(bytes.NewReader(in)))
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("one byte at a time: %v; all at once: %v", err2, err)
		}
		if (a == nil) != (b == nil) || (a != nil && (a.Format != b.Format || len(a.Data) != len(b.Data))) {
			t.Fatal("one byte at a time gave different audio")
		}

		if a == nil {
			return
		}
		// Float32 storage is lossless: the round trip must be exact.
		var buf bytes.Buffer
		stored := &Audio{Format: a.Format, Data: a.Data}
		stored.Format.Encoding = Float
		if err := WriteWAV(&buf, stored, 32); err != nil {
			t.Fatalf("WriteWAV of read audio: %v", err)
		}
		c, err := ReadWAV(&buf)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if c.Format.SampleRate != a.Format.SampleRate || c.Format.Channels != a.Format.Channels || len(c.Data) != len(a.Data) {
			t.Fatalf("round trip: %+v with %d samples, want %+v with %d", c.Format, len(c.Data), a.Format, len(a.Data))
		}
		for i := range a.Data {
			if c.Data[i] != a.Data[i] {
				t.Fatalf("round trip sample %d: %v, want %v", i, c.Data[i], a.Data[i])
			}
		}
		// Conversion for the recogniser works on anything ReadWAV accepts.
		// (Only at common rates: designing a filter for an odd pair costs
		// milliseconds, which would slow the fuzzer down for no gain.)
		switch a.Format.SampleRate {
		case Rate8k, Rate16k, 44100, Rate48k:
			pcm, err := a.PCM16(Rate16k)
			if err != nil {
				t.Fatalf("PCM16: %v", err)
			}
			r, _ := NewResampler(a.Format.SampleRate, Rate16k)
			if int64(len(pcm)) != r.OutputLen(int64(a.Frames())) {
				t.Fatalf("PCM16: %d samples for %d frames", len(pcm), a.Frames())
			}
		}
	})
}
