package media

import (
	"bytes"
	"context"
	"testing"
)

// Benchmarks on the 20 ms audio path. frames/s is how many 20 ms frames one
// core processes per second; divided by 50 it is how many real-time calls
// that stage could serve per core.

func benchmarkResampleFrame(b *testing.B, in, out int) {
	r, err := NewResampler(in, out)
	if err != nil {
		b.Fatal(err)
	}
	frame := Float32ToInt16(nil, sine(SamplesPerFrame(in), in, 440, 0.5))
	dst := make([]int16, 0, 2*SamplesPerFrame(out))
	b.ReportAllocs()
	for b.Loop() {
		dst = r.ProcessInt16(dst[:0], frame)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkResample16to8Frame(b *testing.B)    { benchmarkResampleFrame(b, Rate16k, Rate8k) }
func BenchmarkResample8to16Frame(b *testing.B)    { benchmarkResampleFrame(b, Rate8k, Rate16k) }
func BenchmarkResample48to16Frame(b *testing.B)   { benchmarkResampleFrame(b, Rate48k, Rate16k) }
func BenchmarkResample44k1to16Frame(b *testing.B) { benchmarkResampleFrame(b, 44100, Rate16k) }

func BenchmarkMuLawDecodeFrame(b *testing.B) {
	src := make([]byte, SamplesPerFrame(Rate8k))
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]int16, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		DecodeMuLaw(dst, src)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkMuLawEncodeFrame(b *testing.B) {
	src := Float32ToInt16(nil, sine(SamplesPerFrame(Rate8k), Rate8k, 440, 0.5))
	dst := make([]byte, len(src))
	b.ReportAllocs()
	for b.Loop() {
		EncodeMuLaw(dst, src)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkReadWAV decodes 10 s of 16 kHz 16-bit mono from memory.
func BenchmarkReadWAV(b *testing.B) {
	a := &Audio{Format: Format{SampleRate: Rate16k, Channels: 1}, Data: sine(10*Rate16k, Rate16k, 440, 0.5)}
	var buf bytes.Buffer
	if err := WriteWAV(&buf, a, 16); err != nil {
		b.Fatal(err)
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadWAV(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFramerPush(b *testing.B) {
	f, _ := NewFramer(Rate16k)
	piece := make([]int16, SamplesPerFrame(Rate16k))
	b.ReportAllocs()
	for b.Loop() {
		f.Push(piece)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkFrameQueuePushPop(b *testing.B) {
	q := NewFrameQueue(50)
	f := Frame{Samples: make([]int16, 320), Rate: Rate16k}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		q.Push(f)
		if _, err := q.Pop(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
