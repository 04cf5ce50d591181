package sip

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/g722"
	"github.com/callbrief/callbrief/media/inbox"
	"github.com/callbrief/callbrief/media/opus"
	"github.com/callbrief/callbrief/media/sip/siptest"
	"github.com/callbrief/callbrief/media/webrtc"
)

// wideband is one side of a wideband codec for the test's caller.
type wideband struct {
	codec   webrtc.Codec
	pt      uint8
	formats string // the offer's m= formats and rtpmaps
	ticks   uint32 // RTP timestamp per 20 ms
	encode  func([]int16) []byte
	decode  func([]byte) []int16
	close   func()
}

func newWideband(t *testing.T, c webrtc.Codec) *wideband {
	t.Helper()
	switch c {
	case webrtc.CodecG722:
		enc, err := g722.NewEncoder()
		if err != nil {
			t.Fatal(err)
		}
		dec, err := g722.NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		return &wideband{codec: c, pt: 9, formats: "9 0 101\na=rtpmap:9 G722/8000\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000", ticks: 160,
			encode: func(pcm []int16) []byte {
				out := make([]byte, 160)
				n, _ := enc.Encode(pcm, out)
				return out[:n]
			},
			decode: func(b []byte) []int16 {
				out := make([]int16, 2*len(b))
				n, _ := dec.Decode(b, out)
				return out[:n]
			},
			close: func() { enc.Close(); dec.Close() }}
	case webrtc.CodecOpus:
		enc, err := opus.NewEncoder(media.Rate16k, 1, opus.AppVoIP)
		if err != nil {
			t.Fatal(err)
		}
		// A phone's wideband rate (libopus's own default at 16 kHz, about
		// 19 kbit/s, trims the upper band).
		if err := enc.SetBitrate(32000); err != nil {
			t.Fatal(err)
		}
		dec, err := opus.NewDecoder(media.Rate16k, 1)
		if err != nil {
			t.Fatal(err)
		}
		return &wideband{codec: c, pt: 111, formats: "111 9 0 101\na=rtpmap:111 opus/48000/2\na=fmtp:111 useinbandfec=1\na=rtpmap:101 telephone-event/8000", ticks: 960,
			encode: func(pcm []int16) []byte {
				out := make([]byte, 1500)
				n, err := enc.Encode(pcm, out)
				if err != nil {
					t.Error(err)
				}
				return out[:n]
			},
			decode: func(b []byte) []int16 {
				out := make([]int16, opus.MaxFrameSamples(media.Rate16k))
				n, err := dec.Decode(b, out)
				if err != nil {
					t.Error(err)
				}
				return out[:n]
			},
			close: func() { enc.Close(); dec.Close() }}
	}
	t.Fatalf("no wideband codec %s", c)
	return nil
}

// TestWidebandCall: a caller offering G.722 (then PCMU) or Opus (then
// G.722, PCMU) gets its first choice. Its 16 kHz speech reaches the
// pipeline's frames with its upper band (what G.711 would lose), and a
// prompt comes back in the caller's codec: right payload type, timestamps
// stepping by the codec's clock, decoding to the 6 kHz tone spoken.
func TestWidebandCall(t *testing.T) {
	speech := testenv.PCM16(t, filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	for _, codec := range []webrtc.Codec{webrtc.CodecG722, webrtc.CodecOpus} {
		t.Run(string(codec), func(t *testing.T) {
			wb := newWideband(t, codec)
			defer wb.close()
			got := make(chan *Call, 1)
			s := testServer(t, nil, func(c *Call) { got <- c; <-c.Done() })
			u := newUAC(t, s, "127.0.0.1")
			peer := newRTPPeer(t)
			offer := fmt.Sprintf("v=0\no=t 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP %s\na=sendrecv\n", peer.port(), wb.formats)
			u.send(u.invite("w-"+string(codec), "2000", "", 1, offer))
			ok := u.recv(200, 5*time.Second)
			tag := toTag(ok)
			if tag == "" || !strings.Contains(ok, fmt.Sprintf("m=audio %d RTP/AVP %d 101", portOf(t, ok), wb.pt)) {
				t.Fatalf("200:\n%s", ok)
			}
			u.send(u.request("ACK", "w-"+string(codec), tag, 1))
			var c *Call
			select {
			case c = <-got:
			case <-time.After(guard):
				t.Fatal("no call")
			}
			if c.Codec() != codec {
				t.Fatalf("call codec %s", c.Codec())
			}
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(portOf(t, ok)))
			// The caller speaks: 20 ms packets, a few ms apart (a burst
			// the receive path must take in order).
			sent := 0
			for i := 0; i+320 <= len(speech); i += 320 {
				p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: wb.pt, SequenceNumber: uint16(i / 320), Timestamp: uint32(i/320) * wb.ticks, SSRC: 7},
					Payload: wb.encode(speech[i : i+320])}
				peer.send(t, p, to)
				sent += 320
				time.Sleep(2 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			var heard []int16
			for len(heard) < sent {
				ev, err := c.Next(ctx)
				if err != nil {
					t.Fatalf("after %d of %d samples: %v", len(heard), sent, err)
				}
				if ev.Kind == inbox.Audio {
					heard = append(heard, ev.Frame.Samples...)
				}
			}
			v, lag := bestSNR(speech[:sent], heard)
			hi := highBand(heard) / highBand(speech[:sent])
			t.Logf("%s: %d samples heard, SNR %.1f dB at lag %d, upper band kept %.2f", codec, len(heard), v, lag, hi)
			// G.722 keeps the waveform; Opus is perceptual, its SNR low
			// though it sounds right, so only its band is held to.
			if codec == webrtc.CodecG722 && v < 15 {
				t.Errorf("SNR %.1f dB", v)
			}
			// (16 -> 8 -> 16 kHz, G.711's band, leaves 0.22 of it.)
			if hi < 0.5 || hi > 2 {
				t.Errorf("4-8 kHz band at %.2f of the caller's", hi)
			}
			// A prompt back: a 6 kHz tone, above what G.711 carries.
			tone := siptest.Tone(6000, media16k, 8000, 400*time.Millisecond)
			spoke := make(chan error, 1)
			go func() { spoke <- c.Speak(ctx, tone, media16k) }()
			var back []int16
			var lastTS uint32
			for n := 0; n < 20; n++ {
				p := peer.recv(t, ctx)
				if p.PayloadType != wb.pt || (n > 0 && p.Timestamp-lastTS != wb.ticks) {
					t.Fatalf("packet %d: payload type %d, timestamp step %d", n, p.PayloadType, p.Timestamp-lastTS)
				}
				lastTS = p.Timestamp
				back = append(back, wb.decode(p.Payload)...)
			}
			if err := <-spoke; err != nil {
				t.Fatal(err)
			}
			// The codec's start-up past, the tone is what comes back.
			if share := siptest.ToneShare(back[1600:], 6000, media16k); share < 0.8 {
				t.Errorf("the prompt came back with %.2f of its power at 6 kHz", share)
			}
			u.send(u.request("BYE", "w-"+string(codec), tag, 2))
			u.recv(200, 5*time.Second)
			<-c.Done()
		})
	}
}

const media16k = 16000

func portOf(t *testing.T, msg string) int {
	t.Helper()
	var port int
	i := strings.Index(msg, "m=audio ")
	if i < 0 {
		t.Fatalf("no m=audio in\n%s", msg)
	}
	fmt.Sscanf(msg[i:], "m=audio %d", &port)
	return port
}

// bestSNR is the SNR (dB) of out against ref at the best alignment
// within 100 ms (the receive path and the codec delay the audio).
func bestSNR(ref, out []int16) (float64, int) {
	best, bestLag := math.Inf(-1), 0
	for lag := 0; lag < 1600; lag++ {
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

// highBand is the power of pcm (16 kHz) above about 4 kHz: a first
// difference filtered twice, which passes the upper band and little
// below it.
func highBand(pcm []int16) float64 {
	var p float64
	for i := 2; i < len(pcm); i++ {
		d := float64(pcm[i]) - 2*float64(pcm[i-1]) + float64(pcm[i-2])
		p += d * d
	}
	return p / float64(len(pcm))
}

// rtpPeer is the test caller's RTP socket.
type rtpPeer struct{ conn *net.UDPConn }

func newRTPPeer(t *testing.T) *rtpPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rtpPeer{conn: c}
}

func (r *rtpPeer) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *rtpPeer) send(t *testing.T, p rtp.Packet, to netip.AddrPort) {
	t.Helper()
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.conn.WriteToUDPAddrPort(raw, to); err != nil {
		t.Fatal(err)
	}
}

func (r *rtpPeer) recv(t *testing.T, ctx context.Context) rtp.Packet {
	t.Helper()
	deadline, _ := ctx.Deadline()
	_ = r.conn.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	n, err := r.conn.Read(buf)
	if err != nil {
		t.Fatalf("no RTP back: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return p
}
