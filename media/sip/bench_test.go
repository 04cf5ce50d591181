package sip

import (
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/webrtc"
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
