package sip

import (
	"context"
	"math"
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

// packetize encodes pcm (16 kHz) as a caller sending codec would: 20 ms
// RTP packets of payload type pt.
func packetize(tb testing.TB, codec webrtc.Codec, pt uint8, pcm []int16) [][]byte {
	tb.Helper()
	enc, err := newEncoder(codec)
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.close()
	if enc.opus != nil {
		// A phone's wideband rate, not libopus's 19 kbit/s default.
		if err := enc.opus.SetBitrate(32000); err != nil {
			tb.Fatal(err)
		}
	}
	if enc.info.rate != media.Rate16k {
		if pcm, err = media.ResampleInt16(pcm, media.Rate16k, enc.info.rate); err != nil {
			tb.Fatal(err)
		}
	}
	n := enc.samples()
	var pkts [][]byte
	for i := 0; (i+1)*n <= len(pcm); i++ {
		payload, err := enc.encode(pcm[i*n : (i+1)*n])
		if err != nil {
			tb.Fatal(err)
		}
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(i), Timestamp: uint32(i) * enc.ticks(), SSRC: 7}, Payload: payload}
		raw, err := p.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		pkts = append(pkts, raw)
	}
	return pkts
}

// benchCodecs are the codecs of a SIP leg with the payload type a caller
// would give them.
var benchCodecs = []struct {
	codec webrtc.Codec
	pt    uint8
}{{webrtc.CodecPCMU, 0}, {webrtc.CodecG722, 9}, {webrtc.CodecOpus, 111}}

// BenchmarkReceive is the receive media path of one call per packet, for
// each codec: RTP parsed, reordered, decoded to 16 kHz (G.711 resampled
// from 8 kHz) and cut into frames (no VAD, no recognition), a speech-like
// signal. A call sends 50 packets a second, so calls per core = 1e9 /
// (ns/op * 50).
func BenchmarkReceive(b *testing.B) {
	pcm := make([]int16, media.Rate16k)
	for i := range pcm {
		pcm[i] = int16(6000*math.Sin(float64(i)*2*math.Pi*220/media.Rate16k) + 2000*math.Sin(float64(i)*2*math.Pi*3100/media.Rate16k))
	}
	for _, bc := range benchCodecs {
		b.Run(string(bc.codec), func(b *testing.B) {
			pkts := packetize(b, bc.codec, bc.pt, pcm)
			frames := 0
			rx, err := webrtc.NewRTPReceiver(bc.codec, bc.pt, []uint8{101}, 3, func(media.Frame) { frames++ }, func(rune) {})
			if err != nil {
				b.Fatal(err)
			}
			defer rx.Close()
			ticks := uint32(media.SamplesPerFrame(codecs[bc.codec].clock))
			now := time.Now()
			var p rtp.Packet
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// The recording over and over, one stream: sequence
				// numbers and timestamps go on.
				if err := p.Unmarshal(pkts[i%len(pkts)]); err != nil {
					b.Fatal(err)
				}
				p.SequenceNumber, p.Timestamp = uint16(i), uint32(i)*ticks
				raw, _ := p.Marshal()
				if err := rx.Handle(raw, now.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(1e9/(float64(b.Elapsed().Nanoseconds())/float64(b.N))/50, "calls/core")
		})
	}
}

// BenchmarkEncode is a prompt's cost per 20 ms packet for each codec: the
// 16 kHz frame resampled (G.711) and encoded, as Speak does.
func BenchmarkEncode(b *testing.B) {
	frame := make([]int16, media.SamplesPerFrame(media.Rate16k))
	for i := range frame {
		frame[i] = int16(6000 * math.Sin(float64(i)*2*math.Pi*220/media.Rate16k))
	}
	for _, bc := range benchCodecs {
		b.Run(string(bc.codec), func(b *testing.B) {
			enc, err := newEncoder(bc.codec)
			if err != nil {
				b.Fatal(err)
			}
			defer enc.close()
			var rs *media.Resampler
			if enc.info.rate != media.Rate16k {
				if rs, err = media.NewResampler(media.Rate16k, enc.info.rate); err != nil {
					b.Fatal(err)
				}
			}
			var pending []int16
			n := enc.samples()
			for b.Loop() {
				if rs != nil {
					pending = rs.ProcessInt16(pending, frame)
				} else {
					pending = append(pending, frame...)
				}
				for len(pending) >= n {
					if _, err := enc.encode(pending[:n]); err != nil {
						b.Fatal(err)
					}
					pending = pending[:copy(pending, pending[n:])]
				}
			}
			b.ReportMetric(1e9/(float64(b.Elapsed().Nanoseconds())/float64(b.N))/50, "calls/core")
		})
	}
}

// BenchmarkCallMediaPath is one whole telephone call's receive side per
// iteration, as serve runs it: a LibriSpeech recording (8.7 s of speech
// and 1 s of silence after it) arrives as RTP packets of each codec
// (G.711 mu-law, G.722, Opus), is reordered, decoded (G.711 resampled to
// 16 kHz), framed, queued for the
// pipeline (inbox), scored by Silero VAD and endpointed; "vad" stops
// there (a recognizer that takes frames and does nothing), "vad+sphinx"
// also recognises the utterance with the embedded pocketsphinx. Calls per
// core is call audio over the process's CPU time (not wall time, which
// other load on a shared machine inflates): the calls of that kind one
// core carries at once in real time, every caller speaking all the time.
func BenchmarkCallMediaPath(b *testing.B) {
	clips := testenv.SharedData(b, "speech-clips")
	pcm := testenv.PCM16(b, filepath.Join(clips, "librispeech-1995-1837-0001.wav"))
	pcm = append(pcm, make([]int16, media.Rate16k)...)
	m, err := vad.LoadSilero(testenv.Model(b, "onnxruntime", "libonnxruntime.so"), testenv.Model(b, "silero-vad", "silero_vad_v5.onnx"), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, bc := range benchCodecs {
		pkts := packetize(b, bc.codec, bc.pt, pcm)
		audio := time.Duration(len(pkts)) * 20 * time.Millisecond
		for _, name := range []string{"vad", "vad+sphinx"} {
			b.Run(string(bc.codec)+"/"+name, func(b *testing.B) {
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
					finals += oneCall(b, m, rec, bc.codec, bc.pt, pkts)
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
}

// oneCall runs one call's packets through the receive path and returns
// the number of final results.
func oneCall(b *testing.B, m *vad.SileroModel, rec asr.Recognizer, codec webrtc.Codec, pt uint8, pkts [][]byte) int {
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
	rx, err := webrtc.NewRTPReceiver(codec, pt, []uint8{101}, 3, in.PushFrame, in.PushKey)
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
