package pipeline

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
)

// BenchmarkTelephoneFramePath measures the whole 20 ms audio path of a
// telephone call before recognition: G.711 mu-law decode, 8 -> 16 kHz
// resampling, the bounded frame queue, Silero VAD and endpointing, with a
// recognizer that only records frames. It reports how many live calls one
// core can carry.
func BenchmarkTelephoneFramePath(b *testing.B) {
	m, err := vad.LoadSilero(testenv.Model(b, "onnxruntime", "libonnxruntime.so"), testenv.Model(b, "silero-vad", "silero_vad_v5.onnx"), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	det, err := m.NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	l, err := NewListener(ctx, det, &recorder{}, ListenConfig{Endpoint: vad.DefaultEndpointConfig()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for range l.Results() {
		}
	}()
	// One second of a 300 Hz tone with syllable-like bursts, mu-law coded.
	pcm8 := make([]int16, 8000)
	for i := range pcm8 {
		env := 0.5 + 0.5*math.Sin(2*math.Pi*4*float64(i)/8000)
		pcm8[i] = int16(8000 * env * math.Sin(2*math.Pi*300*float64(i)/8000))
	}
	ulaw := make([]byte, len(pcm8))
	media.EncodeMuLaw(ulaw, pcm8)
	rs, err := media.NewResampler(media.Rate8k, media.Rate16k)
	if err != nil {
		b.Fatal(err)
	}
	q := media.NewFrameQueue(50)
	dec := make([]int16, 160)
	var off time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := (i % 50) * 160
		media.DecodeMuLaw(dec, ulaw[k:k+160])
		// A fresh slice per frame: the listener keeps recent frames for pre-roll.
		out := rs.ProcessInt16(nil, dec)
		q.Push(media.Frame{Samples: out, Rate: media.Rate16k, Offset: off})
		f, err := q.Pop(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Write(ctx, f); err != nil {
			b.Fatal(err)
		}
		off += media.FrameDuration
	}
	perFrame := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perFrame*1e6, "us/20ms-frame")
	b.ReportMetric(0.020/perFrame, "realtime-calls/core")
}
