package webrtc

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/opus"
)

func TestParseOffer(t *testing.T) {
	tests := []struct {
		name  string
		media string
		codec Codec
		err   error
	}{
		{"opus preferred though listed last", "m=audio 9 RTP/SAVPF 0 111\r\na=rtpmap:111 opus/48000/2\r\n", CodecOpus, nil},
		{"pcmu static", "m=audio 9 RTP/SAVPF 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", CodecPCMU, nil},
		{"opus at the wrong clock", "m=audio 9 RTP/SAVPF 111\r\na=rtpmap:111 opus/16000\r\n", "", ErrUnsupportedCodec},
		{"no audio", "m=video 9 RTP/SAVPF 96\r\n", "", ErrNoAudio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOffer([]byte(sdpHead + tt.media))
			if !errors.Is(err, tt.err) || o.codec != tt.codec {
				t.Fatalf("got %q, %v; want %q, %v", o.codec, err, tt.codec, tt.err)
			}
		})
	}
}

func TestTelephoneEventDigits(t *testing.T) {
	tests := []struct {
		event uint8
		want  rune
	}{
		{0, '0'}, {9, '9'}, {10, '*'}, {11, '#'}, {12, 'A'}, {15, 'D'}, {16, 0}, {255, 0},
	}
	for _, tt := range tests {
		if got := (TelephoneEvent{Event: tt.event}).Digit(); got != tt.want {
			t.Errorf("event %d: %q, want %q", tt.event, got, tt.want)
		}
	}
}

// ev builds a telephone-event payload.
func ev(event uint8, end bool, dur uint16) []byte {
	p := []byte{event, 10, 0, 0}
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], dur)
	return p
}

func TestDTMFDetector(t *testing.T) {
	type pkt struct {
		ts      uint32
		payload []byte // nil: an audio packet
	}
	tests := []struct {
		name string
		pkts []pkt
		want string
	}{
		{"end sent three times", []pkt{{100, ev(1, false, 160)}, {100, ev(1, true, 320)}, {100, ev(1, true, 320)}, {100, ev(1, true, 320)}}, "1"},
		{"same key twice", []pkt{{100, ev(1, true, 320)}, {100, ev(1, true, 320)}, {900, ev(1, false, 160)}, {900, ev(1, true, 320)}}, "11"},
		{"ends lost, next key shows it", []pkt{{100, ev(4, false, 160)}, {900, ev(2, true, 320)}}, "42"},
		{"ends lost, audio shows it", []pkt{{100, ev(7, false, 160)}, {500, nil}}, "7"},
		{"flash ignored", []pkt{{100, ev(16, true, 160)}, {200, ev(11, true, 160)}}, "#"},
		{"short payload ignored", []pkt{{100, []byte{1, 0x80}}, {200, ev(3, true, 160)}}, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d dtmfDetector
			var got []rune
			emit := func(r rune) { got = append(got, r) }
			for _, p := range tt.pkts {
				if p.payload == nil {
					if k := d.audio(); k != 0 {
						emit(k)
					}
					continue
				}
				d.packet(p.ts, p.payload, emit)
			}
			if string(got) != tt.want {
				t.Fatalf("keys %q, want %q", string(got), tt.want)
			}
		})
	}
}

// recorder is a sink noting what the reorder buffer emits: a sequence
// number, or -1 for a loss.
type recorder struct{ out []int }

func (r *recorder) emit(p *packet)    { r.out = append(r.out, int(p.seq)) }
func (r *recorder) lost(next *packet) { r.out = append(r.out, -1) }

func TestReorder(t *testing.T) {
	tests := []struct {
		name            string
		seqs            []uint16
		flush           bool
		want            []int
		late, dup, lost uint64
	}{
		{"in order", []uint16{1, 2, 3}, false, []int{1, 2, 3}, 0, 0, 0},
		{"swap", []uint16{1, 3, 2, 4}, false, []int{1, 2, 3, 4}, 0, 0, 0},
		{"loss declared after depth", []uint16{1, 3, 4, 5}, false, []int{1, -1, 3, 4, 5}, 0, 0, 1},
		{"gap held until flush", []uint16{1, 3}, true, []int{1, -1, 3}, 0, 0, 1},
		{"late after loss", []uint16{1, 3, 4, 5, 2}, false, []int{1, -1, 3, 4, 5}, 1, 0, 1},
		{"duplicate", []uint16{1, 2, 2, 3}, false, []int{1, 2, 3}, 1, 0, 0},
		{"wrap", []uint16{65534, 65535, 0, 1}, false, []int{65534, 65535, 0, 1}, 0, 0, 0},
		{"restart far away", []uint16{1, 2, 30000, 30001}, false, []int{1, 2, 30000, 30001}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReorder(2)
			var rec recorder
			for _, s := range tt.seqs {
				r.push(s, 0, 0, []byte{1}, &rec)
			}
			if tt.flush {
				r.flush(&rec)
			}
			// A packet emitted already counts as late when repeated, the
			// same packet held twice as a duplicate.
			if !slices.Equal(rec.out, tt.want) || r.Late+r.Duplicate != tt.late+tt.dup || r.Lost != tt.lost {
				t.Fatalf("emitted %v late %d dup %d lost %d; want %v late+dup %d lost %d",
					rec.out, r.Late, r.Duplicate, r.Lost, tt.want, tt.late+tt.dup, tt.lost)
			}
		})
	}
}

// opusPackets encodes d of a tone as 20 ms Opus packets at 48 kHz.
func opusPackets(t testing.TB, d time.Duration) [][]byte {
	t.Helper()
	enc, err := opus.NewEncoder(media.Rate48k, 1, opus.AppVoIP)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	enc.SetInbandFEC(true, 10)
	rs, _ := media.NewResampler(media.Rate16k, media.Rate48k)
	pcm := rs.FlushInt16(rs.ProcessInt16(nil, tone16k(d, 300)))
	var out [][]byte
	buf := make([]byte, 4000)
	for off := 0; off+960 <= len(pcm); off += 960 {
		n, err := enc.Encode(pcm[off:off+960], buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf[:n]...))
	}
	return out
}

func rtpRaw(t testing.TB, pt uint8, seq uint16, ts uint32, payload []byte) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 7}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDepacketizeKeepsCallTime: lost, reordered and paused packets still
// give frames whose Offsets are true call time.
func TestDepacketizeKeepsCallTime(t *testing.T) {
	pkts := opusPackets(t, time.Second) // 50 packets
	var frames []media.Frame
	d, err := newDepacketizer(CodecOpus, 111, []uint8{101}, 3, func(f media.Frame) { frames = append(frames, f) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	now := time.Now()
	order := []int{}
	for i := range 50 {
		switch i {
		case 10, 30: // lost
		case 20: // arrives after 21
		case 21:
			order = append(order, 21, 20)
		default:
			order = append(order, i)
		}
	}
	for _, i := range order {
		ts := uint32(i * 960)
		if i >= 40 {
			ts += 48000 // a one-second pause (DTX) before packet 40
		}
		if err := d.handle(rtpRaw(t, 111, uint16(i), ts, pkts[i]), now); err != nil {
			t.Fatal(err)
		}
	}
	d.flush()
	if len(frames) != 100 {
		t.Fatalf("%d frames, want 100 (50 packets + 1 s of filled pause)", len(frames))
	}
	for i, f := range frames {
		if f.Offset != time.Duration(i)*media.FrameDuration {
			t.Fatalf("frame %d at %v", i, f.Offset)
		}
	}
	if d.ro.Lost != 2 || d.stats.Concealed != 2 || d.stats.SilenceFilled != time.Second {
		t.Fatalf("lost %d concealed %d filled %v", d.ro.Lost, d.stats.Concealed, d.stats.SilenceFilled)
	}
}

// FuzzTelephoneEvent: any payload parses or errors, and the detector
// reports only keypad characters.
func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte{1, 0x8a, 1, 0x40}, uint32(100))
	f.Add([]byte{11, 0x0a, 0, 0xa0, 5, 5}, uint32(0))
	f.Add([]byte{1}, uint32(7))
	f.Fuzz(func(t *testing.T, payload []byte, ts uint32) {
		e, err := ParseTelephoneEvent(payload)
		if err != nil {
			if len(payload) >= 4 {
				t.Fatalf("4+ bytes rejected: %v", err)
			}
			return
		}
		if e.Volume > 63 {
			t.Fatalf("volume %d", e.Volume)
		}
		var d dtmfDetector
		for i := range 3 {
			d.packet(ts+uint32(i/2), payload, func(r rune) {
				if !slices.Contains([]rune("0123456789*#ABCD"), r) {
					t.Fatalf("reported %q", r)
				}
			})
		}
	})
}

// FuzzDepacketize feeds arbitrary packets (length-prefixed in the input)
// to both codecs' receive paths: no panic, only whole 16 kHz frames with
// contiguous Offsets.
func FuzzDepacketize(f *testing.F) {
	tb := &testing.T{}
	pkts := opusPackets(tb, 60*time.Millisecond)
	var seed []byte
	for i, p := range pkts {
		raw := rtpRaw(tb, 111, uint16(5-i), uint32(i*960), p)
		seed = append(seed, byte(len(raw)))
		seed = append(seed, raw...)
	}
	f.Add(seed)
	f.Add(append([]byte{16}, rtpRaw(tb, 101, 1, 1, []byte{1, 0x80, 0, 160})...))
	f.Add([]byte{3, 0x80, 0, 0})
	f.Add(append(append([]byte{255}, seed...), append([]byte{255}, seed...)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, codec := range []Codec{CodecOpus, CodecPCMU} {
			var next time.Duration
			d, err := newDepacketizer(codec, map[Codec]uint8{CodecOpus: 111, CodecPCMU: 0}[codec], []uint8{101}, 3,
				func(fr media.Frame) {
					if len(fr.Samples) != 320 || fr.Rate != media.Rate16k || fr.Offset != next {
						t.Fatalf("frame of %d samples at %d Hz, offset %v (want %v)", len(fr.Samples), fr.Rate, fr.Offset, next)
					}
					next += media.FrameDuration
				}, func(r rune) {})
			if err != nil {
				t.Fatal(err)
			}
			audioPT := map[Codec]uint8{CodecOpus: 111, CodecPCMU: 0}[codec]
			// A length of 255 toggles bridging: packets are forwarded
			// (audio only), then decoding restarts, as on a call whose
			// agent joins and leaves.
			bridged, tapped := false, false
			rest := data
			for len(rest) > 0 {
				n := int(rest[0])
				rest = rest[1:]
				if n == 255 {
					bridged = !bridged
					continue
				}
				n = min(n, len(rest))
				switch {
				case bridged:
					_ = d.forward(rest[:n], time.Unix(0, 0), func(p *rtp.Packet) {
						if p.PayloadType != audioPT {
							t.Fatalf("forwarded payload type %d", p.PayloadType)
						}
					})
					tapped = true
				case tapped:
					d.restart()
					tapped = false
					fallthrough
				default:
					_ = d.handle(rest[:n], time.Unix(0, 0))
				}
				rest = rest[n:]
			}
			d.flush()
			d.close()
		}
	})
}

// FuzzParseOffer: any body is refused with a sentinel or yields a codec
// we support.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(sdpHead + "m=audio 9 RTP/SAVPF 0 111\r\na=rtpmap:111 opus/48000/2\r\n"))
	f.Add([]byte(sdpHead + "m=audio 9 RTP/SAVPF 9\r\n"))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := parseOffer(raw)
		if err != nil {
			if HTTPStatus(err) >= 500 {
				t.Fatalf("offer error maps to %d: %v", HTTPStatus(err), err)
			}
			return
		}
		if o.codec != CodecOpus && o.codec != CodecPCMU {
			t.Fatalf("codec %q", o.codec)
		}
	})
}
