package webrtc

import (
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/opus"
	"github.com/callbrief/callbrief/media/vad"
)

// The media path of one call, without the network: RTP parse, reorder,
// Opus decode straight to 16 kHz, 20 ms framing, Silero VAD (via the
// segmenter the pipeline uses). One op is one 20 ms packet, so
// calls/core = packets per second per core / 50.

// speechRTP encodes the shared speech clip as Opus RTP packets, as a
// browser would send it.
func speechRTP(b *testing.B) [][]byte {
	b.Helper()
	pcm := speechPCM(b)
	rs, _ := media.NewResampler(media.Rate16k, media.Rate48k)
	pcm = rs.FlushInt16(rs.ProcessInt16(nil, pcm))
	enc, err := opus.NewEncoder(media.Rate48k, 1, opus.AppVoIP)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	enc.SetInbandFEC(true, 10)
	var out [][]byte
	buf := make([]byte, 4000)
	for i, off := 0, 0; off+960 <= len(pcm); i, off = i+1, off+960 {
		n, err := enc.Encode(pcm[off:off+960], buf)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, rtpRaw(b, 111, uint16(i), uint32(off), buf[:n]))
	}
	return out
}

func loadVAD(b *testing.B) *vad.SileroModel {
	b.Helper()
	m, err := vad.LoadSilero(testenv.Model(b, "onnxruntime", "libonnxruntime.so"),
		testenv.Model(b, "silero-vad", "silero_vad_v5.onnx"), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// callPath is one call's receive state.
type callPath struct {
	d    *depacketizer
	seg  *vad.Segmenter
	det  vad.Detector
	err  error
	seq  uint16
	ts   uint32
	pkts [][]byte
	i    int
}

func newCallPath(b *testing.B, newDet func() (vad.Detector, error), pkts [][]byte) *callPath {
	det, err := newDet()
	if err != nil {
		b.Fatal(err)
	}
	seg, err := vad.NewSegmenter(det, vad.DefaultEndpointConfig())
	if err != nil {
		b.Fatal(err)
	}
	c := &callPath{seg: seg, det: det, pkts: pkts}
	c.d, err = newDepacketizer(CodecOpus, 111, []uint8{101}, 3, func(f media.Frame) {
		if _, err := c.seg.Process(f); err != nil && c.err == nil {
			c.err = err
		}
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// step feeds the next packet, looping the clip with sequence numbers and
// timestamps continuing as in a long call.
func (c *callPath) step() {
	raw := c.pkts[c.i%len(c.pkts)]
	c.i++
	// Rewrite sequence number and timestamp in place (bytes 2-7).
	raw[2], raw[3] = byte(c.seq>>8), byte(c.seq)
	raw[4], raw[5], raw[6], raw[7] = byte(c.ts>>24), byte(c.ts>>16), byte(c.ts>>8), byte(c.ts)
	_ = c.d.handle(raw, time.Unix(0, int64(c.ts)*1e9/48000))
	c.seq++
	c.ts += 960
}

func (c *callPath) close() {
	c.d.close()
	c.det.Close()
}

func BenchmarkMediaPathPerFrame(b *testing.B) {
	m := loadVAD(b)
	c := newCallPath(b, func() (vad.Detector, error) { return m.NewDetector() }, speechRTP(b))
	defer c.close()
	b.ReportAllocs()
	for b.Loop() {
		c.step()
	}
	if c.err != nil {
		b.Fatal(c.err)
	}
	perSec := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "frames/s")
	b.ReportMetric(perSec/50, "calls/core")
}

// BenchmarkConcurrentCalls runs one call per goroutine on every core
// (RunParallel), as many calls share a server, and reports real-time calls
// per core. A call needs 50 frames a second, so any rate above that times
// the number of calls means no frame would be dropped. "single" scores
// each call's VAD on its own; "batched" scores the calls' chunks together
// (vad.Batcher, one worker per core), as callbrief serve does.
func BenchmarkConcurrentCalls(b *testing.B) {
	m := loadVAD(b)
	pkts := speechRTP(b)
	for _, batched := range []bool{false, true} {
		b.Run(map[bool]string{false: "single", true: "batched"}[batched], func(b *testing.B) {
			newDet := func() (vad.Detector, error) { return m.NewDetector() }
			if batched {
				bt := m.NewBatcher(runtime.GOMAXPROCS(0), 64)
				defer bt.Close()
				newDet = func() (vad.Detector, error) { return bt.NewDetector(), nil }
			}
			b.ReportAllocs()
			b.SetParallelism(16) // many calls per core, as on a busy server
			b.RunParallel(func(pb *testing.PB) {
				own := make([][]byte, len(pkts))
				for i, p := range pkts {
					own[i] = append([]byte(nil), p...)
				}
				c := newCallPath(b, newDet, own)
				defer c.close()
				for pb.Next() {
					c.step()
				}
			})
			perSec := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(perSec/50/float64(runtime.GOMAXPROCS(0)), "calls/core")
			b.ReportMetric(perSec/50, "calls")
		})
	}
}

// BenchmarkBridgeForwardPacket is the server's work for one packet of a
// bridged call in forward mode, without the network: parse and count it
// on the receiving leg, map its sequence number and timestamp into the
// other leg's stream. (SRTP and the socket write, pion's part, are not
// included.)
func BenchmarkBridgeForwardPacket(b *testing.B) {
	pkts := speechRTP(b)
	d, err := newDepacketizer(CodecOpus, 111, []uint8{101}, 3, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.close()
	out := &outbound{clock: 48000, lastDur: 960, write: func(*rtp.Packet) error { return nil }}
	fwd := func(p *rtp.Packet) { _ = out.forward(p) }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = d.forward(pkts[i%len(pkts)], time.Now(), fwd)
		i++
	}
	perSec := float64(b.N) / b.Elapsed().Seconds()
	// A bridged call carries 50 packets a second each way.
	b.ReportMetric(perSec/100, "bridged-calls/core")
}

// BenchmarkBridgeTranscodeFrame is one 20 ms frame of a transcoding bridge
// (PCMU caller, Opus agent): the caller's frame encoded to Opus; the
// agent's Opus packet decoded (its receive path) is BenchmarkOpusDecode's.
func BenchmarkBridgeTranscodeFrame(b *testing.B) {
	enc, err := newFrameEncoder(CodecOpus)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.close()
	pcm := speechPCM(b)
	buf := make([]byte, 4000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		off := (i * 320) % (len(pcm) - 320)
		if _, err := enc.encode(pcm[off:off+320], buf); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
