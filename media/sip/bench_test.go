package sip

import (
	"context"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/asr/sphinx"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/inbox"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/pipeline"
)

// BenchmarkReceiveG711 is the receive media path of one call per packet:
// RTP parsed, reordered, G.711 decoded, resampled to 16 kHz and cut into
// frames (no VAD, no recognition). A call sends 50 packets a second, so
// calls per core = 1e9 / (ns/op * 50).
func BenchmarkReceiveG711(b *testing.B) {
	frames := 0
	rx, err := webrtc.NewRTPReceiver(webrtc.CodecPCMU, 0, []uint8{101}, 3, func(media.Frame) { frames++ }, func(rune) {})
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	payload := make([]byte, 160)
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 100)
	}
	media.EncodeMuLaw(payload, pcm)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 1}, Payload: payload}
		raw, _ := p.Marshal()
		if err := rx.Handle(raw, now.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1e9/(float64(b.Elapsed().Nanoseconds())/float64(b.N))/50, "calls/core")
}

// BenchmarkCallMediaPath is one whole telephone call's receive side per
// iteration, as serve runs it: a LibriSpeech recording (8.7 s of speech
// and 1 s of silence after it) arrives as G.711 mu-law RTP packets, is
// reordered, decoded, resampled to 16 kHz, framed, queued for the
// pipeline (inbox), scored by Silero VAD and endpointed; "vad" stops
// there (a recognizer that takes frames and does nothing), "vad+sphinx"
// also recognises the utterance with the embedded pocketsphinx. Calls per
// core is call audio over the process's CPU time (not wall time, which
// other load on a shared machine inflates): the calls of that kind one
// core carries at once in real time, every caller speaking all the time.
func BenchmarkCallMediaPath(b *testing.B) {
	clips := testenv.SharedData(b, "speech-clips")
	pcm := testenv.PCM16(b, filepath.Join(clips, "librispeech-1995-1837-0001.wav"))
	pcm8, err := media.ResampleInt16(pcm, media.Rate16k, media.Rate8k)
	if err != nil {
		b.Fatal(err)
	}
	pcm8 = append(pcm8, make([]int16, media.Rate8k)...)
	var pkts [][]byte
	for i := 0; (i+1)*160 <= len(pcm8); i++ {
		payload := make([]byte, 160)
		media.EncodeMuLaw(payload, pcm8[i*160:(i+1)*160])
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 7}, Payload: payload}
		raw, err := p.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, raw)
	}
	audio := time.Duration(len(pkts)) * 20 * time.Millisecond
	m, err := vad.LoadSilero(testenv.Model(b, "onnxruntime", "libonnxruntime.so"), testenv.Model(b, "silero-vad", "silero_vad_v5.onnx"), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, name := range []string{"vad", "vad+sphinx"} {
		b.Run(name, func(b *testing.B) {
			var rec asr.Recognizer = nullRecognizer{}
			if name == "vad+sphinx" {
				r, err := sphinx.New(sphinx.DefaultConfig(), nil)
				if err != nil {
					b.Skipf("pocketsphinx model: %v", err)
				}
				defer r.Close()
				if err := r.Warm(b.Context(), asr.ModeFree); err != nil {
					b.Fatal(err)
				}
				rec = r
			}
			finals := 0
			cpu0 := cpuTime(b)
			for b.Loop() {
				finals += oneCall(b, m, rec, pkts)
			}
			cpu := cpuTime(b) - cpu0
			if name == "vad+sphinx" && finals < b.N {
				b.Fatalf("%d finals in %d calls: the recognizer heard nothing", finals, b.N)
			}
			total := audio.Seconds() * float64(b.N)
			b.ReportMetric(total/cpu.Seconds(), "calls/core")
			b.ReportMetric(total/b.Elapsed().Seconds(), "calls/core-wall")
		})
	}
}

// oneCall runs one call's packets through the receive path and returns
// the number of final results.
func oneCall(b *testing.B, m *vad.SileroModel, rec asr.Recognizer, pkts [][]byte) int {
	ctx := b.Context()
	det, err := m.NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	defer det.Close()
	l, err := pipeline.NewListener(ctx, det, rec, pipeline.ListenConfig{Endpoint: vad.DefaultEndpointConfig(), Stream: asr.StreamConfig{Mode: asr.ModeFree}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	finals := make(chan int, 1)
	go func() {
		n := 0
		for r := range l.Results() {
			if r.Final {
				n++
			}
		}
		finals <- n
	}()
	in := inbox.New(500, nil)
	rx, err := webrtc.NewRTPReceiver(webrtc.CodecPCMU, 0, []uint8{101}, 3, in.PushFrame, in.PushKey)
	if err != nil {
		b.Fatal(err)
	}
	call := context.Background()
	now := time.Now()
	drain := func() {
		for in.Frames().Len() > 0 {
			e, err := in.Next(ctx, call)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Write(ctx, e.Frame); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i, raw := range pkts {
		if err := rx.Handle(raw, now.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
		drain()
	}
	rx.Flush()
	drain()
	rx.Close()
	in.Close()
	l.Close()
	return <-finals
}

// nullRecognizer takes frames and recognises nothing: the path without
// recognition.
type nullRecognizer struct{}

func (nullRecognizer) Name() string    { return "none" }
func (nullRecognizer) SampleRate() int { return media.Rate16k }
func (nullRecognizer) Close() error    { return nil }
func (nullRecognizer) NewStream(context.Context, asr.StreamConfig) (asr.Stream, error) {
	return &nullStream{out: make(chan asr.Result)}, nil
}

type nullStream struct {
	out  chan asr.Result
	once sync.Once
}

func (*nullStream) Write(context.Context, media.Frame) error { return nil }
func (*nullStream) Flush(context.Context) error              { return nil }
func (s *nullStream) Results() <-chan asr.Result             { return s.out }
func (s *nullStream) Close() error                           { s.once.Do(func() { close(s.out) }); return nil }

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
